"""Scoring units for a question: cheap features from dense and BM25 retrieval, then a scorer.

Every unit of the policy gets a feature row (a few numpy passes over a few hundred units:
well under a millisecond). The ranker, trained on OPP-115 and our plain-words questions by
`benchmarks/train_ranker.py` and shipped as `qa/models/ranker.json` (env POLICYQA_RANKER points
at another file, e.g. one trained on half the policies for an honest benchmark), has three parts:

- a query adapter: a 384x384 matrix A that moves the question's vector towards the vectors
  of the sentences that answer such questions (q' = q + qA). MiniLM places "How do you
  collect my information?" nearest to sentences that repeat those words; the adapter learns
  that answers read "we collect ... when you register". Raw cosine stays a feature too.
- a logistic model over the features below; it outputs the probability that a unit holds
  the answer, which is also what the abstention bar is set on.
- a gate: a logistic model over a few figures of the ranked clauses (gate_features) giving
  P(the policy addresses the question at all); below its threshold no clause is relied on.
  The bar asks "is this clause good enough?"; on a long policy some clause always comes close
  in words, and the gate learns from silent questions what that looks like. One more figure
  says whether any clause states the data practice the question asks about (qa.practices).
Without a model file, a hand-set fusion of dense and BM25 is used.
"""
from __future__ import annotations

import base64
import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from qa.index import PolicyIndex

MODEL_FILE = Path(__file__).parent / "models" / "ranker.json"
BASE = (
    "dense", "dense_gap", "dense_z", "dense_rank",  # the unit's own cosine, and where it stands
    "window", "window_gap", "nb_max",  # the unit with its neighbours
    "bm25_norm", "bm25_log", "bm25_rank",  # lexical match
    "cover", "cover_idf",  # share of the question's terms the unit holds
    "missing", "dense_top",  # question-level: terms the policy lacks, best cosine in the policy
    "log_len", "position",  # the unit's length and place
    "practice_gap",  # how much less surely than the policy's likeliest clause it states the data
    #                  practice the question asks about (qa.practices.states_asked): an order, not a
    #                  level, so that whether the policy states it at all is left to the gate
)
ADAPTED = ("adapted", "adapted_gap", "adapted_rank", "adapted_window")  # cosines with q'
FEATURES = BASE + ADAPTED
# Not features: the unit's kind and section. PolicyQA's policies (paragraphs, no headings or
# lists) never vary them, so a model cannot learn their weight there; a fixed prior handles
# headings instead (SIGNPOST_WEIGHT), and the section path is part of every embedded context.
SIGNPOST_WEIGHT = 0.5  # headings, "... as follows:", "What do we collect?" announce an answer
MISSING_WEIGHT = 0.05  # the question names something (China, TikTok) the policy never does, or a
#                      practice (selling, encryption) it has no word for: every score below the
#                      bar (0.07). At 0.1 a clause scoring 0.70 came through: "Do you collect
#                      biometric data?" in Chinese was answered with "Account data: Email address
#                      and password" (0.0702) on one int8 export; rules.py: no set moves at 0.06.
_NAME = re.compile(r"(?<=[\w,;] )[A-Z][a-z]+(?:[A-Z][a-z]*)*\b")  # Title-case, mid-sentence
_WORD = re.compile(r"(?u)\b\w\w+\b")  # bm25s's token pattern
# Specific practices and kinds of data a question can ask about: the stems that name one in a
# question, and further stems a policy that speaks of it may use instead (Snowball, after
# qa.lexical.CONFLATE). A policy with none of a named topic's words does not address it,
# however close the generic words come ("Do you collect biometric data?" of a policy that only
# lists what it collects). Privacy-domain vocabulary (OPP-115's data types and practices), the
# counterpart of missing_names for words that are not names.
TOPICS = (
    (("biometr", "fingerprint", "facial", "faceprint", "voiceprint"), ("face", "retina")),
    (("health", "medic"), ("hipaa",)),
    (("gps", "geoloc", "locat"), ("geograph",)),
    (("sell",), ("rent", "monet")),
    (("encrypt",), ("tls", "ssl", "https", "bcrypt", "hash", "cryptograph")),
    (("child", "minor", "kid", "teen", "teenag"), ("age", "13", "16", "parent", "coppa")),
    (("cooki",), ("pixel", "beacon", "track")),
    (("train",), ("model", "learn")),
    (("advertis", "ad"), ("market", "promot")),
)
CLIP = 5.0  # standardised features are clipped: a policy unlike the training data cannot explode z


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


