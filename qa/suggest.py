"""Questions to suggest for one policy: drawn from the practices its own section titles name,
and kept only when asking them gets an answer (a suggestion never leads to a refusal).

    suggested_questions(assistant, policy, k=3, lang="es") -> ["¿Qué datos recopilan sobre mí?", ...]

The practices and their questions, in each language the widget speaks, are `practices.tsv`."""
from __future__ import annotations

import csv
import re
from functools import cache
from pathlib import Path

PRACTICES_FILE = Path(__file__).parent / "practices.tsv"
MAX_ASKED = 8  # questions asked at most to find k that are answered


@cache
def practices() -> list[tuple[re.Pattern, dict[str, str]]]:
    """[(what a section title naming the practice matches, {language: question})], in file order."""
    with PRACTICES_FILE.open(encoding="utf-8") as f:
        rows = list(csv.DictReader((line for line in f if not line.startswith("#")), delimiter="\t"))
    return [(re.compile(row.pop("pattern")), row) for row in rows]


def candidate_questions(section_titles: list[str], lang: str = "en") -> list[str]:
    """The questions of the practices the section titles name, in the order the policy names them."""
    found: dict[str, int] = {}
    for i, title in enumerate(section_titles):
        for pattern, questions in practices():
            question = questions.get(lang) or questions["en"]
            if question not in found and pattern.search(title.lower()):
                found[question] = i
    return sorted(found, key=found.get)


def suggested_questions(assistant, policy: str, k: int = 3, lang: str = "en") -> list[str]:
    """Up to k of the policy's candidate questions that its answer addresses (asked, not guessed)."""
    rec = assistant.policies()[policy]
    out = []
    tops = [title.split(" > ")[0] for title, _ in rec.sections]
    for question in candidate_questions(tops, lang)[:MAX_ASKED]:
        if assistant.answer(question, policy).answerable:
            out.append(question)
            if len(out) == k:
                break
    return out
