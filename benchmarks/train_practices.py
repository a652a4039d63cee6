"""Train the practice models: which of OPP-115's data practices a question asks about, and
which ones a policy's clauses state (qa/models/practices.npz, read by qa.practices).

OPP-115 (benchmarks/opp115.py) annotates every data practice of 95 policies with a type,
"Category|||Attribute|||Value" ("Do Not Track|||Do Not Track policy|||Honored",
"Third Party Sharing/Collection|||Purpose|||Merger/Acquisition"). Two sets of linear models over
the shipped embedder's vectors, one logistic model per type:

- clauses: each sentence of the 65 training policies (outside PolicyQA's dev split, the
  validation ones left out as by every model here), labelled with the
  types of the annotated spans it overlaps (OPP-115's own sentence boundaries, PolicyQA's
  splitter);
- questions: PolicyQA's wordings for each type and our plain-words ones
  (opp115.question_types(natural=True)), labelled with the types they were written for.

A policy that states no clause of the practice a question asks about is silent on it, however
close its words come: "Does the site honour Do Not Track?" of a policy whose cookie clauses
mention tracking. The gate reads this as one of its figures (qa.rank.gate_features).

    python benchmarks/train_practices.py                      # the shipped models
    python benchmarks/train_practices.py --without-half H --out F   # clauses learnt without the
        # policies of plain-words half H (_data.plain_half), for gate rows of that half

Types kept: those with at least MIN_SENTENCES sentences (in all 65 policies, with --without-half
too: the models of both halves and the shipped ones know the same practices) and at least one
question, leaving out the values "Unspecified" and "Other". ~2 minutes on 2 cores.

Topics OPP-115 has no practice for ("will you tell me if you get hacked?", "are my details sent
abroad?", "do you train AI on my photos?"): each plain-words training question of
benchmarks/plain_train carries a topic, read by a helper session from the question alone
(plain_train/topics/partN.jsonl: one of TOPICS, or none). A topic is one more type,
"Plain words|||Topic|||<topic>": its questions (answerable and silent) teach the question
model, the sentences holding an answerable one's evidence phrases teach the clause model (on the
OPP-115 policies and the list-shaped ones written for training; the latter are unannotated, so
they teach only the topics). Kept when at least MIN_TOPIC_SENTENCES sentences state it. With
--without-half H, half H's plain-words questions are left out of the question models too (their
gate rows read these models).
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "benchmarks"))

import opp115  # noqa: E402
from _data import plain_half, scoreboard  # noqa: E402
from qa.practices import TOPIC  # noqa: E402

MIN_SENTENCES = 25
MIN_TOPIC_SENTENCES = 8
C = 4.0  # inverse regularisation of each logistic model
TOPICS_DIR = ROOT / "benchmarks" / "plain_train" / "topics"


def sentences() -> dict[str, tuple[list[str], list[set[str]]]]:
    """The sentences of every OPP-115 policy models may learn from (outside PolicyQA's dev split,
    not a validation policy: opp115.is_validation) and the annotated types each overlaps."""
    bench = scoreboard()
    dev = opp115.dev_titles()
    out = {}
    for i, domain in enumerate(d for d in opp115.policy_files() if d not in dev):
        if opp115.is_validation(i):
            continue
        pol, spans = opp115.load(domain)
        cuts = [(s, e) for s, e, _ in bench.policy_sentences(pol)]
        labels = [{sp.type for sp in spans if s < sp.end and sp.start < e} for s, e in cuts]
        out[pol.pid] = ([pol.text[s:e] for s, e in cuts], labels)
    return out


def plain_topics() -> list[dict]:
    """Every plain-words training question that has a topic file (plain_train/topics/partN.jsonl,
    the same lines in the same order), with its "topic" (None: none of the topics)."""
    out = []
    for f in sorted(TOPICS_DIR.glob("part*.jsonl")):
        part = [json.loads(line) for line in (TOPICS_DIR.parent / f.name).read_text("utf-8").splitlines() if line.strip()]
        topics = [json.loads(line) for line in f.read_text("utf-8").splitlines() if line.strip()]
        if [r["id"] for r in part] != [t["id"] for t in topics]:
            raise SystemExit(f"{f}: its ids are not those of {f.name}, line for line")
        out += [r | {"topic": t["topic"]} for r, t in zip(part, topics)]
    return out


def written_sentences(pid: str) -> list[str]:
    """The sentences of a list-shaped policy written for training (plain_train/corpus/synth-*):
    each line cut as PolicyQA's splitter cuts prose."""
    bench = scoreboard()
    text = (TOPICS_DIR.parent / "corpus" / f"{pid}.txt").read_text("utf-8")
    return [line[s:e] for line in text.splitlines() if line.strip() for s, e in bench.split_sentences(line)]


def evidence_sentences(texts: list[str], evidence: list[str]) -> list[int]:
    """The sentences that hold an evidence phrase, or that a phrase holds (as the seed
    scoreboard judges a quote)."""
    norm = lambda t: " ".join(t.lower().split())  # noqa: E731
    ev = [norm(e) for e in evidence]
    return [i for i, t in enumerate(map(norm, texts)) if any(e in t or (len(t) >= 25 and t in e) for e in ev)]


