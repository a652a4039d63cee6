"""The REST API. Its answers are `Answer.to_dict()`, the same JSON as `policyqa ask --json`.

Errors are JSON `{"error": "<one clear sentence>", "detail": ...}`, mapped here once from the
one error hierarchy (`ingest.errors.PolicyQAError`, whose `status` is the code): bad input 422,
an unknown policy 404, a question over the length limit 413, a wrong admin token 401, uploads
off 403, too many requests 429, the store busy 503; anything unexpected 500, in the same shape."""
from __future__ import annotations

import logging
from pathlib import Path

from fastapi import APIRouter, FastAPI, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from ingest.normalize import valid_text
from qa.errors import PolicyQAError
from web.service import UploadError, WebService, bearer_token

log = logging.getLogger("policyqa.web")
MAX_BODY_BYTES = 256 * 1024  # a JSON question body; uploads have their own limit


class AskBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(description="The question, in plain words.",
                          examples=["Is my data sent to China?"])
    policy: str | None = Field(default=None, description="A policy id to answer from; null or omitted: every policy.",
                               examples=["product-image-gen"])

    @field_validator("question", "policy")
    @classmethod
    def _valid(cls, v):
        return valid_text(v) if isinstance(v, str) else v


class WidgetAskBody(BaseModel):
    """The widget's question. The policy is the URL's, never the body's: a body naming one is refused."""
    model_config = ConfigDict(extra="forbid")
    question: str = Field(description="The question, in plain words.")

    @field_validator("question")
    @classmethod
    def _valid(cls, v):
        return valid_text(v)


def error(status: int, message: str, detail=None, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "detail": detail if detail is not None else message},
                        status_code=status, headers=headers)


def _loc(err: dict) -> str:
    return ".".join(str(x) for x in err.get("loc", ()) if x != "body") or "body"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        errs = exc.errors()
        parts = []
        for err in errs:
            if err.get("type") == "extra_forbidden" and _loc(err) == "policy" and "/api/widget/" in request.url.path:
                parts.append("policy: this widget's policy is fixed by its URL; leave it out of the body")
            elif err.get("type") == "extra_forbidden":
                parts.append(f"{_loc(err)}: unknown field (send only 'question' and 'policy')")
            elif err.get("type") == "json_invalid":
                parts.append(f"the body is not valid JSON ({err.get('ctx', {}).get('error', 'parse error')})")
            else:
                parts.append(f"{_loc(err)}: {err.get('msg', 'invalid')}")
        return error(422, "Invalid request: " + "; ".join(parts) + ".",
                     [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in errs])

    @app.exception_handler(PolicyQAError)
    async def _ours(request: Request, exc: PolicyQAError):
        retry = getattr(exc, "retry_after", None)
        return error(exc.status, str(exc),
                     headers={"retry-after": str(retry)} if retry is not None else None)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        return error(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))


def install_docs(app: FastAPI) -> None:
    """The OpenAPI UI at /docs with its assets served by us (the `swagger-ui-bundle-v2` package),
    not a CDN: it renders on a machine with no internet."""
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs/static", StaticFiles(directory=swagger_ui_path), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        page = get_swagger_ui_html(openapi_url=app.openapi_url, title=f"{app.title} · REST API",
                                   swagger_js_url="/docs/static/swagger-ui-bundle.js",
                                   swagger_css_url="/docs/static/swagger-ui.css",
                                   swagger_favicon_url="/docs/static/favicon-32x32.png",
                                   swagger_ui_parameters={"validatorUrl": None})  # no badge from elsewhere
        # our contrast fixes over Swagger UI's own colours (web/static/docs.css)
        return HTMLResponse(page.body.decode().replace(
            "</head>", '<link rel="stylesheet" href="/widget/static/docs.css"></head>', 1))


def policy_summary(rec) -> dict:
    d = rec.to_dict()
    if d.get("source", "").startswith("/"):
        d["source"] = Path(d["source"]).name  # do not publish the server's paths
    return d


