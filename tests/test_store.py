"""The store under crashes, several processes and large policies: real ChromaDB, real kills."""
from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import CORPUS, new_store
from crashes import ROOT, index_files, ingest_command, kill_at_index_write, synthetic_policy
from ingest import store as store_module
from ingest.errors import StoreBusy
from ingest.pipeline import ingest_paths
from qa.service import Assistant

TRIALS = 4  # kills in CI; benchmarks/robustness.py runs a hundred
SEEDS = ["antiai-pics", "cloudflare-image-gen", "figure-gen", "image-video-gen", "product-image-gen"]


def policies_folder(tmp_path, extra: int = 3, sentences: int = 400):
    folder = tmp_path / "policies"
    shutil.copytree(CORPUS, folder)
    for n in range(extra):
        (folder / f"example-{n}.txt").write_text(synthetic_policy(n, sentences), "utf-8")
    return folder


def assert_whole(store, ids, embedder):
    """Every policy is there, with all its rows, and answers from its own text."""
    rows = store.rows()
    recs = store.policies()
    assert sorted(rows) == sorted(ids) == sorted(recs), (sorted(rows), store.unreadable)
    for pid in ids:
        assert len(rows[pid].units) == recs[pid].units > 0, pid
        text = store.text(pid)
        assert all(text[u.start:u.end] == u.text for u in rows[pid].units)
    ans = Assistant(store, embedder).answer("How long do you keep my photos?", "example-0")
    assert ans.citations and all(c.policy == "example-0" for c in ans.citations)


def test_a_damaged_index_heals_on_open_without_losing_a_policy(tmp_path, embedder):
    """What a kill half-way through Chroma's rewrite of its HNSW files leaves: some files of the
    new index, some of the old. Chroma alone cannot read that store again."""
    folder = policies_folder(tmp_path, extra=1, sentences=300)
    store = new_store(tmp_path / "store")
    assert not ingest_paths([folder], store, embedder).failed
    before = {f: Path(f).read_bytes() for f in index_files(tmp_path / "store")}
    for f in folder.glob("*.txt"):
        f.write_text(f.read_text("utf-8") + "\nOne more sentence for every policy.\n", "utf-8")
    assert sorted(ingest_paths([folder], store, embedder).updated) == sorted(store.policies())
    ids = sorted(store.policies())
    store._close_client()  # as in a later process: the index is read from disk
    for f, data in before.items():
        if f.endswith(("data_level0.bin", "header.bin")):
            Path(f).write_bytes(data)
    later = new_store(tmp_path / "store")
    assert_whole(later, ids, embedder)
    assert later.heals == 1
    # and ingesting into it works again, re-embedding nothing
    again = ingest_paths([folder], later, embedder)
    assert again.failed == [] and again.embedded == 0 and sorted(again.unchanged) == ids


