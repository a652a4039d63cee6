"""Train the unit ranker (qa/models/ranker.json) on OPP-115 (or PolicyQA dev) and report held-out figures.

    python benchmarks/train_ranker.py --data opp115 --plain-weight 5 --no-cv   # the shipped model
    python benchmarks/train_ranker.py                      # OPP-115 alone, with the cross-validation report
    python benchmarks/train_ranker.py --train-on even --out /tmp/ranker-even.json --no-cv
    POLICYQA_RANKER=/tmp/ranker-even.json python ../shared/bench/policyqa_bench.py \
        --systems A,cli --policies odd --no-compare-models  # the honest benchmark
    python benchmarks/calibrate.py --write                 # then the abstention bar

Data: each policy goes through the same path as `policyqa ingest` of the benchmark's .txt
file (load -> normalise -> segment -> embed with the production embedder); every question is
featurised by qa.rank, the code that runs at query time. Labels mirror the benchmark
(../shared/bench/policyqa_bench.py):
- `loc`: the unit's text covers an annotated gold range (its LocHit definition), the label
  the ranker is trained on;
- `sent`: the unit's first sentence contains a gold span or holds >= 50% of its tokens
  (its SentHit definition, applied to the sentence the `cli` system picks from a quote);
- `contains`: a gold span occurs in the unit text (its Hit definition).
Model: a query adapter (see qa/rank.py) and a logistic model over cheap features, both
cross-validated by policy: trained on the even policies and reported on the odd ones (the
benchmark's --policies odd), and the other way round, next to the untrained fusion and a
logistic model without the adapter. PolicyQA reuses its question wordings across policies,
so figures on held-out questions whose wording the training half never had are printed
too: they are what a new user's question is more likely to get.
Unit and question vectors and the features are cached under /tmp/policyqa-train.
"""
from __future__ import annotations

import collections
import hashlib
import importlib.util
import json
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT.parent / "shared" / "bench" / "policyqa_bench.py"
CACHE = Path(tempfile.gettempdir()) / "policyqa-train"
sys.path.insert(0, str(ROOT))  # the project's packages, installed or not
from ingest.embedding import DEFAULT_MODEL  # noqa: E402


def bench_module(path: Path = BENCH):
    """The benchmark script as a module, so labels use its own definitions (one copy per
    process: its records pickle by class)."""
    if "policyqa_bench" in sys.modules:
        return sys.modules["policyqa_bench"]
    spec = importlib.util.spec_from_file_location("policyqa_bench", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses look themselves up there
    spec.loader.exec_module(mod)
    return mod


@dataclass
class Question:
    qid: str
    policy: int  # index of the policy in the split's order (odd/even folds)
    text: str
    x: np.ndarray  # (n_units, len(qa.rank.BASE)): the features that need no trained part
    loc: np.ndarray  # bool per unit
    sent: np.ndarray
    contains: np.ndarray
    lens: np.ndarray  # characters per unit
    silent: bool = False  # the policy does not address it (OPP-115: none of its types annotated)


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


def unit_texts(bench, units) -> list[tuple[str, str, collections.Counter]]:
    """Per unit, what the labels compare: its text and its first sentence, whitespace-collapsed,
    and the first sentence's SQuAD-normalised tokens (computed once per policy, not per question)."""
    out = []
    for u in units:
        spans = bench.split_sentences(u.text)
        first = u.text[spans[0][0]:spans[0][1]] if spans else u.text
        out.append((bench.norm_ws(u.text), bench.norm_ws(first),
                    collections.Counter(bench.squad_normalize(first).split())))
    return out


def unit_labels(bench, q, prepared, offsets) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(loc, sent, contains) for every unit, by the benchmark's definitions (its gold_token_overlap
    over `unit_texts`)."""
    golds = [(bench.norm_ws(g), collections.Counter(bench.squad_normalize(g).split())) for g in q.gold_texts]
    n = len(prepared)
    loc, sent, contains = np.zeros(n, bool), np.zeros(n, bool), np.zeros(n, bool)
    for i, ((t, fn, ftok), off) in enumerate(zip(prepared, offsets)):
        contains[i] = any(g in t for g, _ in golds)
        if off is not None:
            loc[i] = contains[i] and any(off[0] <= s and e <= off[1] for s, e in q.gold_ranges)
        sent[i] = any(g in fn or (gt and sum((ftok & gt).values()) >= 0.5 * sum(gt.values()))
                      for g, gt in golds)
    return loc, sent, contains


@dataclass
class Split:
    """A featurised PolicyQA split: the policies' indexes (split order) and their questions."""

    pids: list[str]
    indexes: list  # qa.index.PolicyIndex per policy
    qvecs: dict  # question text -> query vector
    questions: list[Question]
    bench_questions: list  # the benchmark's own Question records (gold texts and ranges)


SOURCES = ("benchmarks/opp115.py", "qa/lexical.py", "qa/index.py", "ingest/segment.py", "ingest/normalize.py",
           "ingest/embedding.py", "ingest/loaders.py")  # a change to any of these invalidates the cached
#   features, and so does one to the code in qa/rank.py that computes them (feature_code)


def feature_code() -> str:
    """The source of what computes the features in qa/rank.py (its rules may change without
    invalidating the cache)."""
    import inspect

    from qa import rank

    return repr(rank.FEATURES) + "".join(inspect.getsource(f) for f in (
        rank.base_features, rank.adapted_features, rank.features, rank.adapt, rank._rank_of, rank._neighbour_max,
        rank._gap))


