"""Train the reranker (qa/models/reranker/) on OPP-115 and report on policies it never saw.

    python benchmarks/train_reranker.py --layers 6 --head cls --hard 3 --groups 5000 --lr 5e-5 \
        --check-every 400 --val-limit 500 --out DIR              # qa/models/reranker: ~1 h on 2 cores
    python benchmarks/train_reranker.py --evaluate DIR --val-limit 500 --sweep 2,3,4,6,8,12 --out DIR

Data (benchmarks/opp115.py): the 75 OPP-115 policies outside the PolicyQA dev split, with the
PolicyQA question wordings of each annotation type (a fixed fifth of the wordings held out).
The policies are split by index: VALIDATION policies are never trained on; they calibrate the
probability and choose the abstention bar, and report the figures this script prints. The
PolicyQA dev split (20 policies) is not read here at all: it stays held out for
../shared/bench/policyqa_bench.py. With --plain-repeat, the hand-written plain-words questions
(benchmarks/plain_train, the first stage's and the embedder's too) join them, on their OPP-115
policies and the list-shaped ones written for training; --plain-half holds half of those
policies out and reports on them.

Every policy goes through `policyqa ingest`'s own path (load, normalise, segment, embed); every
question through the first stage that runs at query time (qa.rank with the ranker at
--stage1), so the reranker learns on the candidates it will be handed. A pair is
(question, reranker.passages(unit)) with label 1 when the unit holds an annotated answer span of
the question's types (it covers half the span, or half of the unit is inside it):
- an answerable question: one of its labelled units (two groups if it has several), --hard of
  the first stage's top 20 that are not, and random units of the policy for the rest;
- a question the policy is silent on (none of its types annotated there): the first stage's
  top 4, all negatives. These teach the probability to be absolute: a silent policy's best
  clause must score low, not merely lower than the rest.
Model: `cross_encoder` (the first --layers layers of the bundled all-MiniLM-L6-v2, and a head
over [CLS] with --head cls, the shipped one, or one that starts as the cosine of the question's
and the passage's mean token states), binary
cross-entropy, AdamW with linear warm-up and decay;
exported with torch.onnx, weights quantised to int8 with onnxruntime, checked against torch.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))  # first: benchmarks/ingest.py must not shadow the ingest package

K_TRAIN = 20  # first-stage candidates negatives are drawn from
MAX_TOKENS = 96  # question and passage; longer pairs lose the end of the passage


@dataclass
class Case:
    """A question against one policy, with the first stage's ranking and the labels."""

    policy: int
    question: str
    s1: np.ndarray  # first-stage score of every unit
    answers: np.ndarray  # bool per unit: holds an annotated answer span (the training label)
    unclear: np.ndarray  # bool per unit: neither label is safe (see unclear_units); not trained on
    loc: np.ndarray  # the benchmark's LocHit label per unit (all False for a silent case)
    sent: np.ndarray  # its SentHit label
    lens: np.ndarray


def answer_label(offsets, ranges) -> np.ndarray:
    """A unit answers when it covers half of a gold span or half of it lies inside one."""
    out = np.zeros(len(offsets), dtype=bool)
    for i, off in enumerate(offsets):
        if off is None:
            continue
        us, ue = off
        for gs, ge in ranges:
            ov = min(ue, ge) - max(us, gs)
            if ov > 0 and (ov >= 0.5 * (ge - gs) or ov >= 0.5 * (ue - us)):
                out[i] = True
                break
    return out


GENERIC_VALUES = {"Generic personal information", "Other", "Unspecified"}


def kinds(types) -> tuple[set, dict]:
    """A question's types as (category, attribute) pairs, and the one specific kind of data it
    asks about per pair, if any ("Health" for "Do you retain my health information?")."""
    pairs, values = set(), {}
    for t in types:
        cat, attr, value = t.split("|||")
        pairs.add((cat, attr))
        values.setdefault((cat, attr), set()).add(value)
    specific = {ca: next(iter(v)) for ca, v in values.items() if ca[1] == "Personal Information Type"
                and len(v) == 1 and not v & GENERIC_VALUES}
    return pairs, specific


