"""Fine-tune the bundled all-MiniLM-L6-v2 on PolicyQA question -> answer-sentence pairs.

Data: the PolicyQA dev split as the shared scoreboard builds it (20 whole policies, each the
paragraphs joined by blank lines). Every policy goes through production ingestion: written to
a .txt file, `ingest.loaders.load` (which normalises it) and `ingest.segment.segment`. The
annotated gold character ranges are mapped into the normalised text, and a unit is a positive
for a question when it covers a gold range, or (for a span that crosses units) holds at least
half of the span's SQuAD-normalised tokens. Hard negatives: the base model's top-ranked units
of the same policy that are not positives and do not contain a gold answer text.

Training: a sentence-transformers model and MultipleNegativesRankingLoss over (question,
positive, hard negative) triples, with the false negatives masked (`masked_mnrl`: PolicyQA's
questions are templates repeated across policies, so another row's positive for the same
question text is not a negative), in a plain torch loop: the sentence-transformers trainer
would need `datasets` and `accelerate`, this needs neither. Batches are made of triples of
similar length (half the CPU time of random batches). Fixed seed, deterministic kernels, one
thread by default (on the shared 2-core machine a second thread mostly spins).

Evaluation by policy fold (train on even policies, test on odd, and the reverse; "even" =
indices 0, 2, 4, ... in the split's order, as the scoreboard's `--policies even`): every test
policy's units ranked by cosine with the question, through the production int8 ONNX export
and through fp32 torch, scored by the scoreboard's own `evaluate` (units located in the raw
policy text with its `locate`, the sentence pick as its `cli` system makes it).

    python benchmarks/finetune_embedder.py                      # both folds, base vs fine-tuned
    python benchmarks/finetune_embedder.py --train-on even --out /tmp/ft-even   # one fold model
    python benchmarks/finetune_embedder.py --data plain --epochs 3 --threads 2 --ship   # the shipped model
    python benchmarks/finetune_embedder.py --data opp115 --max-examples 8000 --epochs 1 \
        --out /tmp/ft-opp115 [--interpolate 0.5]                # on OPP-115's training policies
    python benchmarks/finetune_embedder.py --evaluate /tmp/ft-opp115   # dense, PolicyQA dev, held out
    python benchmarks/finetune_embedder.py --data plain --epochs 3 --threads 2 --out /tmp/ft-plain
        # on the hand-written plain-words questions only (benchmarks/plain_train); with --data opp115,
        # --plain-repeat R adds them R times to OPP-115's
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

for _var, _value in (("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"),
                     ("TOKENIZERS_PARALLELISM", "false")):
    os.environ.setdefault(_var, _value)

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("POLICYQA_SHARED", ROOT.parent / "shared"))
BENCH = SHARED / "bench" / "policyqa_bench.py"
SHIP_DIR = ROOT / "models" / "policyqa-minilm"
WORK = Path(tempfile.gettempdir()) / "policyqa-finetune"

HYPER = {"epochs": 2, "batch_size": 32, "lr": 5e-5, "warmup": 0.1, "weight_decay": 0.01,
         "max_seq_length": 128, "scale": 20.0, "max_pos_per_question": 4, "hard_neg_pool": 10,
         "seed": 13}


def scoreboard():
    """The shared scoreboard module, imported from its path: its data loading and metrics."""
    spec = importlib.util.spec_from_file_location("policyqa_bench", BENCH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["policyqa_bench"] = mod  # its dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


B = scoreboard()


# --------------------------------------------------------------------------- data
@dataclass
class PolicyUnits:
    pid: str
    raw: str  # the scoreboard's policy text
    norm: str  # the same text after production loading (what unit offsets point into)
    units: list  # ingest.types.Unit, offsets into the normalised text
    raw_spans: list  # each unit located in the raw text, as the scoreboard's cli system does


@dataclass
class Example:
    pid: str
    question: str
    positives: list[int]  # unit indices
    banned: set  # units that must not serve as negatives (positives, gold text inside)


def build_units(policies) -> dict[str, PolicyUnits]:
    """Production ingestion of every policy: .txt file -> load (normalise) -> segment."""
    from ingest.loaders import load
    from ingest.segment import segment

    out = {}
    with tempfile.TemporaryDirectory(prefix="policyqa-ft-") as tmp:
        for p in policies:
            path = Path(tmp) / f"{p.pid}.txt"
            path.write_text(p.text, encoding="utf-8")
            doc = load(path)
            units = segment(doc)
            spans = [B.locate(p.text, u.text) for u in units]
            out[p.pid] = PolicyUnits(p.pid, p.text, doc.text, units, spans)
    return out


def align(raw: str, norm: str) -> list[int]:
    """For every offset of `raw` (and its end), the matching offset in `norm`, which is `raw`
    with whitespace collapsed and lines stripped: a greedy walk that skips whitespace."""
    m = [0] * (len(raw) + 1)
    i = j = 0
    while i < len(raw):
        m[i] = j
        if j < len(norm) and raw[i] == norm[j]:
            i, j = i + 1, j + 1
        elif raw[i].isspace() or not raw[i].isprintable():
            i += 1
        elif j < len(norm) and norm[j].isspace():
            j += 1
        else:  # a character the normaliser changed (NFC, an odd space)
            i, j = i + 1, j + 1
    m[len(raw)] = j
    return m


def map_gold(pu: PolicyUnits, rng: tuple[int, int], amap: list[int]) -> tuple[int, int] | None:
    """A gold range of the raw text in normalised-text offsets, checked; None if it does not map."""
    gs, ge = rng
    want = B.norm_ws(pu.raw[gs:ge])
    ns, ne = amap[gs], amap[ge]
    if B.norm_ws(pu.norm[ns:ne]) == want:
        return ns, ne
    pat = r"\s+".join(re.escape(t) for t in pu.raw[gs:ge].split())  # nearest equal occurrence
    found = [(abs(m.start() - ns), m.start(), m.end()) for m in re.finditer(pat, pu.norm, re.I)]
    return min(found)[1:] if found else None


def positives_for(pu: PolicyUnits, q, amap, stats: dict) -> list[int]:
    """Units covering a gold range, or holding >= 50% of a crossing span's tokens."""
    pos = set()
    for rng in q.gold_ranges:
        stats["ranges"] += 1
        mapped = map_gold(pu, rng, amap)
        if mapped is None:
            stats["unmapped"] += 1
            continue
        ns, ne = mapped
        gold = pu.raw[rng[0]:rng[1]]
        cover = [i for i, u in enumerate(pu.units) if u.start <= ns and ne <= u.end]
        if cover:
            stats["covered"] += 1
            pos.update(cover)
            continue
        part = [i for i, u in enumerate(pu.units) if u.start < ne and ns < u.end
                and B.gold_token_overlap(u.text, gold) >= 0.5]
        stats["crossing"] += 1
        stats["crossing_mapped"] += bool(part)
        pos.update(part)
    return sorted(pos)