def sections_of(rec, text: str) -> list[dict]:
    out = []
    starts = [s for _, s in rec.sections]
    for i, (title, start) in enumerate(rec.sections):
        end = starts[i + 1] if i + 1 < len(starts) else len(text)
        out.append({"title": title, "start": start, "end": end})
    return out


def router(svc: WebService) -> APIRouter:
    r = APIRouter()

    @r.post("/api/ask", tags=["answers"], summary="Answer a question from one policy or all of them")
    async def ask(body: AskBody) -> dict:
        """The answer with numbered citations, each a verbatim quote with its policy, section and
        character offsets. `answerable` is false when nothing answers it; `status` says why:
        `not_addressed` (the policy is silent) or `language_not_supported` (the question's
        language has no glossary, so silence is not claimed). `blocks` is what to show, in order:
        a `verdict` line for a yes/no question (`reply`: yes, no or not_said), each policy's
        `quotes` by citation number (a list's `items` under its lead-in), `note`s, `related`
        clauses; `answer` is the same as plain text."""
        ans = await run_in_threadpool(svc.answer, body.question, body.policy or None)
        return ans.to_dict()

    @r.post("/api/widget/{policy}/ask", tags=["answers"],
            summary="The widget's question: answered from the URL's policy only")
    async def widget_ask(policy: str, body: WidgetAskBody) -> dict:
        """Used by `/widget?policy=ID`. The scope is the path's policy; the body cannot change it."""
        ans = await run_in_threadpool(svc.scoped_answer, body.question, valid_text(policy))
        return ans.to_dict()

    @r.get("/api/policies", tags=["policies"], summary="The policies the assistant answers from")
    def policies() -> list[dict]:
        return [policy_summary(rec) for rec in svc.policies().values()]

    @r.get("/api/policies/{policy}", tags=["policies"], summary="One policy's full text with its sections")
    def policy(policy: str) -> dict:
        rec, text = svc.store.policy(policy), svc.store.text(policy)
        return {**policy_summary(rec), "text": text, "sections": sections_of(rec, text)}

    @r.post("/api/policies", tags=["policies"], status_code=201,
            summary="Add or replace a policy (admin token required)",
            openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["file"], "properties": {"file": {
                    "type": "string", "format": "binary",
                    "description": "A .txt, .md, .html or .pdf policy; its name is its id."}}}}}}})
    async def upload(request: Request,
                     authorization: str | None = Header(default=None, description="Bearer <admin token>")) -> dict:
        """The ingest report. The token (`Authorization: Bearer <token>`) is checked before the
        body is read; the file is bounded by POLICYQA_MAX_FILE_BYTES."""
        token = bearer_token(authorization)
        svc.check_token(token)
        form = await request.form(max_files=1, max_fields=4)
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise UploadError("Send the policy file as the multipart form field 'file'.", 422)
        data = await file.read()
        report = await run_in_threadpool(svc.add_policy, file.filename or "", data, token)
        return report.to_dict()

    @r.api_route("/api/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    def no_such_endpoint(request: Request, rest: str):
        """Everything else under /api/ (which Gradio, mounted at /, would answer in its own shape)."""
        path = request.url.path
        allowed = sorted({m for route in r.routes if getattr(route, "path", "") != "/api/{rest:path}"
                          and getattr(route, "path_regex", None) and route.path_regex.match(path)
                          for m in (getattr(route, "methods", None) or ())})
        if allowed:
            raise StarletteHTTPException(405, f"{request.method} is not allowed on {path}; use {', '.join(allowed)}.",
                                         headers={"allow": ", ".join(allowed)})
        raise StarletteHTTPException(404, f"No such API endpoint: {path}. The endpoints are listed at /docs.")

    @r.get("/healthz", tags=["service"], summary="Liveness and what the store holds")
    def healthz() -> dict:
        recs = svc.policies()
        return {"status": "ok", "policies": len(recs), "units": sum(r.units for r in recs.values()),
                "uploads": svc.uploads_enabled}

    return r
