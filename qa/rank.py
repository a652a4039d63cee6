"""Scoring units for a question: features from dense and BM25 retrieval, then a scorer.

The default scorer is a logistic model over a handful of retrieval features, trained on
PolicyQA by `benchmarks/train_ranker.py` and shipped as `qa/models/ranker.json`; it outputs a
probability that a unit holds the answer, which is also what the abstention bar is set on.
Without the file, a hand-set fusion is used (dense cosine plus a share of normalised BM25).
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from qa.index import PolicyIndex

MODEL_FILE = Path(__file__).parent / "models" / "ranker.json"
FEATURES = ("dense", "bm25_norm", "dense_gap", "bm25_present", "log_len", "is_item")


def features(pidx: PolicyIndex, dense: np.ndarray, bm25: np.ndarray) -> np.ndarray:
    """(n_units, len(FEATURES)) feature matrix for one question over one policy."""
    n = len(pidx.units)
    if n == 0:
        return np.zeros((0, len(FEATURES)), dtype=np.float32)
    top_bm25 = float(bm25.max()) if bm25.size else 0.0
    bm25_norm = bm25 / top_bm25 if top_bm25 > 0 else np.zeros(n, dtype=np.float32)
    lens = np.array([len(u.text) for u in pidx.units], dtype=np.float32)
    return np.column_stack([
        dense,
        bm25_norm,
        dense - float(dense.max()),
        (bm25 > 0).astype(np.float32),
        np.log1p(lens),
        np.array([u.kind == "item" for u in pidx.units], dtype=np.float32),
    ]).astype(np.float32)


@lru_cache(maxsize=1)
def load_model(path: Path = MODEL_FILE) -> dict | None:
    if not path.exists():
        return None
    model = json.loads(path.read_text())
    if tuple(model["features"]) != FEATURES:
        raise RuntimeError(f"{path} was trained on features {model['features']}, code has {FEATURES}; "
                           "retrain: python benchmarks/train_ranker.py")
    return model


def score(x: np.ndarray, model: dict | None = None) -> np.ndarray:
    """Relevance in [0, 1] for every row of the feature matrix."""
    model = model if model is not None else load_model()
    if x.shape[0] == 0:
        return np.zeros(0, dtype=np.float32)
    if model is None:
        z = 12.0 * (x[:, 0] + 0.2 * x[:, 1] - 0.5)
    else:
        mean, scale = np.asarray(model["mean"]), np.asarray(model["scale"])
        z = ((x - mean) / scale) @ np.asarray(model["coef"]) + model["intercept"]
    return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)