def build_examples(units: dict[str, PolicyUnits], questions) -> tuple[list[Example], dict]:
    stats = dict.fromkeys(("ranges", "unmapped", "covered", "crossing", "crossing_mapped"), 0)
    amaps = {pid: align(pu.raw, pu.norm) for pid, pu in units.items()}
    out = []
    for q in questions:
        pu = units[q.pid]
        pos = positives_for(pu, q, amaps[q.pid], stats)
        golds = [B.norm_ws(g) for g in q.gold_texts]
        banned = set(pos) | {i for i, u in enumerate(pu.units)
                             if any(g in B.norm_ws(u.text) for g in golds)}
        out.append(Example(q.pid, q.question, pos, banned))
    stats["questions"] = len(out)
    stats["questions_with_positive"] = sum(1 for e in out if e.positives)
    stats["positive_units"] = sum(len(e.positives) for e in out)
    return out, stats


def plain_examples(units: dict[str, PolicyUnits], leave_out: int | None = None) -> list[Example]:
    """The hand-written plain-words training questions (benchmarks/plain_train/part*.jsonl, on
    OPP-115 training policies and the list-shaped ones written for training) as examples: a unit
    is a positive when it holds an evidence phrase, as ../shared/bench/score_seeds.py scores a
    quote. Silent questions have none. `leave_out`: the half of the policies (_data.plain_half)
    whose questions are left out, so train_ranker.py --plain-cv-half can score them."""
    sys.path.insert(1, str(ROOT / "benchmarks"))
    from _data import plain_half, plain_questions, seed_scoreboard

    quotes_evidence = seed_scoreboard().quotes_evidence
    out = []
    for r in (r for r in plain_questions() if r["evidence"] and plain_half(r["policy"]) != leave_out):
        pos = [i for i, u in enumerate(units[r["policy"]].units) if quotes_evidence(u.text, r["evidence"])]
        out.append(Example(r["policy"], r["question"], pos, set(pos)))
    return out


