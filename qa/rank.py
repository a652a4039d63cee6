"""Scoring units for a question: cheap features from dense and BM25 retrieval, then a scorer.

Every unit of the policy gets a feature row (a few numpy passes over a few hundred units:
well under a millisecond). The scorer is a logistic model trained on PolicyQA by
`benchmarks/train_ranker.py` and shipped as `qa/models/ranker.json` (env POLICYQA_RANKER
points at another file, e.g. one trained on half the policies for an honest benchmark). It
outputs the probability that a unit holds the answer, which is also what the abstention bar
is set on. Without a model file, a hand-set fusion of dense and BM25 is used.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from qa.index import PolicyIndex

MODEL_FILE = Path(__file__).parent / "models" / "ranker.json"
FEATURES = (
    "dense", "dense_gap", "dense_z", "dense_rank",  # the unit's own cosine, and where it stands
    "window", "window_gap", "nb_max",  # the unit with its neighbours
    "section", "section_gap",  # the unit's section as a whole
    "bm25_norm", "bm25_log", "bm25_rank",  # lexical match
    "cover", "cover_idf",  # share of the question's terms the unit holds
    "missing", "dense_top",  # question-level: terms the policy lacks, best cosine in the policy
    "log_len", "is_item", "is_heading", "position",  # the unit's shape and place
)


@dataclass(frozen=True)
class Scored:
    """A question against one policy: the feature matrix and the raw signals shown on hits."""

    x: np.ndarray  # (n_units, len(FEATURES))
    dense: np.ndarray
    bm25: np.ndarray


def _rank_of(v: np.ndarray) -> np.ndarray:
    """0 for the largest value, 1 for the next, ..."""
    r = np.empty(len(v), dtype=np.float32)
    r[np.argsort(-v, kind="stable")] = np.arange(len(v), dtype=np.float32)
    return r


def _neighbour_max(v: np.ndarray) -> np.ndarray:
    out = np.full(len(v), -1.0, dtype=np.float32)
    out[1:] = v[:-1]
    out[:-1] = np.maximum(out[:-1], v[1:])
    return out


def features(pidx: PolicyIndex, question: str, qvec: np.ndarray) -> Scored:
    """Feature rows for every unit of one policy; the same code serves training and queries."""
    n = len(pidx.units)
    if n == 0:
        z = np.zeros(0, dtype=np.float32)
        return Scored(np.zeros((0, len(FEATURES)), dtype=np.float32), z, z)
    dense = pidx.dense(qvec).astype(np.float32)
    window = (pidx.window @ qvec).astype(np.float32)
    section = (pidx.section @ qvec).astype(np.float32)
    terms = pidx.bm25.terms(question)
    bm25 = pidx.bm25.scores(question, terms)
    cover, cover_idf = pidx.bm25.coverage(terms)
    top_bm25 = float(bm25.max())
    n_terms = len(terms.ids) + terms.n_missing
    lens = np.array([len(u.text) for u in pidx.units], dtype=np.float32)
    kinds = [u.kind for u in pidx.units]
    x = np.column_stack([
        dense, dense - dense.max(), (dense - dense.mean()) / (dense.std() + 1e-6),
        np.log1p(_rank_of(dense)),
        window, window - window.max(), _neighbour_max(dense),
        section, section - section.max(),
        bm25 / top_bm25 if top_bm25 > 0 else np.zeros(n), np.log1p(bm25), np.log1p(_rank_of(bm25)),
        cover, cover_idf,
        np.full(n, terms.n_missing / n_terms if n_terms else 1.0), np.full(n, dense.max()),
        np.log1p(lens), [k == "item" for k in kinds], [k == "heading" for k in kinds],
        np.arange(n) / max(n - 1, 1),
    ]).astype(np.float32)
    return Scored(x, dense, bm25)


def model_path() -> Path:
    return Path(os.environ.get("POLICYQA_RANKER") or MODEL_FILE)


def load_model(path: Path | None = None) -> dict | None:
    """The ranker at `path` (default: $POLICYQA_RANKER or the shipped file), or None if absent."""
    return _load(str(path or model_path()))


@lru_cache(maxsize=4)
def _load(path: str) -> dict | None:
    p = Path(path)
    if not p.exists():
        if os.environ.get("POLICYQA_RANKER"):
            raise RuntimeError(f"POLICYQA_RANKER={path} does not exist; unset it or train one: "
                               "python benchmarks/train_ranker.py --out PATH")
        return None
    model = json.loads(p.read_text())
    if tuple(model["features"]) != FEATURES:
        raise RuntimeError(f"{p} was trained on features {model['features']}, the code has {FEATURES}; "
                           "retrain: python benchmarks/train_ranker.py")
    return model


def score(x: np.ndarray, model: dict | None = None) -> np.ndarray:
    """Relevance in [0, 1] for every row of the feature matrix."""
    model = model if model is not None else load_model()
    if x.shape[0] == 0:
        return np.zeros(0, dtype=np.float32)
    if model is None:
        return fusion(x)
    mean, scale = np.asarray(model["mean"]), np.asarray(model["scale"])
    z = ((x - mean) / scale) @ np.asarray(model["coef"]) + model["intercept"]
    return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)


def fusion(x: np.ndarray) -> np.ndarray:
    """The untrained baseline: dense cosine plus a fifth of normalised BM25, squashed to [0, 1]."""
    col = {f: i for i, f in enumerate(FEATURES)}
    z = 12.0 * (x[:, col["dense"]] + 0.2 * x[:, col["bm25_norm"]] - 0.5)
    return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)
