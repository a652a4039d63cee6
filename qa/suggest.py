"""Questions to suggest for one policy: drawn from the practices its own section titles name,
and kept only when asking them gets an answer (a suggestion never leads to a refusal).

    suggested_questions(assistant, policy, k=3) -> ["What data do you collect about me?", ...]
"""
from __future__ import annotations

import re

# A practice a privacy policy covers: the words of a section title that name it, and the
# question a visitor asks about it.
PRACTICES = [
    (r"\bcollect|\binformation we|\bdata we", "What data do you collect about me?"),
    (r"\bhow we use|\bpurpose|\buse of", "How do you use my data?"),
    (r"\bshar|\bthird.part|\bdisclos|\bprocessors?\b", "Who do you share my data with?"),
    (r"\bimage|\bphoto|\bupload|\bai processing|\bcontent\b", "What happens to the images I upload?"),
    (r"\bretention|\bretain|\bdeletion|\bstor(e|age)\b", "How long do you keep my data?"),
    (r"\bpayment|\bbilling", "How are my payments handled?"),
    (r"\bcookie|\btracking|\blocal storage", "Do you use cookies?"),
    (r"\bsecurity|\bprotect", "How do you protect my data?"),
    (r"\brights?\b|\bchoices?\b", "How can I delete my data?"),
    (r"\bchild|\bminors?\b", "Do you collect data from children?"),
    (r"\bgdpr|\binternational|\btransfer", "Is my data transferred outside the EU?"),
    (r"\bchanges?\b|\bupdates?\b", "Will you tell me when this policy changes?"),
    (r"\bcontact", "How do I contact you about privacy?"),
]
MAX_ASKED = 8  # questions asked at most to find k that are answered


def candidate_questions(section_titles: list[str]) -> list[str]:
    """The questions of the practices the section titles name, in the order the policy names them."""
    found: dict[str, int] = {}
    for i, title in enumerate(section_titles):
        for pattern, question in PRACTICES:
            if question not in found and re.search(pattern, title.lower()):
                found[question] = i
    return sorted(found, key=found.get)


def suggested_questions(assistant, policy: str, k: int = 3) -> list[str]:
    """Up to k of the policy's candidate questions that its answer addresses (asked, not guessed)."""
    rec = assistant.policies()[policy]
    out = []
    tops = [title.split(" > ")[0] for title, _ in rec.sections]
    for question in candidate_questions(tops)[:MAX_ASKED]:
        if assistant.answer(question, policy).answerable:
            out.append(question)
            if len(out) == k:
                break
    return out