# --------------------------------------------------------------------------- models
def set_seed(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)


def load_st(path: Path | None = None):
    import torch
    from sentence_transformers import SentenceTransformer

    from ingest.embedding import minilm_path

    return SentenceTransformer(str(path or minilm_path()), device="cpu", local_files_only=True,
                               model_kwargs={"dtype": torch.float32})


def encode(model, texts: list[str]) -> np.ndarray:
    return model.encode(list(texts), batch_size=64, normalize_embeddings=True,
                        convert_to_numpy=True, show_progress_bar=False).astype(np.float32)


def base_vectors(texts: list[str]) -> np.ndarray:
    """The base model's fp32 vectors, cached on disk by text (mining runs once per machine)."""
    cache = WORK / "base-minilm-vectors.npz"
    known: dict[str, np.ndarray] = {}
    if cache.exists():
        with np.load(cache) as z:
            known = dict(zip(z["texts"].tolist(), z["vectors"]))
    missing = sorted(set(texts) - known.keys())
    if missing:
        known.update(zip(missing, encode(load_st(), missing)))
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, texts=np.array(list(known)), vectors=np.stack(list(known.values())))
    return np.stack([known[t] for t in texts]) if texts else np.zeros((0, 384), np.float32)


def hard_negative_pools(units, examples, pool: int) -> dict[int, list[int]]:
    """For every example, the base model's top-ranked units that are not banned."""
    pids = sorted({e.pid for e in examples})
    # one call: each call with texts not yet cached loads the model and rewrites the cache
    every = base_vectors([u.context for pid in pids for u in units[pid].units] + [e.question for e in examples])
    ends = np.cumsum([len(units[pid].units) for pid in pids])
    vecs = {pid: every[end - len(units[pid].units):end] for pid, end in zip(pids, ends)}
    qv = every[ends[-1] if pids else 0:]
    out = {}
    for n, e in enumerate(examples):
        order = np.argsort(-(vecs[e.pid] @ qv[n]), kind="stable")
        out[n] = [int(i) for i in order if int(i) not in e.banned][:pool]
    return out


def triples(units, examples, pools, hp, rnd: random.Random) -> list[tuple[str, str, str]]:
    out = []
    for n, e in enumerate(examples):
        if not e.positives or not pools[n]:
            continue
        pos = e.positives if len(e.positives) <= hp["max_pos_per_question"] else \
            rnd.sample(e.positives, hp["max_pos_per_question"])
        ctx = units[e.pid].units
        for i in pos:
            out.append((e.question, ctx[i].context, ctx[rnd.choice(pools[n])].context))
    return out


