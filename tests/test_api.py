"""The REST API over real HTTP: a real store, the real model, uvicorn on a free port."""
from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from webserver import ADMIN_TOKEN, HOSTILE_ID, ROOT, build_store, running, settings_for

SEEDS = ["antiai-pics", "cloudflare-image-gen", "figure-gen", "image-video-gen", "product-image-gen"]


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    return build_store(tmp_path_factory.mktemp("api"))


@pytest.fixture(scope="module")
def app(store_path):
    from web import create_app

    # rate limits off: every request here comes from 127.0.0.1 (they are tested on a server of their own)
    return create_app(settings_for(store_path, admin_token=ADMIN_TOKEN, queue_concurrency=6, rate_limit=0))


@pytest.fixture(scope="module")
def base_url(app):
    with running(app) as url:
        yield url


@pytest.fixture(scope="module")
def client(base_url):
    with httpx.Client(base_url=base_url, timeout=60) as c:
        yield c


# ------------------------------------------------------------------ reading
def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "policies": 6, "units": r.json()["units"], "uploads": True}
    assert r.json()["units"] > 200


def test_policies_lists_id_name_date_units(client):
    r = client.get("/api/policies")
    assert r.status_code == 200
    by_id = {p["policy"]: p for p in r.json()}
    assert set(SEEDS) <= set(by_id)
    assert by_id["antiai-pics"]["name"] == "AntiAI Pics"
    assert by_id["antiai-pics"]["last_updated"] == "2026-01-08"
    assert by_id["image-video-gen"]["last_updated"] is None
    assert all(p["units"] > 0 for p in by_id.values())
    assert not any(str(p.get("source", "")).startswith("/") for p in by_id.values())  # no server paths


def test_policy_text_with_sections(client):
    r = client.get("/api/policies/product-image-gen")
    assert r.status_code == 200
    body = r.json()
    assert body["policy"] == "product-image-gen" and body["name"] == "AI product image generator"
    text = body["text"]
    assert len(text) == body["chars"]
    assert body["sections"], "sections with their offsets"
    for s in body["sections"]:
        assert 0 <= s["start"] < s["end"] <= len(text)
        assert text[s["start"]:s["end"]].strip().startswith(s["title"].split(" > ")[-1][:10])


def test_unknown_policy_text_is_404(client):
    r = client.get("/api/policies/no-such-policy")
    assert r.status_code == 404
    assert "no-such-policy" in r.json()["error"] and "antiai-pics" in r.json()["error"]


# ------------------------------------------------------------------ answers
def test_ask_across_policies_is_the_cli_json(client, store_path):
    r = client.post("/api/ask", json={"question": "Is my data sent to China?"})
    assert r.status_code == 200
    got = r.json()
    assert got["citations"] and got["question"] == "Is my data sent to China?" and got["policy"] is None
    cli = subprocess.run([sys.executable, "-m", "policyqa", "ask", "Is my data sent to China?",
                          "--store", str(store_path), "--json"], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, check=True)
    want = json.loads(cli.stdout)
    got.pop("timings"), want.pop("timings")
    assert got == want


def test_ask_one_policy_cites_only_it_with_verbatim_offsets(client):
    r = client.post("/api/ask", json={"question": "How long do you keep my images?", "policy": "figure-gen"})
    assert r.status_code == 200
    ans = r.json()
    assert ans["policy"] == "figure-gen" and ans["citations"]
    text = client.get("/api/policies/figure-gen").json()["text"]
    for c in ans["citations"]:
        assert c["policy"] == "figure-gen"
        assert text[c["start"]:c["end"]] == c["quote"]


def test_null_or_empty_policy_means_all(client):
    for policy in (None, ""):
        r = client.post("/api/ask", json={"question": "Will my photos be used to train AI?", "policy": policy})
        assert r.status_code == 200 and r.json()["policy"] is None


