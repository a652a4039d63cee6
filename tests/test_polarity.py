"""The direct answer to a yes/no question (qa.polarity): which questions get one, and what a
relied-on sentence must say plainly for "Yes" or "No". Bundled model not needed: plain text."""
import pytest

from qa.polarity import focus, is_yes_no, reading, reply
from qa.types import Hit, Reply


@pytest.mark.parametrize("question, lang, yes_no", [
    ("Do you sell my data?", "en", True),
    ("Will my photos be used to train AI?", "en", True),
    ("Is my data sent to China?", "en", True),
    ("Kaleida is a teaching hospital. Can medical students look at my records?", "en", True),
    ("What data do you collect?", "en", False),
    ("How long do you keep my images?", "en", False),
    ("Don't you sell my data?", "en", False),  # negated: a yes would be ambiguous
    ("Is my data stored in the US or in the EU?", "en", False),  # alternatives, not yes/no
    ("Do you honor Do Not Track?", "en", False),
    ("Tell me if you sell my data.", "en", False),
    ("你们会出售我的数据吗？", "zh", True),
    ("你们有没有出售我的数据？", "zh", True),
    ("你们收集哪些数据？", "zh", False),
    ("私のデータは中国に送られますか？", "ja", True),
    ("どのデータを収集しますか？", "ja", False),
    ("¿Venden mis datos personales?", "es", True),
    ("¿Qué datos recopilan?", "es", False),
    ("Vendez-vous mes données ?", "fr", True),
    ("Quelles données collectez-vous ?", "fr", False),
    ("Verkaufen Sie meine Daten?", "de", True),
    ("Welche Daten sammeln Sie?", "de", False),
    ("Meus dados são enviados para a China?", "other", False),
])
def test_which_questions_are_yes_no(question, lang, yes_no):
    assert is_yes_no(question, lang) is yes_no


def read(sentence, question, context=""):
    return reading(sentence, focus(question), question, context)


@pytest.mark.parametrize("sentence, question, expected", [
    ("The Service uses cookies for session management.", "Do you use cookies?", 1),
    ("Images will not be used for AI training or marketing purposes", "Will my photos be used to train AI?", -1),
    ("We never store your credit card details.", "Do you store my credit card details?", -1),
    ("No personal browsing history is tracked.", "Do you track my browsing history?", -1),
    ("Credit card information is not stored on our servers and is managed directly by Stripe.",
     "Do you store my credit card information?", -1),  # the negation is about storing, not Stripe
    # a qualified no is not a no
    ("We do not sell or share your personal data for marketing or advertising purposes.", "Do you sell my data?", 0),
    ("We do not sell or share your personal data for marketing or advertising purposes.",
     "Do you share my data for advertising?", -1),  # ... unless the qualifier is what is asked
    ("The Service will not provide user personal information to third parties except in the following cases:",
     "Do you share my data with third parties?", 0),
    ("We do not share personal information about you with companies that advertise on our websites without "
     "your consent.", "Do you share my personal information with advertisers?", 0),
    ("We do not intentionally send personal data to Sentry.", "Do you send my data to Sentry?", 0),
    ("We do not intentionally send personal data to Sentry.", "Do you intentionally send personal data to Sentry?", -1),
    # not about everything asked, conditional, or a question: nothing
    ("The Service uses cookies for session management.", "Do you sell my data?", 0),
    ("If you purchase a plan, payments are processed by Stripe.", "Do you use Stripe?", 0),
    ("Do we sell your data?", "Do you sell my data?", 0),
    ("We will retain it for no longer than is necessary.", "Do you retain my data?", 1),  # 'no longer' is no negation
    # synonyms and word forms a reader takes as the same
    ("Image analysis using Google Gemini AI technology", "Do you use Google Gemini to analyze my images?", 1),
    ("Data processed in China.", "Is my data sent to China?", 1),
])
def test_what_a_sentence_says(sentence, question, expected):
    assert read(sentence, question) == expected


def test_a_list_item_reads_with_its_heading_and_lead_in():
    q = "Do you collect my IP address?"
    assert read("Access logs (IP address, browser information, access time)", q) == 0  # says what, not that
    assert read("Access logs (IP address, browser information, access time)", q,
                "Automatically Collected Information The Service collects the following information:") == 1
    assert read("Your IP address", q, "Data We Do Not Collect We never collect the following:") == 0


def hit(text, unit_id="u1"):
    return Hit(unit_id=unit_id, policy="p", text=text, section="s", order=0, start=0, end=len(text), score=0.9)


def test_reply_rests_on_the_clause_that_says_it_and_disagreement_gives_nothing():
    yes, no = hit("Data processed in China.", "a"), hit("We do not send any data to China.", "b")
    assert reply("Is my data sent to China?", "Is my data sent to China?", "en", [hit("Hello.", "c"), yes]) == (Reply.YES, yes)
    assert reply("Is my data sent to China?", "Is my data sent to China?", "en", [no]) == (Reply.NO, no)
    assert reply("Is my data sent to China?", "Is my data sent to China?", "en", [yes, no]) is None
    assert reply("Where is my data sent?", "Where is my data sent?", "en", [yes]) is None
    # another language: read through the English keywords it was searched with
    assert reply("¿Mis datos se envían a China?", "my data sent China", "es", [yes]) == (Reply.YES, yes)