PRACTICES: dict = {}  # what the "practice" column reads: "shipped", and 0 / 1 (set_practices)


def set_practices(halves=None) -> None:
    """The practice models the "practice" column reads (qa.rank.base_features): the shipped ones,
    and with `halves` (files of train_practices.py --without-half 0 and 1) for a policy the
    shipped clause models learnt from, those that never saw it, by its plain-words half; a
    model's rows must see the column as it looks on policies the clause models never read."""
    from qa import practices

    PRACTICES.clear()
    PRACTICES["shipped"] = practices.load()
    for h, f in enumerate(halves or ()):
        PRACTICES[h] = practices.load(f)


def practices_for(pid: str, seen: bool):
    """The practice models for a policy's "practice" column; `seen`: the shipped clause models
    learnt from it (an OPP-115 training policy, or one written for training)."""
    from _data import plain_half

    if not PRACTICES:
        set_practices()
    return PRACTICES[plain_half(pid)] if seen and 0 in PRACTICES else PRACTICES["shipped"]


def practices_key() -> str:
    if not PRACTICES:
        set_practices()
    return "\x00".join(str(m.meta) if m is not None else "-" for m in PRACTICES.values())


SILENT_SHARE = 4  # one silent pair in 4 is featurised (there are more silent pairs than answerable)


def load_data(data: str):
    """(policies, questions) in the benchmark's records: "dev" is the PolicyQA dev split;
    "opp115" the 75 OPP-115 policies outside it with PolicyQA's training wordings, and plain-words
    questions for the few types PolicyQA never asks about (benchmarks/opp115.py);
    "opp115-natural" has the plain-words questions of every type and a share of the pairs a
    policy is silent on, as questions without gold (for the gate experiment)."""
    if data.startswith("opp115"):
        sys.path.insert(0, str(ROOT / "benchmarks"))
        import opp115

        bench = bench_module()
        natural = data == "opp115-natural"
        policies, questions, silent, _ = opp115.training_set("train", natural="all" if natural else "gaps")
        silent = [bench.Question(f"{pid}#s{n}", pid, q, [], []) for n, (pid, q) in enumerate(silent)
                  if natural and hashlib.sha256(f"{pid}\x00{q}".encode()).digest()[0] % SILENT_SHARE == 0]
        return policies, questions + silent
    return bench_module().load_split(data)


def build(split: str = "dev", bench_path: Path = BENCH, model: str = DEFAULT_MODEL,
          backend: str = "onnx-int8") -> Split:
    """`featurise`, cached on disk until the code that computes features changes."""
    import pickle

    from ingest.embedding import model_name

    # the model's name with its weights' digest: a retrained folder is not another's cache hit
    key = hashlib.sha256("\x00".join([split, str(bench_path), model_name(model), backend, feature_code(),
                                      practices_key()] + [
        (ROOT / f).read_text() for f in SOURCES]).encode()).hexdigest()[:20]
    f = CACHE / f"split-{key}.pkl"
    if f.exists():  # the indexes hold a stemmer (not picklable): stored as their inputs
        from qa.index import PolicyIndex

        bench_module(bench_path)  # the benchmark's Question records unpickle from it
        out, raw = pickle.loads(f.read_bytes())
        out.indexes = [PolicyIndex.of(*r) for r in raw]
        return out
    out = featurise(split, bench_path, model, backend)
    CACHE.mkdir(parents=True, exist_ok=True)
    raw = [(p.policy, p.units, p.ids, p.vectors) for p in out.indexes]
    f.write_bytes(pickle.dumps((Split(out.pids, [], out.qvecs, out.questions, out.bench_questions), raw)))
    return out


def featurise(split: str, bench_path: Path, model: str, backend: str) -> Split:
    """Ingest every policy of a PolicyQA split as the CLI would and featurise its questions."""
    from ingest.embedding import get_embedder
    from opp115 import is_validation
    from qa.rank import base_features

    bench = bench_module(bench_path)
    policies, questions = load_data(split)
    embedder = get_embedder(model, backend)
    texts = sorted({q.question for q in questions})
    qv = _cached(embedder.name + "\x00q\x00" + "\x01".join(texts),
                 lambda: np.vstack([embedder.embed_query(t) for t in texts]))
    qvec = dict(zip(texts, qv))
    out, indexes = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for pi, pol in enumerate(policies):
            prac = practices_for(pol.pid, seen=split.startswith("opp115") and not is_validation(pi))
            pidx, offsets = policy_index(pol, embedder, Path(tmp))
            indexes.append(pidx)
            lens = np.array([len(u.text) for u in pidx.units], dtype=np.float32)
            prepared = unit_texts(bench, pidx.units)
            for q in (q for q in questions if q.pid == pol.pid):
                x = base_features(pidx, q.question, qvec[q.question], prac).x
                loc, sent, contains = unit_labels(bench, q, prepared, offsets)
                out.append(Question(q.qid, pi, q.question, x, loc, sent, contains, lens, not q.gold_texts))
    return Split([p.pid for p in policies], indexes, qvec, out, questions)


