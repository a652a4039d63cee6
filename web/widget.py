"""The site owners' widget and the policy viewer: plain pages served by FastAPI.

- `/widget?policy=ID&theme=light|dark|auto`: a compact chat for one policy, meant for an iframe.
  Its script (our own, no CDN) asks `POST /api/widget/{ID}/ask`, where the server fixes the scope.
- `/widget.js`: the one-line embed; it adds a floating help button that opens the widget.
- `/policy/{ID}?start=&end=#hl`: the full policy, the cited range highlighted.

Framing: the widget may be framed by the origins in the `frame_ancestors` setting (CSP
frame-ancestors; "*" = anyone); every other page only by our own origin."""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders

from qa.errors import UnknownPolicy
from web.render import e, policy_page
from web.service import WebService

STATIC = Path(__file__).parent / "static"
EXAMPLES = ["Is my data sent to China?", "Will my photos be used to train AI?",
            "How long do you keep my images?"]
THEMES = ("auto", "light", "dark")

# Pages we write ourselves run no inline script and load nothing from elsewhere.
OWN_PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                "img-src 'self' data:; base-uri 'none'; form-action 'none'")
# Gradio's pages (the chat and the desk) need inline script and style, and eval for the `js=`
# handlers; they still load nothing from elsewhere (no remote image, however a name is written).
APP_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
           "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
           "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'")


def frame_ancestors(setting: str) -> str | None:
    """The CSP frame-ancestors source list for the widget, or None for "anyone" ("*").
    With "*" the directive is left out: `frame-ancestors *` would still refuse file: pages."""
    sources = setting.split()
    if not sources or "*" in sources:
        return None
    return " ".join(sources)


def install_frame_headers(app: FastAPI, setting: str) -> None:
    app.add_middleware(_FrameHeaders, widget_ancestors=frame_ancestors(setting))


class _FrameHeaders:
    """Who may frame what, and the CSP of pages that set none: headers added to every response
    (a plain ASGI middleware: it costs every request, refused ones included, next to nothing)."""

    def __init__(self, app, widget_ancestors: str | None):
        self.app, self.widget_ancestors = app, widget_ancestors

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        widget = scope["path"] == "/widget" or scope["path"].startswith("/widget/")

        async def with_headers(msg):
            if msg["type"] == "http.response.start":
                headers = MutableHeaders(scope=msg)
                csp = headers.get("content-security-policy")
                if widget:
                    if self.widget_ancestors:
                        directive = f"frame-ancestors {self.widget_ancestors}"
                        headers["content-security-policy"] = f"{csp}; {directive}" if csp else directive
                else:
                    headers.setdefault("x-frame-options", "SAMEORIGIN")
                    headers["content-security-policy"] = f"{csp or APP_CSP}; frame-ancestors 'self'"
                headers.setdefault("x-content-type-options", "nosniff")
                headers.setdefault("referrer-policy", "strict-origin-when-cross-origin")
            await send(msg)

        await self.app(scope, receive, with_headers)


def not_found_page(message: str) -> HTMLResponse:
    return HTMLResponse(f"""<!doctype html><html><head><meta charset="utf-8"><title>Not found</title>
<link rel="stylesheet" href="/widget/static/policy.css"></head>
<body><main class="notfound"><h1>Not found</h1><p>{e(message)}</p></main></body></html>""",
                        status_code=404, headers={"content-security-policy": OWN_PAGE_CSP})


def widget_page(rec, theme: str) -> str:
    examples = "".join(f'<button type="button" class="chip">{e(q)}</button>' for q in EXAMPLES)
    date = f"Last updated {e(rec.meta.last_updated)}" if rec.meta.last_updated else "Privacy policy"
    return f"""<!doctype html>
<html lang="en" data-theme="{e(theme)}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Privacy questions · {e(rec.meta.name)}</title>
<link rel="stylesheet" href="/widget/static/widget.css"></head>
<body data-policy="{e(rec.meta.policy)}">
<header class="w-head"><div class="w-title">Privacy questions</div>
<div class="w-sub">Answers quote the <a href="/policy/{e(rec.meta.policy)}" target="_blank" rel="noopener">{e(rec.meta.name)}</a> privacy policy · {date}</div></header>
<main id="log" class="w-log" aria-live="polite">
<div class="w-hello"><p>Ask anything about how your data is handled. Every answer quotes the policy.</p>
<div class="chips">{examples}</div></div></main>
<form id="ask" class="w-ask" autocomplete="off">
<input id="q" name="q" type="text" maxlength="2000" placeholder="Ask about your data…" aria-label="Your question" required>
<button id="send" type="submit" aria-label="Send">Ask</button></form>
<script src="/widget/static/widget-app.js"></script></body></html>"""


def router(svc: WebService) -> APIRouter:
    r = APIRouter()

    @r.get("/widget", response_class=HTMLResponse, tags=["widget"], summary="The embeddable chat for one policy")
    def widget(policy: str = Query(description="The policy id this widget answers from."),
               theme: str = Query("auto", description="light, dark or auto (follows the visitor's system)")):
        try:
            rec = svc.store.policy(policy)
        except UnknownPolicy as exc:
            return not_found_page(str(exc))
        return HTMLResponse(widget_page(rec, theme if theme in THEMES else "auto"),
                            headers={"content-security-policy": OWN_PAGE_CSP})

    @r.get("/widget.js", tags=["widget"], summary="The one-line embed script")
    def widget_js():
        return FileResponse(STATIC / "widget.js", media_type="text/javascript",
                            headers={"cache-control": "public, max-age=300",
                                     "cross-origin-resource-policy": "cross-origin"})

    @r.get("/policy/{policy}", response_class=HTMLResponse, tags=["policies"],
           summary="The full policy, a cited range highlighted")
    def policy(policy: str, start: int | None = Query(None, ge=0), end: int | None = Query(None, ge=0)):
        try:
            rec = svc.store.policy(policy)
            text = svc.store.text(policy)
        except UnknownPolicy as exc:
            return not_found_page(str(exc))
        return HTMLResponse(policy_page(rec, text, start, end),
                            headers={"content-security-policy": OWN_PAGE_CSP})

    return r


def mount_static(app: FastAPI) -> None:
    app.mount("/widget/static", StaticFiles(directory=STATIC), name="widget-static")

