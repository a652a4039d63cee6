"""Hostile input and load at the server's door, over real HTTP: lone surrogates, unexpected errors,
bodies that are too big or never end, floods from one address, the Gradio routes."""
from __future__ import annotations

import json
import socket
import threading
import time

import httpx
import pytest

from webserver import ADMIN_TOKEN, build_store, chat, running, settings_for

SURROGATE_BODY = b'{"question": "Do you sell my data? \\ud800", "policy": "antiai-pics"}'


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    return build_store(tmp_path_factory.mktemp("guard"), with_hostile=False)


@pytest.fixture(scope="module")
def server(store_path):
    """Uploads off, tight limits: 30 questions a minute in bursts of 3, 2 REST answers in flight."""
    from web import create_app

    app = create_app(settings_for(store_path, rate_limit=30, rate_burst=3, max_pending=2, body_timeout=1.0))
    with running(app) as url:
        yield app, url


def client_at(url: str, address: str) -> httpx.Client:
    """A client whose requests come from `address` (127.0.0.0/8 is all loopback): another user."""
    return httpx.Client(base_url=url, timeout=60, transport=httpx.HTTPTransport(local_address=address))


def raw_exchange(url: str, requests: list[bytes], address: str, timeout: float = 30) -> list[bytes]:
    """Send requests one after another on ONE connection from `address`; the raw responses
    (b"" once it closed)."""
    host, port = url.removeprefix("http://").split(":")
    out = []
    with socket.create_connection((host, int(port)), timeout=timeout, source_address=(address, 0)) as sock:
        reader = sock.makefile("rb")
        for req in requests:
            try:
                sock.sendall(req)
                status = reader.readline()
                headers = {}
                while (line := reader.readline()) not in (b"\r\n", b""):
                    k, _, v = line.decode().partition(":")
                    headers[k.strip().lower()] = v.strip()
                body = reader.read(int(headers.get("content-length", 0)))
                out.append(status + body)
            except OSError:
                out.append(b"")
    return out


def post(path: str, body: bytes) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def test_a_lone_surrogate_is_answered_and_the_connection_lives_on(server):
    _, url = server
    ok = json.dumps({"question": "Do you use cookies?", "policy": "antiai-pics"}).encode()
    first, second, widget = raw_exchange(url, [post("/api/ask", SURROGATE_BODY), post("/api/ask", ok),
                                               post("/api/widget/antiai-pics/ask", b'{"question": "\\udfff?"}')],
                                        "127.0.0.31")
    assert first.startswith(b"HTTP/1.1 200"), first[:300]
    assert "Do you sell my data? \ufffd" in first.decode()  # the question as received, made valid
    assert second.startswith(b"HTTP/1.1 200") and widget.startswith(b"HTTP/1.1 200")


def test_an_unexpected_error_is_json_and_the_connection_lives_on(server, monkeypatch):
    app, url = server
    svc = app.state.service

    def broken(*args, **kwargs):
        raise RuntimeError("injected bug in /tmp/secret/path")

    monkeypatch.setattr(svc, "answer", broken)
    ok = b'{"question": "Do you use cookies?"}'
    first, second = raw_exchange(url, [post("/api/ask", ok), post("/api/widget/antiai-pics/ask", ok)], "127.0.0.32")
    assert first.startswith(b"HTTP/1.1 500")
    err = json.loads(first.split(b"\r\n", 1)[1])
    assert "Internal error (RuntimeError)" in err["error"] and "/tmp/secret" not in err["error"]
    assert second.startswith(b"HTTP/1.1 200"), second[:200]


def test_the_chat_answers_a_lone_surrogate(server):
    _, url = server
    with client_at(url, "127.0.0.41") as c:
        status, html = chat(c, "Do you sell my data? \ud800", "antiai-pics")
    assert status == 200 and "pq-answer" in html and "not valid UTF-8" not in html