# --------------------------------------------------------------------------- evaluation
def evaluate(questions: list[Question], scorer) -> dict:
    """The benchmark's figures for a ranking of units (quotes in score order), per question
    averaged: SentHit@1 (first sentence of the top quote), LocHit@1/5, Hit@1, top-3 chars.
    `scorer(question)` returns one score per unit. With silent questions among them: the AUC
    of the best unit's score, answerable against silent, and the best balanced accuracy of a bar
    on it (answered of answerable + refused of silent, halved) with that bar."""
    rows, best = [], {False: [], True: []}
    for q in questions:
        sc = scorer(q)
        best[q.silent].append(float(sc.max()))
        if q.silent:
            continue
        o = np.argsort(-sc, kind="stable")
        rows.append((q.sent[o[0]], q.loc[o[0]], q.loc[o[:5]].any(), q.contains[o[0]], q.lens[o[:3]].sum()))
    m = np.mean(np.asarray(rows, dtype=np.float64), axis=0)
    out = dict(zip(("sent_hit@1", "loc_hit@1", "loc_hit@5", "hit@1", "top3_chars"),
                   (round(float(v), 4) for v in m)))
    if best[True]:
        pos, neg = np.array(best[False]), np.array(best[True])
        out["silent_auc"] = round(auc(pos, neg), 4)
        bar, acc = max(((t, ((pos >= t).mean() + (neg < t).mean()) / 2) for t in np.unique(np.round(pos, 3))),
                       key=lambda r: r[1])
        out["balanced_acc"], out["bar"] = round(float(acc), 4), round(float(bar), 3)
    return out


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(a random answerable question's best score > a random silent one's); ties count half."""
    allv = np.concatenate([pos, neg])
    order = np.argsort(allv, kind="stable")
    ranks = np.empty(len(allv))
    ranks[order] = np.arange(1, len(allv) + 1)
    for v in np.unique(allv):  # average ranks of ties
        tie = allv == v
        ranks[tie] = ranks[tie].mean()
    return float((ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


# --------------------------------------------------------------------------- training
def fit_adapter(split: Split, items: list[tuple[int, np.ndarray, np.ndarray]], lam: float = 0.03,
                epochs: int = 40, temperature: float = 0.05, lr: float = 1e-3, seed: int = 0) -> np.ndarray:
    """The query adapter A (q' = q + qA): softmax over each policy's units of cos(q', unit)/T,
    maximising the probability of the units that cover a gold location; L2 pulls A to 0
    (q' = q), so what it learns must be worth it on many questions. `items`: (policy index,
    query vector, positive units) per question (`adapter_items`, `PlainQuestion.item`); one
    step per policy."""
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(1)  # a shared 2-core machine; the batches are small anyway
    groups = {}
    for policy, qvec, loc in items:
        if loc.any():
            groups.setdefault(policy, []).append((qvec, loc))
    data = [(torch.tensor(split.indexes[p].vectors), torch.tensor(np.stack([v for v, _ in g])),
             torch.tensor(np.stack([loc for _, loc in g]))) for p, g in groups.items()]
    dim = data[0][0].shape[1]
    a = torch.zeros(dim, dim, requires_grad=True)
    opt = torch.optim.Adam([a], lr=lr)
    for _ in range(epochs):
        for i in torch.randperm(len(data)).tolist():
            v, qv, pos = data[i]
            s = (qv + qv @ a) @ v.T / temperature
            nll = torch.logsumexp(s, 1) - torch.logsumexp(s.masked_fill(~pos, -1e9), 1)
            loss = nll.mean() + lam * (a ** 2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return a.detach().numpy()


def adapter_items(split: Split, questions: list[Question]) -> list[tuple[int, np.ndarray, np.ndarray]]:
    return [(q.policy, split.qvecs[q.text], q.loc) for q in questions]


def full_features(split: Split, q: Question, adapter) -> np.ndarray:
    """BASE columns (cached) plus the ADAPTED ones for this adapter: qa.rank.features' layout."""
    return np.hstack([q.x, adapted_columns(split.indexes[q.policy], split.qvecs[q.text], adapter)])


def adapted_columns(pidx, qvec: np.ndarray, adapter) -> np.ndarray:
    """The ADAPTED columns; `adapter` a matrix, None, or (the experiment --second-adapter) a pair
    (A, B): the columns for each, side by side."""
    from qa.rank import adapt, adapted_features

    pair = adapter if isinstance(adapter, tuple) else (adapter,)
    return np.hstack([adapted_features(pidx, adapt(qvec, a)) for a in pair])


def adapters_of(model: dict | None):
    """The model's adapter, or its pair (A, B) when it has a second one (`adapter_plain`)."""
    from qa.rank import adapter_of, decode_matrix

    a = adapter_of(model)
    return (a, decode_matrix(model["adapter_plain"])) if model and model.get("adapter_plain") else a


def fit_logistic(xs: list[np.ndarray], ys: list[np.ndarray], c: float = 1.0,
                 weights: list[np.ndarray] | None = None, features: tuple[str, ...] | None = None) -> dict:
    """A logistic model over standardised, clipped features (the JSON that qa.rank.score reads);
    `weights`: one per row, as `ys`; `features`: the columns' names (default qa.rank.FEATURES)."""
    from sklearn.linear_model import LogisticRegression

    from qa.rank import CLIP, FEATURES

    x, y = np.vstack(xs).astype(np.float64), np.concatenate(ys)
    mean, scale = x.mean(axis=0), np.maximum(x.std(axis=0), 1e-3)
    clf = LogisticRegression(C=c, max_iter=5000).fit(np.clip((x - mean) / scale, -CLIP, CLIP), y,
                                                     sample_weight=np.concatenate(weights) if weights else None)
    return {"features": list(features or FEATURES), "kind": "logistic", "mean": mean.round(6).tolist(),
            "scale": scale.round(6).tolist(), "coef": clf.coef_[0].round(6).tolist(),
            "intercept": round(float(clf.intercept_[0]), 6)}


@dataclass
class PlainQuestion:
    """A hand-written plain-words question (benchmarks/plain_train: on training policies only,
    evidence phrases copied from the sentences that answer them, one question in five silent)
    against its policy's units: a unit is a positive when it holds an evidence phrase, as
    ../shared/bench/score_seeds.py scores a quote."""

    policy: int
    text: str
    qvec: np.ndarray
    x: np.ndarray  # the BASE columns
    y: np.ndarray  # 1.0 where the unit holds an evidence phrase

    @property
    def item(self) -> tuple[int, np.ndarray, np.ndarray]:
        return self.policy, self.qvec, self.y > 0


def plain_questions(split: Split, embedder) -> list[PlainQuestion]:
    """The plain-words questions against `split`'s policies; the policies written for training
    (not OPP-115's) are ingested and added to `split` first."""
    from _data import plain_policies, plain_questions as records, seed_scoreboard

    from qa.rank import base_features

    quotes_evidence = seed_scoreboard().quotes_evidence
    with tempfile.TemporaryDirectory() as tmp:
        for pol in plain_policies(split.pids):
            split.indexes.append(policy_index(pol, embedder, Path(tmp))[0])
            split.pids.append(pol.pid)
    out = []
    for r in records():
        pi = split.pids.index(r["policy"])
        pidx, qvec = split.indexes[pi], embedder.embed_query(r["question"])
        prac = practices_for(r["policy"], seen=True)
        out.append(PlainQuestion(pi, r["question"], qvec, base_features(pidx, r["question"], qvec, prac).x,
                                 np.array([bool(r["evidence"]) and quotes_evidence(u.text, r["evidence"])
                                           for u in pidx.units], dtype=np.float64)))
    return out


def plain_row(split: Split, q: PlainQuestion, adapter) -> np.ndarray:
    return np.hstack([q.x, adapted_columns(split.indexes[q.policy], q.qvec, adapter)])


def fit(split: Split, questions: list[Question], c: float = 1.0, lam: float = 0.03,
        use_adapter: bool = True, plain: tuple[float, object] | None = None, opp115_weight: float = 1.0,
        adapter_plain: int = 0, plain_keep=None, second_adapter: bool = False) -> dict:
    """Adapter, then logistic model, label = the unit covers a gold location (loc_hit); a
    silent question's units are all negatives, which makes the score absolute: a policy whose
    best clause is merely the closest one, on a question it does not address, must score low.
    The logistic model must see adapted cosines as they look on policies the adapter never
    saw, so its training rows get them from adapters fitted on the other half of the
    training policies (cross-fitting); the shipped adapter is then fitted on all of them.
    `plain`: (weight, embedder): the hand-written plain-words questions' rows join the logistic
    model's, each row counting `weight` times; `opp115_weight`: what each of `questions'` rows
    counts then (0: the logistic model learns from the plain-words rows alone).
    `adapter_plain`: the adapter learns from the plain-words questions too, each counting that
    many times (0: from `questions` alone, and the plain rows take the final adapter, which never
    saw them; otherwise they are cross-fitted by the same halves). `plain_keep`: which
    plain-words questions to learn from (a predicate; plain_cv leaves half the policies out).
    `second_adapter` (an experiment; qa.rank does not read it): a second adapter B fitted on the
    plain-words questions alone, its ADAPTED columns beside the first's (model["adapter_plain"])."""
    from qa.rank import encode_matrix

    answerable = [q for q in questions if not q.silent]
    pols = sorted({q.policy for q in questions})
    half = {p: i % 2 for i, p in enumerate(pols)}
    pq = [q for q in plain_questions(split, plain[1]) if plain_keep is None or plain_keep(q)] if plain else []
    for q in pq:
        half.setdefault(q.policy, q.policy % 2)

    def items(h=None):  # the adapter's training questions, those of half h left out
        return (adapter_items(split, [q for q in answerable if half[q.policy] != h])
                + [q.item for q in pq if half[q.policy] != h] * adapter_plain)

    def second(h=None):  # the second adapter: the plain-words questions alone, half h left out
        return fit_adapter(split, [q.item for q in pq if half[q.policy] != h], lam)

    xs, ys, px, py, final = [], [], [], [], None
    rows = not plain or opp115_weight > 0  # the OPP-115 questions' rows count at all
    cross_plain = adapter_plain or second_adapter  # the plain rows' adapters saw other plain questions
    if not use_adapter:  # the adapted columns repeat the raw cosines
        if rows:
            xs, ys = [full_features(split, q, None) for q in questions], [q.loc for q in questions]
        px, py = [plain_row(split, q, None) for q in pq], [q.y for q in pq]
    for h in (0, 1) if use_adapter and (rows or cross_plain) else ():
        adapter = fit_adapter(split, items(h), lam)
        adapter = (adapter, second(h)) if second_adapter else adapter
        for q in (q for q in questions if half[q.policy] == h and rows):
            xs.append(full_features(split, q, adapter))
            ys.append(q.loc)
        if cross_plain:
            px += [plain_row(split, q, adapter) for q in pq if half[q.policy] == h]
            py += [q.y for q in pq if half[q.policy] == h]
    if use_adapter:
        final = fit_adapter(split, items(), lam)
        final = (final, second()) if second_adapter else final
        if not cross_plain:
            px, py = [plain_row(split, q, final) for q in pq], [q.y for q in pq]
    weights = None
    if plain:
        weights = [np.full(len(y), opp115_weight) for y in ys] + [np.full(len(y), plain[0]) for y in py]
        xs, ys = xs + px, ys + py
    model = fit_logistic(xs, ys, c, weights)
    if isinstance(final, tuple):
        model["adapter"], model["adapter_plain"] = encode_matrix(final[0]), encode_matrix(final[1])
    elif final is not None:
        model["adapter"] = encode_matrix(final)
    return model


def plain_cv(split: Split, questions: list[Question], plain: tuple[float, object], bar: float, c: float = 1.0,
             lam: float = 0.03, halves: int | None = None, prac: dict | None = None,
             **fit_args) -> tuple[dict, list[GateRow]]:
    """The plain-words questions as a held-out measure: for each half of their policies, a model
    fitted with the plain-words questions of the other half only (and every OPP-115 question),
    scored on this half's as answers score them (signposts weighted, rank.adjust's rules). Per
    group (OPP-115's prose policies; the list-shaped ones written for training): hit@1 and hit@3
    of the best units, the AUC of the best score (answerable against silent), and the share of
    answerable questions at or above `bar` and of silent ones below it. ~900 answerable
    questions on 68 policies: more signal than natural-dev's 55 on 5. Halves by _data.plain_half;
    `halves`: score that half only (an embedder fine-tuned on the other half's questions:
    `finetune_embedder.py --data plain --plain-half H`). Also returns each question's GateRow
    (`prac`: the practice models of each half, see gate_row)."""
    from _data import plain_half

    pq = plain_questions(split, plain[1])
    half = {q.policy: plain_half(split.pids[q.policy]) for q in pq}
    rows, gates = collections.defaultdict(list), []
    for h in (0, 1) if halves is None else (halves,):
        model = fit(split, questions, c, lam, plain=plain, plain_keep=lambda q, h=h: half[q.policy] != h, **fit_args)
        adapter = adapters_of(model)
        for q in (q for q in pq if half[q.policy] == h):
            row, s = gate_row(split, q, model, adapter, h, prac)
            top = np.argsort(-s, kind="stable")[:3]
            group = "written, list-shaped" if split.pids[q.policy].startswith("synth-") else "OPP-115 prose"
            rows[group].append((q.y.any(), q.y[top[0]] > 0, q.y[top].any(), row.best))
            gates.append(row)
    out = {}
    for group, r in sorted(rows.items()):
        ans = [x for x in r if x[0]]
        sil = [x for x in r if not x[0]]
        out[group] = {"answerable": len(ans), "silent": len(sil),
                      "hit@1": round(float(np.mean([x[1] for x in ans])), 3),
                      "hit@3": round(float(np.mean([x[2] for x in ans])), 3),
                      "silent AUC": round(auc(np.array([x[3] for x in ans]), np.array([x[3] for x in sil])), 3),
                      "answered at bar": round(float(np.mean([x[3] >= bar for x in ans])), 3),
                      "silent refused": round(float(np.mean([x[3] < bar for x in sil])), 3)}
    return out, gates


# --------------------------------------------------------------------------- the gate
@dataclass(frozen=True)
class GateRow:
    """One plain-words question against its policy, scored by a ranker that never saw that half
    of the policies: its half, whether the policy addresses it, the best score, gate_features."""

    half: int
    answerable: bool
    best: float
    x: np.ndarray


def gate_row(split: Split, q: PlainQuestion, model: dict, adapter, half: int,
             prac: dict | None = None) -> tuple[GateRow, np.ndarray]:
    """A plain-words question's GateRow as `model` (with its `adapter`) scores it, and the scores
    of its policy's units as answers rank by them (rank.adjust). `prac`: half -> the practice
    models whose clause models never saw that half's policies (train_practices.py --without-half;
    their silence figure is 0 without them)."""
    from qa.practices import silence
    from qa.rank import adjust, gate_features, score

    pidx = split.indexes[q.policy]
    x = np.hstack([q.x, adapted_columns(pidx, q.qvec, adapter)])
    s = adjust(pidx, q.text, score(x, model))
    m = (prac or {}).get(half)
    quiet = silence(m.asked(q.qvec), m.stated(pidx.vectors)) if m is not None else 0.0
    return GateRow(half, bool(q.y.any()), float(s.max()), gate_features(x, s, quiet)), s


def unseen_gate_rows(split: Split, model: dict, embedder, prac: dict | None = None) -> list[GateRow]:
    """The GateRows of the plain-words questions (_data.plain_questions; POLICYQA_PLAIN_PARTS picks
    the parts) as `model` scores them, for questions it was fitted without: e.g. the shipped first
    stage on parts written after it (24-31), which are then as unseen as plain_cv's halves."""
    from _data import plain_half

    adapter = adapters_of(model)
    return [gate_row(split, q, model, adapter, plain_half(split.pids[q.policy]), prac)[0]
            for q in plain_questions(split, embedder)]


ROWS_RECIPE = "each scored by a ranker fitted without its policy's half"


def fit_gate(rows: list[GateRow], c: float = 1.0, recipe: str = ROWS_RECIPE) -> dict:
    """A logistic model over gate_features, label = the policy addresses the question; `recipe`:
    how the rows were scored, for the model's "trained_on" (train_ranker.py --gate-recipe)."""
    from qa.rank import GATE

    y = np.array([r.answerable for r in rows])
    return fit_logistic([np.vstack([r.x for r in rows])], [y], c, features=GATE) | {
        "trained_on": f"{int(y.sum())} answerable and {int((~y).sum())} silent plain-words questions, {recipe}"}


def gate_cv(rows: list[GateRow], bar: float, keep: float = 0.95, c: float = 1.0) -> tuple[dict, dict, float]:
    """The gate held out by policy half: fitted on one half's rows, it scores the other's. For
    thresholds that keep 99% ... 90% of the answerable questions answered: the share of silent
    ones refused by the gate, by the best clause's score alone at the same share, and by the gate
    and the bar together (as answers decide: below either, silent). Returns that table, the AUCs
    (answerable against silent) and the gate's threshold that keeps `keep` answered, on these
    out-of-fold probabilities (what the shipped gate uses)."""
    from qa.rank import gate_probability

    y = np.array([r.answerable for r in rows])
    best = np.array([r.best for r in rows])
    p = np.zeros(len(rows))
    for h in (0, 1):
        gate = fit_gate([r for r in rows if r.half != h], c)
        for i, r in enumerate(rows):
            if r.half == h:
                p[i] = gate_probability(r.x, gate)
    table = {}
    for share in sorted({0.99, 0.97, 0.95, 0.9, keep}, reverse=True):
        t, tb = np.quantile(p[y], 1 - share), np.quantile(best[y], 1 - share)
        both = (p >= t) & (best >= bar)
        table[f"keep {share:g}"] = {
            "gate threshold": round(float(t), 3), "silent refused: gate": round(float(np.mean(p[~y] < t)), 3),
            "best score alone": round(float(np.mean(best[~y] < tb)), 3),
            f"gate and bar {bar:g}: answered": round(float(np.mean(both[y])), 3),
            "silent refused": round(float(np.mean(~both[~y])), 3)}
    aucs = {"gate": round(auc(p[y], p[~y]), 3), "best score alone": round(auc(best[y], best[~y]), 3)}
    return table, aucs, float(np.quantile(p[y], 1 - keep))


def held_out_gate(rows: list[GateRow], table: dict, aucs: dict, threshold: float, args) -> dict:
    """The gate fitted on all `rows`, with the threshold gate_cv chose (keeping args.plain_gate of
    the answerable questions answered) and how it was chosen."""
    return fit_gate(rows, args.c, args.gate_recipe) | {
        "threshold": round(threshold, 4),
        "threshold_note": f"keeps {args.plain_gate:g} of the answerable plain-words questions answered, "
                          f"on probabilities from gates fitted without their half: "
                          f"{table[f'keep {args.plain_gate:g}']}; AUC {aucs}"}


def table_bar(args) -> float:
    """The bar the plain-words tables pair the gate with: --bar, else the shipped 0.07."""
    return args.bar if args.bar is not None else 0.07


def refit_gate(args) -> int:
    """--gate-only: the gate of --out's model refitted on --gate-rows, the rest of it kept."""
    import pickle
    import time

    if not (args.plain_gate and args.gate_rows):
        raise SystemExit("--gate-only needs --plain-gate KEEP and --gate-rows FILE...")
    rows = [r for f in args.gate_rows for r in pickle.loads(f.read_bytes())]
    table, aucs, threshold = gate_cv(rows, table_bar(args), args.plain_gate, args.c)
    print_table("plain-words questions, the gate held out by policy half", table)
    print(f"AUC, answerable against silent: {aucs}")
    model = json.loads(args.out.read_text())
    model["gate"] = held_out_gate(rows, table, aucs, threshold, args) | {"trained_at": time.strftime("%Y-%m-%d")}
    args.out.write_text(json.dumps(model, indent=1) + "\n")
    print(f"wrote {args.out}: its gate refitted on {len(rows)} rows, threshold {threshold:.4f}")
    return 0


def fold(questions: list[Question], parity: int) -> list[Question]:
    """Questions of the even (0) or odd (1) policies, as the benchmark's --policies defines them."""
    return [q for q in questions if q.policy % 2 == parity]


def scorer(split: Split, model: dict | None):
    """Unit scores as answers rank by them: the model's score with signposts weighted."""
    from qa.rank import SIGNPOST_WEIGHT, fusion, score

    if model is None:
        return lambda q: fusion(full_features(split, q, None))
    adapter = adapters_of(model)

    def run(q):
        x = full_features(split, q, adapter)
        s = score(x, model)
        return np.where(split.indexes[q.policy].signpost, s * SIGNPOST_WEIGHT, s)

    return run


def cross_validate(split: Split, c: float = 1.0, lam: float = 0.03) -> dict:
    """Train on one half of the policies, report on the other, both ways; with the untrained
    fusion and a logistic model without the adapter alongside."""
    out = {}
    for test, name in ((1, "odd"), (0, "even")):
        train, held = fold(split.questions, 1 - test), fold(split.questions, test)
        seen = {q.text for q in train}
        unseen = [q for q in held if q.text not in seen]
        tag = f"unseen {len(unseen)}q"  # questions whose wording the training half never had
        plain, model = fit(split, train, c, lam, use_adapter=False), fit(split, train, c, lam)
        res = {}
        for ranker, m in (("fusion", None), ("logistic", plain), ("adapter+logistic", model)):
            res[ranker] = evaluate(held, scorer(split, m))
            res[f"{ranker}, {tag}"] = evaluate(unseen, scorer(split, m))
        out[name] = res
    return out


def held_out_report(dev: Split, model: dict) -> dict:
    """A model trained on OPP-115 against the untrained fusion, on the whole dev split and on its
    questions whose wording training never saw (opp115.held_out_wording)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from opp115 import held_out_wording

    unseen = [q for q in dev.questions if held_out_wording(q.text)]
    res = {}
    for ranker, m in (("fusion", None), ("adapter+logistic", model)):
        res[ranker] = evaluate(dev.questions, scorer(dev, m))
        res[f"{ranker}, unseen wording {len(unseen)}q"] = evaluate(unseen, scorer(dev, m))
    return res


def print_cv(cv: dict) -> None:
    keys = ("sent_hit@1", "loc_hit@1", "loc_hit@5", "hit@1", "top3_chars", "silent_auc", "balanced_acc", "bar")
    print("| held-out policies | ranker | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 2) + "|")
    for name, res in cv.items():
        for ranker, m in res.items():
            print(f"| {name} | {ranker} | " + " | ".join(
                "" if k not in m else f"{m[k]:.0f}" if k == "top3_chars" else f"{m[k]:.3f}" for k in keys) + " |")


def print_table(title: str, rows: dict[str, dict]) -> None:
    keys = list(next(iter(rows.values())))
    print(f"| {title} | " + " | ".join(keys) + " |")
    print("|---" * (1 + len(keys)) + "|")
    for name, m in rows.items():
        print(f"| {name} | " + " | ".join(str(m[k]) for k in keys) + " |")


def main(argv=None) -> int:
    import argparse
    import pickle
    import time

    from ingest.embedding import get_embedder

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", choices=["opp115", "opp115-natural", "dev"], default="opp115",
                    help="opp115: the 75 OPP-115 policies outside the PolicyQA dev split, which then "
                         "serves as the held-out report; opp115-natural: with the plain-words questions "
                         "and silent pairs too; dev: the dev split itself (cross-validated)")
    ap.add_argument("--train-on", choices=["all", "even", "odd"], default="all",
                    help="policies the shipped model is fitted on (even/odd: for an honest benchmark "
                         "on the other half, with POLICYQA_RANKER pointing at --out)")
    ap.add_argument("--out", type=Path, default=ROOT / "qa" / "models" / "ranker.json")
    ap.add_argument("--c", type=float, default=1.0, help="inverse L2 strength of the logistic model")
    ap.add_argument("--lam", type=float, default=0.03, help="L2 strength pulling the adapter to identity")
    ap.add_argument("--plain-weight", type=float, default=0.0, metavar="W",
                    help="with --data opp115: add the hand-written plain-words questions of benchmarks/plain_train, "
                         "each row counting W times (the shipped model: 5)")
    ap.add_argument("--opp115-weight", type=float, default=1.0, metavar="V",
                    help="with --plain-weight: what each OPP-115 question's row counts (0: the logistic model "
                         "learns from the plain-words rows alone; the query adapter still from OPP-115)")
    ap.add_argument("--adapter-plain", type=int, default=0, metavar="R",
                    help="with --plain-weight: the query adapter learns from the plain-words questions too, "
                         "each counting R times (their rows then cross-fitted as OPP-115's)")
    ap.add_argument("--second-adapter", action="store_true",
                    help="with --plain-weight, an experiment: a second query adapter fitted on the plain-words "
                         "questions alone, its columns beside the first's (answers cannot use such a model yet)")
    ap.add_argument("--no-adapter", dest="adapter", action="store_false",
                    help="no query adapter: the adapted columns repeat the raw cosines")
    ap.add_argument("--plain-cv", action="store_true",
                    help="with --plain-weight: report the plain-words questions held out by policy halves "
                         "(plain_cv) and stop, writing no model")
    ap.add_argument("--plain-cv-half", type=int, choices=(0, 1),
                    help="with --plain-cv: that half of the policies only")
    ap.add_argument("--plain-gate", type=float, default=None, metavar="KEEP",
                    help="with --plain-weight: fit the gate (P(the policy addresses the question)) on the "
                         "plain-words questions held out by policy half and ship it in the model, its threshold "
                         "keeping KEEP of the answerable ones answered (e.g. 0.95)")
    ap.add_argument("--gate-rows-out", type=Path, metavar="FILE",
                    help="with --plain-cv-half: keep that half's gate rows in FILE (for --gate-rows)")
    ap.add_argument("--gate-rows", type=Path, nargs="+", metavar="FILE",
                    help="with --plain-gate: fit the gate on these rows (each file written by --gate-rows-out: "
                         "a half's, e.g. by an embedder fine-tuned without that half, or --unseen-rows's) instead of "
                         "scoring the halves here")
    ap.add_argument("--unseen-rows", type=Path, metavar="MODEL",
                    help="with --gate-rows-out: write the gate rows of the plain-words questions (POLICYQA_PLAIN_PARTS) "
                         "as MODEL, fitted without them, scores them, and stop")
    ap.add_argument("--practices-halves", type=Path, nargs=2, metavar=("HALF0", "HALF1"),
                    help="the practice models learnt without each half's policies (train_practices.py "
                         "--without-half H): the \"practice\" column of those policies' rows, and with "
                         "--gate-rows-out the gate's silence figure")
    ap.add_argument("--gate-only", action="store_true",
                    help="with --plain-gate and --gate-rows: refit the gate of --out's model on those rows and keep "
                         "the rest of the model as it is")
    ap.add_argument("--gate-recipe", default=ROWS_RECIPE, metavar="TEXT",
                    help="how --gate-rows were scored, recorded in the gate's trained_on after the rows' counts "
                         "(benchmarks/README.md writes the shipped gate's)")
    ap.add_argument("--no-cv", dest="cv", action="store_false", help="skip the cross-validation report")
    ap.add_argument("--model", default=DEFAULT_MODEL,
                    help="embedding model the store uses (the ranker is trained on its vectors)")
    ap.add_argument("--backend", default="onnx-int8", help="its runtime")
    ap.add_argument("--bar", type=float, default=None,
                    help="abstention bar to record in the model (default: keep the one in --out; "
                         "choose it with benchmarks/relevance.py on the bundled policies)")
    args = ap.parse_args(argv)
    if args.unseen_rows and not args.gate_rows_out:
        ap.error("--unseen-rows needs --gate-rows-out FILE")
    if args.gate_only:
        return refit_gate(args)

    from qa import practices

    prac = {h: practices.load(f) for h, f in enumerate(args.practices_halves or ())}
    set_practices(args.practices_halves)
    t = time.perf_counter()
    split = build(args.data, model=args.model, backend=args.backend)
    pids, questions = split.pids, split.questions
    print(f"# {args.data}: {len(questions)} questions over {len(pids)} policies, featurised in "
          f"{time.perf_counter() - t:.1f}s", flush=True)
    if args.unseen_rows:
        from qa.rank import load_model

        rows = unseen_gate_rows(split, load_model(args.unseen_rows), get_embedder(args.model, args.backend), prac)
        args.gate_rows_out.write_bytes(pickle.dumps(rows))
        print(f"wrote {len(rows)} gate rows ({sum(not r.answerable for r in rows)} silent) to {args.gate_rows_out}")
        return 0
    cv = cross_validate(split, args.c, args.lam) if args.cv else {}
    if cv:
        print_cv(cv)
    train = questions if args.train_on == "all" else fold(questions, int(args.train_on == "odd"))
    if args.data.startswith("opp115"):  # the validation policies are held out from every model
        from opp115 import is_validation

        train = [q for q in train if not is_validation(q.policy)]
    plain = (args.plain_weight, get_embedder(args.model, args.backend)) if args.plain_weight else None
    gate = None
    if args.gate_rows:
        rows = [r for f in args.gate_rows for r in pickle.loads(f.read_bytes())]
    elif args.plain_cv or args.plain_gate:
        res, rows = plain_cv(split, [q for q in train if not q.silent], plain,
                             table_bar(args), args.c, args.lam,
                             args.plain_cv_half, prac, use_adapter=args.adapter, opp115_weight=args.opp115_weight,
                             adapter_plain=args.adapter_plain, second_adapter=args.second_adapter)
        print_table("plain-words questions, held out by policy half", res)
        if args.gate_rows_out:
            args.gate_rows_out.write_bytes(pickle.dumps(rows))
    if args.plain_cv or args.plain_gate:
        if {r.half for r in rows} == {0, 1}:
            table, aucs, threshold = gate_cv(rows, table_bar(args),
                                             args.plain_gate or 0.95, args.c)
            print_table("plain-words questions, the gate held out by policy half", table)
            print(f"AUC, answerable against silent: {aucs}")
            if args.plain_gate:
                gate = held_out_gate(rows, table, aucs, threshold, args)
        if args.plain_cv:
            return 0
    model = fit(split, [q for q in train if not q.silent], args.c, args.lam, use_adapter=args.adapter, plain=plain,
                opp115_weight=args.opp115_weight, adapter_plain=args.adapter_plain,
                second_adapter=args.second_adapter)
    if gate:
        model["gate"] = gate
    if args.data.startswith("opp115"):  # the whole dev split is held out too: report on both
        val = [q for q in questions if is_validation(q.policy)]
        cv = {"OPP-115 validation (10)": {"fusion": evaluate(val, scorer(split, None)),
                                          "adapter+logistic": evaluate(val, scorer(split, model))},
              "PolicyQA dev (all 20)": held_out_report(build("dev", model=args.model, backend=args.backend), model)}
        print_cv(cv)
    old = json.loads(args.out.read_text()) if args.out.exists() else {}
    bar = args.bar if args.bar is not None else old.get("bar")
    source = ("OPP-115, the 65 training policies of the 75 outside the PolicyQA dev split "
              "(benchmarks/opp115.py), PolicyQA's training wordings and plain-words questions " +
              ("of every type" if args.data == "opp115-natural" else "of the types PolicyQA never asks about")
              if args.data.startswith("opp115") else "PolicyQA dev")
    if plain:
        from _data import plain_questions

        source += (f"; the hand-written plain-words questions of benchmarks/plain_train "
                   f"({len(plain_questions())}), each row counting {args.plain_weight:g} times"
                   + (f", and each counting {args.adapter_plain} times in the query adapter's fit"
                      if args.adapter_plain else ""))
    model.update({"trained_on": f"{source}, {args.train_on} policies ({len(train)} questions)",
                  "label": "unit covers an annotated answer location (benchmark loc_hit)",
                  "embedder": get_embedder(args.model, args.backend).name, "c": args.c, "lam": args.lam,
                  "trained_at": time.strftime("%Y-%m-%d"), "held_out": cv})
    if args.data.startswith("opp115"):
        model["data_licence"] = ("Trained on annotations of the OPP-115 corpus (Wilson et al., 'The Creation and "
                                 "Analysis of a Website Privacy Policy Corpus', ACL 2016), released for research and "
                                 "teaching; the weights are derived from them"
                                 + (" and from our own questions on its policies (benchmarks/plain_train)."
                                    if plain else "."))
    if bar is not None:
        model["bar"] = bar
        if args.bar is None and old.get("bar_note"):
            model["bar_note"] = old["bar_note"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(model, indent=1) + "\n")
    print(f"wrote {args.out} (trained on {args.train_on}, bar={bar})")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import train_ranker  # so pickled records name this module, not __main__

    sys.exit(train_ranker.main())