def base_features(pidx: PolicyIndex, question: str, qvec: np.ndarray, prac=None) -> Scored:
    """The BASE columns: everything that does not depend on the trained adapter. `prac`: the
    practice models (qa.practices.Practices) for the "practice" column, 0 without them."""
    n = len(pidx.units)
    dense = pidx.dense(qvec).astype(np.float32)
    window = (pidx.window @ qvec).astype(np.float32)
    terms = pidx.bm25.terms(question)
    bm25 = pidx.bm25.scores(question, terms)
    cover, cover_idf = pidx.bm25.coverage(terms)
    top_bm25 = float(bm25.max())
    n_terms = len(terms.ids) + terms.n_missing
    lens = np.array([len(u.text) for u in pidx.units], dtype=np.float32)
    x = np.column_stack([
        dense, dense - dense.max(), (dense - dense.mean()) / (dense.std() + 1e-6),
        np.log1p(_rank_of(dense)),
        window, window - window.max(), _neighbour_max(dense),
        bm25 / top_bm25 if top_bm25 > 0 else np.zeros(n), np.log1p(bm25), np.log1p(_rank_of(bm25)),
        cover, cover_idf,
        np.full(n, terms.n_missing / n_terms if n_terms else 1.0), np.full(n, dense.max()),
        np.log1p(lens), np.arange(n) / max(n - 1, 1),
        _gap(prac.states_asked(pidx.vectors, qvec)) if prac is not None else np.zeros(n),
    ]).astype(np.float32)
    return Scored(x, dense, bm25)


def _gap(v: np.ndarray) -> np.ndarray:
    return v - v.max()


def adapted_features(pidx: PolicyIndex, qadapted: np.ndarray) -> np.ndarray:
    """The ADAPTED columns: cosines of the units (and their windows) with the adapted query."""
    a = pidx.dense(qadapted).astype(np.float32)
    return np.column_stack([a, a - a.max(), np.log1p(_rank_of(a)),
                            pidx.window @ qadapted]).astype(np.float32)


def adapt(qvec: np.ndarray, adapter: np.ndarray | None) -> np.ndarray:
    """q' = q + qA, unit length; the query itself when there is no adapter."""
    if adapter is None:
        return qvec
    v = qvec + qvec @ adapter
    return (v / max(float(np.linalg.norm(v)), 1e-12)).astype(np.float32)


def features(pidx: PolicyIndex, question: str, qvec: np.ndarray, model: dict | None = None,
             prac=None) -> Scored:
    """Feature rows for every unit of one policy; the same code serves training and queries.
    `prac`: the practice models (base_features)."""
    if not pidx.units:
        z = np.zeros(0, dtype=np.float32)
        return Scored(np.zeros((0, len(FEATURES)), dtype=np.float32), z, z)
    model = model if model is not None else load_model()
    base = base_features(pidx, question, qvec, prac)
    qa = adapt(qvec, adapter_of(model))
    return Scored(np.hstack([base.x, adapted_features(pidx, qa)]), base.dense, base.bm25)


# --------------------------------------------------------------------------- fixed priors
def adjust(pidx: PolicyIndex, question: str, scores: np.ndarray, missing: list[str] | None = None) -> np.ndarray:
    """Rules PolicyQA cannot teach (it has no headings, few lists and no silent policies):
    - a signpost (a heading, a lead-in ending in ":", a sentence ending in "?") announces the
      answer without giving it, so it needs twice the score to come first;
    - a question naming something the policy never mentions ("Is my data sent to China?" of a
      policy without the word China) is not addressed by it, however close the generic words
      ("data", "sent") come: every score is cut below the bar. Names are Title-case words
      after the first; acronyms (AI, EU) are not taken as names, as policies spell them out. So is a question about a practice or
      kind of data (TOPICS: "Do you collect biometric data?") the policy has no word for.
    `missing`: absent(pidx, question), when the caller has it already."""
    out = np.where(pidx.signpost, scores * SIGNPOST_WEIGHT, scores)
    if absent(pidx, question) if missing is None else missing:
        out = out * MISSING_WEIGHT
    return out.astype(np.float32)


def absent(pidx: PolicyIndex, question: str) -> list[str]:
    """The question's words for what the policy never mentions: names, and TOPICS it has no
    word for ("China", "biometric")."""
    return missing_names(pidx, question) + missing_topics(pidx, question)


