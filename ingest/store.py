"""The store: sentence units and their vectors in ChromaDB, plus a small catalog.

Layout of a store directory:
    chroma/         ChromaDB PersistentClient data: one collection of units (id, vector, and
                    metadata: policy, version, and the unit's place: order, offsets, section...)
    catalog.json    fingerprint, and for each policy its metadata and *active version*
    texts/          the normalised text of each active policy version; a unit's text is
                    text[start:end] of its version, so quotes are verbatim by construction

A policy version is a hash of its normalised text. Every unit row carries its version, and
readers only see units whose version the catalog names as active. An update therefore adds the
new version's rows, then flips the catalog in one atomic rename, then deletes the old rows: a
failure at any step before the flip leaves the old version searchable.

Only this module imports chromadb. One writer process at a time (an advisory file lock).
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ingest.errors import StoreMismatch, UnknownPolicy
from ingest.types import PolicyMeta, Unit

SCHEMA = 2  # 2: unit text read from texts/ (not stored twice), unit fields packed in one key
COLLECTION = "units"


def text_version(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def context_hash(unit: Unit) -> str:
    """Identifies what was embedded for a unit, so an update can reuse unchanged vectors."""
    return hashlib.sha256(unit.context.encode("utf-8")).hexdigest()[:16]


def unit_id(unit: Unit, version: str) -> str:
    return f"{unit.policy}#{unit.order}@{version}"


@dataclass(frozen=True, slots=True)
class PolicyRecord:
    """A policy as the catalog knows it."""

    meta: PolicyMeta
    version: str
    units: int
    chars: int
    sections: tuple[tuple[str, int], ...] = ()  # (section path, start offset)
    path: str = ""  # the file it was last ingested from

    def to_dict(self) -> dict:
        return {**self.meta.to_dict(), "version": self.version, "units": self.units, "chars": self.chars}


@dataclass(frozen=True, slots=True)
class UnitRows:
    """The active units of one policy with their vectors, in policy order."""

    policy: str
    units: list[Unit]
    ids: list[str]
    vectors: np.ndarray  # (n, dim), L2-normalised


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    """A policy's text and units with their vectors, ready to be made the active version."""

    meta: PolicyMeta
    text: str
    units: list[Unit]
    vectors: np.ndarray
    sections: tuple[tuple[str, int], ...] = ()
    path: str = ""


class _ChromaEmbedding:
    """Our embedder, handed to Chroma so it never falls back to its downloading default."""

    def __init__(self, embed: Callable[[list[str]], np.ndarray] | None, model: str):
        self._embed, self._model = embed, model

    def __call__(self, input):  # noqa: A002 (Chroma's protocol names it so)
        if self._embed is None:
            raise RuntimeError("policyqa passes vectors to Chroma explicitly; no embedding on its side")
        return [v for v in self._embed(list(input))]

    @staticmethod
    def name() -> str:
        return "policyqa"

    def get_config(self) -> dict:
        return {"model": self._model}

    @staticmethod
    def build_from_config(config: dict) -> "_ChromaEmbedding":
        return _ChromaEmbedding(None, config.get("model", ""))

    def is_legacy(self) -> bool:
        return False

    def default_space(self) -> str:
        return "cosine"

    def supported_spaces(self) -> list[str]:
        return ["cosine"]

    def embed_query(self, input):  # noqa: A002
        return self(input)