def batches(data: list, size: int, rnd: random.Random) -> list[list]:
    """Batches of triples of similar length (padding is most of the CPU time: sorting halves
    it), shuffled in windows of 4 batches first so batch composition still varies by seed."""
    todo = data[:]
    rnd.shuffle(todo)
    key = lambda t: max(len(t[1]), len(t[2]))  # noqa: E731  (pos and neg share the padding)
    todo.sort(key=key)
    window = 4 * size
    for w in range(0, len(todo), window):
        part = todo[w:w + window]
        rnd.shuffle(part)
        todo[w:w + window] = part
    out = [todo[i:i + size] for i in range(0, len(todo), size)]
    rnd.shuffle(out)
    return out


def masked_mnrl(model, batch, scale: float):
    """MultipleNegativesRankingLoss (in-batch negatives + one hard negative per question) with
    the false negatives masked: templated questions repeat across policies, so another row's
    positive for the same question text is an answer, not a negative; nor is a passage that
    is this row's positive (same unit drawn twice). Each column is its own forward pass, padded
    to its own longest text."""
    import torch

    qs, ps, ns = ([t[c] for t in batch] for c in range(3))
    q, p, n = (model(model.preprocess(col))["sentence_embedding"] for col in (qs, ps, ns))
    logits = scale * q @ torch.cat([p, n]).T  # the model L2-normalises: dot = cosine
    size = len(batch)
    mask = torch.zeros_like(logits, dtype=torch.bool)
    for i in range(size):
        for j in range(size):
            if j != i and (qs[j] == qs[i] or ps[j] == ps[i]):
                mask[i, j] = True
            if ns[j] == ps[i]:
                mask[i, size + j] = True
    logits = logits.masked_fill(mask, float("-inf"))
    return torch.nn.functional.cross_entropy(logits, torch.arange(size))


