"""The verdict line: how often a direct "Yes" / "No" / "The policy does not say" is given
(coverage) and how often it is right when given (precision), beside trivial rules, in one run.

The set (`verdicts.jsonl`) is 136 yes/no questions, each about one policy, labelled yes, no or
not_said by reading that policy before any verdict code existed (its `basis` quotes what the
label rests on). Split `dev`: the five bundled policies (corpus/), used while the polarity rules
were written; split `test`: five PolicyQA dev policies (benchmarks/natural/corpus/), held out
until the rules were done. 18 questions are in Chinese, Japanese, Spanish, French or German.

  no verdict ever   never answers yes or no: coverage 0, nothing wrong
  negation keyword  the same answers, and the naive rule: not addressed -> "does not say";
                    else "No" if the best relied-on quote has a negation word, else "Yes"
  policyqa          the verdict line of Assistant.answer(question, policy) (qa/polarity.py,
                    qa/compose.decide)

A verdict counts as right when it equals the label. Also printed: verdict lines given to the
questions of the other sets that are not yes/no questions (what/who/how...): should be none.

    python benchmarks/verdicts.py [--split dev|test|all] [--verbose]
"""
from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPORA = (ROOT / "corpus", ROOT / "benchmarks" / "natural" / "corpus")
OTHER_SETS = (ROOT / "benchmarks" / "seed_questions.jsonl", ROOT / "benchmarks" / "seed_questions2.jsonl",
              ROOT / "benchmarks" / "natural_questions.jsonl", ROOT.parent / "shared" / "eval" / "dev.jsonl")
NEGATION = re.compile(r"\b(?:not|never|no|none|cannot)\b|n't\b", re.I)
WH = re.compile(r"^\s*(?:what|who|whom|which|where|when|why|how)\b", re.I)


def policyqa_reply(ans) -> str | None:
    return ans.verdicts[0].reply.value if ans.verdicts else None


def keyword_reply(ans) -> str:
    if not ans.answerable:
        return "not_said"
    best = next(c for c in ans.citations if not c.related)
    return "no" if NEGATION.search(best.quote) else "yes"


def table(rows: list[dict], calls: dict[str, list[str | None]]) -> None:
    print("| system | precision | coverage | right | wrong | no verdict |")
    print("|---|---|---|---|---|---|")
    for name, said in calls.items():
        given = [(s, r["label"]) for s, r in zip(said, rows) if s is not None]
        right = sum(s == lab for s, lab in given)
        prec = f"{right / len(given):.3f}" if given else "n/a"
        print(f"| {name} | {prec} | {len(given) / len(rows):.3f} | {right} | {len(given) - right} | "
              f"{len(rows) - len(given)} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", type=Path, default=ROOT / "benchmarks" / "verdicts.jsonl")
    ap.add_argument("--split", choices=("dev", "test", "all"), default="all")
    ap.add_argument("--verbose", action="store_true", help="print every verdict given, right or wrong")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from _data import ingested, read_jsonl
    from qa.service import Assistant

    rows = read_jsonl(args.set)
    with ingested(*CORPORA) as store:
        assistant = Assistant(store)
        answers = [assistant.answer(r["question"], r["policy"]) for r in rows]
        others = [o for path in OTHER_SETS if path.exists() for o in read_jsonl(path)]
        wh = [o for o in others if o.get("policy") and WH.search(o["question"])
              and o["policy"] in assistant.policies()]
        wh_verdicts = [(o, policyqa_reply(assistant.answer(o["question"], o["policy"]))) for o in wh]

    calls = {"no verdict ever": [None] * len(rows),
             "negation keyword": [keyword_reply(a) for a in answers],
             "policyqa": [policyqa_reply(a) for a in answers]}
    splits = ("dev", "test", "all") if args.split == "all" else (args.split,)
    for split in splits:
        keep = [i for i, r in enumerate(rows) if split == "all" or r["split"] == split]
        sub = [rows[i] for i in keep]
        labels = Counter(r["label"] for r in sub)
        print(f"\n{split}: {len(sub)} pairs ({labels['yes']} yes, {labels['no']} no, {labels['not_said']} not said; "
              f"{sum(r['lang'] != 'en' for r in sub)} not in English)\n")
        table(sub, {name: [said[i] for i in keep] for name, said in calls.items()})
        confusion = Counter((rows[i]["label"], calls["policyqa"][i] or "none") for i in keep)
        print("\npolicyqa, label -> verdict: " + ", ".join(f"{lab} -> {v}: {n}" for (lab, v), n in sorted(confusion.items())))
    sel = [i for i, r in enumerate(rows) if args.split == "all" or r["split"] == args.split]
    wrong = [i for i in sel if calls["policyqa"][i] not in (None, rows[i]["label"])]
    for i in (sel if args.verbose else wrong):
        r, a = rows[i], answers[i]
        if calls["policyqa"][i] is None:
            continue
        rest = next((c.quote for b in a.verdicts for c in a.citations if b.numbers and c.n == b.numbers[0]), "")
        mark = "WRONG" if i in wrong else "ok"
        print(f"\n{mark} {r['id']} [{r['split']}] {r['policy']}: {r['question']!r} label {r['label']}, "
              f"said {calls['policyqa'][i]}\n    rests on: {rest!r}\n    label's basis: {r['basis']!r}")
    given = [(o, v) for o, v in wh_verdicts if v]
    print(f"\nverdict lines on {len(wh)} what/who/which/where/when/why/how questions of the other sets: {len(given)}")
    for o, v in given:
        print(f"    {v}: {o['policy']}: {o['question']!r}")


if __name__ == "__main__":
    main()
