"""OPP-115's data practices: which one a question asks about, and whether a policy states it.

A long policy always has some clause close in words to a question it is silent on: cookie
clauses that mention tracking, for "Do you honour Do Not Track?"; server clauses without a
country, for "Which country is my data stored in?". Two sets of linear models over the
embedder's vectors, trained on OPP-115's annotated data practices (benchmarks/train_practices.py;
qa/models/practices.npz), say which practice ("Category|||Attribute|||Value") a question asks
about and how likely each clause states one; beside OPP-115's practices, topics it has none for,
learnt from our own plain-words questions (TOPIC). `silence` turns them into one figure the gate
reads beside the first stage's (qa.rank.gate_features): how surely the question asks about a
practice, times the log-probability that the policy states it anywhere.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

MODEL_FILE = Path(__file__).parent / "models" / "practices.npz"
TOPIC = "Plain words|||Topic|||"  # the types of topics OPP-115 has no practice for (a breach notice,
#                                   where data is stored, AI training ...), learnt from the topics of
#                                   our plain-words questions (benchmarks/train_practices.py)
SURE = 0.1  # a question's best practice probability from which it counts in full: PolicyQA's
#             wordings for one practice overlap with those for its neighbours, so the question
#             model's probabilities stay low (0.05-0.3 for a clear "Do Not Track" question);
#             chosen on the plain-words gate rows, out of fold (benchmarks/README.md, "Practices")
FLOOR = 1e-3  # the smallest probability of a practice being stated that is told apart
NEAR = 0.4  # practices asked about with at least this share of the likeliest one's probability
#             count too: "Will my data be used for advertising?" is asked as Advertising and as
#             Marketing, and a policy that states either addresses it (against the likeliest
#             one alone: the same or better on every tuning set; benchmarks/README.md, "Practices")


@dataclass(frozen=True)
class Practices:
    types: tuple[str, ...]
    clause_w: np.ndarray  # (types, dim)
    clause_b: np.ndarray  # (types,)
    question_w: np.ndarray
    question_b: np.ndarray
    meta: dict

    def stated(self, vectors: np.ndarray) -> np.ndarray:
        """P(some clause states the practice) for each practice: the best clause's probability."""
        if len(vectors) == 0:
            return np.zeros(len(self.types), dtype=np.float32)
        return _sigmoid(vectors @ self.clause_w.T + self.clause_b).max(axis=0)

    def asked(self, qvec: np.ndarray) -> np.ndarray:
        """P(the question asks about the practice), for each practice."""
        return _sigmoid(self.question_w @ qvec + self.question_b)

    def states_asked(self, vectors: np.ndarray, qvec: np.ndarray) -> np.ndarray:
        """For each clause, how surely it states what the question asks about: the log-odds of
        P(it states one of the practices asked, the likeliest or one NEAR it), those weighted by
        how surely each is asked, times the question's certainty as in `silence`; one of the
        first stage's features (qa.rank.base_features)."""
        a = self.asked(qvec)
        near, sure = focus(a)
        p = _sigmoid(vectors @ self.clause_w[near].T + self.clause_b[near]) @ a[near] / a[near].sum()
        p = np.clip(p, FLOOR, 1 - FLOOR)
        return (sure * np.log(p / (1 - p))).astype(np.float32)


def focus(asked: np.ndarray) -> tuple[np.ndarray, float]:
    """Which practices a question asks about (the likeliest, and those asked at least NEAR times
    as surely), and how surely it asks about one at all: min(1, P(the likeliest) / SURE)."""
    top = float(asked.max())
    return asked >= NEAR * top, min(1.0, top / SURE)


def silence(asked: np.ndarray, stated: np.ndarray) -> float:
    """min(1, P(the question's likeliest practice) / SURE) * log P(the policy states one of the
    practices asked about, the likeliest or one NEAR it): near 0 when the question asks about no
    practice in particular or the policy states it, down to log(FLOOR) when it surely asks about
    one the policy never states."""
    near, sure = focus(asked)
    return float(sure * np.log(max(float(stated[near].max()), FLOOR)))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float32)))).astype(np.float32)


def load(path: Path | None = None) -> Practices | None:
    """The shipped practice models (or those in `path`); None without the file."""
    return _load(str(path or MODEL_FILE))


@lru_cache(maxsize=4)
def _load(path: str) -> Practices | None:
    if not Path(path).is_file():
        return None
    with np.load(path) as z:
        return Practices(tuple(str(t) for t in z["types"]), z["clause_w"].astype(np.float32),
                         z["clause_b"].astype(np.float32), z["question_w"].astype(np.float32),
                         z["question_b"].astype(np.float32), json.loads(str(z["meta"])))
