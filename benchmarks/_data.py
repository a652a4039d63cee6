"""Shared loading of the PolicyQA dev split for the benchmarks (whole policies, as the
scoreboard in ../shared/bench/policyqa_bench.py builds them)."""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("POLICYQA_SHARED", ROOT.parent / "shared"))
BENCH = SHARED / "bench" / "policyqa_bench.py"


def scoreboard():
    """The shared scoreboard module, imported from its path (it is not a package), once per
    process: its records pickle by class, so every user must share one copy."""
    if "policyqa_bench" in sys.modules:
        return sys.modules["policyqa_bench"]
    spec = importlib.util.spec_from_file_location("policyqa_bench", BENCH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def plain_questions() -> list[dict]:
    """The hand-written plain-words training questions (benchmarks/plain_train/part*.jsonl): the
    first stage's plain rows (train_ranker.py) and the embedder's plain examples
    (finetune_embedder.py) both read them here. POLICYQA_PLAIN_DIR: another folder of parts
    (e.g. a subset, to measure what more questions buy); POLICYQA_PLAIN_PARTS=N: parts 1 to N
    only (the shipped embedder and first stage learnt from parts 1-23: qa/models/ranker.json's
    "embedder_note"; the shipped reranker from parts 1-27); POLICYQA_PLAIN_PARTS=M-N: parts M to N
    (e.g. 24-31, which the shipped first stage never saw)."""
    folder = Path(os.environ.get("POLICYQA_PLAIN_DIR") or ROOT / "benchmarks" / "plain_train")
    parts = os.environ.get("POLICYQA_PLAIN_PARTS", "")
    first, _, last = parts.rpartition("-")
    return [json.loads(line) for f in sorted(folder.glob("part*.jsonl"))
            if not parts or int(first or 1) <= int(f.stem[4:]) <= int(last)
            for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]


def plain_half(pid: str) -> int:
    """0 or 1: the half a plain-words policy falls in when they are held out by halves
    (train_ranker.py --plain-cv, finetune_embedder.py --plain-half), by a hash of its id."""
    return hashlib.sha256(pid.encode()).digest()[0] % 2


def plain_policies(known) -> list[SimpleNamespace]:
    """The policies plain-words questions are asked of that are not among `known` (OPP-115's,
    by id): the list-shaped policies written for training (benchmarks/plain_train/corpus/synth-*),
    as records with .pid and .text."""
    corpus = ROOT / "benchmarks" / "plain_train" / "corpus"
    pids = dict.fromkeys(r["policy"] for r in plain_questions() if r["policy"] not in set(known))
    return [SimpleNamespace(pid=pid, text=(corpus / f"{pid}.txt").read_text(encoding="utf-8")) for pid in pids]


def seed_scoreboard():
    """../shared/bench/score_seeds.py, imported from its path: its `quotes_evidence` is what
    every benchmark that reads `evidence` phrases judges a quote by."""
    if "score_seeds" not in sys.modules:
        spec = importlib.util.spec_from_file_location("score_seeds", SHARED / "bench" / "score_seeds.py")
        sys.modules[spec.name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[spec.name])
    return sys.modules["score_seeds"]


def policyqa_dev():
    """(policies, questions) of the PolicyQA dev split."""
    return scoreboard().load_split("dev", SHARED / "eval" / "policyqa")


def write_policies(policies, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for p in policies:
        (folder / f"{p.pid}.txt").write_text(p.text, encoding="utf-8")
    return folder


TODAY = "58e7bdb"  # the last ranker trained on the PolicyQA dev split: "before" in the benchmarks' tables


def today_ranker() -> dict:
    """The first-stage model shipped at TODAY (trained on the PolicyQA dev split), from git."""
    import subprocess

    out = subprocess.run(["git", "-C", str(ROOT), "show", f"{TODAY}:qa/models/ranker.json"],
                         check=True, capture_output=True).stdout
    return json.loads(out)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


@contextmanager
def ingested(*folders: Path):
    """A store in a temporary folder holding the policies of `folders` (the shipped embedder)."""
    from ingest.pipeline import ingest_paths, open_store

    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp))
        report = ingest_paths(list(folders), store)
        if report.failed:
            raise RuntimeError(f"could not ingest {report.failed}")
        yield store
