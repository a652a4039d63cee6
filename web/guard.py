"""What every request passes before the app: one ASGI middleware around the whole server.

- Body size: a body over its route's limit is refused with 413, by its Content-Length before
  anything is read, or once the bytes actually read pass the limit (a chunked body has no
  length). JSON bodies: 256 KB; a chat or desk job (it carries the conversation so far): 4 MB;
  uploads: the file cap plus the form's overhead.
- Body time: a body that stops arriving for `body_timeout` seconds gets 408 (a half-open or
  very slow client does not hold a worker).
- Rate: each client address has a token bucket over the endpoints that compute answers (the
  REST and widget questions, the chat and desk's queue); over it, 429 with Retry-After. An
  address's refusals go out one at a time, REFUSAL_PAUSE apart, so a flood from any number of
  connections costs the server a few cheap refusals a second and its flooder the waiting.
- Work in flight: over `max_pending` REST answers at once, 429 with Retry-After; the Gradio
  queue's own bound (its "queue is full" 503) is sent as 429 with Retry-After too.
- Uploads through Gradio's file route are refused while uploads are off.
- Errors: anything the app raises before its response starts becomes a JSON 500 in the API's
  error shape, and the connection stays usable for the next request.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import time

log = logging.getLogger("policyqa.web")

JSON_BODY_BYTES = 256 * 1024
QUEUE_BODY_BYTES = 4 * 1024 * 1024  # a chat job carries the conversation so far, answers' HTML included
FORM_OVERHEAD = 64 * 1024
REFUSAL_PAUSE = 0.2  # seconds before a 429 goes out
ANSWERS = re.compile(r"^/api/ask/?$|^/api/widget/[^/]+/ask/?$")
QUEUE_JOIN = re.compile(r"^/gradio_api/queue/join/?$")
GRADIO_UPLOAD = re.compile(r"^/gradio_api/upload/?$")


class _TooLarge(Exception):
    pass


class _TooSlow(Exception):
    pass


class RateLimiter:
    """A token bucket per client: `per_minute` requests a minute on average, `burst` at once.
    Used from the event loop only (no lock)."""

    def __init__(self, per_minute: float, burst: int, max_clients: int = 100_000):
        self.rate, self.burst, self.max_clients = per_minute / 60.0, max(1, burst), max_clients
        self._buckets: dict[str, tuple[float, float]] = {}

    def wait(self, client: str) -> float:
        """Take one request for `client`: 0 if allowed, else the seconds until one would be."""
        now = time.monotonic()
        tokens, last = self._buckets.get(client, (float(self.burst), now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if len(self._buckets) >= self.max_clients and client not in self._buckets:
            self._forget_idle(now)
        if tokens >= 1:
            self._buckets[client] = (tokens - 1, now)
            return 0.0
        self._buckets[client] = (tokens, now)
        return (1 - tokens) / self.rate

    def _forget_idle(self, now: float) -> None:
        """Drop the buckets that have refilled (their clients have been quiet)."""
        full = self.burst / self.rate
        self._buckets = {c: (t, last) for c, (t, last) in self._buckets.items() if now - last < full}


def _json(status: int, message: str, headers: dict | None = None):
    body = json.dumps({"error": message, "detail": message}).encode()
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    head += [(k.encode(), str(v).encode()) for k, v in (headers or {}).items()]
    return ({"type": "http.response.start", "status": status, "headers": head},
            {"type": "http.response.body", "body": body})


class Guard:
    def __init__(self, app, *, max_file_bytes: int, uploads_enabled: bool, per_minute: float,
                 burst: int, max_pending: int, body_timeout: float):
        self.app = app
        self.max_file_bytes, self.uploads_enabled = max_file_bytes, uploads_enabled
        self.limiter = RateLimiter(per_minute, burst) if per_minute > 0 else None
        self.per_minute, self.burst = per_minute, burst
        self.max_pending, self.pending = max_pending, 0
        self.body_timeout = body_timeout
        self._gates: dict[str, asyncio.Lock] = {}

    def _gate(self, scope) -> asyncio.Lock:
        """The lock that paces one address's refusals: a flood from many connections costs the
        server a refusal every REFUSAL_PAUSE seconds, however many connections wait on it."""
        client = (scope.get("client") or ("unknown", 0))[0]
        if len(self._gates) > 10_000:
            self._gates = {c: g for c, g in self._gates.items() if g.locked()}
        return self._gates.setdefault(client, asyncio.Lock())

    def body_limit(self, path: str) -> int:
        if path.startswith("/api/policies") or GRADIO_UPLOAD.match(path):
            return self.max_file_bytes + FORM_OVERHEAD
        return QUEUE_BODY_BYTES if QUEUE_JOIN.match(path) else JSON_BODY_BYTES

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path, method = scope["path"], scope["method"]
        refuse = None
        if method == "POST" and GRADIO_UPLOAD.match(path) and not self.uploads_enabled:
            refuse = (403, "Uploads are off: no admin token is configured.", None)
        elif method == "POST" and (ANSWERS.match(path) or QUEUE_JOIN.match(path)):
            refuse = self._over_rate(scope) or (ANSWERS.match(path) and self._over_pending())
        if not refuse and method in ("POST", "PUT", "PATCH"):
            refuse = self._over_length(scope, self.body_limit(path))
        if refuse:
            status, message, headers = refuse
            if status == 429:  # refusals to one address go out one at a time, a pause apart
                async with self._gate(scope):
                    await asyncio.sleep(REFUSAL_PAUSE)
            for msg in _json(status, message, headers):
                await send(msg)
            return
        counted = method == "POST" and bool(ANSWERS.match(path))
        self.pending += counted
        try:
            await self._run(scope, receive, send, self.body_limit(path), queue=bool(QUEUE_JOIN.match(path)))
        finally:
            self.pending -= counted

    def _over_rate(self, scope):
        if self.limiter is None:
            return None
        client = (scope.get("client") or ("unknown", 0))[0]
        wait = self.limiter.wait(client)
        if not wait:
            return None
        seconds = max(1, int(wait + 0.999))
        return (429, f"Too many requests from your address: the limit is {self.per_minute:g} questions a "
                     f"minute (bursts of {self.burst}). Try again in {seconds} s.", {"retry-after": seconds})

    def _over_pending(self):
        if self.pending < self.max_pending:
            return None
        return (429, f"The server is answering {self.pending} questions already; try again in a second.",
                {"retry-after": 1})

    @staticmethod
    def _over_length(scope, limit: int):
        for key, value in scope.get("headers", ()):
            if key == b"content-length":
                size = int(value) if value.isdigit() else -1
                if size < 0:
                    return (400, "The Content-Length header is not a number.", None)
                if size > limit:
                    return (413, f"The request body is {size:,} bytes; the limit is {limit:,}.", None)
        return None

    async def _run(self, scope, receive, send, limit: int, queue: bool):
        received, more, started = 0, True, False
        cut = None  # the reply owed once the body was cut (the app may turn our exception into its own 400)

        async def bounded_receive():
            nonlocal received, more, cut
            if not more:  # the body is in: later receives wait for a disconnect, unbounded
                return await receive()
            try:
                msg = await asyncio.wait_for(receive(), self.body_timeout)
            except asyncio.TimeoutError:
                cut = _json(408, f"The request body stopped arriving for {self.body_timeout:g} s.")
                raise _TooSlow from None
            if msg["type"] == "http.request":
                received += len(msg.get("body", b""))
                more = msg.get("more_body", False)
                if received > limit:
                    cut = _json(413, f"The request body is over the limit of {limit:,} bytes.")
                    raise _TooLarge
            return msg

        async def tracking_send(msg):
            nonlocal started
            if msg["type"] == "http.response.start":
                if started:
                    return
                started = True
                if cut:  # whatever the app made of the cut body, the client learns why
                    for m in cut:
                        await send(m)
                    return
                if queue and msg["status"] == 503:  # Gradio's "queue is full"
                    msg = {**msg, "status": 429, "headers": [*msg.get("headers", []), (b"retry-after", b"2")]}
            elif cut:
                return
            await send(msg)

        try:
            await self.app(scope, bounded_receive, tracking_send)
        except Exception as exc:  # noqa: BLE001 - the one place errors become responses
            if started:
                return  # too late to answer in another way; the server closes the connection
            if not cut:
                log.exception("error while serving %s %s", scope["method"], scope["path"])
            for msg in cut or _json(500, f"Internal error ({type(exc).__name__}); it has been logged. "
                                         "Try again, or report it if it persists."):
                await send(msg)