def unclear_units(unit_kinds: list[dict], types) -> np.ndarray:
    """Units whose label the annotations cannot give: annotated with the question's category and
    attribute but another value ("Do you use my data for advertising?" asked where a clause is
    annotated First Party Collection/Use, Purpose, *Marketing*). PolicyQA's wordings are often
    more general than the one value they were written for ("How do you use my data?" is filed
    under Purpose = Advertising), so such a clause may well answer. Only where the question asks
    about one specific kind of data ("health information") is another kind a clear negative."""
    pairs, specific = kinds(types)
    out = np.zeros(len(unit_kinds), dtype=bool)
    for i, uk in enumerate(unit_kinds):
        out[i] = any(ca in uk and not (ca in specific and specific[ca] not in uk[ca]) for ca in pairs)
    return out


def unit_annotations(offsets, spans) -> list[dict]:
    """Per unit: {(category, attribute): {values}} of the spans it overlaps."""
    out = [dict() for _ in offsets]
    for i, off in enumerate(offsets):
        if off is None:
            continue
        for sp in spans:
            if min(off[1], sp.end) > max(off[0], sp.start):
                cat, attr, value = sp.type.split("|||")
                out[i].setdefault((cat, attr), set()).add(value)
    return out


def cases(stage1: Path, natural: str = "gaps"):
    """(split, passages per policy, answerable cases, silent cases). `natural`: the plain-words
    questions of benchmarks/opp115_questions.jsonl asked beside PolicyQA's wordings, "gaps" (for
    the types no PolicyQA wording asks about) or "all" (every type's)."""
    import opp115
    from train_ranker import build, full_features, locate_units

    from ingest.embedding import get_embedder
    from qa import practices, rank
    from qa.rerank import passages

    split = build("opp115" if natural == "gaps" else "opp115-natural")
    model = rank.load_model(stage1)
    adapter = rank.adapter_of(model)
    policies, bench_questions, silent, spans = opp115.training_set("train", natural=natural)  # as build()
    assert [p.pid for p in policies] == split.pids
    qtypes = opp115.question_types(natural=True)
    offsets = [locate_units(p.text, idx.units) for p, idx in zip(policies, split.indexes)]
    notes = [unit_annotations(off, spans[p.pid]) for p, off in zip(policies, offsets)]
    gold = {q.qid: q.gold_ranges for q in bench_questions}
    texts = [p for p in (passages(idx.units) for idx in split.indexes)]
    answerable = []
    for q in split.questions:
        if q.qid not in gold:  # "opp115-natural" holds a share of the silent pairs: they are in `silent`
            continue
        s1 = rank.score(full_features(split, q, adapter), model)
        ans = answer_label(offsets[q.policy], gold[q.qid])
        unclear = unclear_units(notes[q.policy], qtypes[q.text]) & ~ans
        answerable.append(Case(q.policy, q.text, s1, ans, unclear, q.loc, q.sent, q.lens))
    embedder = get_embedder()
    missing = sorted({t for _, t in silent} - set(split.qvecs))
    split.qvecs.update(zip(missing, (embedder.embed_query(t) for t in missing)))
    where = {pid: i for i, pid in enumerate(split.pids)}
    quiet = []
    for pid, text in silent:
        pi = where[pid]
        idx = split.indexes[pi]
        s1 = rank.score(rank.features(idx, text, split.qvecs[text], model, practices.load()).x, model)
        none = np.zeros(len(idx.units), dtype=bool)
        quiet.append(Case(pi, text, s1, none, unclear_units(notes[pi], qtypes[text]), none, none,
                          np.array([len(u.text) for u in idx.units])))
    return split, texts, answerable, quiet


