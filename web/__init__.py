"""The web app: one FastAPI server with the REST API, the widget, the policy viewer, and the
Gradio chat and desk mounted at `/`.

    create_app(settings) -> FastAPI   # build it (tests run it with uvicorn on a free port)
    serve(host, port, store, workers) # `python app.py` and `policyqa serve`
"""
from __future__ import annotations

import importlib
import logging
import os
import threading
import time
from pathlib import Path

from policyqa.settings import Settings, get_settings

log = logging.getLogger("policyqa.web")


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
    app = FastAPI(title="policyqa", version="0.1.0", docs_url="/docs", redoc_url=None,
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
    widget.install_frame_headers(app, settings.frame_ancestors)
    app.include_router(api.router(svc))
    app.include_router(widget.router(svc))
    widget.mount_static(app)
    demo = ui.build_ui(svc)
    app.state.demo = demo
    return gr.mount_gradio_app(app, demo, path="/", theme=ui.theme(), css=ui.css(), head=ui.head(), footer_links=[],
                               run_history=False, ssr_mode=False, max_file_size=settings.max_file_bytes,
                               mcp_server=False)


def serve(host: str = "127.0.0.1", port: int = 7860, store: Path | None = None,
          settings: Settings | None = None, workers: int = 1) -> None:
    """Start the one server. Logs cold-start ingestion progress and when it is ready. With
    `workers` > 1, the store is prepared (a cold start ingested) here, then uvicorn starts that
    many worker processes, each building the app from the environment's settings."""
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    t0 = time.perf_counter()
    settings = settings or get_settings()
    if store is not None:
        settings = settings.model_copy(update={"store": Path(store)})
    if workers > 1:
        from web.service import prepare_store

        prepare_store(settings)
        os.environ["POLICYQA_STORE"] = str(settings.store)  # what each worker's settings read
        log.info("serving on http://%s:%d with %d workers", host, port, workers)
        uvicorn.run("web:app_from_environment", factory=True, host=host, port=port, workers=workers,
                    log_level="info")
        return
    app = create_app(settings)
    log.info("app built in %.1f s; serving on http://%s:%d (chat and desk at /, widget at /widget?policy=ID, "
             "API docs at /docs)", time.perf_counter() - t0, host, port)
    uvicorn.run(app, host=host, port=port, log_level="info")


def app_from_environment():
    """The app of one of `serve`'s workers: the settings come from the environment."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return create_app(get_settings())
