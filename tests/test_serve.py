"""Starting the server as a person does (`python app.py`, `policyqa serve`): what it prints."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from webserver import ROOT, build_store, chat, free_port



def start(args: list[str], store) -> subprocess.Popen:
    env = {**os.environ, "POLICYQA_STORE": str(store), "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_a_port_in_use_is_one_clear_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for args in ([sys.executable, "app.py", "--port", str(port)], [sys.executable, "-m", "policyqa", "serve", "--port", str(port)]):
            proc = start(args, tmp_path / "store")
            out, _ = proc.communicate(timeout=120)
            assert proc.returncode == 1, out
            assert out.strip().splitlines() == [
                f"Error: port {port} on 127.0.0.1 is already in use (another policyqa server?): stop it, "
                f"or choose another port: --port {port + 1} (make run PORT={port + 1})."], out
            assert not (tmp_path / "store").exists(), "nothing was loaded or ingested first"


def serve_and_ask(store, *flags: str) -> str:
    """Start `python app.py` on a free port, ask the chat one question, stop it: its output."""
    port = free_port()
    proc = start([sys.executable, "app.py", "--port", str(port), "--store", str(store), *flags], store)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read() if proc.poll() else "slow"
            time.sleep(0.5)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            assert chat(client, "Is my data sent to China?")[0] == 200
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=60)
    assert f"serving on http://127.0.0.1:{port}" in out
    return out


@pytest.fixture(scope="module")
def served_store(tmp_path_factory):
    return build_store(tmp_path_factory.mktemp("serve"), with_hostile=False)


def test_the_log_is_quiet_by_default_and_verbose_on_request(served_store):
    quiet = serve_and_ask(served_store)
    assert "GET /healthz" not in quiet and "/gradio_api/queue" not in quiet, quiet
    assert "bm25s" not in quiet, quiet

    loud = serve_and_ask(served_store, "--verbose")
    assert '"GET /healthz HTTP/1.1" 200' in loud and "/gradio_api/queue/data" in loud, loud
    assert "DEBUG bm25s" in loud, loud


def test_make_run_shows_its_steps_and_serves_on_the_chosen_port(served_store):
    """`make run PORT=... HOST=...` on this checkout's .venv (a fresh machine also creates it and
    installs torch first, with the same visible steps)."""
    if not (ROOT / ".venv" / "bin" / "python").exists():
        pytest.skip("make run sets up .venv from scratch here: too long for a test")
    port = free_port()
    env = {**os.environ, "POLICYQA_STORE": str(served_store), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(["make", "run", f"PORT={port}", "HOST=127.0.0.1"], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    lines = []
    try:
        for line in proc.stdout:  # up to the server's "serving on" line
            lines.append(line)
            if "serving on" in line or len(lines) > 2000:
                break
        assert lines and "serving on" in lines[-1], (  # else make stopped first: say where
            f"make run ended ({proc.poll()}) before serving:\n" + "".join(lines[-60:]))
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").json()["status"] == "ok"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
    out = "".join(lines)
    assert "==> installing policyqa and what the app needs" in out
    assert "Requirement already satisfied" in out or "Successfully installed" in out, "pip says what it does"
    assert f"==> starting the app on http://127.0.0.1:{port}" in out
    assert f"serving on http://127.0.0.1:{port}" in out