def plain_cases(split, stage1: Path) -> tuple[list[Case], list[Case]]:
    """The hand-written plain-words questions (benchmarks/plain_train) as (answerable, silent)
    cases against their policies: a unit answers when it holds an evidence phrase, as
    ../shared/bench/score_seeds.py judges a quote. The list-shaped policies written for training
    are appended to `split` (call after the OPP-115 cases; extend `texts` to match)."""
    from _data import plain_questions as records
    from train_ranker import plain_questions, plain_row

    from ingest.embedding import get_embedder
    from qa import rank

    model = rank.load_model(stage1)
    adapter = rank.adapter_of(model)
    answerable, silent = [], []
    for q, r in zip(plain_questions(split, get_embedder()), records(), strict=True):
        if r["answerable"] and not q.y.any():  # its evidence is in no unit: no label to learn
            continue
        idx = split.indexes[q.policy]
        s1 = rank.score(plain_row(split, q, adapter), model)  # q.x: its base features, computed once
        ans = q.y > 0
        lens = np.array([len(u.text) for u in idx.units])
        (answerable if ans.any() else silent).append(Case(q.policy, q.text, s1, ans, np.zeros_like(ans), ans, ans, lens))
    return answerable, silent


def candidates(split, case: Case, k: int) -> list[int]:
    """The first stage's top k units, headings left out (as the answer path does)."""
    units = split.indexes[case.policy].units
    return [int(i) for i in np.argsort(-case.s1, kind="stable") if units[i].kind != "heading"][:k]


GROUP = 8  # passages per question in a training group


def groups(split, texts, answerable, silent, rng: random.Random, hard: int = GROUP - 1
           ) -> list[tuple[str, list[str], list[float]]]:
    """Training groups of GROUP passages for one question: an answerable question's group is one
    of its answering units and GROUP-1 others (the first stage's top 20 that do not answer, and a
    random unit of the policy); a silent question's group, the first stage's best GROUP that
    are not unclear. Unclear units (see unclear_units) are in no group."""
    out = []
    for c in answerable:
        pos = [int(i) for i in np.flatnonzero(c.answers)]
        neg = [i for i in candidates(split, c, K_TRAIN) if not c.answers[i] and not c.unclear[i]]
        other = rng.randrange(len(texts[c.policy]))
        if not c.answers[other] and not c.unclear[other] and other not in neg:
            neg.append(other)
        if not pos or len(neg) < GROUP - 1:
            continue
        easy = [i for i in range(len(texts[c.policy])) if not c.answers[i] and not c.unclear[i]
                and i not in neg]
        for p in rng.sample(pos, min(2, len(pos))):  # a question with many answers: two groups
            n_easy = min(GROUP - 1 - hard, len(easy))
            pick = [p] + rng.sample(neg, GROUP - 1 - n_easy) + rng.sample(easy, n_easy)
            out.append((c.question, [texts[c.policy][i] for i in pick], [1.0] + [0.0] * (GROUP - 1)))
    for c in silent:
        neg = [i for i in candidates(split, c, K_TRAIN) if not c.unclear[i]][:GROUP]
        if len(neg) == GROUP:
            out.append((c.question, [texts[c.policy][i] for i in neg], [0.0] * GROUP))
    rng.shuffle(out)
    return out


# --------------------------------------------------------------------------- the model
class CrossEncoder:  # a torch.nn.Module, defined in cross_encoder() so torch loads lazily
    pass


