"""Ingestion into a real ChromaDB store with the real model: add, skip, update, remove, fail safely."""
from __future__ import annotations

import pytest

from conftest import CountingEmbedder, new_store
from ingest.errors import PolicyUnreadable, StoreMismatch
from ingest.pipeline import ingest_paths, open_store
from qa.service import Assistant

SEEDS = ["antiai-pics", "cloudflare-image-gen", "figure-gen", "image-video-gen", "product-image-gen"]


def test_ingest_adds_then_skips_unchanged(tmp_path, corpus_copy, counting):
    store = new_store(tmp_path / "store")
    first = ingest_paths([corpus_copy], store, counting)
    assert first.added == SEEDS and first.failed == [] and first.updated == []
    assert first.units == first.embedded > 150
    assert counting.embedded <= first.units  # identical sentences are embedded once
    embedded = counting.embedded
    again = ingest_paths([corpus_copy], store, counting)
    assert again.to_dict() == {"added": [], "updated": [], "unchanged": SEEDS, "removed": [],
                               "failed": [], "units": first.units, "embedded": 0,
                               "skipped": [{"path": str(corpus_copy / "README.md"),
                                            "reason": "README files are not policies"}]}
    assert counting.embedded == embedded  # nothing was embedded the second time


def test_units_are_verbatim_and_located(seed_store):
    for pid, rows in seed_store.rows().items():
        text = seed_store.text(pid)
        assert [u.order for u in rows.units] == list(range(len(rows.units)))
        for u in rows.units:
            assert text[u.start:u.end] == u.text
    rec = seed_store.policy("antiai-pics")
    assert rec.meta.name == "AntiAI Pics" and rec.meta.last_updated == "2026-01-08"


def test_update_reembeds_only_changed_units(tmp_path, corpus_copy, counting):
    store = new_store(tmp_path / "store")
    ingest_paths([corpus_copy], store, counting)
    before = counting.embedded
    f = corpus_copy / "figure-gen.txt"
    f.write_text(f.read_text().replace("Regular security audits and updates",
                                       "Quarterly security audits by an outside firm"))
    report = ingest_paths([corpus_copy], store, counting)
    assert report.updated == ["figure-gen"] and len(report.unchanged) == 4
    assert counting.embedded - before == report.embedded == 1
    units = [u.text for u in store.rows()["figure-gen"].units]
    assert "Quarterly security audits by an outside firm" in units
    assert "Regular security audits and updates" not in units


def test_removed_file_is_removed_from_store(tmp_path, corpus_copy, counting):
    store = new_store(tmp_path / "store")
    ingest_paths([corpus_copy], store, counting)
    (corpus_copy / "figure-gen.txt").unlink()
    report = ingest_paths([corpus_copy], store, counting)
    assert report.removed == ["figure-gen"]
    assert "figure-gen" not in store.policies() and "figure-gen" not in store.rows()
    assert store.collection().get(where={"policy": "figure-gen"})["ids"] == []


def test_ingesting_one_file_removes_nothing(tmp_path, corpus_copy, counting):
    store = new_store(tmp_path / "store")
    ingest_paths([corpus_copy], store, counting)
    report = ingest_paths([corpus_copy / "antiai-pics.txt"], store, counting)
    assert report.unchanged == ["antiai-pics"] and report.removed == []
    assert len(store.policies()) == 5


def test_failed_embedding_midway_keeps_old_version(tmp_path, corpus_copy, embedder):
    store = new_store(tmp_path / "store")
    ingest_paths([corpus_copy], store, embedder)
    f = corpus_copy / "product-image-gen.txt"
    f.write_text(f.read_text().replace("Data processed in China.", "Data processed in Norway.")
                 + "\nA brand new closing sentence about nothing at all.\n")
    failing = CountingEmbedder(embedder, fail_after=0)
    report = ingest_paths([corpus_copy], store, failing)
    assert [x["path"] for x in report.failed] == [str(f)]
    assert "embedding failed half-way" in report.failed[0]["error"]
    ans = Assistant(store, embedder).answer("Is my data processed in China?", "product-image-gen")
    assert ans.answerable and any("China" in c.quote for c in ans.citations)
    assert all("Norway" not in c.quote for c in ans.citations)