def multi_hot(sets: list[set[str]], col: dict[str, int]) -> np.ndarray:
    """One row per set, True in the columns of its types (those `col` knows)."""
    y = np.zeros((len(sets), len(col)), bool)
    for i, s in enumerate(sets):
        y[i, [col[t] for t in s if t in col]] = True
    return y


def fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One logistic model per column of y: weights (types, dim) and biases (types,)."""
    from sklearn.linear_model import LogisticRegression

    w, b = np.zeros((y.shape[1], x.shape[1]), np.float32), np.full(y.shape[1], -20.0, np.float32)
    for j in range(y.shape[1]):
        if 0 < y[:, j].sum() < len(y):
            m = LogisticRegression(C=C, max_iter=1000).fit(x, y[:, j])
            w[j], b[j] = m.coef_[0], m.intercept_[0]
    return w, b


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--without-half", type=int, choices=(0, 1),
                    help="learn the clause models without the policies of this plain-words half")
    ap.add_argument("--out", type=Path, default=ROOT / "qa" / "models" / "practices.npz")
    args = ap.parse_args()
    from ingest.embedding import DEFAULT_BACKEND, DEFAULT_MODEL, get_embedder

    t0 = time.time()
    emb = get_embedder(DEFAULT_MODEL, DEFAULT_BACKEND)
    pols = sentences()
    questions = opp115.question_types(natural=True)
    counts = collections.Counter(t for _, labels in pols.values() for ls in labels for t in ls)
    asked = collections.Counter(t for ts in questions.values() for t in ts)
    types = sorted(t for t, n in counts.items() if n >= MIN_SENTENCES and asked[t]
                   and not t.endswith(("|||Unspecified", "|||Other")))
    col = {t: j for j, t in enumerate(types)}
    keep = lambda pid: args.without_half is None or plain_half(pid) != args.without_half  # noqa: E731
    all_pols, pols = pols, {p: v for p, v in pols.items() if keep(p)}  # with --without-half: the same
    #                                                   practices, learnt from the other half's clauses

    texts = [t for v in pols.values() for t in v[0]]
    xv = emb.embed_passages(texts)
    cw, cb = fit(xv, multi_hot([ls for v in pols.values() for ls in v[1]], col))
    # topics of our own: clause rows on both kinds of policy, question rows from the plain-words questions
    topic_rows = [r for r in plain_topics() if r["topic"]]
    written = {r["policy"]: written_sentences(r["policy"]) for r in topic_rows if r["policy"] not in all_pols}
    said = collections.defaultdict(set)  # (policy, sentence index) -> the topics it states
    for r in topic_rows:
        if r.get("answerable", True):
            sents = all_pols[r["policy"]][0] if r["policy"] in all_pols else written[r["policy"]]
            for i in evidence_sentences(sents, r["evidence"]):
                said[r["policy"], i].add(TOPIC + r["topic"])
    counts = collections.Counter(t for ts in said.values() for t in ts)  # on every policy: halves know the same
    topics = sorted(t for t, n in counts.items() if n >= MIN_TOPIC_SENTENCES)
    tcol = {t: j for j, t in enumerate(topics)}
    wtexts = [(p, i, t) for p, w in written.items() if keep(p) for i, t in enumerate(w)]
    keys = [(p, i) for p, v in pols.items() for i in range(len(v[0]))] + [(p, i) for p, i, _ in wtexts]
    wv = emb.embed_passages([t for _, _, t in wtexts]) if wtexts else np.zeros((0, xv.shape[1]), np.float32)
    tw, tb = fit(np.vstack([xv, wv]), multi_hot([said[k] for k in keys], tcol))
    # questions: the practices' wordings, and the plain-words questions with a topic (negatives for the practices)
    topic_asked = {r["question"]: {TOPIC + r["topic"]} for r in topic_rows if keep(r["policy"])}
    qs = sorted(set(questions) | set(topic_asked))
    qv = np.vstack([emb.embed_query(q) for q in qs])
    qw, qb = fit(qv, multi_hot([questions.get(q, set()) for q in qs], col))
    tqw, tqb = fit(qv, multi_hot([topic_asked.get(q, set()) for q in qs], tcol))
    types, cw, cb = types + topics, np.vstack([cw, tw]), np.concatenate([cb, tb])
    qw, qb = np.vstack([qw, tqw]), np.concatenate([qb, tqb])
    meta = {"embedder": emb.name, "types": len(types), "policies": len(pols), "sentences": len(texts),
            "topics": {t[len(TOPIC):]: counts[t] for t in topics}, "topic_questions": len(topic_asked),
            "questions": len(qs), "without_half": args.without_half, "C": C, "min_sentences": MIN_SENTENCES,
            "trained_on": "OPP-115 (Wilson et al., ACL 2016): the annotated data practices of its training "
                          "policies (outside the PolicyQA dev split, validation ones left out); PolicyQA "
                          "question wordings (Ahmad et al., 2020) and benchmarks/opp115_questions.jsonl; "
                          "topics of our own from the plain-words questions of benchmarks/plain_train/topics",
            "trained_at": time.strftime("%Y-%m-%d")}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, types=np.array(types), clause_w=cw.astype(np.float16), clause_b=cb,
                        question_w=qw.astype(np.float16), question_b=qb, meta=np.array(json.dumps(meta)))
    print(f"{len(types)} types from {len(texts)} sentences of {len(pols)} policies and {len(qs)} questions; "
          f"wrote {args.out} ({args.out.stat().st_size // 1024} KB) in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
