"""Lists in a policy (qa.lists): which questions ask for a set of things, and a list's extent."""
import pytest

from ingest.types import Unit
from qa.lists import asks_for_a_set, is_lead_in, list_of


@pytest.mark.parametrize("question, lang, wants", [
    ("Who do you share my data with?", "en", True),
    ("Which third parties receive my data?", "en", True),
    ("What data do you collect?", "en", True),
    ("What does Alibaba DashScope do with my prompts?", "en", False),  # names the one it asks about
    ("Do you sell my data?", "en", False),
    ("How long do you keep my images?", "en", False),
    ("谁会收到我的数据？", "zh", True),
    ("你们会出售我的数据吗？", "zh", False),
    ("¿Con quién comparten mis datos?", "es", True),
    ("Avec qui partagez-vous mes données ?", "fr", True),
    ("Mit wem teilen Sie meine Daten?", "de", True),
    ("Verkaufen Sie meine Daten?", "de", False),
])
def test_questions_that_ask_for_a_set(question, lang, wants):
    assert asks_for_a_set(question, lang) is wants


def units(*rows):
    return [Unit(policy="p", order=i, text=text, start=0, end=len(text), section=(sec,), kind=kind)
            for i, (kind, sec, text) in enumerate(rows)]


def test_a_list_is_its_run_of_items_in_one_section_with_its_lead_in():
    us = units(("heading", "", "3. Sharing"), ("sentence", "3", "We use these services:"),
               ("item", "3", "Stripe (payments)"), ("item", "3", "Resend (email)"),
               ("sentence", "3", "We do not sell your data."), ("item", "4", "Another list"))
    assert is_lead_in(us, 1) and not is_lead_in(us, 4)
    assert list_of(us, 1) == (1, [2, 3]) == list_of(us, 3)
    assert list_of(us, 4) is None and list_of(us, 0) is None
    assert list_of(us, 5) == (None, [5])  # another section: another list, with no lead-in