def missing_names(pidx: PolicyIndex, question: str) -> list[str]:
    """Names in the question that no unit of the policy contains (in any close form)."""
    names = _NAME.findall(question)
    return [n for n in names if not pidx.bm25.mentions(n)]


def missing_topics(pidx: PolicyIndex, question: str) -> list[str]:
    """The question's words that name a TOPIC the policy has no word for."""
    vocab = pidx.bm25.vocab
    silent = {stem for names, also in TOPICS if not any(w in vocab for w in names + also)
              for stem in names}
    words = list(dict.fromkeys(_WORD.findall(question)))
    return [w for w, stem in zip(words, pidx.bm25.stem_words(words)) if stem in silent]


# --------------------------------------------------------------------------- the model file
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


def encode_matrix(m: np.ndarray) -> dict:
    """A matrix as JSON: float16 bytes in base64 (the adapter's 384x384 in ~400 kB)."""
    return {"dtype": "float16", "shape": list(m.shape),
            "base64": base64.b64encode(m.astype("<f2").tobytes()).decode("ascii")}


def decode_matrix(d: dict) -> np.ndarray:
    return _decode(d["base64"], tuple(d["shape"]))


@lru_cache(maxsize=4)
def _decode(b64: str, shape: tuple) -> np.ndarray:
    return np.frombuffer(base64.b64decode(b64), dtype="<f2").reshape(shape).astype(np.float32)


def adapter_of(model: dict | None) -> np.ndarray | None:
    return decode_matrix(model["adapter"]) if model and model.get("adapter") else None


# --------------------------------------------------------------------------- the gate
GATE = ("top", "top3", "dense_max", "adapted_max", "window_max", "bm25_max", "cover_top", "cover_idf_top",
        "missing", "log_units", "silence")


def gate_features(x: np.ndarray, scores: np.ndarray, silence: float = 0.0) -> np.ndarray:
    """What says whether a policy addresses a question at all, from its ranked clauses: how
    well the best ones score (log-odds), how close in meaning and in words the policy comes,
    and what share of the question's terms it never uses; and whether it states the data
    practice the question asks about (`silence`: qa.practices.silence, 0 without that model).
    One row per (question, policy); `scores` as answers rank by them (rank.adjust applied)."""
    col = {f: i for i, f in enumerate(FEATURES)}
    top = np.argsort(-scores, kind="stable")[:3]
    p = np.clip(scores[top], 1e-6, 1 - 1e-6)
    lg = np.log(p / (1 - p))
    return np.array([lg[0], lg.mean(), x[:, col["dense"]].max(), x[:, col["adapted"]].max(),
                     x[:, col["window"]].max(), x[:, col["bm25_log"]].max(), x[top[0], col["cover"]],
                     x[top[0], col["cover_idf"]], x[0, col["missing"]], np.log(len(scores)), silence],
                    dtype=np.float32)


def addresses(x: np.ndarray, scores: np.ndarray, model: dict | None = None, silence: float = 0.0) -> float | None:
    """P(the policy addresses the question) by the model's gate (a logistic model over
    gate_features, fitted on plain-words questions about policies the ranker never saw:
    benchmarks/train_ranker.py --plain-gate); None when the model has no gate."""
    model = model if model is not None else load_model()
    gate = (model or {}).get("gate")
    if not gate or x.shape[0] == 0:
        return None
    return gate_probability(gate_features(x, scores, silence), gate)


def gate_probability(row: np.ndarray, gate: dict) -> float:
    """The gate's logistic model (the ranker's format: `score`) on one row of gate_features."""
    return float(score(row[None, :], gate)[0])


# --------------------------------------------------------------------------- scoring
def score(x: np.ndarray, model: dict | None = None) -> np.ndarray:
    """Relevance in [0, 1] for every row of the feature matrix."""
    model = model if model is not None else load_model()
    if x.shape[0] == 0:
        return np.zeros(0, dtype=np.float32)
    if model is None:
        return fusion(x)
    mean, scale = np.asarray(model["mean"]), np.asarray(model["scale"])
    z = np.clip((x - mean) / scale, -CLIP, CLIP) @ np.asarray(model["coef"]) + model["intercept"]
    return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)


def fusion(x: np.ndarray) -> np.ndarray:
    """The untrained baseline: dense cosine plus a fifth of normalised BM25, squashed to [0, 1]."""
    col = {f: i for i, f in enumerate(FEATURES)}
    z = 12.0 * (x[:, col["dense"]] + 0.2 * x[:, col["bm25_norm"]] - 0.5)
    return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)
