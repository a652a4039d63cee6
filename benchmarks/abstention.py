"""Abstention on the bundled policies: does a policy get answered exactly when it addresses the
question? policyqa at its bar and at others beside a plain rule, in one run.

The set (`abstention.jsonl`) asks twelve questions of each of the five bundled policies: seven
on specific topics (selling data, cookies, encryption, AI training, biometrics, children,
facial recognition) and five generic ones every policy answers (what is collected, who it is
shared with, how to get in touch). A pair is labelled answerable when the policy has a
sentence on the topic, found by the regular expression in `topic_grep` (case-insensitive) and
read by a person: 34 answerable pairs, 26 silent. Written by the developers, so it is a check
and a calibration aid, not a held-out figure. qa.rank.TOPICS (the topic-absence rule) covers
those seven topics by construction; four questions written after it (health, GPS location,
advertising, and voice recording, which TOPICS lacks) make a second group of 20 pairs. The
other side of the trade is printed too: how many questions known to be answerable (the seed
dev set, seed_questions.jsonl, multilingual.jsonl) each bar refuses.

  policyqa (bar B)  Assistant.answer(question, policy).answerable with the abstention bar B
  cosine >= 0.45    answer when the best clause's cosine with the question is 0.45 or more
                    (plain dense retrieval with a floor)
  policyqa across   the question asked of all policies at once (no --policy): is the policy
                    among those the answer says address it?

    python benchmarks/abstention.py [--verbose]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOOR = 0.45
BARS = (0.04, 0.07, 0.10)


ANSWERABLE_SETS = (ROOT / "benchmarks" / "seed_questions.jsonl", ROOT.parent / "shared" / "eval" / "dev.jsonl",
                   ROOT / "benchmarks" / "multilingual.jsonl")


def refusals(assistant, paths) -> list[tuple[int, int]]:
    """(refused, asked) per set: questions labelled answerable, of one policy, not answered."""
    out = []
    for path in paths:
        rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
        rows = [r for r in rows if r.get("policy") and r.get("answerable", True)]
        out.append((sum(not assistant.answer(r["question"], r["policy"]).answerable for r in rows), len(rows)))
    return out


def print_table(group: str, pos: list[bool], calls: dict[str, list[bool]]) -> None:
    print(f"\n{group}: {len(pos)} pairs, {sum(pos)} answerable, {len(pos) - sum(pos)} silent\n")
    print("| system | accuracy | answered, of answerable | abstained, of silent |")
    print("|---|---|---|---|")
    for name, said in calls.items():
        acc = sum(s == p for s, p in zip(said, pos)) / len(pos)
        ans = sum(s for s, p in zip(said, pos) if p) / max(sum(pos), 1)
        abst = sum(not s for s, p in zip(said, pos) if not p) / max(len(pos) - sum(pos), 1)
        print(f"| {name} | {acc:.2f} | {ans:.2f} | {abst:.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", type=Path, default=ROOT / "benchmarks" / "abstention.jsonl")
    ap.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    ap.add_argument("--verbose", action="store_true", help="print every wrong call")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from ingest.pipeline import ingest_paths, open_store
    from qa.service import Assistant

    items = [json.loads(line) for line in args.set.read_text("utf-8").splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp))
        ingest_paths([args.corpus], store)
        shipped = Assistant(store)
        bars = sorted({shipped.bar, *BARS})
        assistants = {f"policyqa (bar {b:.2f}{', shipped' if b == shipped.bar else ''})": Assistant(store, bar=b)
                      for b in bars}
        calls = {name: [] for name in [*assistants, f"cosine >= {FLOOR}"]}
        for it in items:
            qvec = shipped.embedder.embed_query(it["question"])
            best = max(float(shipped.index(it["policy"]).dense(qvec).max()), 0.0)
            said_by = {name: a.answer(it["question"], it["policy"]).answerable for name, a in assistants.items()}
            said_by[f"cosine >= {FLOOR}"] = best >= FLOOR
            for name, said in said_by.items():
                calls[name].append(said)
                if args.verbose and said != it["answerable"] and (name.endswith("shipped)") or "cosine" in name):
                    print(f"  {name:14s} wrong: {it['policy']:22s} {it['question']!r} "
                          f"(answerable={it['answerable']}, said {said})")
        refused = {name: refusals(a, ANSWERABLE_SETS) for name, a in assistants.items()}
        across = {q: set(shipped.answer(q).policies) for q in dict.fromkeys(it["question"] for it in items)}
        calls["policyqa across all policies (shipped)"] = [it["policy"] in across[it["question"]] for it in items]
        if args.verbose:
            for it, said in zip(items, calls["policyqa across all policies (shipped)"]):
                if said != it["answerable"]:
                    print(f"  across         wrong: {it['policy']:22s} {it['question']!r} "
                          f"(answerable={it['answerable']}, said {said})")
    for group in sorted({it.get("group", "the first 60") for it in items}):
        idx = [i for i, it in enumerate(items) if it.get("group", "the first 60") == group]
        print_table(group, [items[i]["answerable"] for i in idx],
                    {name: [said[i] for i in idx] for name, said in calls.items()})
    print("\nThe other side, from the same assistants: answerable questions of the other sets "
          "(the seed scoreboard's dev set and the benchmarks' own), refused / asked\n")
    names = [path.name for path in ANSWERABLE_SETS]
    print("| system | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for name, counts in refused.items():
        print(f"| {name} | " + " | ".join(f"{r} / {n}" for r, n in counts) + " |")


if __name__ == "__main__":
    main()
