"""The site owners' widget and the policy viewer: plain pages served by FastAPI.

- `/widget?policy=ID&theme=light|dark|auto&title=&greeting=&accent=&lang=`: a compact chat for
  one policy, meant for an iframe, with questions to suggest that its policy answers (qa/suggest.py).
  Its script (our own, no CDN) asks `POST /api/widget/{ID}/ask`, where the server fixes the scope.
- `/widget.js`: the one-line embed; it adds a floating help button that opens the widget (with
  `close=1`: a close button, and Escape, ask the embedding page to close the panel).
- `/policy/{ID}?start=&end=#hl`: the full policy, the cited range highlighted.

Framing: the widget may be framed by the origins in the `frame_ancestors` setting (CSP
frame-ancestors; "*" = anyone); every other page only by our own origin."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders

from qa.errors import UnknownPolicy
from web.render import e, policy_page
from web.service import WebService, unknown_widget_policy

STATIC = Path(__file__).parent / "static"
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


# The widget's own words in the languages policyqa reads questions in (`lang`): {lang: {key: text}}.
# An answer's own words follow the visitor's question (qa.compose); its quotes are the policy's.
TEXT = json.loads((STATIC / "widget-text.json").read_text("utf-8"))
ACCENT = re.compile(r"^#(?:[0-9a-fA-F]{3}){1,2}$")
MAX_CUSTOM_CHARS = 200  # a site owner's title or greeting


def text_on(accent: str) -> str:
    """White or near-black, whichever reads better on the accent colour (WCAG contrast)."""
    hexes = accent[1:] if len(accent) == 7 else "".join(c * 2 for c in accent[1:])

    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(int(hexes[i:i + 2], 16) / 255) for i in (0, 2, 4))
    lum = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "#ffffff" if 1.05 / (lum + 0.05) >= (lum + 0.05) / 0.0556 else "#111111"  # #111: luminance 0.0056


@dataclass(frozen=True)
class WidgetOptions:
    """What a site owner may set (query parameters of /widget, data-* attributes of widget.js)."""

    theme: str = "auto"
    title: str = ""
    greeting: str = ""
    accent: str = ""
    lang: str = "en"
    closable: bool = False  # opened by widget.js: a close button that asks the page to close it

    @classmethod
    def of(cls, theme: str, title: str, greeting: str, accent: str, lang: str, close: bool) -> "WidgetOptions":
        """The options, each invalid one replaced by its default."""
        lang = (lang or "").lower().split("-")[0]
        return cls(theme if theme in THEMES else "auto", " ".join(title.split())[:MAX_CUSTOM_CHARS],
                   " ".join(greeting.split())[:MAX_CUSTOM_CHARS], accent if ACCENT.match(accent) else "",
                   lang if lang in TEXT else "en", close)


def widget_page(rec, opts: WidgetOptions, suggestions: list[str]) -> str:
    t = TEXT[opts.lang]
    chips = "".join(f'<button type="button" class="chip">{e(q)}</button>' for q in suggestions)
    date = e(t["updated"].format(date=rec.meta.last_updated)) if rec.meta.last_updated else ""
    link = f'<a href="/policy/{e(rec.meta.policy)}" target="_blank" rel="noopener">{e(rec.meta.name)}</a>'
    sub = e(t["sub"]).replace("{policy}", link) + (f" · {date}" if date else "")
    title = e(opts.title or t["title"])
    accent = f' data-accent="{e(opts.accent)}" data-accent-text="{text_on(opts.accent)}"' if opts.accent else ""
    close = (f'<button type="button" id="close" class="w-close" aria-label="{e(t["close"])}" title="{e(t["close"])}">'
             '×</button>') if opts.closable else ""
    strings = json.dumps({k: t[k] for k in ("thinking", "unaddressed", "unread", "offline", "failed", "more",
                                             "cite_updated", "page", "section", "open")}).replace("<", "\\u003c")
    return f"""<!doctype html>
<html lang="{opts.lang}" data-theme="{e(opts.theme)}"{accent}><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · {e(rec.meta.name)}</title>
<link rel="stylesheet" href="/widget/static/widget.css"></head>
<body data-policy="{e(rec.meta.policy)}">
<header class="w-head"><div class="w-top"><div class="w-title">{title}</div>{close}</div>
<div class="w-sub">{sub}</div></header>
<main id="log" class="w-log" aria-live="polite">
<div class="w-hello"><p>{e(opts.greeting or t["greeting"])}</p>
<div class="chips">{chips}</div></div></main>
<form id="ask" class="w-ask" autocomplete="off">
<input id="q" name="q" type="text" maxlength="2000" placeholder="{e(t["placeholder"])}" aria-label="{e(t["question"])}" required>
<button id="send" type="submit">{e(t["ask"])}</button></form>
<script type="application/json" id="strings">{strings}</script>
<script src="/widget/static/widget-app.js"></script></body></html>"""


def router(svc: WebService) -> APIRouter:
    r = APIRouter()

    @r.get("/widget", response_class=HTMLResponse, tags=["widget"], summary="The embeddable chat for one policy")
    def widget(policy: str = Query(description="The policy id this widget answers from."),
               theme: str = Query("auto", description="light, dark or auto (follows the visitor's system)"),
               title: str = Query("", description="The panel's title (default: \"Privacy questions\")."),
               greeting: str = Query("", description="The first message a visitor sees."),
               accent: str = Query("", description="The buttons' colour, #rgb or #rrggbb."),
               lang: str = Query("en", description="The widget's own words: en, es, fr, de, zh or ja."),
               close: bool = Query(False, description="Show a close button (set by /widget.js).")):
        try:
            rec = svc.store.policy(policy)
        except UnknownPolicy:
            return not_found_page(unknown_widget_policy(policy))
        opts = WidgetOptions.of(theme, title, greeting, accent, lang, close)
        suggestions = svc.suggestions(policy, opts.lang)
        return HTMLResponse(widget_page(rec, opts, suggestions), headers={"content-security-policy": OWN_PAGE_CSP})

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

