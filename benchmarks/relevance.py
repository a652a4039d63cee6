"""The question sets, each through the CLI contract (../shared/bench/score_seeds.py), for the
ranker policyqa shipped before OPP-115 ("before") and the one it ships, in one run.

  before     the ranker of 58e7bdb, trained on the PolicyQA dev split, which holds the five
             policies of the natural set: its figures there are on policies it was trained on
  policyqa   the ranker trained on 65 OPP-115 policies outside that split (qa/models/ranker.json)
  reranker   that ranker's best clauses re-scored by the reranker (qa/models/reranker, trained on
             the same 65): POLICYQA_RERANK=1, not the default

Sets: the seed dev set (../shared/eval/dev.jsonl on ../shared/seeds), benchmarks/seed_questions.jsonl
and seed_questions2.jsonl (on corpus/), the natural-question tuning set
(benchmarks/natural_dev_questions.jsonl on five OPP-115 validation policies: the one to choose on)
and the natural-question set (benchmarks/natural_questions.jsonl on five PolicyQA dev policies,
written before training; held out: reported, never used to choose).

    python benchmarks/relevance.py [--configs before,policyqa,reranker] [--sets dev,seed1,seed2,natural-dev,natural]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from _data import TODAY, today_ranker  # noqa: E402

SHARED = Path(os.environ.get("POLICYQA_SHARED", ROOT.parent / "shared"))
SCORE = SHARED / "bench" / "score_seeds.py"

SETS = {
    "dev": (SHARED / "eval" / "dev.jsonl", SHARED / "seeds"),
    "seed1": (ROOT / "benchmarks" / "seed_questions.jsonl", ROOT / "corpus"),
    "seed2": (ROOT / "benchmarks" / "seed_questions2.jsonl", ROOT / "corpus"),
    "natural-dev": (ROOT / "benchmarks" / "natural_dev_questions.jsonl", ROOT / "benchmarks" / "natural_dev" / "corpus"),
    "natural": (ROOT / "benchmarks" / "natural_questions.jsonl", ROOT / "benchmarks" / "natural" / "corpus"),
}


def configs(tmp: Path) -> dict[str, dict]:
    old = tmp / "ranker-today.json"
    old.write_text(json.dumps(today_ranker()))
    return {"before": {"POLICYQA_RANKER": str(old)}, "policyqa": {}, "reranker": {"POLICYQA_RERANK": "1"}}


def score(question_set: Path, corpus: Path, env: dict) -> str:
    cli = f"{sys.executable} -m policyqa"  # this checkout's code, whichever one is installed
    r = subprocess.run([sys.executable, str(SCORE), "--set", str(question_set), "--corpus", str(corpus),
                        "--cmd", cli], capture_output=True, text=True, cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": str(ROOT), **env})
    last = (r.stdout.strip().splitlines() or [r.stderr.strip()[-300:]])[-1]
    return re.sub(r"^(OK|SHORT:[^|]*)\s*\|\s*", "", last)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", default="before,policyqa,reranker")
    ap.add_argument("--sets", default=",".join(SETS))
    args = ap.parse_args()
    names = {"before": f"before ({TODAY}'s ranker)", "policyqa": "policyqa",
             "reranker": "policyqa, reranker on (POLICYQA_RERANK=1)"}
    with tempfile.TemporaryDirectory() as tmp:
        envs = configs(Path(tmp))
        print("| set | system | figures |\n|---|---|---|")
        for s in args.sets.split(","):
            for c in args.configs.split(","):
                print(f"| {s} | {names[c]} | {score(*SETS[s], envs[c])} |", flush=True)


if __name__ == "__main__":
    main()
