"""Killing a process while Chroma writes its vector index, and policies to feed it: shared by the
crash tests (a few kills) and benchmarks/robustness.py (a hundred)."""
from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def index_files(store: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime) of each file in Chroma's segment folders: the HNSW index it rewrites in place."""
    out = {}
    chroma = Path(store) / "chroma"
    try:
        segments = [d for d in chroma.iterdir() if d.is_dir()]
    except FileNotFoundError:
        return out
    for seg in segments:
        try:
            for f in seg.iterdir():
                st = f.stat()
                out[str(f)] = (st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            continue
    return out


def ingest_command(paths: list[Path], store: Path) -> list[str]:
    return [sys.executable, "-m", "policyqa", "ingest", *map(str, paths), "--store", str(store), "--json"]


def kill_at_index_write(cmd: list[str], store: Path, *, nth: int, delay: float, timeout: float = 300) -> bool:
    """Run `cmd` and SIGKILL it `delay` seconds after it has changed the index files for the
    `nth` time. True if it was killed; False if it finished first."""
    before = index_files(store)
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    seen, deadline = 0, time.monotonic() + timeout
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            now = index_files(store)
            if now != before:
                seen, before = seen + 1, now
                if seen >= nth:
                    time.sleep(delay)
                    proc.kill()
                    proc.wait()
                    return True
            time.sleep(0.0005)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return False


def synthetic_policy(n: int, sentences: int, seed: int = 0) -> str:
    """A plain-text policy with `sentences` distinct sentences under numbered sections."""
    rng = random.Random(seed * 1000 + n)
    kinds = ["email addresses", "photos", "device identifiers", "payment records", "support tickets",
             "usage logs", "location data", "voice recordings"]
    verbs = ["keep", "delete", "encrypt", "share with our processors", "review", "archive"]
    out = [f"Example Service {n} Privacy Policy", ""]
    for i in range(sentences):
        if i % 12 == 0:
            out += ["", f"{i // 12 + 1}. Section {i // 12 + 1} On Data", ""]
        out.append(f"We {rng.choice(verbs)} your {rng.choice(kinds)} for {rng.randint(2, 900)} days "
                   f"under rule {n}-{i}.")
    return "\n".join(out) + "\n"