@pytest.mark.parametrize("body, status, says", [
    ({}, 422, "question: Field required"),
    ({"policy": "figure-gen"}, 422, "question: Field required"),
    ({"question": ""}, 422, "question is empty"),
    ({"question": "   \n\t "}, 422, "question is empty"),
    ({"question": 42}, 422, "question: Input should be a valid string"),
    ({"question": "Is my data sold?", "policy": 7}, 422, "policy: Input should be a valid string"),
    ({"question": "Is my data sold?", "policies": ["x"]}, 422, "policies: unknown field"),
    ({"question": "x" * 2001}, 413, "2001 characters long; the limit is 2000"),
    ({"question": "Is my data sold?", "policy": "acme"}, 404, "Unknown policy 'acme'"),
])
def test_bad_input(client, body, status, says):
    r = client.post("/api/ask", json=body)
    assert r.status_code == status, r.text
    assert says in r.json()["error"]


def test_body_that_is_not_json(client):
    r = client.post("/api/ask", content=b"question=hi", headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert "not valid JSON" in r.json()["error"]


def test_huge_body_is_refused_before_reading(client):
    r = client.post("/api/ask", json={"question": "x" * 300_000})
    assert r.status_code == 413
    assert "limit" in r.json()["error"]


def test_thirty_concurrent_asks_all_succeed(base_url):
    questions = ["Is my data sent to China?", "Will my photos be used to train AI?",
                 "How long do you keep my images?"]
    jobs = [{"question": questions[i % 3], "policy": SEEDS[i % 5] if i % 2 else None} for i in range(30)]

    def ask(body):
        with httpx.Client(base_url=base_url, timeout=120) as c:
            return c.post("/api/ask", json=body)

    with ThreadPoolExecutor(max_workers=30) as pool:
        results = list(pool.map(ask, jobs))
    assert [r.status_code for r in results] == [200] * 30
    for body, r in zip(jobs, results):
        assert r.json()["question"] == body["question"]
        assert all(c["policy"] == body["policy"] for c in r.json()["citations"] if body["policy"])


def test_gradio_queue_concurrency_comes_from_the_settings(app, client):
    assert client.get("/").status_code == 200
    assert app.state.demo._queue.default_concurrency_limit == 6  # not Gradio's default of 1


# ------------------------------------------------------------------ widget scope
def test_widget_answers_from_its_policy_only(client):
    r = client.post("/api/widget/product-image-gen/ask", json={"question": "Is my data sent to China?"})
    assert r.status_code == 200
    ans = r.json()
    assert ans["policy"] == "product-image-gen"
    assert {c["policy"] for c in ans["citations"]} == {"product-image-gen"}


def test_widget_scope_cannot_be_changed_by_the_body(client):
    r = client.post("/api/widget/figure-gen/ask",
                    json={"question": "Is my data sent to China?", "policy": "product-image-gen"})
    assert r.status_code == 422
    assert "fixed by its URL" in r.json()["error"]
    r = client.post("/api/widget/figure-gen/ask?policy=product-image-gen",
                    json={"question": "Is my data sent to China?"})
    assert r.status_code == 200
    assert {c["policy"] for c in r.json()["citations"]} <= {"figure-gen"}


def test_widget_unknown_policy(client):
    r = client.post("/api/widget/acme/ask", json={"question": "Is my data sold?"})
    assert r.status_code == 404 and "antiai-pics" not in r.text  # no list of what else is hosted
    r = client.get("/widget", params={"policy": "acme"})
    assert r.status_code == 404 and "acme" in r.text and "antiai-pics" not in r.text
    assert client.get("/widget").status_code == 422  # no policy at all


def test_widget_page_and_embed_script(client):
    r = client.get("/widget", params={"policy": "figure-gen", "theme": "dark"})
    assert r.status_code == 200
    assert 'data-policy="figure-gen"' in r.text and 'data-theme="dark"' in r.text
    assert "frame-ancestors" not in r.headers["content-security-policy"]  # default "*": anyone may frame it
    assert "x-frame-options" not in r.headers
    assert "script-src 'self'" in r.headers["content-security-policy"]
    js = client.get("/widget.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert "data-policy" in js.text and "/widget?policy=" in js.text
    for asset in ("/widget/static/widget.css", "/widget/static/widget-app.js"):
        assert client.get(asset).status_code == 200


def test_other_pages_only_framed_by_us(client):
    for path in ("/", "/policy/figure-gen", "/docs"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert r.headers["x-frame-options"] == "SAMEORIGIN"
        assert "frame-ancestors 'self'" in r.headers["content-security-policy"]


def test_frame_ancestors_setting():
    from web.widget import frame_ancestors

    assert frame_ancestors("*") is None
    assert frame_ancestors("https://help.example.com https://example.org") == \
        "https://help.example.com https://example.org"


# ------------------------------------------------------------------ policy viewer
def test_policy_viewer_escapes_and_highlights(client):
    text = client.get(f"/api/policies/{HOSTILE_ID}").json()["text"]
    start = text.index("Uploaded photos")
    end = text.index("deleted.") + len("deleted.")
    r = client.get(f"/policy/{HOSTILE_ID}", params={"start": start, "end": end})
    assert r.status_code == 200
    assert "<script>window.pwned" not in r.text and "<img src=x" not in r.text
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in r.text
    assert '<mark id="hl">Uploaded photos' in r.text
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert client.get("/policy/acme").status_code == 404


def test_openapi_docs(client):
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/ask", "/api/policies", "/api/policies/{policy}", "/healthz",
            "/api/widget/{policy}/ask"} <= set(paths)


# ------------------------------------------------------------------ uploads
def test_upload_needs_the_admin_token(client):
    files = {"file": ("acme.txt", b"Privacy Policy\n\nWe keep your images for 7 days.", "text/plain")}
    assert client.post("/api/policies", files=files).status_code == 401
    r = client.post("/api/policies", files=files, headers={"authorization": "Bearer wrong"})
    assert r.status_code == 401 and "token" in r.json()["error"]
    r = client.post("/api/policies", files=files, headers={"authorization": ADMIN_TOKEN})  # the scheme is required
    assert r.status_code == 401


def test_upload_token_is_checked_before_the_body_is_read(base_url):
    """A client claiming a 5 MB upload with no token is answered before it sends the body."""
    import socket

    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST /api/policies HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; boundary=x\r\n"
                     b"Content-Length: 5000000\r\n\r\n--x\r\n")
        reply = sock.recv(4096)  # would time out if the server waited for the 5 MB first
    assert reply.startswith(b"HTTP/1.1 401")


@pytest.mark.parametrize("name, data, status, says", [
    ("acme.exe", b"MZ", 415, "Unsupported file type '.exe'"),
    ("acme policy.txt", b"We keep data.", 400, "Bad file name"),
    (".hidden.txt", b"We keep data.", 400, "Bad file name"),
    ("empty.txt", b"", 400, "empty"),
    ("binary.txt", bytes(range(256)) * 4, 422, "binary.txt"),
    ("README.txt", b"We keep data.", 400, "README files are not policies"),
])
def test_upload_checks_the_file(client, name, data, status, says):
    r = client.post("/api/policies", files={"file": (name, data, "application/octet-stream")},
                    headers={"authorization": f"Bearer {ADMIN_TOKEN}"})
    assert r.status_code == status, r.text
    assert says in r.json()["error"]
    assert name.split(".")[0] not in {p["policy"] for p in client.get("/api/policies").json()}


def test_upload_keeps_only_the_file_name(client, store_path):
    r = client.post("/api/policies", headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
                    files={"file": ("../../escape.txt", b"Escape Policy\n\nWe keep your data for 5 days.\n", "text/plain")})
    assert r.status_code == 201, r.text
    assert (store_path / "uploads" / "escape.txt").exists()
    assert not (store_path.parent.parent / "escape.txt").exists()


def test_upload_adds_then_replaces_a_policy(client, store_path):
    auth = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    v1 = b"Acme Privacy Policy\n\nLast updated: 2025-03-01\n\n1. Retention\n\nWe keep your images for 7 days.\n"
    r = client.post("/api/policies", files={"file": ("acme.txt", v1, "text/plain")}, headers=auth)
    assert r.status_code == 201, r.text
    assert r.json()["added"] == ["acme"]
    ans = client.post("/api/ask", json={"question": "How long do you keep my images?", "policy": "acme"}).json()
    assert any("7 days" in c["quote"] for c in ans["citations"])
    v2 = v1.replace(b"7 days", b"30 days")
    r = client.post("/api/policies", files={"file": ("acme.txt", v2, "text/plain")},
                    headers={"authorization": f"bearer {ADMIN_TOKEN}"})  # the scheme in any case
    assert r.status_code == 201 and r.json()["updated"] == ["acme"]
    ans = client.post("/api/ask", json={"question": "How long do you keep my images?", "policy": "acme"}).json()
    assert any("30 days" in c["quote"] for c in ans["citations"])
    assert not any("7 days" in c["quote"] for c in ans["citations"])
    # a broken replacement is refused and the previous version stays, in the store and on disk
    r = client.post("/api/policies", files={"file": ("acme.txt", bytes(range(256)) * 4, "text/plain")}, headers=auth)
    assert r.status_code == 422 and "acme.txt" in r.json()["error"]
    ans = client.post("/api/ask", json={"question": "How long do you keep my images?", "policy": "acme"}).json()
    assert any("30 days" in c["quote"] for c in ans["citations"])
    assert b"30 days" in (store_path / "uploads" / "acme.txt").read_bytes()


def test_uploads_are_off_without_a_token(store_path):
    from qa.service import Assistant
    from web.service import UploadError, WebService
    from ingest.pipeline import open_store

    settings = settings_for(store_path, admin_token="")
    svc = WebService(settings, Assistant(open_store(store_path, settings.model, settings.backend)))
    with pytest.raises(UploadError, match="Uploads are off") as exc:
        svc.add_policy("acme.txt", b"We keep data.", "anything")
    assert exc.value.status == 403


def test_an_upload_left_out_by_a_killed_start_is_ingested_at_the_next(tmp_path):
    """A cold start ingests the corpus, then the uploads: a start killed in between leaves a
    store that the next start finds warm; the upload is ingested all the same."""
    from ingest.pipeline import ingest_paths
    from web.service import prepare_store, uploads_dir

    settings = settings_for(tmp_path / "store")
    store = prepare_store(settings)  # the first start: the bundled corpus
    uploads = uploads_dir(settings)
    uploads.mkdir()
    (uploads / "acme.txt").write_text("Acme Privacy Policy\n\n1. Retention\n\nWe keep your images for 9 days.\n", "utf-8")
    assert "acme" not in store.policies()  # as a start killed before the uploads leaves it
    store = prepare_store(settings)
    assert "acme" in store.policies() and "9 days" in store.text("acme")
    assert ingest_paths([uploads], store).unchanged == ["acme"]  # and the next start re-embeds nothing


def test_a_start_with_another_embedding_model_keeps_policies_ingested_elsewhere(tmp_path):
    """The app once dropped a store built with another model and ingested only the bundled
    corpus and the uploads again: a policy ingested with `policyqa ingest` was lost."""
    from ingest.pipeline import ingest_paths
    from web.service import prepare_store

    elsewhere = tmp_path / "acme.txt"
    elsewhere.write_text("Acme Privacy Policy\n\n1. Retention\n\nWe keep your images for 9 days.\n", "utf-8")
    store = prepare_store(settings_for(tmp_path / "store"))
    ingest_paths([elsewhere], store)
    store = prepare_store(settings_for(tmp_path / "store").model_copy(update={"backend": "torch"}))
    assert store.stale_reason() is None
    assert "acme" in store.policies() and "figure-gen" in store.policies()