def test_bad_files_are_reported_and_the_rest_ingests(tmp_path, corpus_copy, embedder):
    (corpus_copy / "empty.txt").write_text("")
    (corpus_copy / "binary.txt").write_bytes(b"\x00\x01\x02\xff" * 50)
    (corpus_copy / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog")
    store = new_store(tmp_path / "store")
    report = ingest_paths([corpus_copy, tmp_path / "missing.md"], store, embedder)
    assert report.added == SEEDS
    errors = {x["path"].rsplit("/", 1)[-1]: x["error"] for x in report.failed}
    assert set(errors) == {"empty.txt", "binary.txt", "broken.pdf", "missing.md"}
    assert "empty" in errors["empty.txt"] and "binary" in errors["binary.txt"]
    assert "PDF" in errors["broken.pdf"] and "no such file" in errors["missing.md"]


def test_duplicate_policy_ids_are_refused_and_nothing_is_lost(tmp_path, corpus_copy, embedder):
    store = new_store(tmp_path / "store")
    ingest_paths([corpus_copy], store, embedder)
    version = store.policy("antiai-pics").version
    (corpus_copy / "antiai-pics.md").write_text("# Privacy\n\nWe collect nothing at all.\n")
    report = ingest_paths([corpus_copy], store, embedder)
    # which file is the policy is not left to the order of a listing: both are refused, by name
    assert sorted(f["path"].rsplit("/", 1)[-1] for f in report.failed) == ["antiai-pics.md", "antiai-pics.txt"]
    assert all("also the id of" in f["error"] for f in report.failed)
    assert report.removed == [] and store.policy("antiai-pics").version == version


def test_mismatched_fingerprint_is_refused_with_rebuild_hint(tmp_path, corpus_copy, embedder):
    store = new_store(tmp_path / "store")
    ingest_paths([corpus_copy / "figure-gen.txt"], store, embedder)
    other = open_store(tmp_path / "store", "all-MiniLM-L6-v2", "torch")
    with pytest.raises(StoreMismatch, match="--rebuild"):
        other.rows()
    with pytest.raises(StoreMismatch, match="all-MiniLM-L6-v2/torch"):
        ingest_paths([corpus_copy], other)


def test_ingest_embeds_with_the_stores_own_model_and_refuses_another(tmp_path, corpus_copy, embedder):
    """A store opened for one model is filled with that model's vectors, whatever the caller
    forgets to say: before, ingest_paths embedded with the default model into any store, so a
    store of another model answered queries of one model against passages of another."""
    from ingest.embedding import get_embedder

    store = open_store(tmp_path / "store", "all-MiniLM-L6-v2", "torch")
    assert not ingest_paths([corpus_copy / "figure-gen.txt"], store).failed
    rows = store.rows()["figure-gen"]
    torch_vectors = get_embedder("all-MiniLM-L6-v2", "torch").embed_passages([rows.units[0].context])
    int8_vectors = embedder.embed_passages([rows.units[0].context])
    assert abs(float(rows.vectors[0] @ torch_vectors[0]) - 1.0) < 1e-4
    assert abs(float(rows.vectors[0] @ int8_vectors[0]) - 1.0) > 1e-4  # the two runtimes differ: not the default's
    with pytest.raises(StoreMismatch, match="the embedder given makes"):  # another model's embedder is refused
        ingest_paths([corpus_copy / "antiai-pics.txt"], store, embedder)
    assert list(store.policies()) == ["figure-gen"]


def test_a_store_built_with_another_model_is_embedded_again_and_keeps_every_policy(tmp_path, corpus_copy, embedder):
    """A new embedding model (a release, or POLICYQA_MODEL changed) must not cost the policies a
    user ingested from anywhere: the store re-embeds the texts it keeps."""
    from ingest.embedding import get_embedder

    store = new_store(tmp_path / "store")
    ingest_paths([corpus_copy / "figure-gen.txt", corpus_copy / "antiai-pics.txt"], store, embedder)
    versions = {p: r.version for p, r in store.policies().items()}
    other = open_store(tmp_path / "store", "all-MiniLM-L6-v2", "torch")
    assert other.stale_reason() and other.reembed()
    assert other.stale_reason() is None and not other.reembed()  # done once
    assert {p: r.version for p, r in other.policies().items()} == versions
    rows = other.rows()["figure-gen"]
    torch_vectors = get_embedder("all-MiniLM-L6-v2", "torch").embed_passages([rows.units[0].context])
    assert abs(float(rows.vectors[0] @ torch_vectors[0]) - 1.0) < 1e-4  # the new model's vectors
    ans = Assistant(other, model="all-MiniLM-L6-v2", backend="torch").answer("Is my data sent to China?", "figure-gen")
    assert ans.citations and all(c.policy == "figure-gen" for c in ans.citations)
    with pytest.raises(StoreMismatch, match="all-MiniLM-L6-v2/torch"):  # the old model's readers are told
        store.rows()


def test_a_file_over_the_time_bound_is_stopped_and_the_rest_ingests(tmp_path, embedder):
    from hostile import pdf_bomb
    from ingest.types import Limits

    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "a-bomb.pdf").write_bytes(pdf_bomb(300_000))  # seconds of parsing in pypdf
    (folder / "b-good.md").write_text("# Privacy\n\nWe never sell your data.\n")
    store = new_store(tmp_path / "store")
    report = ingest_paths([folder], store, embedder, limits=Limits(seconds=1.0))
    assert report.added == ["b-good"]
    assert report.failed[0]["path"].endswith("a-bomb.pdf")
    assert "reading it took over 1 s, the limit; raise it with POLICYQA_INGEST_TIMEOUT" in report.failed[0]["error"]