def test_kill_during_index_writes_loses_no_policy(tmp_path, embedder):
    """A light version of benchmarks/robustness.py's campaign: `policyqa ingest` killed a few
    milliseconds after it starts rewriting the HNSW files, at several points of several runs."""
    folder = policies_folder(tmp_path, extra=2, sentences=300)
    path = tmp_path / "store"
    store = new_store(path)
    assert not ingest_paths([folder], store, embedder).failed
    ids = sorted(store.policies())
    rng = random.Random(7)
    killed = heals = 0
    for trial in range(TRIALS):
        for f in folder.glob("*.txt"):  # every policy changes: every run rewrites every row
            f.write_text(f.read_text("utf-8") + f"\nRevision {trial} of this policy.\n", "utf-8")
        killed += kill_at_index_write(ingest_command([folder], path), path, nth=rng.randint(1, 3),
                                      delay=rng.uniform(0, 0.025))
        later = new_store(path)
        assert_whole(later, ids, embedder)
        heals += later.heals
    assert killed >= TRIALS - 1, f"only {killed} of {TRIALS} runs were killed during an index write"
    done = subprocess.run(ingest_command([folder], path), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    final = new_store(path)
    assert_whole(final, ids, embedder)
    assert all(f"Revision {TRIALS - 1} of this policy." in final.text(pid) for pid in ids)
    chroma_rows = final.collection().count()
    assert chroma_rows == sum(r.units for r in final.policies().values())  # no orphans left
    print(f"{killed} kills, {heals} heals")


def test_a_server_sees_another_processs_ingest(tmp_path, embedder):
    """A reader that stays open (a server) while another process ingests into its store reads
    the new versions, never a stale index ("Error finding id")."""
    folder = tmp_path / "policies"
    shutil.copytree(CORPUS, folder)
    path = tmp_path / "store"
    store = new_store(path)
    ingest_paths([folder], store, embedder)
    assistant = Assistant(store, embedder)
    assert "China" in " ".join(c.quote for c in assistant.answer("Is my data sent to China?",
                                                                  "product-image-gen").citations)
    f = folder / "product-image-gen.txt"
    f.write_text(f.read_text().replace("Data processed in China.", "Data processed in Norway."))
    (folder / "figure-gen.txt").unlink()
    (folder / "extra.txt").write_text(synthetic_policy(9, 40), "utf-8")
    done = subprocess.run(ingest_command([folder], path), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["updated"] == ["product-image-gen"]
    ans = assistant.answer("Is my data processed in Norway?", "product-image-gen")
    assert any("Norway" in c.quote for c in ans.citations)
    assert set(assistant.policies()) == set(SEEDS) - {"figure-gen"} | {"extra"}
    assert assistant.answer("How long do you keep my photos?", "extra").citations
    # and this process can still write after the other one did
    f.write_text(f.read_text().replace("Norway", "Iceland"))
    assert ingest_paths([folder], store, embedder).updated == ["product-image-gen"]


def test_the_store_waits_for_another_process_then_says_it_is_busy(tmp_path):
    store = new_store(tmp_path / "store")
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, sys, time; fh = open(sys.argv[1], 'a+'); fcntl.flock(fh, fcntl.LOCK_EX); "
        "print('held', flush=True); time.sleep(float(sys.argv[2]))"), str(tmp_path / "store" / ".writer.lock"), "1.5"],
        stdout=subprocess.PIPE, text=True)
    (tmp_path / "store").mkdir(exist_ok=True)
    assert holder.stdout.readline().strip() == "held"
    t0 = time.monotonic()
    with store.writing():  # waits for the holder to finish
        pass
    assert time.monotonic() - t0 > 0.5
    holder.wait()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, sys, time; fh = open(sys.argv[1], 'a+'); fcntl.flock(fh, fcntl.LOCK_EX); "
        "print('held', flush=True); time.sleep(30)"), str(tmp_path / "store" / ".writer.lock")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        impatient = store_module.Store(tmp_path / "store", store.fingerprint, lock_timeout=0.3)
        with pytest.raises(StoreBusy, match="Another process has been using the store") as exc:
            with impatient.writing():
                pass
        assert str(tmp_path) not in str(exc.value)  # no server paths in messages
    finally:
        holder.kill()
        holder.wait()


def test_policies_larger_than_a_batch(tmp_path, embedder, monkeypatch):
    """Every store call whose size grows with a policy goes in batches (SQLite takes 32,766
    variables a statement): reading, reusing, replacing and removing a policy of many batches."""
    monkeypatch.setattr(store_module, "BATCH", 64)
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "big.txt").write_text(synthetic_policy(1, 300), "utf-8")
    (folder / "small.txt").write_text(synthetic_policy(2, 20), "utf-8")
    store = new_store(tmp_path / "store")
    assert not ingest_paths([folder], store, embedder).failed
    big = store.rows()["big"]
    assert len(big.units) == store.policy("big").units > 300 and [u.order for u in big.units] == list(range(len(big.units)))
    assert len(store.cached_vectors("big")) == len({u.context for u in big.units})
    f = folder / "big.txt"
    f.write_text(f.read_text() + "\nOne more sentence at the end.\n")
    report = ingest_paths([folder], store, embedder)
    assert report.updated == ["big"] and report.embedded == 1
    assert store.collection().count() == sum(r.units for r in store.policies().values())
    f.unlink()
    assert ingest_paths([folder], store, embedder).removed == ["big"]
    assert store.collection().count() == store.policy("small").units


