#!/usr/bin/env python3
"""Dense ranking alone, embedder against embedder, on the hand-labelled question sets.

For each set, every answerable scoped question's policy units (production ingestion: load,
segment; the embedded text is `unit.context`, as the store embeds it) ranked by cosine with the
question through the int8 ONNX runtime; hit@1 / hit@3 scored as ../shared/bench/score_seeds.py
scores a quote (`quotes_evidence`). The baseline is the bundled all-MiniLM-L6-v2, in the same
run. No ranker, no rules: what the embedder alone hands on. The held-out natural set is left
out on purpose (it chooses nothing); the tuning set (natural-dev) and the bundled sets are in.

    python benchmarks/embedder_sets.py /tmp/ft-plain [/tmp/ft-mix ...]   # sentence-transformers folders
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "benchmarks"))
import numpy as np  # noqa: E402

from _data import seed_scoreboard  # noqa: E402
from ingest.embedding import OnnxMiniLM  # noqa: E402
from ingest.loaders import load  # noqa: E402
from ingest.segment import segment  # noqa: E402

SHARED = Path(os.environ.get("POLICYQA_SHARED", ROOT.parent / "shared"))
SETS = {"natural-dev": (ROOT / "benchmarks" / "natural_dev_questions.jsonl", ROOT / "benchmarks" / "natural_dev" / "corpus"),
        "seed dev": (SHARED / "eval" / "dev.jsonl", SHARED / "seeds"),
        "seed_questions": (ROOT / "benchmarks" / "seed_questions.jsonl", ROOT / "corpus"),
        "seed_questions2": (ROOT / "benchmarks" / "seed_questions2.jsonl", ROOT / "corpus"),
        "multilingual (as asked)": (ROOT / "benchmarks" / "multilingual.jsonl", ROOT / "corpus")}


def main(folders: list[str]) -> None:
    quotes_evidence = seed_scoreboard().quotes_evidence
    embedders = {"bundled all-MiniLM-L6-v2": OnnxMiniLM(None), **{f: OnnxMiniLM(Path(f)) for f in folders}}
    print("| set | questions | " + " | ".join(embedders) + " |\n|---|---|" + "---|" * len(embedders))
    for name, (path, corpus) in SETS.items():
        rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
        rows = [r for r in rows if r.get("policy") and r.get("evidence") and r.get("answerable", True)]
        units = {f.stem: segment(load(f)) for f in sorted(corpus.iterdir())
                 if f.stem in {r["policy"] for r in rows}}
        cells = []
        for emb in embedders.values():
            vecs = {p: emb.embed_passages([u.context for u in us]) for p, us in units.items()}
            h1 = h3 = 0
            for r in rows:
                order = np.argsort(-(vecs[r["policy"]] @ emb.embed_query(r["question"])), kind="stable")
                top = [units[r["policy"]][i].text for i in order[:3]]
                h1 += quotes_evidence(top[0], r["evidence"])
                h3 += any(quotes_evidence(t, r["evidence"]) for t in top)
            cells.append(f"{h1 / len(rows):.3f} / {h3 / len(rows):.3f}")
        print(f"| {name} | {len(rows)} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