def cross_encoder(layers: int, head: str = "pair"):
    """The first `layers` layers of the bundled MiniLM reading "[CLS] question [SEP] passage
    [SEP]", and a head over the mean of the question's token states (u) and of the passage's
    (v): a linear map of [u, v, u*v, |u-v|] (u and v unit length). The head starts as the
    scaled cosine of u and v, so training starts from what MiniLM already knows (a bi-encoder's
    ranking) instead of from its [CLS] state, which MiniLM never trained (it barely varies
    between inputs: a [CLS] head learned nothing here)."""
    import torch
    from transformers import AutoModel

    from ingest.embedding import minilm_path

    bert = AutoModel.from_pretrained(str(minilm_path()), local_files_only=True, dtype=torch.float32,
                                     add_pooling_layer=False)
    bert.encoder.layer = bert.encoder.layer[:layers]
    bert.config.num_hidden_layers = layers

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = bert
            dim = bert.config.hidden_size
            self.head = torch.nn.Linear(4 * dim, 1)
            with torch.no_grad():
                self.head.weight.zero_()
                self.head.weight[0, 2 * dim:3 * dim] = 10.0  # 10 * cos(u, v) ...
                self.head.bias.fill_(-5.5)  # ... - 5.5: odds of 1 in 8 at cosine 0.35

            if head == "cls":
                self.head = torch.nn.Sequential(torch.nn.Linear(dim, dim), torch.nn.Tanh(),
                                                torch.nn.Linear(dim, 1))

        def forward(self, input_ids, attention_mask, token_type_ids):
            h = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                          token_type_ids=token_type_ids).last_hidden_state
            if head == "cls":
                return self.head(h[:, 0])
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            is_q = (token_type_ids == 0).unsqueeze(-1).to(h.dtype)
            u = (h * m * is_q).sum(1) / (m * is_q).sum(1).clamp(min=1.0)
            v = (h * m * (1 - is_q)).sum(1) / (m * (1 - is_q)).sum(1).clamp(min=1.0)
            u = torch.nn.functional.normalize(u, dim=-1)
            v = torch.nn.functional.normalize(v, dim=-1)
            return self.head(torch.cat([u, v, u * v, (u - v).abs()], -1))

    return Model()


def tokenizer():
    from tokenizers import Tokenizer

    from ingest.embedding import minilm_path

    tok = Tokenizer.from_file(str(minilm_path() / "tokenizer.json"))
    tok.enable_truncation(MAX_TOKENS, strategy="only_second")
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    return tok


def encode(tok, pairs):
    import torch

    enc = tok.encode_batch(pairs)
    return {"input_ids": torch.tensor([e.ids for e in enc]),
            "attention_mask": torch.tensor([e.attention_mask for e in enc]),
            "token_type_ids": torch.tensor([e.type_ids for e in enc])}


