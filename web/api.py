"""The REST API. Its answers are `Answer.to_dict()`, the same JSON as `policyqa ask --json`.

Errors are JSON `{"error": "<one clear sentence>", "detail": ...}`: bad input 422, an unknown
policy 404, a question over the length limit 413, a wrong admin token 401, uploads off 403."""
from __future__ import annotations

import logging
from pathlib import Path

from fastapi import APIRouter, FastAPI, File, Form, Header, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from qa.errors import QuestionError, StoreMismatch, UnknownPolicy
from web.service import UploadError, WebService

log = logging.getLogger("policyqa.web")
MAX_BODY_BYTES = 256 * 1024  # a JSON question body; uploads have their own limit


class AskBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(description="The question, in plain words.",
                          examples=["Is my data sent to China?"])
    policy: str | None = Field(default=None, description="A policy id to answer from; null or omitted: every policy.",
                               examples=["product-image-gen"])


class WidgetAskBody(BaseModel):
    """The widget's question. The policy is the URL's, never the body's: a body naming one is refused."""
    model_config = ConfigDict(extra="forbid")
    question: str = Field(description="The question, in plain words.")


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def error(status: int, message: str, detail=None) -> JSONResponse:
    return JSONResponse({"error": message, "detail": detail if detail is not None else message},
                        status_code=status)


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

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return error(exc.status, exc.message)

    @app.middleware("http")
    async def _body_limit(request: Request, call_next):
        if request.url.path.startswith("/api/") and request.method == "POST" \
                and not request.url.path.startswith("/api/policies"):
            size = request.headers.get("content-length")
            if size and size.isdigit() and int(size) > MAX_BODY_BYTES:
                return error(413, f"The request body is {int(size):,} bytes; the limit is {MAX_BODY_BYTES:,}.")
        return await call_next(request)


def answer_or_error(fn, *args):
    """Run one answer; map the service's errors to HTTP codes."""
    try:
        return fn(*args)
    except QuestionError as exc:
        raise ApiError(413 if exc.too_long else 422, str(exc)) from None
    except UnknownPolicy as exc:
        raise ApiError(404, str(exc).strip("'\"")) from None
    except StoreMismatch as exc:
        raise ApiError(503, str(exc)) from None


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
        ans = await run_in_threadpool(answer_or_error, svc.answer, body.question, body.policy or None)
        return ans.to_dict()

    @r.post("/api/widget/{policy}/ask", tags=["answers"],
            summary="The widget's question: answered from the URL's policy only")
    async def widget_ask(policy: str, body: WidgetAskBody) -> dict:
        """Used by `/widget?policy=ID`. The scope is the path's policy; the body cannot change it."""
        ans = await run_in_threadpool(answer_or_error, svc.scoped_answer, body.question, policy)
        return ans.to_dict()

    @r.get("/api/policies", tags=["policies"], summary="The policies the assistant answers from")
    def policies() -> list[dict]:
        return [policy_summary(rec) for rec in svc.policies().values()]

    @r.get("/api/policies/{policy}", tags=["policies"], summary="One policy's full text with its sections")
    def policy(policy: str) -> dict:
        def get():
            rec = svc.store.policy(policy)
            return rec, svc.store.text(policy)
        rec, text = answer_or_error(get)
        return {**policy_summary(rec), "text": text, "sections": sections_of(rec, text)}

    @r.post("/api/policies", tags=["policies"], status_code=201,
            summary="Add or replace a policy (admin token required)")
    async def upload(file: UploadFile = File(description="A .txt, .md, .html or .pdf policy; its name is its id."),
                     authorization: str | None = Header(default=None, description="Bearer <admin token>"),
                     token: str | None = Form(default=None, description="The admin token, if not in the header")) -> dict:
        bearer = authorization.removeprefix("Bearer ").strip() if authorization else None
        data = await file.read()
        try:
            report = await run_in_threadpool(svc.add_policy, file.filename or "", data, bearer or token)
        except UploadError as exc:
            raise ApiError(exc.status, str(exc)) from None
        return report.to_dict()

    @r.get("/healthz", tags=["service"], summary="Liveness and what the store holds")
    def healthz() -> dict:
        recs = svc.policies()
        return {"status": "ok", "policies": len(recs), "units": sum(r.units for r in recs.values()),
                "uploads": svc.uploads_enabled}

    return r
