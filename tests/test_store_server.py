"""The store on the embedded Chroma client and on a real `chroma run` server (POLICYQA_CHROMA_URL):
ingest, update, failure, another process's ingest and a lost collection, the same tests on both;
then `policyqa serve --workers 2` against the server."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from chroma_server import chroma_server
from conftest import BACKEND, MODEL, CountingEmbedder
from crashes import synthetic_policy
from ingest.errors import PolicyQAError
from ingest.pipeline import ingest_paths, open_store
from qa.service import Assistant
from webserver import free_port

POLICYQA = Path(sys.executable).parent / "policyqa"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with chroma_server(tmp_path_factory.mktemp("chroma") / "data") as url:
        yield url


@pytest.fixture(params=["embedded", "server"])
def chroma_url(request) -> str:
    return request.getfixturevalue("server") if request.param == "server" else ""


def quotes(assistant, question, policy=None) -> str:
    return " ".join(c.quote for c in assistant.answer(question, policy).citations)


def test_ingest_update_remove_and_answer(tmp_path, corpus_copy, embedder, chroma_url):
    store = open_store(tmp_path / "store", MODEL, BACKEND, chroma_url=chroma_url)
    assert len(ingest_paths([corpus_copy], store, embedder).added) == 5
    assert (tmp_path / "store" / "chroma").exists() == (not chroma_url)  # the vectors are on the server
    assistant = Assistant(store, embedder)
    assert "China" in quotes(assistant, "Is my data sent to China?", "product-image-gen")
    f = corpus_copy / "product-image-gen.txt"
    f.write_text(f.read_text().replace("Data processed in China.", "Data processed in Norway."))
    (corpus_copy / "figure-gen.txt").unlink()
    report = ingest_paths([corpus_copy], store, embedder)
    assert (report.updated, report.removed) == (["product-image-gen"], ["figure-gen"])
    assert "Norway" in quotes(assistant, "Is my data processed in Norway?", "product-image-gen")
    assert sorted(assistant.policies()) == ["antiai-pics", "cloudflare-image-gen", "image-video-gen", "product-image-gen"]
    # the old version's rows and the removed policy's are gone
    assert store.collection().count() == sum(r.units for r in store.policies().values())


def test_a_failed_update_leaves_the_old_version_answerable(tmp_path, corpus_copy, embedder, chroma_url):
    store = open_store(tmp_path / "store", MODEL, BACKEND, chroma_url=chroma_url)
    ingest_paths([corpus_copy], store, embedder)
    f = corpus_copy / "product-image-gen.txt"
    f.write_text(f.read_text().replace("Data processed in China.", "Data processed in Norway."))
    report = ingest_paths([corpus_copy], store, CountingEmbedder(embedder, fail_after=0))
    assert [x["path"] for x in report.failed] == [str(f)] and "injected" in report.failed[0]["error"]
    later = Assistant(open_store(tmp_path / "store", MODEL, BACKEND, chroma_url=chroma_url), embedder)
    assert "China" in quotes(later, "Is my data sent to China?", "product-image-gen")


def test_another_processs_ingest_is_seen_by_the_next_question(tmp_path, corpus_copy, embedder, chroma_url):
    store = open_store(tmp_path / "store", MODEL, BACKEND, chroma_url=chroma_url)
    ingest_paths([corpus_copy], store, embedder)
    assistant = Assistant(store, embedder)
    assert "China" in quotes(assistant, "Is my data sent to China?", "product-image-gen")
    f = corpus_copy / "product-image-gen.txt"
    f.write_text(f.read_text().replace("Data processed in China.", "Data processed in Norway."))
    (corpus_copy / "extra.txt").write_text(synthetic_policy(4, 40), "utf-8")
    env = {**os.environ, "POLICYQA_CHROMA_URL": chroma_url}
    done = subprocess.run([str(POLICYQA), "ingest", str(corpus_copy), "--store", str(tmp_path / "store"), "--json"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["added"] == ["extra"]
    assert "Norway" in quotes(assistant, "Is my data processed in Norway?", "product-image-gen")
    assert quotes(assistant, "How long do you keep my photos?", "extra")


def test_a_lost_collection_is_rebuilt_from_the_stored_texts(tmp_path, corpus_copy, embedder, chroma_url):
    store = open_store(tmp_path / "store", MODEL, BACKEND, chroma_url=chroma_url)
    ingest_paths([corpus_copy], store, embedder)
    units = store.collection().count()
    store._dir.client.delete_collection(store.collection().name)  # what a wiped server or directory leaves
    assistant = Assistant(store, embedder)
    assert "China" in quotes(assistant, "Is my data sent to China?", "product-image-gen")
    assert store.heals == 1 and store.collection().count() == units


def test_an_unreachable_server_is_one_clear_error(tmp_path):
    store = open_store(tmp_path / "store", MODEL, BACKEND, chroma_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(PolicyQAError, match=r"No Chroma server answers at http://127.0.0.1:\d+ \(POLICYQA_CHROMA_URL\)"):
        store.collection()
    with pytest.raises(PolicyQAError, match="POLICYQA_CHROMA_URL must look like http://HOST:PORT"):
        open_store(tmp_path / "store", MODEL, BACKEND, chroma_url="localhost:8000")


def test_two_workers_answer_100_concurrent_requests(tmp_path, corpus_copy, server):
    """`policyqa serve --workers 2` on a store whose vectors are on the Chroma server."""
    port = free_port()
    env = {**os.environ, "POLICYQA_CHROMA_URL": server, "POLICYQA_CORPUS": str(corpus_copy),
           "POLICYQA_RATE_LIMIT": "0", "POLICYQA_MAX_PENDING": "200"}
    log = tmp_path / "serve.log"  # a file: a pipe nobody reads would stall the server once full
    proc = subprocess.Popen([str(POLICYQA), "serve", "--workers", "2", "--port", str(port),
                             "--store", str(tmp_path / "store")], env=env,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        questions = [("Is my data sent to China?", "product-image-gen"), ("Do you sell my data?", None),
                     ("How long do you keep my images?", "antiai-pics"), ("Who do you share my data with?", None)]

        def ask(n):
            q, p = questions[n % len(questions)]
            r = httpx.post(f"{base}/api/ask", json={"question": q, **({"policy": p} if p else {})}, timeout=120)
            return r.status_code, r.json()
        with ThreadPoolExecutor(100) as pool:
            results = list(pool.map(ask, range(100)))
        assert [s for s, _ in results] == [200] * 100, [b for s, b in results if s != 200][:3]
        assert all(b["citations"] for _, b in results)
        assert all("China" in b["answer"] for (_, b), n in zip(results, range(100)) if n % 4 == 0)
        workers = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        assert len(workers) >= 2, workers  # uvicorn's two worker processes (and its helpers)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
