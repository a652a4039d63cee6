#!/usr/bin/env python3
"""Check benchmarks/natural_questions.jsonl against benchmarks/natural/corpus (stdlib only), or
another set against its corpus: `check_set.py [SET CORPUS]` (the tuning set:
benchmarks/natural_dev_questions.jsonl benchmarks/natural_dev/corpus).

Asserts: unique ids; known policies; at least 13 questions and 3 silent ones per policy;
silent questions carry no evidence; every evidence phrase is 15-90 characters, occurs in its
policy after collapsing whitespace and lowercasing (as ../shared/bench/score_seeds.py compares),
and lies within one sentence of the policy (a rough splitter: paragraph breaks and . ! ?
followed by a space and an upper-case letter, quote or bracket).
"""
import collections
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SET = HERE.parent / "natural_questions.jsonl"
CORPUS = HERE / "corpus"


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def sentences(text: str) -> list[str]:
    out = []
    for para in re.split(r"\n\s*\n", text):
        out += [norm(s) for s in re.split(r"(?<=[.!?])\s+(?=[A-Z\"(])", para) if s.strip()]
    return out


def main(args: list[str]) -> None:
    qset, corpus = (Path(a) for a in args) if len(args) == 2 else (SET, CORPUS)
    docs = {p.stem: p.read_text(encoding="utf-8") for p in corpus.glob("*.txt")}
    questions = [json.loads(line) for line in qset.read_text(encoding="utf-8").splitlines() if line.strip()]
    ids = [q["id"] for q in questions]
    assert len(ids) == len(set(ids)), "duplicate ids"
    per = collections.Counter()
    silent = collections.Counter()
    errors = []
    for q in questions:
        assert set(q) == {"id", "policy", "question", "answerable", "evidence"}, q["id"]
        assert q["policy"] in docs, (q["id"], q["policy"])
        per[q["policy"]] += 1
        if not q["answerable"]:
            silent[q["policy"]] += 1
            assert q["evidence"] == [], q["id"]
            continue
        assert q["evidence"], q["id"]
        text, sents = norm(docs[q["policy"]]), sentences(docs[q["policy"]])
        for e in q["evidence"]:
            e = norm(e)
            if not 15 <= len(e) <= 90:
                errors.append(f"{q['id']}: {len(e)} chars: {e}")
            if e not in text:
                errors.append(f"{q['id']}: not in policy: {e}")
            elif not any(e in s for s in sents):
                errors.append(f"{q['id']}: spans a sentence boundary: {e}")
    assert not errors, "\n".join(errors)
    for p in docs:
        assert per[p] >= 13 and silent[p] >= 3, (p, per[p], silent[p])
    for p in sorted(docs):
        print(f"{p}: {per[p]} questions, {per[p] - silent[p]} answerable, {silent[p]} silent")
    print(f"OK: {len(questions)} questions, {sum(silent.values())} silent")


if __name__ == "__main__":
    main(sys.argv[1:])