def test_a_chunked_body_is_cut_at_the_limit(server):
    _, url = server
    sent = []

    def endless():
        for _ in range(4000):  # 4,000 x 1 KB: far over the 256 KB limit, with no Content-Length
            sent.append(1)
            yield b"x" * 1024

    with client_at(url, "127.0.0.42") as c:
        r = c.post("/api/ask", content=endless(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and "limit" in r.json()["error"]


def test_a_body_that_stops_arriving_gets_408(server):
    _, url = server
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30, source_address=("127.0.0.33", 0)) as sock:
        sock.sendall(b"POST /api/ask HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{\"question\": ")
        t0 = time.monotonic()
        reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 408") and time.monotonic() - t0 < 10


def test_the_chat_queue_takes_no_huge_question(server):
    _, url = server
    with client_at(url, "127.0.0.43") as c:
        status, text = chat(c, "x" * 5_000_000)
        assert status == 413
        status, text = chat(c, "y" * 300_000)  # under the body limit: refused by the question's own
    assert status == 200 and "300000 characters long; the limit is 2000" in text
    assert "y" * 1000 not in text  # the huge question is not echoed back


def test_gradio_file_route_is_closed_while_uploads_are_off(server):
    _, url = server
    with client_at(url, "127.0.0.44") as c:
        r = c.post("/gradio_api/upload", files={"files": ("a.txt", b"hello", "text/plain")})
        assert r.status_code == 403 and "Uploads are off" in r.json()["error"]
        r = c.post("/api/policies", files={"file": ("a.txt", b"hello", "text/plain")},
                   headers={"authorization": f"Bearer {ADMIN_TOKEN}"})
        assert r.status_code == 403


def test_one_flooding_address_gets_429_and_the_others_do_not(server):
    _, url = server
    body = {"question": "Do you use cookies?", "policy": "antiai-pics"}
    with client_at(url, "127.0.0.51") as flooder, client_at(url, "127.0.0.52") as other:
        codes = [flooder.post("/api/ask", json=body) for _ in range(6)]
        assert [r.status_code for r in codes[:3]] == [200, 200, 200]  # the burst
        refused = codes[3]
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert "Too many requests" in refused.json()["error"]
        assert other.post("/api/ask", json=body).status_code == 200
        # the chat's queue counts against the same address
        status, _ = chat(flooder, "Do you use cookies?")
        assert status == 429


def test_answers_in_flight_are_bounded(server, monkeypatch):
    app, url = server
    svc = app.state.service
    release, real = threading.Event(), svc.answer

    def slow(*args, **kwargs):
        release.wait(20)
        return real(*args, **kwargs)

    monkeypatch.setattr(svc, "answer", slow)
    body = {"question": "Do you use cookies?"}
    results = {}

    def ask(i):
        with client_at(url, f"127.0.0.{60 + i}") as c:
            results[i] = c.post("/api/ask", json=body)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    time.sleep(1.0)  # both in flight: the limit is 2
    with client_at(url, "127.0.0.70") as c:
        r = c.post("/api/ask", json=body)
    release.set()
    for t in threads:
        t.join()
    assert r.status_code == 429 and r.headers["retry-after"] == "1"
    assert [results[i].status_code for i in range(2)] == [200, 200]


def test_errors_have_one_shape(server):
    _, url = server
    with client_at(url, "127.0.0.80") as c:
        for r, status in ((c.get("/api/nope"), 404), (c.get("/api/ask"), 405),
                          (c.post("/api/ask", content=b"[", headers={"content-type": "application/json"}), 422),
                          (c.get("/api/policies/acme"), 404)):
            assert r.status_code == status and set(r.json()) == {"error", "detail"}, r.text


def test_no_cross_origin_access_and_a_csp_on_the_app(server):
    _, url = server
    with client_at(url, "127.0.0.81") as c:
        for path in ("/config", "/api/policies"):
            r = c.get(path, headers={"origin": "http://localhost:9999"})
            assert "access-control-allow-origin" not in r.headers, path
        csp = c.get("/").headers["content-security-policy"]
        assert "img-src 'self' data: blob:" in csp and "object-src 'none'" in csp
