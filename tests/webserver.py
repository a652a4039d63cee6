"""Helpers for the API and browser tests: a real store, a real server on a free port.

Fixtures live in the test modules (one server per module); this module holds plain functions."""
from __future__ import annotations

import functools
import http.server
import json
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from ingest.embedding import DEFAULT_MODEL

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
MODEL, BACKEND = DEFAULT_MODEL, "onnx-int8"
ADMIN_TOKEN = "test-admin-token"
HOSTILE_ID = "hostile-policy"

# A policy whose every line is markup meant to run in a careless page: whatever gets cited, the
# quote carries some of it, and it must show as text. Its name (from a manifest) is hostile too.
HOSTILE_POLICY = """Privacy Policy <b onmouseover="window.pwned=1">of Hostile Example</b>

1. Data We Collect <script>window.pwned=1</script>

We collect your email address <script>window.pwned=1</script> when you sign up for an account.

Uploaded photos are stored on our servers <img src=x onerror="window.pwned=1"> for thirty days and then deleted.

2. Sharing <img src=x onerror="window.pwned=1">

We never sell your personal data <svg onload="window.pwned=1"></svg> to advertisers or data brokers.
"""
# its manifest name has blank lines and Markdown too (a remote image, a link): it shows as one line of text
HOSTILE_NAME_IN_MANIFEST = ('Hostile <img src=x onerror="window.pwned=1"> Policy\n\n'
                            '![logo](http://203.0.113.7/logo.png) **bold** [link](http://203.0.113.7/)\n\n')
HOSTILE_NAME = ('Hostile <img src=x onerror="window.pwned=1"> Policy ![logo](http://203.0.113.7/logo.png) '
                '**bold** [link](http://203.0.113.7/)')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_store(folder: Path, with_hostile: bool = True) -> Path:
    """A store at folder/store with the five bundled policies (and the hostile one)."""
    from ingest.pipeline import ingest_paths, open_store

    folder.mkdir(parents=True, exist_ok=True)
    paths = [CORPUS]
    if with_hostile:
        extra = folder / "extra"
        extra.mkdir(exist_ok=True)
        (extra / f"{HOSTILE_ID}.txt").write_text(HOSTILE_POLICY, "utf-8")
        (extra / "manifest.json").write_text(json.dumps({HOSTILE_ID: {"name": HOSTILE_NAME_IN_MANIFEST}}), "utf-8")
        paths.append(extra / f"{HOSTILE_ID}.txt")
    store = open_store(folder / "store", MODEL, BACKEND)
    report = ingest_paths(paths, store)
    assert not report.failed, report.failed
    return folder / "store"


def settings_for(store: Path, **overrides):
    from policyqa.settings import Settings

    return Settings(store=store, model=MODEL, backend=BACKEND, **overrides)


@contextmanager
def running(app, port: int | None = None):
    """Serve a FastAPI app with uvicorn in a background thread; yields its base URL."""
    import uvicorn

    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the test server on port {port} did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@contextmanager
def static_site(folder: Path, port: int | None = None):
    """A plain static web server (a 'third-party' site) on its own port; yields the port."""
    port = port or free_port()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port),
                                            functools.partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=httpd.serve_forever, name=f"site-{port}", daemon=True)
    thread.start()
    try:
        yield port
    finally:
        httpd.shutdown()
        httpd.server_close()


def chat(client, question: str, policy: str = "", fn_index: int = 0, trigger_id: int = 10) -> tuple[int, str]:
    """Ask through the chat's Gradio queue, as its page does: (HTTP status of the join, the
    assistant's last message, or the error Gradio reports). `client` is an httpx.Client on the
    server; the question may hold anything (it is sent as escaped JSON)."""
    import uuid

    session = uuid.uuid4().hex[:12]
    body = {"data": [question, [], policy], "fn_index": fn_index, "trigger_id": trigger_id,
            "session_hash": session, "event_data": None}
    r = client.post("/gradio_api/queue/join", content=json.dumps(body), headers={"content-type": "application/json"})
    if r.status_code != 200:
        return r.status_code, r.text
    with client.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as stream:
        for line in stream.iter_lines():
            if not line.startswith("data:"):
                continue
            msg = json.loads(line[5:])
            if msg.get("msg") == "process_completed":
                out = msg.get("output", {})
                if not msg.get("success", True) or "error" in out:
                    return 500, str(out.get("error"))
                history = (out.get("data") or [None, None])[1]
                if not isinstance(history, list) or not history:  # nothing was asked (an empty question)
                    return 200, ""
                content = history[-1]["content"]
                return 200, content if isinstance(content, str) else content[0]["text"]
    return 0, "the event stream ended without an answer"
