"""The store on the embedded Chroma client and on a real `chroma run` server (POLICYQA_CHROMA_URL):
ingest, update, failure, another process's ingest and a lost collection, the same tests on both;
then, on the server only, a second machine (another, empty store directory) that sees the first
one's policies, texts and changes, a writer killed mid-update, and `policyqa serve --workers 2`."""
from __future__ import annotations

import json
import os
import subprocess
import signal
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from chroma_server import chroma_server
from conftest import BACKEND, MODEL, CountingEmbedder
from crashes import ROOT, ingest_command, synthetic_policy
from ingest import store as store_module
from ingest.errors import PolicyQAError
from ingest.pipeline import ingest_paths, open_store
from qa.service import Assistant
from webserver import free_port

POLICYQA = Path(sys.executable).parent / "policyqa"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with chroma_server(tmp_path_factory.mktemp("chroma") / "data") as url:
        yield url


def on_server(url: str) -> dict:
    """open_store's arguments for a store of its own on the server at `url` (tests share one)."""
    return {"chroma_url": url, "chroma_collection": f"test-{uuid.uuid4().hex[:12]}"}


def environment(where: dict) -> dict:
    """A child process's environment for the store `where` names (open_store's arguments)."""
    return {**os.environ, "POLICYQA_CHROMA_URL": where.get("chroma_url", ""),
            "POLICYQA_CHROMA_COLLECTION": where.get("chroma_collection", "policyqa")}


@pytest.fixture(params=["embedded", "server"])
def where(request) -> dict:
    """open_store's arguments: the embedded client, or a store of the test's own on the server."""
    return on_server(request.getfixturevalue("server")) if request.param == "server" else {}


def quotes(assistant, question, policy=None) -> str:
    return " ".join(c.quote for c in assistant.answer(question, policy).citations)


def test_ingest_update_remove_and_answer(tmp_path, corpus_copy, embedder, where):
    store = open_store(tmp_path / "store", MODEL, BACKEND, **where)
    assert len(ingest_paths([corpus_copy], store, embedder).added) == 5
    assert (tmp_path / "store").exists() == (not where)  # on a server, nothing is kept in the directory
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


def test_a_failed_update_leaves_the_old_version_answerable(tmp_path, corpus_copy, embedder, where):
    store = open_store(tmp_path / "store", MODEL, BACKEND, **where)
    ingest_paths([corpus_copy], store, embedder)
    f = corpus_copy / "product-image-gen.txt"
    f.write_text(f.read_text().replace("Data processed in China.", "Data processed in Norway."))
    report = ingest_paths([corpus_copy], store, CountingEmbedder(embedder, fail_after=0))
    assert [x["path"] for x in report.failed] == [str(f)] and "injected" in report.failed[0]["error"]
    later = Assistant(open_store(tmp_path / "store", MODEL, BACKEND, **where), embedder)
    assert "China" in quotes(later, "Is my data sent to China?", "product-image-gen")


def test_an_update_that_fails_at_the_flip_leaves_the_old_version_and_is_tidied(tmp_path, corpus_copy, embedder,
                                                                                where, monkeypatch):
    """The new version's text and rows are all written, then the one step that makes it live
    fails: the old version is what every reader sees, `tidy` deletes the new one's rows, and a
    retry completes the update."""
    store = open_store(tmp_path / "store", MODEL, BACKEND, **where)
    ingest_paths([corpus_copy], store, embedder)
    units = store.collection().count()
    f = corpus_copy / "product-image-gen.txt"
    f.write_text(f.read_text().replace("Data processed in China.", "Data processed in Norway."))

    def fail(changes):
        raise RuntimeError("the catalog could not be written (injected)")
    monkeypatch.setattr(store._state, "flip", fail)
    report = ingest_paths([corpus_copy], store, embedder)
    assert [x["path"] for x in report.failed] == [str(f)] and "injected" in report.failed[0]["error"]
    monkeypatch.undo()
    later = Assistant(open_store(tmp_path / "store", MODEL, BACKEND, **where), embedder)
    assert "China" in quotes(later, "Is my data sent to China?", "product-image-gen")
    # the ingest ended with a tidy: on one machine nobody else writes, so the rows are gone; on
    # a server a version this young may be another machine's update under way, so they stay
    if where:
        assert store.collection().count() > units and store.tidy() == 0
        monkeypatch.setattr(store_module, "TIDY_AFTER", 0.0)
        assert store.tidy() > 0
    assert store.collection().count() == units == sum(r.units for r in store.policies().values())
    assert "China" in quotes(later, "Is my data sent to China?", "product-image-gen")
    assert "Norway" not in store.text("product-image-gen")
    # a retry completes the update
    assert ingest_paths([corpus_copy], store, embedder).updated == ["product-image-gen"]
    assert any("Norway" in u.text for u in store.rows()["product-image-gen"].units)


