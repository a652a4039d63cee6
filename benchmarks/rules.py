"""What each hand-written rule of the ranker still adds, measured on every question set in one run.

The rules (qa.rank.adjust): a signpost (heading, lead-in, question-shaped sentence) needs twice
the score to come first (SIGNPOST_WEIGHT); a question naming something the policy never names
("China") has every score cut to a tenth (missing_names); so has a question about a practice or
kind of data the policy has no word for (missing_topics, qa.rank.TOPICS). Each variant turns one
rule off and answers every set in this process, scored as ../shared/bench/score_seeds.py scores
(its `quotes_evidence`, loaded by `_data.seed_scoreboard`): hit@1 and hit@3 of the first
citations, flag (answerable as labelled), the share of silent questions refused, and the first
quote's mean length (a longer quote holds an evidence phrase more often: hit@1 is read beside it).

Sets: the seed dev set, seed_questions.jsonl, seed_questions2.jsonl, abstention.jsonl and
multilingual.jsonl (the bundled policies; the rules were written against these), the
natural-question tuning set (five long OPP-115 validation policies: benchmarks/natural_dev) and
the natural-question set (five PolicyQA dev policies, held out: reported, never used to choose).

The variant reranker answers with the reranker on (qa.rerank, POLICYQA_RERANK=1; its own bar;
reranker=T: its bar at T);
no-gate without the ranker's gate (qa.rank.addresses: a policy whose P(addresses) is below the
gate's threshold is silent); gate=T with the gate's threshold at T instead of the ranker's; bar=T
the first stage's bar (qa.compose.select) at T instead of the ranker's; no-passages quotes each
ranked sentence alone (qa.compose.passages off: adjacent ranked sentences are not joined).
POLICYQA_MODEL (and POLICYQA_MODEL_DIR, POLICYQA_RANKER) choose another embedder and its ranker.

    python benchmarks/rules.py [--variants all,no-signpost,no-names,no-topics,no-passages,no-gate,gate=0.3,reranker,reranker=0.1] [--sets ...] [--log F]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "benchmarks"))  # after ROOT: benchmarks/ingest.py is not the package
from ingest.embedding import DEFAULT_MODEL  # noqa: E402
from ingest.pipeline import ingest_paths, open_store  # noqa: E402
from qa import compose, rank  # noqa: E402
from qa.service import Assistant  # noqa: E402
from relevance import SETS as CLI_SETS  # noqa: E402  (after ours: it puts benchmarks/ first)
from _data import seed_scoreboard  # noqa: E402

SETS = {**CLI_SETS,
        "abstention": (ROOT / "benchmarks" / "abstention.jsonl", ROOT / "corpus"),
        "multilingual": (ROOT / "benchmarks" / "multilingual.jsonl", ROOT / "corpus")}
ORDER = ["dev", "seed1", "seed2", "abstention", "multilingual", "natural-dev", "natural"]


@contextmanager
def variant(name: str):
    """The ranker with one rule turned off ("all": as shipped)."""
    saved = rank.SIGNPOST_WEIGHT, rank.missing_names, rank.missing_topics, compose.passages
    if name == "no-signpost":
        rank.SIGNPOST_WEIGHT = 1.0
    elif name == "no-names":
        rank.missing_names = lambda pidx, question: []
    elif name == "no-topics":
        rank.missing_topics = lambda pidx, question: []
    elif name == "no-passages":
        compose.passages = lambda hits, index, k=compose.MAX_SHOWN: list(hits)
    elif name not in ("all", "reranker", "no-gate") and not name.startswith(("gate=", "reranker=", "bar=")):  # see main
        raise SystemExit(f"unknown variant {name!r}")
    try:
        yield
    finally:
        rank.SIGNPOST_WEIGHT, rank.missing_names, rank.missing_topics, compose.passages = saved


def evaluate(assistant: Assistant, rows: list[dict], quotes_evidence, log=None) -> dict:
    """`log`: a list that gets one record per question (its first quote, and whether it hit)."""
    hit1 = hit3 = scoped = flag = silent = refused = 0
    chars = []  # the first quote's length, where hit@1 is judged
    for q in rows:
        ans = assistant.answer(q["question"], q.get("policy"))
        expected = q.get("answerable", True)
        flag += bool(ans.answerable) == expected
        first = ans.citations[0].quote if ans.citations else None
        h1 = None
        if not expected:
            silent += 1
            refused += not ans.answerable
        elif q.get("policy") and q.get("evidence"):
            scoped += 1
            top = [c.quote for c in ans.citations[:3]]
            hit3 += any(quotes_evidence(t, q["evidence"]) for t in top)
            h1 = bool(top) and quotes_evidence(top[0], q["evidence"])
            hit1 += h1
            chars += [len(top[0])] if top else []
        if log is not None:
            log.append({"question": q["question"], "policy": q.get("policy"), "hit@1": h1,
                        "flag": bool(ans.answerable) == expected, "first": first})
    ratio = lambda a, b: f"{a / b:.3f}" if b else "-"  # noqa: E731
    return {"hit@1": ratio(hit1, scoped), "hit@3": ratio(hit3, scoped), "flag": ratio(flag, len(rows)),
            "silent refused": ratio(refused, silent), "first quote chars": f"{sum(chars) / len(chars):.0f}" if chars else "-"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", default="all,no-signpost,no-names,no-topics")
    ap.add_argument("--sets", default=",".join(ORDER))
    ap.add_argument("--min-cosine", type=float, help="another floor for qa.compose.MIN_COSINE (it is the embedder's own)")
    ap.add_argument("--log", type=Path, help="write every answer's first quote and verdict here (JSON lines)")
    args = ap.parse_args()
    if args.min_cosine is not None:
        compose.MIN_COSINE = args.min_cosine
    log = []
    quotes_evidence = seed_scoreboard().quotes_evidence
    stores = {}
    model = os.environ.get("POLICYQA_MODEL", DEFAULT_MODEL)
    with tempfile.TemporaryDirectory() as tmp:
        print("| set | rule off | hit@1 | hit@3 | flag | silent refused | first quote chars |\n|---|---|---|---|---|---|---|")
        for name in args.sets.split(","):
            path, corpus = SETS[name]
            if corpus not in stores:
                stores[corpus] = open_store(Path(tmp) / f"store-{len(stores)}", model, "onnx-int8")
                ingest_paths([corpus], stores[corpus])
            rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
            for v in args.variants.split(","):
                with variant(v):
                    records = []
                    rr = v.startswith("reranker")
                    bar = float(v.split("=")[1]) if v.startswith(("reranker=", "bar=")) else None
                    assistant = Assistant(stores[corpus], model=model, reranker=rr, bar=bar)
                    if v == "no-gate":
                        assistant.gate = None
                    elif v.startswith("gate="):  # another threshold for the gate's P(addresses)
                        assistant.gate = float(v.removeprefix("gate="))
                    m = evaluate(assistant, rows, quotes_evidence, records)
                log += [{"set": name, "variant": v, **r} for r in records]
                label = {"all": "none (as shipped)", "reranker": "none, reranker on"}.get(v, v.removeprefix("no-"))
                print(f"| {name} ({len(rows)} q) | {label} | " + " | ".join(m.values()) + " |", flush=True)
    if args.log:
        args.log.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in log), encoding="utf-8")


if __name__ == "__main__":
    main()