def train(model, data, args, log, check=None) -> None:
    """Batches of args.batch // GROUP groups. Loss: binary cross-entropy on every pair (the
    probability must be absolute: silent groups are all negatives) plus, for answerable groups,
    the cross-entropy of a softmax over the group (the answer must outrank its neighbours:
    this per-question contrast is what PolicyQA's noisy labels teach best). `check(step)` runs
    every args.check_every steps."""
    import torch

    torch.manual_seed(args.seed)
    model.bert.embeddings.word_embeddings.weight.requires_grad_(False)  # 30k x 384: little data
    #   to move them, a fifth of each step's time to update them
    tok = tokenizer()
    per = max(1, args.batch // GROUP)
    steps = [data[i:i + per] for i in range(0, len(data), per)]
    total = len(steps)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.lr, weight_decay=0.01)
    warm = max(1, int(0.05 * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    bce = torch.nn.BCEWithLogitsLoss()
    model.train()
    t0, run = time.perf_counter(), []
    for step, batch in enumerate(steps, 1):
        x = encode(tok, [(q, p) for q, ps, _ in batch for p in ps])
        y = torch.tensor([l for _, _, ls in batch for l in ls])
        z = model(**x).view(len(batch), GROUP)
        loss = bce(z.view(-1), y.view(-1))
        answerable = y.view(len(batch), GROUP)[:, 0] > 0
        if answerable.any():  # the answer is first in its group
            loss = loss + args.listwise * torch.nn.functional.cross_entropy(
                z[answerable], torch.zeros(int(answerable.sum()), dtype=torch.long))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        run.append(loss.item())
        if step % 100 == 0 or step == total:
            el = time.perf_counter() - t0
            log(f"step {step}/{total} loss {np.mean(run[-100:]):.4f} "
                f"{el / 60:.1f} min, eta {el / step * (total - step) / 60:.1f} min")
        if check and (step % args.check_every == 0 or step == total):
            model.eval()
            check(step)
            model.train()
    model.eval()


_TOK: dict = {}


def torch_logits(model, question: str, texts: list[str], tok=None) -> np.ndarray:
    import torch

    tok = tok or _TOK.setdefault("tok", tokenizer())
    with torch.no_grad():
        return model(**encode(tok, [(question, t) for t in texts])).view(-1).numpy()


# --------------------------------------------------------------------------- evaluation
def rerank_order(case: Case, cands: list[int], logits: np.ndarray) -> np.ndarray:
    """Reranked candidates first, by logit; then the other units by first-stage score."""
    rest = [int(i) for i in np.argsort(-case.s1, kind="stable") if i not in set(cands)]
    return np.array([cands[i] for i in np.argsort(-logits, kind="stable")] + rest)


def metrics(cases_: list[Case], orders: list[np.ndarray]) -> dict:
    rows = [(c.sent[o[0]], c.loc[o[0]], c.loc[o[:5]].any(), c.answers[o[0]], c.lens[o[:3]].sum())
            for c, o in zip(cases_, orders)]
    m = np.mean(np.asarray(rows, dtype=np.float64), axis=0)
    return dict(zip(("sent_hit@1", "loc_hit@1", "loc_hit@5", "answers@1", "top3_chars"),
                    (round(float(v), 4) for v in m)))


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(a random answerable case's best score > a random silent one's)."""
    allv = np.concatenate([pos, neg])
    ranks = np.argsort(np.argsort(allv)) + 1
    return float((ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def calibrate(logits: np.ndarray, first: np.ndarray, labels: np.ndarray) -> tuple[float, float, float]:
    """P = sigmoid(a * logit + c * logit(first-stage score) + b), fitted on held-out pairs: one
    calibrated relevance from both stages' evidence."""
    from sklearn.linear_model import LogisticRegression

    x = np.column_stack([logits, logit(first)])
    clf = LogisticRegression(C=100.0).fit(x, labels.astype(int))
    return float(clf.coef_[0][0]), float(clf.intercept_[0]), float(clf.coef_[0][1])


def validate(split, texts, answerable, silent, score_fn, k: int, log, cal=None) -> dict:
    """Figures on the validation policies: the first stage alone, its top k reranked by the
    cross-encoder's logit, and (with `cal`) by the calibrated combination; the best clause's
    score of answerable vs silent cases (AUC)."""
    t = time.perf_counter()
    base, rer, comb, best = [], [], [], {True: [], False: []}
    lgs, firsts, labels = [], [], []
    for c in answerable + silent:
        cands = candidates(split, c, k)
        lg = score_fn(c.question, [texts[c.policy][i] for i in cands])
        f = c.s1[cands]
        z = cal[0] * lg + cal[1] + cal[2] * logit(f) if cal else lg
        lgs.append(lg)
        firsts.append(f)
        labels.append(c.answers[cands])
        best[bool(c.answers.any())].append(z.max())
        if c.answers.any():
            base.append(np.argsort(-c.s1, kind="stable"))
            rer.append(rerank_order(c, cands, lg))
            comb.append(rerank_order(c, cands, z))
    out = {"first stage": metrics(answerable, base), f"reranked top {k} (logit)": metrics(answerable, rer)}
    if cal:
        out[f"reranked top {k} (calibrated)"] = metrics(answerable, comb)
    out.update({"silent AUC (best clause)": round(auc(np.array(best[True]), np.array(best[False])), 4),
                "n": {"answerable": len(answerable), "silent": len(silent)},
                "ms_per_case": round((time.perf_counter() - t) * 1000 / max(1, len(answerable) + len(silent)), 2)})
    log(json.dumps(out))
    out["best"] = {k2: np.array(v) for k2, v in best.items()}
    out["pairs"] = tuple(np.concatenate(v) for v in (lgs, firsts, labels))
    return out


def choose_bar(best_pos: np.ndarray, best_neg: np.ndarray) -> dict:
    """The probability bar that maximises balanced accuracy (answered of answerable + refused of
    silent) on the validation policies, and the trade-off around it. Inputs: best calibrated
    logits of answerable and silent cases."""
    from qa.rerank import sigmoid

    pp, pn = sigmoid(best_pos), sigmoid(best_neg)
    grid = np.round(np.arange(0.02, 0.96, 0.01), 2)
    rows = [(float(t), float((pp >= t).mean()), float((pn < t).mean())) for t in grid]
    best = max(rows, key=lambda r: r[1] + r[2])
    return {"bar": best[0], "answered_of_answerable": round(best[1], 4), "refused_of_silent": round(best[2], 4),
            "table": [dict(zip(("bar", "answered", "refused"), (r[0], round(r[1], 3), round(r[2], 3))))
                      for r in rows if round(r[0] * 100) % 5 == 0]}


# --------------------------------------------------------------------------- export
def export(model, out: Path, layers: int, extra: dict) -> Path:
    """model.onnx (int8 weights), tokenizer.json and config.json in `out`."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from ingest.embedding import minilm_path

    out.mkdir(parents=True, exist_ok=True)

    ids = torch.ones((2, 16), dtype=torch.long)
    fp32 = out / "fp32.onnx"
    with torch.no_grad():
        torch.onnx.export(model.eval(), (ids, torch.ones_like(ids), torch.zeros_like(ids)), str(fp32),
                          input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["logits"],
                          dynamic_axes={n: {0: "batch", 1: "seq"} for n in
                                        ("input_ids", "attention_mask", "token_type_ids")},
                          opset_version=17, dynamo=False)
    # unsigned weights: summed exactly on every CPU (ingest.embedding.ONNX_EXPORT says why; the
    # reranker shipped on 2026-12-03 predates this and has signed ones)
    quantize_dynamic(str(fp32), str(out / "model.onnx"), weight_type=QuantType.QUInt8, per_channel=True,
                     op_types_to_quantize=["MatMul", "Gemm", "Gather"])
    fp32.unlink()
    shutil.copy(minilm_path() / "tokenizer.json", out / "tokenizer.json")
    config = {"name": f"policyqa-reranker-L{layers}", "layers": layers, "max_tokens": MAX_TOKENS, **extra}
    (out / "config.json").write_text(json.dumps(config, indent=1) + "\n")
    return out


def evaluate_exported(args, split, texts, va_a, va_s, log) -> int:
    """Validation figures of an exported (int8 ONNX) reranker for several k, and the bar table."""
    from qa.rerank import Reranker

    model, memo = Reranker(args.evaluate), {}

    def score(q: str, ts: list[str]) -> np.ndarray:  # each pair scored once across the k values
        todo = [t for t in ts if (q, t) not in memo]
        memo.update(zip(((q, t) for t in todo), model.logits(q, todo)))
        return np.array([memo[q, t] for t in ts], dtype=np.float32)

    for k in sorted(int(v) for v in args.sweep.split(","))[::-1]:
        res = validate(split, texts, va_a, va_s, score, k, lambda m: None)
        cal = calibrate(*res["pairs"])
        res = validate(split, texts, va_a, va_s, score, k, lambda m: log(f"k={k} " + m), cal)
        bar = choose_bar(res["best"][True], res["best"][False])
        log(f"k={k} calibration {[round(v, 4) for v in cal]} bar {bar['bar']} "
            f"(answered {bar['answered_of_answerable']}, refused {bar['refused_of_silent']})")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--layers", type=int, default=2, help="MiniLM layers kept (6 = all)")
    ap.add_argument("--groups", type=int, default=0, help="train on this many question groups (0 = all)")
    ap.add_argument("--hard", type=int, default=GROUP - 1,
                    help="negatives per answerable group from the first stage's top 20 (the rest: random units)")
    ap.add_argument("--head", choices=("pair", "cls"), default="pair",
                    help="pair: a head over the question's and passage's mean token states; cls: over [CLS]")
    ap.add_argument("--listwise", type=float, default=1.0, help="weight of the per-group softmax loss")
    ap.add_argument("--check-every", type=int, default=500, help="steps between probes on validation cases")
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--k", type=int, default=12, help="candidates reranked at query time")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--val-limit", type=int, default=0,
                    help="validate on this many answerable and as many silent cases (a random sample; 0 = all)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--stage1", type=Path, default=ROOT / "qa" / "models" / "ranker.json",
                    help="the first-stage ranker the candidates come from")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--save-torch", type=Path, help="also keep the torch weights here")
    ap.add_argument("--from-torch", type=Path, help="skip training: validate and export these weights")
    ap.add_argument("--natural", choices=("gaps", "all"), default="gaps",
                    help="plain-words training questions (benchmarks/opp115_questions.jsonl): for the types "
                         "PolicyQA never asks about, or for every type")
    ap.add_argument("--plain-share", type=float, metavar="F",
                    help="with --natural all: draw this share of the groups from plain-words questions "
                         "(default: as they come, about two thirds)")
    ap.add_argument("--plain-repeat", type=int, default=0, metavar="R",
                    help="also train on the hand-written plain-words questions of benchmarks/plain_train "
                         "(their groups R times, beside the OPP-115 groups)")
    ap.add_argument("--plain-half", type=int, choices=(0, 1), metavar="H",
                    help="with --plain-repeat: leave the plain-words questions of half H of their policies out "
                         "(_data.plain_half) and report on them")
    ap.add_argument("--init", type=Path, help="train on from these torch weights (a model --save-torch kept)")
    ap.add_argument("--evaluate", type=Path, metavar="DIR",
                    help="no training: the exported reranker in DIR on the validation policies, reranking the "
                         "first stage's top k for each k of --sweep (calibration refitted per k)")
    ap.add_argument("--sweep", default="4,6,8,12", help="with --evaluate: the k values")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    logf = (args.out / "train.log").open("a")

    def log(msg: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {msg}"
        print(line, flush=True)
        logf.write(line + "\n")
        logf.flush()

    log(f"args {vars(args)}")
    split, texts, answerable, silent = cases(args.stage1, args.natural)
    from opp115 import asked, is_validation

    shown = asked("train", "gaps")  # validation asks what it always asked, whatever training adds
    is_val = lambda c: is_validation(c.policy)  # noqa: E731
    tr_a = [c for c in answerable if not is_val(c)]
    va_a = [c for c in answerable if is_val(c) and c.question in shown]
    tr_s = [c for c in silent if not is_val(c)]
    va_s = [c for c in silent if is_val(c) and c.question in shown]
    log(f"cases: train {len(tr_a)} answerable + {len(tr_s)} silent; validation {len(va_a)} + {len(va_s)} "
        f"({len({c.policy for c in va_a})} policies)")
    rng = random.Random(args.seed)
    data = []
    for _ in range(math.ceil(args.epochs)):
        data += groups(split, texts, tr_a, tr_s, rng, args.hard)
    n = args.groups or int(len(data) / math.ceil(args.epochs) * args.epochs)
    if args.plain_share is not None:  # that share of the groups from plain-words questions
        from opp115 import question_types

        templated = set(question_types())
        plain = [g for g in data if g[0] not in templated]
        other = [g for g in data if g[0] in templated]
        k = min(round(n * args.plain_share), len(plain))
        data = plain[:k] + other[:n - k]
        rng.shuffle(data)
    data = data[:n]
    plain_a = plain_s = []
    if args.plain_repeat:
        from _data import plain_half

        from qa.rerank import passages

        n_opp = len(texts)
        pa, ps = plain_cases(split, args.stage1)
        texts += [passages(idx.units) for idx in split.indexes[n_opp:]]
        out = lambda c: c.policy < n_opp and is_validation(c.policy)  # noqa: E731  OPP-115 validation
        unused = sum(map(out, pa + ps))
        pa, ps = [c for c in pa if not out(c)], [c for c in ps if not out(c)]
        held = lambda c: args.plain_half is not None and plain_half(split.pids[c.policy]) == args.plain_half  # noqa: E731
        plain_a, plain_s = [c for c in pa if held(c)], [c for c in ps if held(c)]
        tr_pa, tr_ps = [c for c in pa if not held(c)], [c for c in ps if not held(c)]
        before = len(data)
        for _ in range(args.plain_repeat):
            data += groups(split, texts, tr_pa, tr_ps, rng, args.hard)
        rng.shuffle(data)
        log(f"plain-words cases: train {len(tr_pa)} answerable + {len(tr_ps)} silent ({len(data) - before} groups); "
            f"held out {len(plain_a)} + {len(plain_s)}; on OPP-115 validation policies (unused) {unused}")
    log(f"training groups: {len(data)} of {GROUP} ({sum(g[2][0] for g in data):.0f} answerable)")
    sub = random.Random(1)
    if args.val_limit:
        va_a = sub.sample(va_a, min(args.val_limit, len(va_a)))
        va_s = sub.sample(va_s, min(args.val_limit, len(va_s)))
    probe_a, probe_s = sub.sample(va_a, min(200, len(va_a))), sub.sample(va_s, min(200, len(va_s)))

    if args.evaluate:
        return evaluate_exported(args, split, texts, va_a, va_s, log)

    def check(step: int) -> None:
        fn = lambda q, ts: torch_logits(model, q, ts)  # noqa: E731
        res = validate(split, texts, probe_a, probe_s, fn, args.k, lambda m: log(f"probe at step {step}: {m}"))
        validate(split, texts, probe_a, probe_s, fn, args.k,  # calibrated on the probe itself: a hint
                 lambda m: log(f"probe at step {step}, in-sample calibration: {m}"), calibrate(*res["pairs"]))

    model = cross_encoder(args.layers, args.head)
    if args.init:
        model.load_state_dict(torch.load(args.init))
    if args.from_torch:
        model.load_state_dict(torch.load(args.from_torch))
        model.eval()
        data = []
    else:
        train(model, data, args, log, check)
    if args.save_torch:
        torch.save(model.state_dict(), args.save_torch)
    tok = tokenizer()
    score = lambda q, ts: torch_logits(model, q, ts, tok)  # noqa: E731
    if plain_a:
        validate(split, texts, plain_a, plain_s, score, args.k, lambda m: log("held-out plain-words " + m))
    res = validate(split, texts, va_a, va_s, score, args.k, log)
    cal = calibrate(*res["pairs"])
    res = validate(split, texts, va_a, va_s, score, args.k, log, cal)
    bar = choose_bar(res["best"][True], res["best"][False])
    log(f"calibration a={cal[0]:.4f} b={cal[1]:.4f} c={cal[2]:.4f}; "
        f"bar {json.dumps({k: v for k, v in bar.items() if k != 'table'})}")
    extra = {"calibration": [round(v, 6) for v in cal], "bar": bar["bar"], "k": args.k,
             "trained_on": f"OPP-115 (Wilson et al., ACL 2016): {len({c.policy for c in tr_a})} policies outside "
                           f"the PolicyQA dev split, PolicyQA question wordings (Ahmad et al., 2020), "
                           f"{len(data) or 'see train.log for the number of'} pairs",
             "validation": {k: v for k, v in res.items() if k not in ("best", "pairs")},
             "bar_table": bar["table"], "trained_at": time.strftime("%Y-%m-%d"),
             "args": {k: str(v) for k, v in vars(args).items()}}
    export(model, args.out, args.layers, extra)

    from qa.rerank import Reranker

    onnx = Reranker(args.out)
    res_onnx = validate(split, texts, va_a, va_s, onnx.logits, args.k, lambda m: log("int8 onnx " + m), cal)
    agree = np.corrcoef(res["pairs"][0], res_onnx["pairs"][0])[0, 1]
    log(f"int8 vs torch logits: correlation {agree:.4f}")
    cfg = json.loads((args.out / "config.json").read_text())
    cfg["validation_int8"] = {k: v for k, v in res_onnx.items() if k not in ("best", "pairs")}
    cfg["int8_vs_torch_correlation"] = round(float(agree), 4)
    (args.out / "config.json").write_text(json.dumps(cfg, indent=1) + "\n")
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
