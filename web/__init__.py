"""The web app: one FastAPI server with the REST API, the widget, the policy viewer, and the
Gradio chat and desk mounted at `/`.

    create_app(settings) -> FastAPI                      # build it (tests run it with uvicorn on a free port)
    serve(host, port, store, verbose=False, workers=1)   # `python app.py` and `policyqa serve`
"""
from __future__ import annotations

import errno
import importlib
import logging
import os
import socket
import threading
import time
from pathlib import Path

from ingest.errors import PolicyQAError
from policyqa.settings import Settings, get_settings

log = logging.getLogger("policyqa.web")


class CannotListen(PolicyQAError):
    """The server's address cannot be listened on (most often: the port is in use)."""


def _import_gradio_in_background() -> threading.Thread:
    """Importing Gradio takes seconds; do it while the store is opened (or ingested) and the
    model loads. Their shared dependencies are imported first, here, so that the two threads
    import disjoint packages."""
    import fastapi  # noqa: F401
    import httpx  # noqa: F401
    import numpy  # noqa: F401
    import pydantic  # noqa: F401

    thread = threading.Thread(target=importlib.import_module, args=("gradio",), name="import-gradio",
                              daemon=True)
    thread.start()
    return thread


def create_app(settings: Settings | None = None, service=None):
    """The whole app. A cold start (empty or stale store) ingests the corpus first."""
    gradio_import = _import_gradio_in_background()
    from fastapi import FastAPI

    from web.service import WebService

    settings = settings or get_settings()
    svc = service or WebService.start(settings)
    svc.warm()
    gradio_import.join()
    import gradio as gr

    from web import api, ui, widget
    app = FastAPI(title="policyqa", version="0.1.0", docs_url=None, redoc_url=None,
                  description="Answers questions about privacy policies from their own text. Every answer "
                              "quotes the sentences it relies on, with numbered citations; `answerable` is false "
                              "when a policy does not address the question. The JSON is the CLI's "
                              "(`policyqa ask --json`).")
    app.state.service = svc
    from starlette.middleware.cors import CORSMiddleware

    from web.guard import Guard

    # our own CORS policy (none by default); Gradio then leaves out its "any local origin" one
    app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins.split(), allow_methods=["GET", "POST"],
                       allow_headers=["authorization", "content-type"])
    app.add_middleware(Guard, max_file_bytes=settings.max_file_bytes, uploads_enabled=svc.uploads_enabled,
                       per_minute=settings.rate_limit, burst=settings.rate_burst, max_pending=settings.max_pending,
                       body_timeout=settings.body_timeout)
    api.install_error_handlers(app)
    api.install_docs(app)
    widget.install_frame_headers(app, settings.frame_ancestors)
    app.include_router(api.router(svc))
    app.include_router(widget.router(svc))
    widget.mount_static(app)
    demo = ui.build_ui(svc)
    app.state.demo = demo
    return gr.mount_gradio_app(app, demo, path="/", theme=ui.theme(), css=ui.css(), head=ui.head(), footer_links=[],
                               run_history=False, ssr_mode=False, max_file_size=settings.max_file_bytes,
                               mcp_server=False)


def listen(host: str, port: int) -> socket.socket:
    """The server's socket, bound and listening before anything loads: a port in use is one clear
    line, at once, and from "serving on" a client's connection waits in the backlog until uvicorn
    accepts it (a socket only bound refuses it: the test of `make run` saw that race)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise CannotListen(f"port {port} on {host} is already in use (another policyqa server?): stop it, "
                               f"or choose another port: --port {port + 1} (make run PORT={port + 1}).") from None
        raise CannotListen(f"cannot listen on {host}:{port}: {exc.strerror or exc}.") from None
    sock.listen(2048)  # uvicorn's backlog
    return sock


def serve(host: str = "127.0.0.1", port: int = 7860, store: Path | None = None,
          settings: Settings | None = None, verbose: bool = False, workers: int = 1) -> None:
    """Start the server. Logs cold-start ingestion progress and when it is ready; with
    `verbose`, also every HTTP request (the chat's queue polls too) and bm25s's index building.
    With `workers` > 1, the store is prepared (a cold start ingested) here, then uvicorn starts
    that many worker processes on the same socket, each building the app from the environment's
    settings."""
    import uvicorn

    _log_to_console(verbose)
    t0 = time.perf_counter()
    sock = listen(host, port)
    settings = settings or get_settings()
    if store is not None:
        settings = settings.model_copy(update={"store": Path(store)})
    logs = {"log_level": "info" if verbose else "warning", "access_log": verbose}
    if workers > 1:
        from uvicorn.supervisors import Multiprocess

        from web.service import prepare_store

        prepare_store(settings)
        os.environ["POLICYQA_STORE"] = str(settings.store)  # what each worker's settings read
        log.info("serving on http://%s:%d with %d workers", host, port, workers)
        sock.set_inheritable(True)
        config = uvicorn.Config("web:app_from_environment", factory=True, host=host, port=port, workers=workers,
                                **logs)
        Multiprocess(config, sockets=[sock]).run()
        return
    app = create_app(settings)
    log.info("app built in %.1f s; serving on http://%s:%d (chat and desk at /, widget at /widget?policy=ID, "
             "API docs at /docs)", time.perf_counter() - t0, host, port)
    uvicorn.Server(uvicorn.Config(app, host=host, port=port, **logs)).run(sockets=[sock])


def _log_to_console(verbose: bool) -> None:
    printed = logging.StreamHandler()  # bm25s sets its own logger to DEBUG: only --verbose shows that
    printed.setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        handlers=[printed])


def app_from_environment():
    """The app of one of `serve`'s workers: the settings come from the environment."""
    _log_to_console(verbose=False)
    return create_app(get_settings())
