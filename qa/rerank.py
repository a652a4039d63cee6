"""The reranker: a cross-encoder that reads the question and a clause together and says how
likely the clause answers it.

The first stage (qa.rank: cosines, BM25, a logistic model) scores the question and each clause
apart; the reranker reads each of its best candidates *with* the question, in context (the
section it sits in and, for a list item or a short sentence, the sentence before it). Its output,
calibrated together with the first stage's score on policies training never saw, is then the
one relevance signal answers use: which clauses are relied on, which are shown as related,
whether a policy addresses the question at all. Off by default (POLICYQA_RERANK=1 turns it on):
it loses on the bundled question sets (benchmarks/README.md, "The reranker").

The model is the bundled all-MiniLM-L6-v2 with a one-logit head over [CLS], fine-tuned on
OPP-115 and the hand-written plain-words questions (benchmarks/plain_train) on this machine's
CPU (benchmarks/train_reranker.py; model card in qa/models/reranker/README.md), exported to
ONNX with int8 weights and run by onnxruntime.
"""
from __future__ import annotations

import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ingest.types import Unit

MODEL_DIR = Path(__file__).parent / "models" / "reranker"
MAX_LEAD = 120  # characters of a lead-in shown with a list item or a short sentence
MAX_SECTION = 80
SHORT = 80  # characters: a sentence shorter than this is read after the one before it


def passages(units: list[Unit]) -> list[str]:
    """What the reranker reads for each unit: "section path: lead-in … clause". A list item's
    lead-in is the last sentence before the list in the same section ("We use the following
    third-party services:"); the item alone ("Vercel (hosting)") rarely says what it is. A short
    sentence's lead-in is the sentence before it in the same section: "We will respond within
    30 days." says what is answered only after "You can ask us for a copy of your data"."""
    out, lead = [], ""
    for i, u in enumerate(units):
        same = i > 0 and units[i - 1].section == u.section
        text = u.text
        if lead and same and (u.kind == "item" or (u.kind == "sentence" and len(text) < SHORT)):
            text = f"{_tail(lead, MAX_LEAD)} … {text}"
        if u.kind != "item":
            lead = u.text if u.kind == "sentence" else ""
        section = u.section_path
        out.append(f"{section[-MAX_SECTION:]}: {text}" if section else text)
    return out


def _tail(text: str, n: int) -> str:
    """The last n characters of text, from a word boundary."""
    if len(text) <= n:
        return text
    cut = text[-n:]
    return cut[cut.find(" ") + 1:] if " " in cut else cut


def sigmoid(x: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))).astype(np.float32)


class Reranker:
    """The exported cross-encoder: `probability(question, passages)` for each passage."""

    def __init__(self, folder: Path = MODEL_DIR, threads: int | None = None):
        """`threads`: pairs scored at once, each by a one-thread onnxruntime run (default: the
        cores, at most 2)."""
        import onnxruntime as ort
        from tokenizers import Tokenizer

        folder = Path(folder)
        self.config = json.loads((folder / "config.json").read_text())
        self.name = self.config["name"]
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        workers = threads or min(os.cpu_count() or 1, 2)
        self._pool = ThreadPoolExecutor(workers, "rerank") if workers > 1 else None
        self.session = ort.InferenceSession(str(folder / "model.onnx"), opts,
                                            providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.config["max_tokens"], strategy="only_second")
        self.tokenizer.no_padding()  # MiniLM's tokenizer.json pads every input to 128 tokens: a pair
        #   runs alone, at its own length (a pair of 30 tokens ran at 128, 4x the work)
        self._lock = threading.Lock()  # the tokenizer's truncation state is shared by its calls

    def logits(self, question: str, texts: list[str]) -> np.ndarray:
        """The model's logit for each (question, text) pair, each pair run alone: the int8 model
        quantises activations per run, so in a batch a pair's score would move with the others
        padded beside it (by up to 0.16 here). Alone, a clause scores the same whatever it is
        asked with (scoped or across policies), and no time goes to padding. Two pairs run at
        once, each on one core: faster here than one two-thread run after another (timings:
        benchmarks/README.md, "The reranker, second round")."""
        q = question[: self.config.get("max_question_chars", 300)]
        with self._lock:
            enc = self.tokenizer.encode_batch([(q, t) for t in texts])
        pool = self._pool if len(enc) > 1 else None
        runs = pool.map(self._run, enc) if pool else map(self._run, enc)
        return np.fromiter(runs, dtype=np.float32, count=len(enc))

    def _run(self, e) -> float:
        feed = {"input_ids": np.array([e.ids], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids], dtype=np.int64)}
        return float(self.session.run(None, feed)[0].reshape(-1)[0])

    def probability(self, question: str, texts: list[str], first: np.ndarray | None = None) -> np.ndarray:
        """P(the passage answers the question), calibrated on policies training never saw:
        sigmoid(a * logit + c * logit(first) + b), where `first` is the first stage's score of
        each passage (its evidence counts too, with the weight calibration gave it)."""
        a, b, c = (list(self.config.get("calibration", (1.0, 0.0))) + [0.0])[:3]
        z = a * self.logits(question, texts).astype(np.float64) + b
        if c and first is not None:
            f = np.clip(np.asarray(first, dtype=np.float64), 1e-6, 1 - 1e-6)
            z = z + c * np.log(f / (1 - f))
        return sigmoid(z)

    @property
    def k(self) -> int:
        """Candidates of each policy the reranker reads."""
        return int(self.config.get("k", 12))

    @property
    def bar(self) -> float:
        """The probability a clause needs to be relied on (chosen on validation policies)."""
        return float(self.config.get("bar", 0.5))


def load_reranker(folder: Path | None = None) -> Reranker | None:
    """The shipped reranker (or the one in `folder`, or $POLICYQA_RERANKER), None when there is
    no model file: answers then come from the first stage alone."""
    folder = Path(folder or os.environ.get("POLICYQA_RERANKER") or MODEL_DIR)
    return Reranker(folder) if (folder / "model.onnx").is_file() else None
