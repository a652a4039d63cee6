"""PolicyQA as ranking data for the unit ranker: one feature matrix per (policy, question).

Each policy goes through the same path as `policyqa ingest` of the benchmark's .txt file
(load -> normalise -> segment -> embed with the production embedder), and every question is
featurised by `qa.rank.features`, the code that runs at query time. Labels mirror the
benchmark (../shared/bench/policyqa_bench.py):
- `loc`: the unit's text covers an annotated gold range (its LocHit definition);
- `sent`: the unit's first sentence contains a gold span or holds >= 50% of its tokens
  (its SentHit definition, applied to the sentence the `cli` system picks from a quote);
- `contains`: a gold span occurs in the unit text (its Hit definition).
Unit and question vectors are cached under /tmp so that training runs take seconds.
"""
from __future__ import annotations

import hashlib
import importlib.util
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT.parent / "shared" / "bench" / "policyqa_bench.py"
CACHE = Path(tempfile.gettempdir()) / "policyqa-train"


def bench_module(path: Path = BENCH):
    """The benchmark script as a module, so labels use its own definitions."""
    spec = importlib.util.spec_from_file_location("policyqa_bench", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@dataclass
class Question:
    qid: str
    policy: int  # index of the policy in the split's order (odd/even folds)
    text: str
    x: np.ndarray  # (n_units, n_features)
    loc: np.ndarray  # bool per unit
    sent: np.ndarray
    contains: np.ndarray
    lens: np.ndarray  # characters per unit


def locate_units(text: str, units) -> list[tuple[int, int] | None]:
    """Offsets of each unit in the benchmark's original text, searching forward in order
    (a sentence repeated in a policy maps to the occurrence at the right place)."""
    out, cursor = [], 0
    for u in units:
        pat = r"\s+".join(re.escape(t) for t in u.text.split())
        m = re.compile(pat).search(text, cursor) or re.compile(pat).search(text)
        out.append((m.start(), m.end()) if m else None)
        if m and m.start() >= cursor:
            cursor = m.start()
    return out


def _cached(key: str, compute) -> np.ndarray:
    CACHE.mkdir(parents=True, exist_ok=True)
    f = CACHE / f"{hashlib.sha256(key.encode()).hexdigest()[:20]}.npy"
    if f.exists():
        return np.load(f)
    arr = compute()
    np.save(f, arr)
    return arr


def policy_index(pol, embedder, tmp: Path):
    """Ingest one benchmark policy the way the CLI does; returns (PolicyIndex, unit offsets)."""
    from ingest.loaders import load
    from ingest.segment import segment
    from qa.index import PolicyIndex

    path = tmp / f"{pol.pid}.txt"
    path.write_text(pol.text, encoding="utf-8")
    units = segment(load(path))
    contexts = [u.context for u in units]
    vecs = _cached(embedder.name + "\x00" + "\x01".join(contexts),
                   lambda: embedder.embed_passages(contexts))
    ids = [f"{pol.pid}#{u.order}" for u in units]
    return PolicyIndex.of(pol.pid, units, ids, vecs), locate_units(pol.text, units)


def unit_labels(bench, q, units, offsets) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(loc, sent, contains) for every unit, by the benchmark's definitions."""
    golds = [bench.norm_ws(g) for g in q.gold_texts]
    loc, sent, contains = (np.zeros(len(units), bool) for _ in range(3))
    for i, (u, off) in enumerate(zip(units, offsets)):
        t = bench.norm_ws(u.text)
        contains[i] = any(g in t for g in golds)
        if off is not None:
            loc[i] = contains[i] and any(off[0] <= s and e <= off[1] for s, e in q.gold_ranges)
        spans = bench.split_sentences(u.text)
        first = u.text[spans[0][0]:spans[0][1]] if spans else u.text
        fn = bench.norm_ws(first)
        sent[i] = any(bench.norm_ws(g) in fn or bench.gold_token_overlap(first, g) >= 0.5
                      for g in q.gold_texts)
    return loc, sent, contains


def build(split: str = "dev", bench_path: Path = BENCH, limit: int = 0) -> tuple[list, list[Question]]:
    """(policy ids in split order, featurised questions) for a PolicyQA split."""
    from ingest.embedding import get_embedder
    from qa.rank import features

    bench = bench_module(bench_path)
    policies, questions = bench.load_split(split)
    embedder = get_embedder("all-MiniLM-L6-v2", "onnx-int8")
    texts = sorted({q.question for q in questions})
    qv = _cached(embedder.name + "\x00q\x00" + "\x01".join(texts),
                 lambda: np.vstack([embedder.embed_query(t) for t in texts]))
    qvec = dict(zip(texts, qv))
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for pi, pol in enumerate(policies):
            pidx, offsets = policy_index(pol, embedder, Path(tmp))
            lens = np.array([len(u.text) for u in pidx.units], dtype=np.float32)
            for q in (q for q in questions if q.pid == pol.pid):
                x = features(pidx, q.question, qvec[q.question]).x
                loc, sent, contains = unit_labels(bench, q, pidx.units, offsets)
                out.append(Question(q.qid, pi, q.question, x, loc, sent, contains, lens))
    if limit:
        out = out[:limit]
    return [p.pid for p in policies], out
