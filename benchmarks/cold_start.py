"""Cold and warm start of the web app, measured as a user meets them: over HTTP.

    python benchmarks/cold_start.py [--runs N]

Each run starts `python app.py --port P --store DIR` as a fresh process and times
  up     : process start -> GET /healthz answers 200
  answer : process start -> the first POST /api/ask ("Is my data sent to China?") returns 200
for
  cold            : an empty store (ingests corpus/ first; the ONNX model export is cached)
  cold, no cache  : an empty store and an empty model cache (first run on a new machine:
                    also exports and quantises the ONNX model)
  warm            : the store the cold run left (no ingestion)
and, as the baseline in the same run, the CLI doing the same work without the web app:
`policyqa ingest corpus` then `policyqa ask` into an empty store.
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "Is my data sent to China?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(store: Path, env: dict, log: Path) -> dict:
    port = free_port()
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--store", str(store)],
                                cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        up = None
        with httpx.Client(base_url=base, timeout=60) as c:
            while up is None:
                if proc.poll() is not None:
                    raise RuntimeError(f"app.py exited with {proc.returncode}; see {log}:\n{log.read_text()[-2000:]}")
                try:
                    if c.get("/healthz").status_code == 200:
                        up = time.perf_counter() - t0
                except httpx.TransportError:
                    time.sleep(0.05)
            r = c.post("/api/ask", json={"question": QUESTION})
            r.raise_for_status()
            answer = time.perf_counter() - t0
            assert r.json()["citations"], "the first answer has citations"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    text = log.read_text()
    return {"up": up, "answer": answer, "ingested": "cold start: ingesting" in text,
            "warm": "warm start, nothing to ingest" in text}


def cli_baseline(store: Path, env: dict) -> dict:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "policyqa", "ingest", "corpus", "--store", str(store), "--json"],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    t1 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "policyqa", "ask", QUESTION, "--store", str(store), "--json"],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    return {"up": t1 - t0, "answer": time.perf_counter() - t0, "ingested": True, "warm": False}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="runs of each kind (median shown)")
    args = ap.parse_args()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("POLICYQA_STORE", None)
    results: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="pq-coldstart-") as tmp:
        tmp = Path(tmp)
        for i in range(args.runs):
            store = tmp / f"store-{i}"
            results.setdefault("cold (empty store)", []).append(start_app(store, env, tmp / f"cold-{i}.log"))
            results.setdefault("warm (store ready)", []).append(start_app(store, env, tmp / f"warm-{i}.log"))
            nocache = {**env, "XDG_CACHE_HOME": str(tmp / f"cache-{i}")}
            results.setdefault("cold, no model cache", []).append(
                start_app(tmp / f"store-nc-{i}", nocache, tmp / f"nocache-{i}.log"))
            results.setdefault("baseline: CLI ingest + ask", []).append(cli_baseline(tmp / f"cli-{i}", env))
            shutil.rmtree(tmp / f"cache-{i}", ignore_errors=True)
    print(f"{'start':<28} {'server up (s)':>14} {'first answer (s)':>17}  runs  ingested")
    for name, runs in results.items():
        up = statistics.median(r["up"] for r in runs)
        ans = statistics.median(r["answer"] for r in runs)
        spread = f"{min(r['answer'] for r in runs):.1f}-{max(r['answer'] for r in runs):.1f}"
        ingested = "yes" if all(r["ingested"] for r in runs) else "no" if not any(r["ingested"] for r in runs) else "mixed"
        print(f"{name:<28} {up:>14.1f} {ans:>10.1f} ({spread}) {len(runs):>4}  {ingested}")
    print(f"\nmachine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end; "
          f"question: {QUESTION!r}")


if __name__ == "__main__":
    main()
