"""Lists in a policy: a run of list items in one section, and the sentence that introduces it.

When the clause an answer relies on is a list's lead-in ("We use the following third-party
services:"), the lead-in alone says nothing: its items are the answer. When it is one item of
a list and the question asks for a set of things ("Who do you share my data with?"), the other
items are the rest of the answer. Either way the answer shows the list, bounded, each item a
verbatim quote with its own citation. Which clauses are relied on is not decided here
(`qa.compose.select` decides that); this only finds the list around them."""
from __future__ import annotations

import re

from ingest.types import Unit

MAX_ITEMS = 12  # list items shown for one policy; the rest are counted ("and 3 more in the policy")

# Questions that ask for a set of things, in the languages the assistant reads. A question that
# names something ("What does Alibaba DashScope do with my prompts?") asks about that one item.
_ENUM = {
    "en": re.compile(r"^\s*(?:who|whom|which|what)\b|\bwith whom\b|\blist\b", re.I),
    "zh": re.compile(r"谁|哪些|哪几|什么"),
    "ja": re.compile(r"誰|どの|どんな|何"),
    "es": re.compile(r"(?:^|¿)\s*(?:con\s+)?(?:quién|quiénes|cuáles|qué)\b", re.I),
    "fr": re.compile(r"^\s*(?:avec\s+)?(?:qui|quels?|quelles?|que|quoi)\b|\bqu['’]", re.I),
    "de": re.compile(r"^\s*(?:mit\s+)?(?:wer|wem|welche[nrms]?|was)\b", re.I),
}
_NAME = re.compile(r"(?<=[\w,;] )[A-Z][a-z]+(?:[A-Z][a-z]*)*\b")  # a Title-case word mid-sentence


def asks_for_a_set(question: str, lang: str) -> bool:
    """Whether the question asks who, which or what (a set of things), naming none itself."""
    rule = _ENUM.get(lang)
    names = _NAME.search(question) if lang != "de" else None  # German capitalises every noun
    return bool(rule and rule.search(question)) and not names


def is_lead_in(units: list[Unit], i: int) -> bool:
    """A sentence ending in ':' directly followed by items of its section."""
    u = units[i]
    return (u.kind == "sentence" and u.text.rstrip().endswith(":") and i + 1 < len(units)
            and units[i + 1].kind == "item" and units[i + 1].section == u.section)


def list_of(units: list[Unit], i: int) -> tuple[int | None, list[int]] | None:
    """The list unit i is part of, as (its lead-in or None, its items), positions in `units`;
    None when unit i is neither an item nor a lead-in."""
    if is_lead_in(units, i):
        first = i + 1
    elif units[i].kind == "item":
        first = i
        while first > 0 and units[first - 1].kind == "item" and units[first - 1].section == units[i].section:
            first -= 1
    else:
        return None
    last = first
    while last + 1 < len(units) and units[last + 1].kind == "item" and units[last + 1].section == units[first].section:
        last += 1
    lead = first - 1 if first > 0 and is_lead_in(units, first - 1) else None
    return lead, list(range(first, last + 1))