class Store:
    def __init__(self, path: Path | str, fingerprint: dict):
        self.path = Path(path)
        self.fingerprint = fingerprint
        self._client = None
        self._collection = None
        self._lock = threading.RLock()
        self._rows: dict[str, UnitRows] = {}
        self._rows_key = None
        self._records: dict[str, PolicyRecord] = {}
        self._records_key = None

    # ----------------------------------------------------------------- catalog
    @property
    def catalog_path(self) -> Path:
        return self.path / "catalog.json"

    def _catalog(self) -> dict:
        try:
            return json.loads(self.catalog_path.read_text("utf-8"))
        except FileNotFoundError:
            return {"schema": SCHEMA, "fingerprint": self.fingerprint, "policies": {}}

    def _write_catalog(self, catalog: dict) -> None:
        tmp = self.catalog_path.with_name(f"catalog.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(catalog, ensure_ascii=False, indent=1), "utf-8")
        os.replace(tmp, self.catalog_path)  # the one atomic step that makes a version live

    def exists(self) -> bool:
        return self.catalog_path.exists()

    def stale_reason(self) -> str | None:
        """Why this store cannot serve the configured model and segmentation, or None."""
        if not self.exists():
            return None
        found = self._catalog().get("fingerprint", {})
        if found != self.fingerprint:
            diff = ", ".join(f"{k}: store has {found.get(k)!r}, configured {v!r}"
                             for k, v in self.fingerprint.items() if found.get(k) != v)
            return diff or "fingerprint differs"
        return None

    def check(self) -> None:
        reason = self.stale_reason()
        if reason:
            raise StoreMismatch(
                f"The store at {self.path} was built differently ({reason}). "
                f"Rebuild it: policyqa ingest <your policies> --store {self.path} --rebuild")

    def _catalog_key(self) -> tuple | None:
        """Changes whenever the catalog is rewritten (each write is a rename: a new inode)."""
        try:
            st = self.catalog_path.stat()
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size

    def policies(self) -> dict[str, PolicyRecord]:
        """Every policy's record, parsed once per catalog write (answers ask on every question)."""
        key = self._catalog_key()
        if key is None or key != self._records_key:
            self._records, self._records_key = self._parse_records(), key
        return dict(self._records)

    def _parse_records(self) -> dict[str, PolicyRecord]:
        out = {}
        for pid, rec in sorted(self._catalog()["policies"].items()):
            fields = ("policy", "name", "last_updated", "language", "source")
            meta = PolicyMeta(**{k: rec["meta"][k] for k in fields},
                              extra={k: v for k, v in rec["meta"].items() if k not in fields})
            out[pid] = PolicyRecord(meta, rec["version"], rec["units"], rec["chars"],
                                    tuple(tuple(s) for s in rec.get("sections", ())), rec.get("path", ""))
        return out

    def policy(self, policy: str) -> PolicyRecord:
        recs = self.policies()
        if policy not in recs:
            known = ", ".join(recs) or "none: ingest some first"
            raise UnknownPolicy(f"Unknown policy {policy!r}. Known policies: {known}.")
        return recs[policy]

    def text(self, policy: str) -> str:
        rec = self.policy(policy)
        return (self.path / "texts" / f"{policy}@{rec.version}.txt").read_text("utf-8")

    # ----------------------------------------------------------------- chroma
    def open_in_background(self) -> threading.Thread | None:
        """Import chromadb and open the collection on a thread (about a second), so a caller
        can read and embed meanwhile; `collection()` waits for it through the lock. None when
        the collection is already open."""
        if self._collection is not None:
            return None

        def run():
            try:
                self.collection()
            except Exception:  # noqa: BLE001 - the caller's own collection() call reports it
                pass
        thread = threading.Thread(target=run, name="chroma-open", daemon=True)
        thread.start()
        return thread

    def collection(self):
        with self._lock:
            if self._collection is None:
                import chromadb
                from chromadb.config import Settings as ChromaSettings

                self.path.mkdir(parents=True, exist_ok=True)
                self._client = chromadb.PersistentClient(
                    path=str(self.path / "chroma"),
                    settings=ChromaSettings(anonymized_telemetry=False, allow_reset=True))
                self._collection = self._client.get_or_create_collection(
                    COLLECTION, embedding_function=_ChromaEmbedding(None, self.fingerprint.get("model", "")),
                    configuration={"hnsw": {"space": "cosine"}},
                    metadata={"schema": SCHEMA})
            return self._collection

    @contextmanager
    def writing(self):
        """Hold the store's writer lock (one writer process; threads serialised too)."""
        self.path.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self.path / ".writer.lock", "w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StoreMismatch(f"Another process is writing to the store at {self.path}; "
                                    "wait for it to finish (Chroma's directory takes one writer).") from None
            yield

    def reset(self) -> None:
        """Drop everything (for --rebuild)."""
        with self.writing():
            col = self.collection()
            self._client.delete_collection(col.name)
            self._collection = None
            self._write_catalog({"schema": SCHEMA, "fingerprint": self.fingerprint, "policies": {}})
            for f in (self.path / "texts").glob("*.txt"):
                f.unlink()
            self._rows_key = None

    def version_of(self, policy: str) -> str | None:
        rec = self._catalog()["policies"].get(policy)
        return rec["version"] if rec else None

    def cached_vectors(self, policy: str) -> dict[str, np.ndarray]:
        """Vectors of the active version's units by context hash, to reuse in an update."""
        version = self.version_of(policy)
        if version is None:
            return {}
        got = self.collection().get(where={"$and": [{"policy": policy}, {"version": version}]},
                                    include=["embeddings", "metadatas"])
        return {json.loads(m["unit"])["chash"]: np.asarray(e, dtype=np.float32)
                for m, e in zip(got["metadatas"], got["embeddings"])}

    def put_many(self, items: list["PolicyVersion"]) -> list[str]:
        """Make each item the active version of its policy: all rows are written first (one
        Chroma upsert for all, which is much cheaper than one per policy), then the catalog
        flips them live together. Returns their versions."""
        versions = [text_version(it.text) for it in items]
        with self.writing():
            catalog = self._catalog()
            catalog["fingerprint"] = self.fingerprint
            ids, vecs, metas = [], [], []
            for it, version in zip(items, versions):
                ids += [unit_id(u, version) for u in it.units]
                vecs.append(it.vectors)
                metas += [_unit_meta(u, version) for u in it.units]
            vecs = np.vstack(vecs) if vecs else np.zeros((0, 0), np.float32)
            texts = self.path / "texts"
            texts.mkdir(parents=True, exist_ok=True)
            for it, version in zip(items, versions):
                (texts / f"{it.meta.policy}@{version}.txt").write_text(it.text, "utf-8")
            # no documents: Chroma would index them for full-text search (BM25 is ours), which
            # was 40% of the write time; every metadata key is a row of its own, hence one packed key
            col = self.collection()
            for s in range(0, len(ids), 5000):
                batch = slice(s, s + 5000)
                col.upsert(ids=ids[batch], embeddings=vecs[batch], metadatas=metas[batch])
            old = {}
            for it, version in zip(items, versions):
                policy = it.meta.policy
                old[policy] = catalog["policies"].get(policy, {}).get("version")
                catalog["policies"][policy] = {
                    "meta": it.meta.to_dict(), "version": version, "units": len(it.units),
                    "chars": len(it.text), "sections": [list(x) for x in it.sections], "path": it.path}
            self._write_catalog(catalog)
            for it, version in zip(items, versions):
                previous = old[it.meta.policy]
                if previous and previous != version:
                    self._drop_version(it.meta.policy, previous)
        return versions

    def remove(self, policy: str) -> None:
        with self.writing():
            catalog = self._catalog()
            rec = catalog["policies"].pop(policy, None)
            if rec is None:
                return
            self._write_catalog(catalog)
            self._drop_version(policy, rec["version"])

    def _drop_version(self, policy: str, version: str) -> None:
        self.collection().delete(where={"$and": [{"policy": policy}, {"version": version}]})
        (self.path / "texts" / f"{policy}@{version}.txt").unlink(missing_ok=True)

    # ----------------------------------------------------------------- reading
    def rows(self) -> dict[str, UnitRows]:
        """The active units of every policy with their vectors, cached until the catalog changes."""
        with self._lock:
            key = self._catalog_key()
            if key is None:
                return {}
            if key != self._rows_key:
                self.check()
                active = {pid: rec["version"] for pid, rec in self._catalog()["policies"].items()}
                rows = {}
                for pid, version in active.items():
                    text = (self.path / "texts" / f"{pid}@{version}.txt").read_text("utf-8")
                    got = self.collection().get(where={"$and": [{"policy": pid}, {"version": version}]},
                                                include=["embeddings", "metadatas"])
                    items = sorted(((i, json.loads(m["unit"]), e) for i, m, e in
                                    zip(got["ids"], got["metadatas"], got["embeddings"])),
                                   key=lambda r: r[1]["order"])
                    rows[pid] = UnitRows(
                        pid, [_unit_from(pid, text, m) for _, m, _ in items], [i for i, *_ in items],
                        np.asarray([e for *_, e in items], dtype=np.float32).reshape(len(items), -1))
                self._rows, self._rows_key = rows, key
            return self._rows

    def query(self, vector: np.ndarray, policy: str, k: int) -> list[tuple[str, float]]:
        """Nearest units of one policy by Chroma's own index: [(unit id, cosine similarity)]."""
        version = self.policy(policy).version
        res = self.collection().query(query_embeddings=[vector], n_results=k,
                                      where={"$and": [{"policy": policy}, {"version": version}]})
        return [(i, 1.0 - d) for i, d in zip(res["ids"][0], res["distances"][0])]


def _unit_meta(u: Unit, version: str) -> dict:
    """Chroma metadata: the two keys queries filter on, and the rest packed in one JSON key."""
    unit = {"order": u.order, "start": u.start, "end": u.end, "section": list(u.section),
            "kind": u.kind, "page": u.page, "chash": context_hash(u)}
    return {"policy": u.policy, "version": version, "unit": json.dumps(unit, ensure_ascii=False)}


def _unit_from(policy: str, text: str, m: dict) -> Unit:
    """A unit from its metadata and its version's text (its quote is text[start:end])."""
    return Unit(policy=policy, order=m["order"], text=text[m["start"]:m["end"]], start=m["start"],
                end=m["end"], section=tuple(m["section"]), kind=m["kind"], page=m["page"])
