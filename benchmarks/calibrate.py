"""Choose the abstention bar: the score the best unit needs for an answer to rely on it.

Below the bar the assistant says the policy does not address the question. The bar trades
answering real questions against refusing questions the policy is silent on, so we measure
both sides on PolicyQA dev (policies ingested as the CLI does, ranker from qa/models):

- answerable: every PolicyQA question asked of its own policy (all are answerable there);
- silent (constructed): a question of policy Y asked of policy X, kept only when X has no unit
  within cosine TAU of Y's gold answer unit(s) and no unit containing a gold span: X lacks
  anything like the answer. Noisy (a generic question may be answered elsewhere in X), so
  it is a lower bound on how often refusing is right;
- off-topic: questions no privacy policy addresses, asked of every policy.
Scores are out-of-fold: each policy is scored by a ranker trained on the other half of the
policies (odd/even), with the query-time rules of qa.rank.adjust applied, so the figures are
what a policy the ranker never saw gets. The constructed silent pairs turn out to score like
the answerable ones (PolicyQA's questions are generic: most policies do address them
somewhere), so they cannot set the bar. An answer relies on a unit only if its cosine with
the question is also MIN_COSINE or more (qa.compose.select), which alone leaves a few PolicyQA
questions unanswered at any bar; the "chosen" bar is the highest that still answers
MIN_ANSWERED of the PolicyQA questions that rule allows, which maximises abstention on
everything else. Whether to ship it is then checked on the bundled policies'
questions (benchmarks/abstention.py).
`--write` records it in the model file (key "bar").
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_ranker import ROOT, bench_module, build, fit, full_features  # noqa: E402

from ingest.embedding import DEFAULT_MODEL  # noqa: E402

TAU = 0.6  # a unit of X this close to Y's gold unit could be the answer: not a silent pair
PER_QUESTION = 2  # other policies each question is asked of
MIN_ANSWERED = 0.95
BARS = (0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.1, 0.12, 0.15, 0.2, 0.3)
OFF_TOPIC = (  # nothing a privacy policy says answers these
    "What is the capital of Australia?",
    "How many calories are in a banana?",
    "Who won the football world cup in 1998?",
    "How do I bake sourdough bread?",
    "What is the boiling point of water on Mount Everest?",
    "Can you recommend a good science fiction novel?",
    "How do I change a flat tyre on my bicycle?",
    "What time does the sun set in Oslo in June?",
)


def silent_pairs(split, rng: np.random.Generator) -> list[tuple[str, int]]:
    """(question text, policy index) pairs where the policy lacks anything like the answer."""
    bench = bench_module()
    golds = {q.qid: q for q in split.bench_questions}
    pairs = []
    for q in split.questions:
        gold_vecs = split.indexes[q.policy].vectors[q.loc]
        if not len(gold_vecs):
            continue
        texts = [bench.norm_ws(g) for g in golds[q.qid].gold_texts]
        others = [i for i in range(len(split.pids)) if i != q.policy]
        for x in rng.permutation(others)[:PER_QUESTION]:
            pidx = split.indexes[x]
            if (pidx.vectors @ gold_vecs.T).max() >= TAU:
                continue
            if any(g in bench.norm_ws(u.text) for u in pidx.units for g in texts):
                continue
            pairs.append((q.text, int(x)))
    return pairs


def top_unit(pidx, text: str, qvec, scores) -> tuple[float, float]:
    """What qa.compose.select looks at: the best score of a unit that is not a heading, and the
    best cosine among the first MAX_CITED such units."""
    from qa.compose import MAX_CITED

    order = [i for i in np.argsort(-scores, kind="stable") if pidx.units[i].kind != "heading"][:MAX_CITED]
    return float(scores[order[0]]), float((pidx.vectors[order] @ qvec).max())


def top_score(split, text: str, pi: int, model, qvec) -> tuple[float, float]:
    from qa.rank import adjust, features, score

    pidx = split.indexes[pi]
    return top_unit(pidx, text, qvec, adjust(pidx, text, score(features(pidx, text, qvec, model).x, model)))


def answered(tops: np.ndarray, bar: float) -> np.ndarray:
    """Whether an answer relies on a unit at this bar (qa.compose.select's rule)."""
    from qa.compose import MIN_COSINE

    return (tops[:, 0] >= bar) & (tops[:, 1] >= MIN_COSINE)


def table(split, models: dict, embed, rng) -> list[dict]:
    """One row per bar: answer rate on PolicyQA, located top-1 among answered, abstention rates.
    `models[parity]` scores the policies of that parity (it was trained on the others)."""
    from qa.rank import adapter_of, adjust, score

    pos, top_loc = [], []
    for q in split.questions:
        m = models[q.policy % 2]
        s = adjust(split.indexes[q.policy], q.text, score(full_features(split, q, adapter_of(m)), m))
        pos.append(top_unit(split.indexes[q.policy], q.text, split.qvecs[q.text], s))
        top_loc.append(bool(q.loc[int(np.argmax(s))]))
    pos, top_loc = np.asarray(pos, dtype=np.float64), np.asarray(top_loc)
    silent = silent_pairs(split, rng)
    neg = np.array([top_score(split, t, i, models[i % 2], split.qvecs[t]) for t, i in silent], dtype=np.float64)
    off_vecs = {t: embed(t) for t in OFF_TOPIC}
    off = np.array([top_score(split, t, i, models[i % 2], off_vecs[t])
                    for t in OFF_TOPIC for i in range(len(split.pids))], dtype=np.float64)
    print(f"# {len(pos)} answerable, {len(silent)} constructed silent pairs (tau={TAU}), "
          f"{len(off)} off-topic pairs; out-of-fold scores")
    for name, v in (("answerable", pos[:, 0]), ("silent", neg[:, 0]), ("off-topic", off[:, 0])):
        print(f"#   top score {name:>10}: p5={np.percentile(v, 5):.3f} p10={np.percentile(v, 10):.3f} "
              f"p50={np.median(v):.3f} p90={np.percentile(v, 90):.3f}")
    rows = []
    for bar in BARS:
        ans = answered(pos, bar)
        rows.append({"bar": bar, "policyqa_answered": round(float(ans.mean()), 3),
                     "loc_hit@1_if_answered": round(float(top_loc[ans].mean()) if ans.any() else 0.0, 3),
                     "silent_abstained": round(float((~answered(neg, bar)).mean()), 3),
                     "off_topic_abstained": round(float((~answered(off, bar)).mean()), 3)})
    return rows


def choose(rows: list[dict]) -> float:
    most = max(r["policyqa_answered"] for r in rows)  # what the cosine floor allows at any bar
    ok = [r for r in rows if r["policyqa_answered"] >= MIN_ANSWERED * most] or rows[:1]
    return max(r["bar"] for r in ok)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=ROOT / "qa" / "models" / "ranker.json")
    ap.add_argument("--write", action="store_true", help="record the chosen bar in --model")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--embedding-model", default=DEFAULT_MODEL, help="as train_ranker.py --model")
    ap.add_argument("--backend", default="onnx-int8")
    args = ap.parse_args(argv)

    from ingest.embedding import get_embedder

    model = json.loads(args.model.read_text())
    embedder = get_embedder(args.embedding_model, args.backend)
    split = build(model=args.embedding_model, backend=args.backend)
    models = {p: fit(split, [q for q in split.questions if q.policy % 2 != p],
                     model.get("c", 1.0), model.get("lam", 0.03)) for p in (0, 1)}
    rows = table(split, models, embedder.embed_query, np.random.default_rng(args.seed))
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |\n" + "|---" * len(keys) + "|")
    for r in rows:
        print("| " + " | ".join(str(r[k]) for k in keys) + " |")
    bar = choose(rows)
    print(f"chosen bar: {bar} (the highest that answers >= {MIN_ANSWERED:.0%} of the PolicyQA questions "
          "the cosine floor allows)")
    if args.write:
        model["bar"] = bar
        model["calibration"] = rows
        args.model.write_text(json.dumps(model, indent=1) + "\n")
        print(f"wrote bar={bar} into {args.model}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
