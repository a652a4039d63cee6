"""A real Chroma server (`chroma run`, shipped with the chromadb package) on a free local port,
for the tests that run against POLICYQA_CHROMA_URL."""
from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from webserver import free_port

CHROMA = Path(sys.executable).parent / "chroma"


@contextmanager
def chroma_server(data: Path, timeout: float = 60.0):
    """Start `chroma run --path data` on a free port; yield its URL; stop it."""
    port = free_port()
    log = open(data.parent / f"chroma-{port}.log", "wb")
    proc = subprocess.Popen([str(CHROMA), "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2) as r:
                    json.load(r)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"chroma run did not start: {(data.parent / f'chroma-{port}.log').read_text()[-2000:]}")
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