def test_folder_entries_that_are_not_policies_are_listed_as_skipped(tmp_path, embedder):
    import os

    folder, outside = tmp_path / "policies", tmp_path / "elsewhere"
    folder.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text("Privacy Policy\n\nThe server's secret text.\n")
    (folder / "good.txt").write_text("Privacy Policy\n\nWe never sell your data.\n")
    (folder / "link-out.txt").symlink_to(outside / "secret.txt")
    (folder / "dangling.txt").symlink_to(tmp_path / "gone.txt")
    (folder / "link-in.txt").symlink_to(folder / "good.txt")  # inside the folder: read
    os.mkfifo(folder / "pipe.txt")
    (folder / ".hidden.txt").write_text("We keep everything.")
    (folder / "README.md").write_text("# How to use this folder")
    (folder / "notes.docx").write_bytes(b"PK")
    (folder / "sub").mkdir()
    (folder / ("x" * 250 + ".txt")).write_text("Privacy Policy\n\nWe keep data for a day.\n")
    report = ingest_paths([folder], new_store(tmp_path / "store"), embedder)
    assert sorted(report.added) == ["good", "link-in"]
    skipped = {s["path"].rsplit("/", 1)[-1]: s["reason"] for s in report.skipped}
    assert skipped == {
        ".hidden.txt": "hidden file", "README.md": "README files are not policies",
        "dangling.txt": "dangling link", "link-out.txt": skipped["link-out.txt"],
        "notes.docx": "unsupported file type '.docx'", "pipe.txt": "not a regular file (a pipe, socket or device)",
        "sub": "folder (folders are not read recursively)"}
    assert skipped["link-out.txt"].startswith("link to a file outside the folder")
    # a name too long to be an id fails alone, with its reason; the rest of its group went in
    assert len(report.failed) == 1 and "has 250 characters; the limit is 120" in report.failed[0]["error"]


def test_one_unreadable_policy_does_not_hide_the_others(tmp_path, corpus_copy, embedder):
    store = new_store(tmp_path / "store")
    ingest_paths([corpus_copy], store, embedder)
    rec = store.policy("figure-gen")
    (tmp_path / "store" / "texts" / f"figure-gen@{rec.version}.txt").unlink()
    later = new_store(tmp_path / "store")
    assert sorted(later.rows()) == [p for p in SEEDS if p != "figure-gen"]
    assert "figure-gen" in later.unreadable
    assistant = Assistant(later, embedder)
    ans = assistant.answer("Is my data sent to China?")
    assert ans.citations and "figure-gen" not in {c.policy for c in ans.citations}
    with pytest.raises(PolicyUnreadable, match="'figure-gen' cannot be read from the store; ingest its file again"):
        assistant.answer("Is my data sent to China?", "figure-gen")


def test_a_file_over_the_memory_bound_is_refused_and_the_reader_recovers(tmp_path):
    from hostile import many_paragraphs_html
    from ingest.errors import LimitExceeded
    from ingest.types import Limits
    from ingest.worker import FileReader

    (tmp_path / "wide.html").write_bytes(many_paragraphs_html(100_000))  # parsing it takes ~150 MB
    (tmp_path / "small.md").write_text("# Privacy\n\nWe never sell your data.\n")
    reader = FileReader(Limits(memory_mb=120, chars=10_000_000, units=1_000_000))
    try:
        with pytest.raises(LimitExceeded, match="needs more than 120 MB of memory, the limit; raise it with "
                                                "POLICYQA_INGEST_MEMORY_MB"):
            reader.read(tmp_path / "wide.html")
        doc, units = reader.read(tmp_path / "small.md")  # a new reader process took over
        assert [u.text for u in units] == ["Privacy", "We never sell your data."]
    finally:
        reader.close()
