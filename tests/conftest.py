"""Shared fixtures: the real shipped model, real ChromaDB stores in tmp dirs."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ingest.embedding import DEFAULT_MODEL

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
MODEL, BACKEND = DEFAULT_MODEL, "onnx-int8"


@pytest.fixture(autouse=True)
def _data_dir(tmp_path, monkeypatch):
    """Nothing a test does lands in the user's real data directory."""
    monkeypatch.setenv("POLICYQA_STORE", str(tmp_path / "default-store"))
    from policyqa.settings import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def embedder():
    """The real shipped embedder (DEFAULT_MODEL: models/policyqa-minilm, int8 ONNX export), loaded once per session."""
    from ingest.embedding import get_embedder

    return get_embedder(MODEL, BACKEND)


class CountingEmbedder:
    """The real embedder, counting how many texts it was asked to embed (and which queries)."""

    def __init__(self, inner, fail_after: int | None = None):
        self.inner, self.fail_after = inner, fail_after
        self.name, self.dim = inner.name, inner.dim
        self.embedded = 0
        self.queries: list[str] = []

    def embed_passages(self, texts):
        if self.fail_after is not None and self.embedded + len(texts) > self.fail_after:
            raise RuntimeError("embedding failed half-way (injected)")
        self.embedded += len(texts)
        return self.inner.embed_passages(texts)

    def embed_query(self, text):
        self.queries.append(text)
        return self.inner.embed_query(text)


@pytest.fixture
def counting(embedder):
    return CountingEmbedder(embedder)


@pytest.fixture
def corpus_copy(tmp_path) -> Path:
    """A writable copy of the bundled corpus."""
    dst = tmp_path / "corpus"
    shutil.copytree(CORPUS, dst)
    return dst


def new_store(path: Path):
    from ingest.pipeline import open_store

    return open_store(path, MODEL, BACKEND)


@pytest.fixture(scope="session")
def seed_store(tmp_path_factory, embedder):
    """A store holding the five bundled policies, shared by read-only tests."""
    from ingest.pipeline import ingest_paths

    store = new_store(tmp_path_factory.mktemp("seed-store"))
    report = ingest_paths([CORPUS], store, embedder)
    assert not report.failed, report.failed
    return store


@pytest.fixture(scope="session")
def assistant(seed_store, embedder):
    from qa.service import Assistant

    return Assistant(seed_store, embedder)