def test_another_processs_ingest_is_seen_by_the_next_question(tmp_path, corpus_copy, embedder, where):
    store = open_store(tmp_path / "store", MODEL, BACKEND, **where)
    ingest_paths([corpus_copy], store, embedder)
    assistant = Assistant(store, embedder)
    assert "China" in quotes(assistant, "Is my data sent to China?", "product-image-gen")
    f = corpus_copy / "product-image-gen.txt"
    f.write_text(f.read_text().replace("Data processed in China.", "Data processed in Norway."))
    (corpus_copy / "extra.txt").write_text(synthetic_policy(4, 40), "utf-8")
    env = environment(where)
    done = subprocess.run([str(POLICYQA), "ingest", str(corpus_copy), "--store", str(tmp_path / "store"), "--json"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["added"] == ["extra"]
    assert "Norway" in quotes(assistant, "Is my data processed in Norway?", "product-image-gen")
    assert quotes(assistant, "How long do you keep my photos?", "extra")


def test_a_rebuild_empties_the_store_and_ingests_again(tmp_path, corpus_copy, embedder, where):
    """`policyqa ingest --rebuild`: a reader that stays open sees the store empty, then refilled."""
    store = open_store(tmp_path / "store", MODEL, BACKEND, **where)
    ingest_paths([corpus_copy], store, embedder)
    reader = open_store(tmp_path / "store", MODEL, BACKEND, **where)
    assert len(reader.policies()) == 5
    done = subprocess.run([str(POLICYQA), "ingest", str(corpus_copy / "antiai-pics.txt"), "--store",
                           str(tmp_path / "store"), "--rebuild", "--json"],
                          capture_output=True, text=True, env=environment(where), timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["added"] == ["antiai-pics"]
    time.sleep(store_module.RECHECK_SECONDS)
    assert sorted(reader.policies()) == ["antiai-pics"] and reader.exists()
    # the units collection was made anew: the reader's use of it reopens it
    assert reader._use(lambda col: col.count()) == reader.policy("antiai-pics").units
    assert "AntiAI" in reader.text("antiai-pics")


def test_a_lost_collection_is_rebuilt_from_the_stored_texts(tmp_path, corpus_copy, embedder, where):
    store = open_store(tmp_path / "store", MODEL, BACKEND, **where)
    ingest_paths([corpus_copy], store, embedder)
    units = store.collection().count()
    store._dir.client.delete_collection(store.collection().name)  # what a wiped server or directory leaves
    assistant = Assistant(store, embedder)
    assert "China" in quotes(assistant, "Is my data sent to China?", "product-image-gen")
    assert store.heals == 1 and store.collection().count() == units


def test_a_second_machine_sees_the_first_ones_policies_texts_and_changes(tmp_path, corpus_copy, embedder, server,
                                                                         monkeypatch):
    """Everything is on the server: a store opened on another, empty directory (here a fresh
    client and catalog state, as in another process) answers from the first one's policies and
    sees its update and removal within RECHECK_SECONDS. Neither directory is ever created."""
    where = on_server(server)
    first = open_store(tmp_path / "machine-1" / "store", MODEL, BACKEND, **where)
    assert len(ingest_paths([corpus_copy], first, embedder).added) == 5
    # what another process starts with: no client, no catalog read (this process's are kept by store)
    del store_module._DIRECTORIES[(where["chroma_url"], where["chroma_collection"])]
    second_store = open_store(tmp_path / "machine-2" / "store", MODEL, BACKEND, **where)
    second = Assistant(second_store, embedder)
    assert second_store._dir is not first._dir
    assert second.policies() == first.policies() and len(second.policies()) == 5
    assert all(second_store.text(p) == first.text(p) for p in second.policies())
    assert second.policies()["antiai-pics"].sections  # the whole record: name, dates, source, sections
    assert "China" in quotes(second, "Is my data sent to China?", "product-image-gen")

    f = corpus_copy / "product-image-gen.txt"
    f.write_text(f.read_text().replace("Data processed in China.", "Data processed in Norway."))
    g = corpus_copy / "image-video-gen.txt"
    g.write_text(g.read_text() + "\nWe keep your videos for 30 days.\n")
    (corpus_copy / "figure-gen.txt").unlink()
    monkeypatch.setattr(store_module, "RECHECK_SECONDS", 3600.0)  # the second one's catalog goes stale
    report = ingest_paths([corpus_copy], first, embedder)
    assert (sorted(report.updated), report.removed) == (["image-video-gen", "product-image-gen"], ["figure-gen"])
    # a policy first asked about before the second machine has seen the change: its old version
    # is gone, so it is read in its new one (the catalog is looked at again at once)
    assert any("30 days" in u.text for u in second.index("image-video-gen").units)
    monkeypatch.undo()
    time.sleep(store_module.RECHECK_SECONDS)
    assert "Norway" in quotes(second, "Is my data processed in Norway?", "product-image-gen")
    assert sorted(second.policies()) == ["antiai-pics", "cloudflare-image-gen", "image-video-gen", "product-image-gen"]
    assert second_store.text("product-image-gen") == first.text("product-image-gen")
    # the second machine writes too, and the first sees it
    (corpus_copy / "extra.txt").write_text(synthetic_policy(5, 30), "utf-8")
    assert ingest_paths([corpus_copy / "extra.txt"], second_store, embedder).added == ["extra"]
    time.sleep(store_module.RECHECK_SECONDS)
    assert "extra" in first.policies()
    assert not (tmp_path / "machine-1").exists() and not (tmp_path / "machine-2").exists()


def test_a_writer_killed_mid_update_leaves_the_old_version_on_the_server(tmp_path, embedder, server):
    """`policyqa ingest` is killed (SIGKILL) once the new version's text is on the server, while
    its rows are being written: every reader keeps the old version, and the leftovers are
    deleted by a later tidy once they are older than TIDY_AFTER."""
    where = on_server(server)
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "big.txt").write_text(synthetic_policy(1, 600), "utf-8")
    store = open_store(tmp_path / "store", MODEL, BACKEND, **where)
    ingest_paths([folder], store, embedder)
    old, units = store.policy("big").version, store.collection().count()
    (folder / "big.txt").write_text(synthetic_policy(2, 600), "utf-8")  # every sentence new
    texts = store._state.open("texts")
    proc = subprocess.Popen(ingest_command([folder], tmp_path / "store"), cwd=ROOT, env=environment(where),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while texts.count() < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the ingest finished before it could be killed"
    later = open_store(tmp_path / "other-machine", MODEL, BACKEND, **where)
    assert later.policy("big").version == old
    assert "photos" in quotes(Assistant(later, embedder), "How long do you keep my photos?", "big").lower()
    assert later.tidy() == 0  # young: it might be a writer still at work
    store_module.TIDY_AFTER, before = 0.0, store_module.TIDY_AFTER
    try:
        later.tidy()
    finally:
        store_module.TIDY_AFTER = before
    assert later.collection().count() == units and texts.count() == 1


def test_an_unreachable_server_is_one_clear_error(tmp_path):
    store = open_store(tmp_path / "store", MODEL, BACKEND, chroma_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(PolicyQAError, match=r"No Chroma server answers at http://127.0.0.1:\d+ \(POLICYQA_CHROMA_URL\)"):
        store.collection()
    with pytest.raises(PolicyQAError, match="POLICYQA_CHROMA_URL must look like http://HOST:PORT"):
        open_store(tmp_path / "store", MODEL, BACKEND, chroma_url="localhost:8000")
    with pytest.raises(PolicyQAError, match="POLICYQA_CHROMA_COLLECTION must be"):
        open_store(tmp_path / "store", MODEL, BACKEND, chroma_url="http://127.0.0.1:8000", chroma_collection="a b")


def test_two_workers_answer_100_concurrent_requests(tmp_path, corpus_copy, server):
    """`policyqa serve --workers 2` on a store whose vectors are on the Chroma server."""
    port = free_port()
    env = {**environment(on_server(server)), "POLICYQA_CORPUS": str(corpus_copy),
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