def test_tidy_deletes_what_a_killed_update_left(tmp_path, embedder):
    folder = tmp_path / "policies"
    shutil.copytree(CORPUS, folder)
    store = new_store(tmp_path / "store")
    ingest_paths([folder], store, embedder)
    n = store.collection().count()
    rows = store.rows()["figure-gen"]
    # the rows and files of a version that never went live, as a kill before the flip leaves them
    col = store.collection()
    col.upsert(ids=[i.replace("@", "@dead") for i in rows.ids], embeddings=rows.vectors,
               metadatas=[{"policy": "figure-gen", "version": "deadbeef", "unit": "{}"}] * len(rows.ids))
    texts = tmp_path / "store" / "texts"
    (texts / "figure-gen@deadbeef.txt").write_text("half")
    # the temporary files of a write killed mid-way (its process is gone) and of one under way
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    killed = texts / f".figure-gen@cafe.txt.{dead}.1.tmp"
    under_way = texts / f".figure-gen@f00d.txt.{os.getpid()}.1.tmp"
    killed.write_text("half")
    under_way.write_text("half")
    assert store.collection().count() == n + len(rows.ids)
    assert store.tidy() == len(rows.ids)
    assert store.collection().count() == n
    assert not (texts / "figure-gen@deadbeef.txt").exists()
    assert not killed.exists() and under_way.exists()


def test_a_store_from_before_unit_files_gets_them(tmp_path, embedder):
    folder = tmp_path / "policies"
    shutil.copytree(CORPUS, folder)
    store = new_store(tmp_path / "store")
    ingest_paths([folder], store, embedder)
    for f in (tmp_path / "store" / "texts").glob("*.units.json"):
        f.unlink()
    store._close_client()
    later = new_store(tmp_path / "store")
    assert sorted(later.rows()) == SEEDS
    assert len(list((tmp_path / "store" / "texts").glob("*.units.json"))) == 5


def test_indexes_are_built_when_first_asked_about_kept_within_the_cache_and_rebuilt_when_changed(tmp_path, embedder):
    folder = tmp_path / "policies"
    shutil.copytree(CORPUS, folder)
    store = new_store(tmp_path / "store")
    ingest_paths([folder], store, embedder)
    assistant = Assistant(store, embedder, cache_size=3)
    assert sorted(assistant.policies()) == SEEDS and assistant.cached() == 0  # nothing read at start
    assert "China" in " ".join(c.quote for c in assistant.answer("Is my data sent to China?",
                                                                  "product-image-gen").citations)
    assert assistant.cached() == 1
    before = {p: assistant.index(p) for p in ("product-image-gen", "antiai-pics")}
    f = folder / "product-image-gen.txt"
    f.write_text(f.read_text().replace("Data processed in China.", "Data processed in Norway."))
    (folder / "extra.txt").write_text(synthetic_policy(3, 30), "utf-8")
    assert sorted(ingest_paths([folder], store, embedder).added) == ["extra"]
    # the next question sees the new version; the unchanged policy keeps its index
    assert any("Norway" in c.quote for c in assistant.answer("Where is my data processed?", "product-image-gen").citations)
    assert assistant.index("product-image-gen") is not before["product-image-gen"]
    assert assistant.index("antiai-pics") is before["antiai-pics"]
    across = assistant.answer("Who do you share my data with?").to_dict()  # all six policies are read ...
    assert set(across["addressed"]) == set(assistant.policies()) and assistant.cached() == 3  # ... three kept


def test_a_version_replaced_while_an_answer_holds_the_old_catalog_is_read_in_its_new_version(tmp_path, embedder):
    """An answer keeps the catalog it started with; if another process's update replaces a
    policy's version before the answer reads it, the answer reads the new version, not an error."""
    folder = tmp_path / "policies"
    shutil.copytree(CORPUS, folder)
    store = new_store(tmp_path / "store")
    ingest_paths([folder], store, embedder)
    assistant = Assistant(store, embedder)
    old = store.policy("product-image-gen").version
    assistant._pinned.records = assistant.policies()  # what an answer in flight holds
    f = folder / "product-image-gen.txt"
    f.write_text(f.read_text().replace("Data processed in China.", "Data processed in Norway."))
    assert ingest_paths([folder], store, embedder).updated == ["product-image-gen"]
    assert not list((tmp_path / "store" / "texts").glob(f"product-image-gen@{old}*"))  # the old version is gone
    index = assistant.index("product-image-gen")
    assistant._pinned.records = None
    assert any("Norway" in u.text for u in index.units)
    assert not list((tmp_path / "store" / "texts").glob(f"product-image-gen@{old}*"))  # and stays gone