def train(units, examples, hp: dict, log=print):
    """Fine-tune the bundled model on the examples; returns (model, seconds, n_triples, steps)."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    set_seed(hp["seed"])
    rnd = random.Random(hp["seed"])
    t0 = time.perf_counter()
    pools = hard_negative_pools(units, examples, hp["hard_neg_pool"])
    model = load_st()
    model.max_seq_length = hp["max_seq_length"]
    epochs = [batches(triples(units, examples, pools, hp, rnd), hp["batch_size"], rnd)
              for _ in range(hp["epochs"])]
    total = sum(len(e) for e in epochs)
    opt = torch.optim.AdamW(model.parameters(), lr=hp["lr"], weight_decay=hp["weight_decay"])
    sched = get_linear_schedule_with_warmup(opt, int(hp["warmup"] * total), total)
    model.train()
    step, n_triples = 0, sum(len(b) for b in epochs[0])
    log(f"  training: {n_triples} triples/epoch, {total} steps, "
        f"hard-negative mining {time.perf_counter() - t0:.0f}s", flush=True)
    for ep, epoch in enumerate(epochs):
        running = []
        for batch in epoch:
            loss = masked_mnrl(model, batch, hp["scale"])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            running.append(loss.item())
            step += 1
            if step % 25 == 0 or step == total:
                log(f"  epoch {ep + 1} step {step}/{total} loss {np.mean(running[-25:]):.3f} "
                    f"({time.perf_counter() - t0:.0f}s)", flush=True)
    model.eval()
    return model, time.perf_counter() - t0, n_triples, total


def save(model, out: Path, fp16: bool = True) -> None:
    """A sentence-transformers folder; fp16 weights halve its size and load back as fp32."""
    import torch

    out.mkdir(parents=True, exist_ok=True)
    model.max_seq_length = 256  # what the runtimes use (OnnxMiniLM truncates at 256 tokens)
    if fp16:
        model = model.to(torch.float16)
    model.save(str(out), create_model_card=False)
    cfg = out / "config.json"
    conf = json.loads(cfg.read_text())
    for key in ("dtype", "torch_dtype"):  # load as fp32 by default
        if key in conf:
            conf[key] = "float32"
    cfg.write_text(json.dumps(conf, indent=2) + "\n")
    for f in out.rglob("*"):  # safetensors writes 0600; the folder is meant to be shared
        if f.is_file():
            f.chmod(0o644)


def interpolate(folder: Path, alpha: float) -> None:
    """WiSE-FT (Wortsman et al., 2022): replace the folder's fine-tuned weights by alpha times
    them plus (1 - alpha) times the bundled model's. Fine-tuning on OPP-115's templated
    questions alone loses what the bundled model knows of plain words (on the seed sets hit@1
    fell from 0.93 to 0.67); the mixture keeps most of the gain on the templates and that
    knowledge too. Mixed in fp32 from the saved fp16 weights, written back as fp16."""
    from safetensors.torch import load_file, save_file

    from ingest.embedding import minilm_path

    base = load_file(str(minilm_path() / "model.safetensors"))
    tuned = load_file(str(folder / "model.safetensors"))
    mixed = {k: (alpha * v.float() + (1 - alpha) * base[k].float()).half() for k, v in tuned.items()}
    save_file(mixed, str(folder / "model.safetensors"), metadata={"format": "pt"})


# --------------------------------------------------------------------------- evaluation
def rank_run(name: str, embed, units, questions):
    """Dense ranking of each policy's units; the scoreboard's SystemRun for `evaluate`."""
    results = {}
    vecs = {pid: embed([u.context for u in units[pid].units]) for pid in {q.pid for q in questions}}
    qv = embed([q.question for q in questions])
    for n, q in enumerate(questions):
        pu = units[q.pid]
        scores = vecs[q.pid] @ qv[n]
        ps = [B.Passage(pu.units[i].text, *pu.raw_spans[i], float(scores[i]))
              for i in B.top_indices(scores, B.TOPK)]
        # the sentence pick of the scoreboard's cli system: best-scored quote's first sentence
        cands = [(p.score, p.text[s:e]) for p in ps[:B.EVID_K] for s, e in B.split_sentences(p.text)]
        best = next((t for sc, t in cands if sc == max(c[0] for c in cands)), "") if cands else ""
        results[q.qid] = B.QResult(ps, best)
    return B.SystemRun(name, name, results, None, sum(len(units[p].units) for p in vecs))


def evaluate_models(model_dir: Path | None, units, questions, label: str) -> dict:
    """Metrics of a model folder (None: the bundled base) through int8 ONNX and fp32 torch."""
    from ingest.embedding import OnnxMiniLM, TorchMiniLM

    out = {}
    for runtime, cls in (("int8", OnnxMiniLM), ("fp32", TorchMiniLM)):
        emb = cls(model_dir)
        m, _ = B.evaluate(rank_run(f"{label}/{runtime}", emb.embed_passages, units, questions),
                          questions)
        out[runtime] = {k: m[k] for k in ("loc_hit@1", "loc_hit@5", "hit@1", "hit@5",
                                          "sent_hit@1", "sent_f1", "ev_chars_top3", "n_questions")}
    return out


COLS = (("LocHit@1", "loc_hit@1"), ("LocHit@5", "loc_hit@5"), ("Hit@1", "hit@1"),
        ("SentHit@1", "sent_hit@1"), ("SentF1", "sent_f1"), ("top-3 chars", "ev_chars_top3"))


def table(results: dict) -> str:
    lines = ["| test policies | model | runtime | " + " | ".join(c for c, _ in COLS) + " |",
             "|---|---|---|" + "---:|" * len(COLS)]
    for fold, by_model in results.items():
        for model, by_rt in by_model.items():
            for rt, m in by_rt.items():
                cells = [f"{m[k]:.0f}" if k == "ev_chars_top3" else f"{m[k]:.3f}" for _, k in COLS]
                lines.append(f"| {fold} ({m['n_questions']} q) | {model} | {rt} | "
                             + " | ".join(cells) + " |")
    return "\n".join(lines)


def fold_of(policies, which: str) -> set:
    if which == "all":
        return {p.pid for p in policies}
    return {p.pid for i, p in enumerate(policies) if i % 2 == (which == "odd")}


# --------------------------------------------------------------------------- commands
def run_fold(train_on: str, out: Path, policies, units, examples, questions, hp, evaluate=True):
    keep = fold_of(policies, train_on)
    train_ex = [e for e in examples if e.pid in keep]
    print(f"# train on {train_on} policies ({len(keep)} policies, {len(train_ex)} questions, "
          f"{sum(len(e.positives) for e in train_ex)} positive units)", flush=True)
    model, secs, n_triples, steps = train(units, train_ex, hp)
    save(model, out)
    print(f"  trained in {secs:.0f}s; saved {out} ({_size(out) / 1e6:.1f} MB)", flush=True)
    info = {"train_on": train_on, "train_s": round(secs, 1), "triples_per_epoch": n_triples,
            "steps": steps, "out": str(out)}
    if not evaluate or train_on == "all":
        return info, None
    test_on = "odd" if train_on == "even" else "even"
    test_q = [q for q in questions if q.pid in fold_of(policies, test_on)]
    res = {"base all-MiniLM-L6-v2": evaluate_models(None, units, test_q, "base"),
           f"fine-tuned on {train_on}": evaluate_models(out, units, test_q, "ft")}
    return info, {f"{test_on}": res}


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train-on", choices=("even", "odd", "all"),
                    help="train one model on these policies and save it to --out "
                         "(then evaluate it on the other half, unless 'all')")
    ap.add_argument("--out", type=Path, help="folder for the --train-on model")
    ap.add_argument("--folds-only", action="store_true",
                    help="train on even -> test on odd and the reverse; print the table (the default)")
    ap.add_argument("--ship", action="store_true",
                    help=f"with --data plain: train into {SHIP_DIR}, the shipped embedder (its ranker must then be "
                         "retrained: benchmarks/README.md, 'The embedder ships')")
    ap.add_argument("--fold-results", type=Path,
                    help="print this folds JSON instead of re-running the folds")
    ap.add_argument("--results", type=Path, default=WORK / "folds.json",
                    help="where the folds' figures are written (JSON)")
    ap.add_argument("--epochs", type=int, default=HYPER["epochs"])
    ap.add_argument("--lr", type=float, default=HYPER["lr"])
    ap.add_argument("--batch-size", type=int, default=HYPER["batch_size"])
    ap.add_argument("--seed", type=int, default=HYPER["seed"])
    ap.add_argument("--data", choices=("dev", "opp115", "plain"), default="dev",
                    help="opp115: train one model on the OPP-115 training policies (benchmarks/opp115.py: "
                         "not the PolicyQA dev split, not the validation policies) into --out; plain: on "
                         "the hand-written plain-words questions of those policies only (benchmarks/plain_train)")
    ap.add_argument("--plain-repeat", type=int, default=0, metavar="R",
                    help="with --data opp115: add the plain-words questions, each R times (--data plain: once "
                         "unless R is given)")
    ap.add_argument("--plain-half", type=int, choices=(0, 1),
                    help="leave out the plain-words questions of this half of the policies (for "
                         "train_ranker.py --plain-cv --plain-cv-half H over this model)")
    ap.add_argument("--interpolate", type=float, default=1.0, metavar="ALPHA",
                    help="with --data opp115: keep ALPHA of the fine-tuned weights and 1 - ALPHA of the "
                         "bundled model's (WiSE-FT; see interpolate())")
    ap.add_argument("--evaluate", type=Path, metavar="DIR",
                    help="train nothing: dense ranking of DIR's model beside the bundled one on the PolicyQA "
                         "dev split (all 20 policies: held out from a model trained with --data opp115)")
    ap.add_argument("--max-examples", type=int, default=0, help="train on at most this many questions (sampled)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1: on a shared 2-core machine a second thread mostly spins; "
                         "measured 2.1 s CPU per step with 1 thread vs 4-6 s with 2)")
    args = ap.parse_args(argv)
    if args.ship and args.data != "plain":  # the PolicyQA dev split is the held-out scoreboard: never ship a model of it
        ap.error("--ship trains the shipped embedder, which learns from the plain-words questions only: "
                 "use --data plain (a model trained on the PolicyQA dev split would be scored on its own training data)")
    if args.ship:
        args.out = SHIP_DIR
    hp = {**HYPER, "epochs": args.epochs, "lr": args.lr, "batch_size": args.batch_size,
          "seed": args.seed}

    import torch
    torch.set_num_threads(args.threads)
    if args.evaluate:
        policies, questions = B.load_split("dev", SHARED / "eval" / "policyqa")
        units = build_units(policies)
        print(table({"PolicyQA dev, all 20": {"bundled all-MiniLM-L6-v2": evaluate_models(None, units, questions, "base"),
                                              str(args.evaluate): evaluate_models(args.evaluate, units, questions, "ft")}}))
        return
    if args.data in ("opp115", "plain"):
        sys.path.insert(1, str(ROOT / "benchmarks"))
        import opp115

        policies, questions, _, _ = opp115.training_set("train")
        policies = [p for i, p in enumerate(policies) if not opp115.is_validation(i)]
        keep = {p.pid for p in policies}
        questions = [q for q in questions if q.pid in keep]
        if args.data == "plain":
            questions = []
        elif args.max_examples:
            questions = random.Random(args.seed).sample(questions, min(args.max_examples, len(questions)))
    else:
        policies, questions = B.load_split("dev", SHARED / "eval" / "policyqa")
    if args.data in ("opp115", "plain") and (args.plain_repeat or args.data == "plain"):
        from _data import plain_policies  # the list-shaped policies written for training

        policies += plain_policies(p.pid for p in policies)
    t = time.perf_counter()
    units = build_units(policies)
    examples, stats = build_examples(units, questions)
    repeat = args.plain_repeat or int(args.data == "plain")
    if args.data in ("opp115", "plain") and repeat:
        plain = plain_examples(units, args.plain_half)
        examples += plain * repeat
        stats["plain_questions"] = len(plain)
        stats["plain_positive_units"] = sum(len(e.positives) for e in plain)
        stats["plain_repeat"] = repeat
    print(f"# data: {len(policies)} policies, {sum(len(u.units) for u in units.values())} units, "
          f"{time.perf_counter() - t:.1f}s", flush=True)
    print("  " + json.dumps(stats), flush=True)

    if args.data in ("opp115", "plain"):
        out = args.out
        model, secs, n_triples, steps = train(units, examples, hp)
        save(model, out)
        if args.interpolate < 1:
            interpolate(out, args.interpolate)
        print(f"  trained in {secs:.0f}s on {n_triples} triples, {steps} steps; saved {out}"
              f" (weights {args.interpolate} fine-tuned, {1 - args.interpolate:g} bundled)", flush=True)
        return
    if args.train_on and not args.ship:
        out = args.out or WORK / f"ft-{args.train_on}"
        info, res = run_fold(args.train_on, out, policies, units, examples, questions, hp)
        if res:
            print(table(res))
        return

    if args.fold_results:
        print(table(json.loads(args.fold_results.read_text())["results"]))
        return
    folds = {"hyperparameters": hp, "data": stats, "runs": [], "results": {}}
    for train_on in ("even", "odd"):
        info, res = run_fold(train_on, WORK / f"ft-{train_on}", policies, units, examples, questions, hp)
        folds["runs"].append(info)
        folds["results"].update(res)
        print(table(res), flush=True)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(folds, indent=2))
    print(f"\n# folds (written to {args.results})\n{table(folds['results'])}", flush=True)


if __name__ == "__main__":
    main()
