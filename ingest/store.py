"""The store: sentence units and their vectors in ChromaDB, plus a small catalog and the texts.

What a store holds: one collection of units (id, vector, and metadata: policy, version, and the
unit's place: order, offsets, section...); a catalog (a fingerprint, and for each policy its
metadata and *active version*); and for each policy version its normalised text (a unit's text
is text[start:end], so quotes are verbatim by construction) and its units' places: with the
model, all it takes to rebuild the vector index. Where the catalog and the texts live is the
business of one of two small classes with the same methods:

- `_FileCatalog` (the default, one machine): the store directory holds
    chroma/         ChromaDB PersistentClient data: the units
    catalog.json    the catalog, replaced by an atomic rename
    texts/          `ID@VERSION.txt` and `ID@VERSION.units.json`
    .writer.lock    the lock every use of chroma/ holds; the token of the process that took it last,
                    "busy" or "done"
- `_ServerCatalog` (`url` = POLICYQA_CHROMA_URL, a `chroma run` server): everything is on the
  server, in three collections named after the store (`name`, POLICYQA_CHROMA_COLLECTION):
  `NAME-units`, `NAME-catalog` (a record per policy, and one with the fingerprint and a
  generation that every change replaces) and `NAME-texts` (a record per version). The store
  directory holds nothing: a worker on another machine needs only the URL and the name.

A policy version is a hash of its normalised text. Every unit row carries its version, and
readers only see units whose version the catalog names as active. An update writes the new
version's text and rows, then flips the catalog in one step (a rename of catalog.json, or one
upsert of the policy's catalog record), then deletes the old rows: a failure or a kill at any
step before the flip leaves the old version searchable, and `tidy` deletes what it left.

Crash safety (the embedded client): Chroma rewrites its HNSW index files in place, so a process
killed at the wrong instant leaves an index that no later process can read ("Failed to apply
logs to the hnsw segment writer"), and that can even crash the reader (a segfault in Chroma's
native code). A process marks the lock file "busy" while it uses Chroma and "done" after; the
next process to find "busy" knows its predecessor was killed, and has a child process read the
whole index first (`_survived_crash`). If that child fails, or if Chroma fails here (after a
reopen and a retry, see `_use`), the units are deleted and rebuilt from the active versions'
texts and unit places, their units embedded again (`_heal`): no policy is lost. A row count that
disagrees with the unit places counts as broken too, and rows that no active version names (a
killed update's) are deleted by `tidy`.

Several processes on one directory: Chroma's directory is not safe for concurrent use, and a
client does not see another process's writes (its in-memory index goes stale: "Error finding
id"). Every use of chroma/ by any process holds one file lock (flock, waited for up to
`lock_timeout` seconds) and first writes its own token into the lock file; a process that finds
a token not its own there reopens its client before touching anything. The catalog and the text
files are read without the lock: they are only ever replaced by atomic renames.

Several processes on a server, on any machines: there is no lock (an flock orders the processes
of one machine only). A server's client is never stale and its index files are the server's
business, so nothing is reopened or probed after a crash; a lost units collection is rebuilt
like a damaged one. Writers do not wait for each other: each policy's catalog record is replaced
whole, so of two writers updating one policy at once the last to flip wins, and the loser's rows
are left unnamed until `tidy` deletes them. `tidy` keeps versions written less than
`TIDY_AFTER` seconds ago, which may be another writer's update under way. Readers notice a
change by the catalog's generation, read at most every `RECHECK_SECONDS` (`catalog_key`).

Only this module imports chromadb.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

import numpy as np

from ingest.errors import ChromaUnreachable, PolicyUnreadable, StoreBusy, StoreMismatch, UnknownPolicy
from ingest.types import Document, PolicyMeta, Unit

SCHEMA = 2  # 2: unit text read from texts/ (not stored twice), unit fields packed in one key
COLLECTION = "units"  # the units collection: in the store's directory, or NAME-units on a server
BATCH = 5000  # rows per Chroma call: a call's SQL takes a variable per row, and SQLite allows 32,766
log = logging.getLogger(__name__)


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
    version: str = ""
    text: str = ""  # the version's text, which every unit's start and end point into


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


RECHECK_SECONDS = 1.0  # on a server, how often at most a reader asks whether the catalog changed
TIDY_AFTER = 3600.0  # on a server, an unnamed version younger than this may be another writer's, under way
MARKER = "/store"  # the server catalog's record of the fingerprint and generation (no policy id has a "/")


class _Damaged(Exception):
    """Chroma answered, but not what the catalog says it holds (rows missing after a crash)."""


class _Directory:
    """What every Store on one store shares in this process: the Chroma client (Chroma keeps one
    per path per process anyway), its collections, the lock around every use of them, and on a
    server the catalog generation last read (so a write here is seen here at once)."""

    def __init__(self):
        self.lock = threading.RLock()  # threads of this process, re-entrant
        self.depth = 0  # nesting of _chroma() in the thread that holds `lock`
        self.lock_file = None  # open while this process holds the file lock
        self.client = None
        self.collections: dict[str, object] = {}  # "units", and on a server "catalog" and "texts"
        self.token = None  # what this process last wrote into the lock file
        self.generation, self.checked = None, float("-inf")  # a server catalog's, and when (monotonic)


_DIRECTORIES: dict[object, _Directory] = {}
_DIRECTORIES_LOCK = threading.Lock()


def _directory(key) -> _Directory:
    with _DIRECTORIES_LOCK:
        if key not in _DIRECTORIES:
            _DIRECTORIES[key] = _Directory()
        return _DIRECTORIES[key]


def _mark(fh, text: str) -> None:
    fh.seek(0)
    fh.truncate()
    fh.write(text)
    fh.flush()


def _write_atomic(path: Path, data: str, sync: bool = False) -> None:
    """Write a file so that a reader (or a crash) sees the old content or the new, never a part."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(data)
        if sync:
            fh.flush()
            os.fsync(fh.fileno())
    os.replace(tmp, path)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _empty_catalog(fingerprint: dict) -> dict:
    return {"schema": SCHEMA, "fingerprint": fingerprint, "policies": {}}


class _FileCatalog:
    """The catalog and the texts in the store's directory, for one machine. catalog.json is
    replaced by an atomic rename, which is the switch to a new version; writers hold the store's
    file lock, readers need none (every file is replaced whole). They are kept out of the
    embedded Chroma on purpose: healing deletes Chroma's whole directory (a damaged one cannot be
    trusted to read, or to delete from) and rebuilds it from these files."""

    def __init__(self, path: Path, fingerprint: dict):
        self.fingerprint = fingerprint
        self.catalog_path = path / "catalog.json"
        self.texts = path / "texts"

    def exists(self) -> bool:
        return self.catalog_path.exists()

    def key(self) -> tuple | None:
        """Changes whenever the catalog is rewritten (each write is a rename: a new inode)."""
        try:
            st = self.catalog_path.stat()
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size

    def load(self) -> dict:
        try:
            return json.loads(self.catalog_path.read_text("utf-8"))
        except FileNotFoundError:
            return _empty_catalog(self.fingerprint)

    def found_fingerprint(self) -> dict:
        return self.load().get("fingerprint", {})

    def records(self, policies: list[str]) -> dict[str, dict]:
        known = self.load()["policies"]
        return {p: known[p] for p in policies if p in known}

    def flip(self, changes: dict[str, dict | None]) -> None:
        """Name each policy's new record (None: remove it) in one step: the catalog's rename."""
        catalog = self.load()
        catalog["fingerprint"] = self.fingerprint
        for pid, rec in changes.items():
            if rec is None:
                catalog["policies"].pop(pid, None)
            else:
                catalog["policies"][pid] = rec
        _write_atomic(self.catalog_path, json.dumps(catalog, ensure_ascii=False, indent=1), sync=True)

    def reset(self) -> None:
        for f in self.texts.glob("*"):
            f.unlink()
        self.flip({pid: None for pid in self.load()["policies"]})

    def put_text(self, policy: str, version: str, text: str, places: list[dict]) -> None:
        self.texts.mkdir(parents=True, exist_ok=True)
        _write_atomic(self._file(policy, version, ".txt"), text)
        _write_atomic(self._file(policy, version, ".units.json"),
                      json.dumps({"units": places}, ensure_ascii=False, separators=(",", ":")))

    def text(self, policy: str, version: str) -> str:
        return self._file(policy, version, ".txt").read_text("utf-8")

    def version(self, policy: str, version: str) -> tuple[str, list[dict] | None]:
        """A version's text and its units' places (None: a store from before unit files)."""
        text = self.text(policy, version)
        try:
            return text, json.loads(self._file(policy, version, ".units.json").read_text("utf-8"))["units"]
        except FileNotFoundError:
            return text, None

    def drop_text(self, policy: str, version: str) -> None:
        for suffix in (".txt", ".units.json"):
            self._file(policy, version, suffix).unlink(missing_ok=True)

    def strays(self, active: set[tuple[str, str]]) -> dict[tuple[str, str], float]:
        """The stored versions `active` does not name, with when each was written."""
        out = {}
        for f in self.texts.glob("[!.]*"):  # not the temporary files of a write under way
            pid, _, version = f.name.removesuffix(".units.json").removesuffix(".txt").rpartition("@")
            if (pid, version) not in active:
                out[(pid, version)] = f.stat().st_mtime
        return out

    def drop_temporaries(self) -> None:
        """Delete the temporary files (`_write_atomic`'s) of writers that died mid-write: those
        whose process no longer runs. A live process's file may be a write under way."""
        for f in self.texts.glob(".*.tmp"):
            pid = f.name.split(".")[-3]
            if pid.isdigit() and not _process_alive(int(pid)):
                f.unlink(missing_ok=True)

    def _file(self, policy: str, version: str, suffix: str) -> Path:
        return self.texts / f"{policy}@{version}{suffix}"


class _ServerCatalog:
    """The catalog and the texts on a Chroma server, beside the units. `NAME-catalog` holds a
    record per policy (its catalog entry as JSON; "" once removed, so that a removal is an
    upsert like every other change and no record is ever deleted) and the MARKER record (the
    fingerprint, and a generation that every change replaces: what readers poll). Every change
    of the catalog is ONE upsert call of the changed records and the marker. `NAME-texts` holds a
    record per version: its text, its units' places and when it was written. Neither collection
    is searched, so their records carry a dummy vector of one number (Chroma wants a vector on
    every record, and must never be left to compute one: its default model is a download)."""

    def __init__(self, directory: _Directory, fingerprint: dict, open_collection: Callable[[str], object]):
        self.dir, self.fingerprint, self.open = directory, fingerprint, open_collection

    def _marker(self) -> dict | None:
        got = self.open("catalog").get(ids=[MARKER], include=["metadatas"])
        return got["metadatas"][0] if got["ids"] else None

    def exists(self) -> bool:
        return self._marker() is not None

    def key(self) -> str | None:
        """The generation of the catalog, read from the server at most every RECHECK_SECONDS
        (one small get: 2.4 ms p50 on loopback, benchmarks/change_visibility.py), so a question
        costs no round trip most of the time and another machine's change is seen within that time."""
        d = self.dir
        if time.monotonic() - d.checked >= RECHECK_SECONDS:
            marker = self._marker()
            d.generation, d.checked = (marker["generation"] if marker else None), time.monotonic()
        return d.generation

    def load(self) -> dict:
        """Every record, BATCH a call. Records are never deleted, so paging by offset skips none."""
        catalog, col, offset = _empty_catalog(self.fingerprint), self.open("catalog"), 0
        while True:
            got = col.get(include=["metadatas"], limit=BATCH, offset=offset)
            for pid, m in zip(got["ids"], got["metadatas"]):
                if pid == MARKER:
                    catalog["fingerprint"] = json.loads(m["fingerprint"])
                elif m["record"]:
                    catalog["policies"][pid] = json.loads(m["record"])
            if len(got["ids"]) < BATCH:
                return catalog
            offset += BATCH

    def found_fingerprint(self) -> dict:
        marker = self._marker()
        return json.loads(marker["fingerprint"]) if marker else {}

    def records(self, policies: list[str]) -> dict[str, dict]:
        got = self.open("catalog").get(ids=list(policies), include=["metadatas"]) if policies else {"ids": []}
        return {pid: json.loads(m["record"]) for pid, m in zip(got["ids"], got["metadatas"]) if m["record"]}

    def flip(self, changes: dict[str, dict | None]) -> None:
        """Name each policy's new record (None: remove it) and a new generation, in one upsert."""
        generation = uuid.uuid4().hex
        ids = [*changes, MARKER]
        metas = [{"record": json.dumps(rec, ensure_ascii=False) if rec else ""} for rec in changes.values()]
        metas.append({"fingerprint": json.dumps(self.fingerprint), "generation": generation, "schema": SCHEMA})
        self.open("catalog").upsert(ids=ids, embeddings=[[1.0]] * len(ids), metadatas=metas)
        self.dir.generation, self.dir.checked = generation, time.monotonic()

    def reset(self) -> None:
        """Empty both collections, keeping them: other processes hold them open by their ids."""
        texts = self.open("texts")
        while ids := texts.get(include=[], limit=BATCH)["ids"]:
            texts.delete(ids=ids)
        self.flip({pid: None for pid in self.load()["policies"]})

    def put_text(self, policy: str, version: str, text: str, places: list[dict]) -> None:
        self.open("texts").upsert(ids=[f"{policy}@{version}"], embeddings=[[1.0]], metadatas=[{
            "policy": policy, "version": version, "written": time.time(), "text": text,
            "units": json.dumps(places, ensure_ascii=False, separators=(",", ":"))}])

    def _body(self, policy: str, version: str) -> dict:
        got = self.open("texts").get(ids=[f"{policy}@{version}"], include=["metadatas"])
        if not got["ids"]:
            raise LookupError(f"{policy}@{version}: no text on the server")
        return got["metadatas"][0]

    def text(self, policy: str, version: str) -> str:
        return self._body(policy, version)["text"]

    def version(self, policy: str, version: str) -> tuple[str, list[dict]]:
        body = self._body(policy, version)
        return body["text"], json.loads(body["units"])

    def drop_text(self, policy: str, version: str) -> None:
        self.open("texts").delete(ids=[f"{policy}@{version}"])

    def drop_temporaries(self) -> None:
        """Nothing to do: every write to the server is one upsert, which leaves no part behind."""

    def strays(self, active: set[tuple[str, str]]) -> dict[tuple[str, str], float]:
        """The stored versions `active` does not name, with when each was written: their ids
        first (no text comes with them), then the few strays' records."""
        col, ids, offset = self.open("texts"), [], 0
        while True:
            got = col.get(include=[], limit=BATCH, offset=offset)["ids"]
            ids += [i for i in got if tuple(i.rpartition("@")[::2]) not in active]
            if len(got) < BATCH:
                break
            offset += BATCH
        out = {}
        for s in range(0, len(ids), 100):  # a stray's text comes along: a few at a time
            got = col.get(ids=ids[s:s + 100], include=["metadatas"])
            out.update({(m["policy"], m["version"]): m["written"] for m in got["metadatas"]})
        return out


class Store:
    def __init__(self, path: Path | str, fingerprint: dict, *, lock_timeout: float = 60.0,
                 embedder: Callable[[], object] | None = None, url: str = "", name: str = "policyqa"):
        """`embedder` returns the Embedder that made this store's vectors: it is needed only to
        rebuild a damaged index (`_heal`). `lock_timeout`: seconds to wait for another process.
        `url`: a Chroma server's http://HOST:PORT, where the store named `name` is kept whole;
        else everything is in the directory `path`."""
        self.path = Path(path)
        self.url = _checked_url(url)
        self.name = _checked_name(name) if self.url else ""
        self.fingerprint = fingerprint
        self.lock_timeout = lock_timeout
        self._embedder = embedder
        self._dir = _directory((self.url, self.name) if self.url else Path(os.path.abspath(self.path)))
        self._state = (_ServerCatalog(self._dir, fingerprint, self._open) if self.url
                       else _FileCatalog(self.path, fingerprint))
        self._rows_lock = threading.Lock()
        self._rows: dict[str, UnitRows] = {}
        self._rows_key = None
        self._snapshot: tuple[dict, dict] = ({}, {})
        self._records: dict[str, PolicyRecord] = {}
        self._records_key = None
        self.unreadable: dict[str, str] = {}  # policy -> why its rows could not be read
        self.heals = 0  # how many times this object rebuilt the vector index

    def embedder(self):
        """The Embedder this store's vectors are made with (None if the store was opened without one)."""
        return self._embedder() if self._embedder else None

    def check_embedder(self, embedder) -> None:
        """Vectors of another model must never enter this store: cosines between a query of one
        model and passages of another rank nothing, and no error would say so."""
        name, mine = getattr(embedder, "name", None), self.fingerprint.get("model")
        if name and mine and name != mine:
            raise StoreMismatch(f"The store at {self.where} holds {mine} vectors; the embedder given makes "
                                f"{name} vectors. Open the store for that model, or embed with its own.")

    @property
    def where(self) -> str:
        """The store, as a message names it."""
        return f"{self.name!r} on the Chroma server {self.url}" if self.url else str(self.path)

    # ----------------------------------------------------------------- catalog
    def _catalog(self) -> dict:
        return self._state.load()

    def exists(self) -> bool:
        return self._state.exists()

    def stale_reason(self) -> str | None:
        """Why this store cannot serve the configured model and segmentation, or None."""
        if not self.exists():
            return None
        found = self._state.found_fingerprint()
        if found != self.fingerprint:
            diff = ", ".join(f"{k}: store has {found.get(k)!r}, configured {v!r}"
                             for k, v in self.fingerprint.items() if found.get(k) != v)
            return diff or "fingerprint differs"
        return None

    def reembed(self) -> bool:
        """A store built with another embedding model (the same segmenter and schema) made to
        serve this one: every active unit embedded again from the texts and unit places the store
        keeps, then the new fingerprint recorded. Every policy stays, wherever it was ingested
        from. A process killed midway leaves the old fingerprint, so the next one does it again.
        False, and nothing done, when more than the model differs (the units would change too:
        rebuild) or the store already serves this model."""
        found = self._state.found_fingerprint() if self.exists() else {}
        rest = lambda fp: {k: v for k, v in fp.items() if k != "model"}  # noqa: E731
        if not found or found == self.fingerprint or rest(found) != rest(self.fingerprint):
            return False
        with self._chroma():
            self._heal()
            self._state.flip({})
            self._rows, self._rows_key, self._snapshot = {}, None, ({}, {})
        return True

    def check(self) -> None:
        reason = self.stale_reason()
        if reason:
            raise StoreMismatch(
                f"The store at {self.where} was built differently ({reason}). "
                f"Rebuild it: policyqa ingest <your policies> --store {self.path} --rebuild")

    def catalog_key(self):
        """Changes whenever the catalog changes (on a server, seen within RECHECK_SECONDS)."""
        return self._state.key()

    def policies(self) -> dict[str, PolicyRecord]:
        """Every policy's record, parsed once per catalog write (answers ask on every question)."""
        key = self.catalog_key()
        if key is None or key != self._records_key:
            self._records, self._records_key = self._parse_records(self._catalog()), key
        return dict(self._records)

    @staticmethod
    def _parse_records(catalog: dict) -> dict[str, PolicyRecord]:
        out = {}
        for pid, rec in sorted(catalog["policies"].items()):
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
        version = self.policy(policy).version
        try:
            return self._state.text(policy, version)
        except (FileNotFoundError, LookupError):  # replaced since the catalog was read (another process)
            latest = self.version_of(policy)
            if latest in (None, version):
                raise
            return self._state.text(policy, latest)

    # ----------------------------------------------------------------- the lock and the client
    @contextmanager
    def _chroma(self):
        """Hold the store: this process's threads and every other process wait (up to
        `lock_timeout` s). On entry, if another process used Chroma since this one did, the
        client is reopened: its in-memory view of the index would be stale. On a server only
        this process's threads wait: the others may be on other machines (see the module's
        docstring for what makes that safe)."""
        d = self._dir
        with d.lock:
            if self.url:
                yield
                return
            if d.depth == 0:
                self.path.mkdir(parents=True, exist_ok=True)
                fh = open(self.path / ".writer.lock", "a+", encoding="utf-8")
                deadline = time.monotonic() + self.lock_timeout
                while True:
                    try:
                        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() > deadline:
                            fh.close()
                            raise StoreBusy(
                                f"Another process has been using the store for over {self.lock_timeout:g} s "
                                "(Chroma's directory takes one process at a time); try again when it has "
                                "finished, or wait longer with POLICYQA_STORE_LOCK_TIMEOUT.") from None
                        time.sleep(0.02)
                fh.seek(0)
                found, _, state = fh.read().rpartition(" ")
                if found != d.token:
                    self._close_client()
                # our token goes in before anything is touched, marked busy until we are done: a
                # process killed while it holds the lock leaves "busy" for the next one to find
                d.token = f"{os.getpid()}:{uuid.uuid4().hex[:12]}"
                _mark(fh, f"{d.token} busy")
                d.lock_file = fh
            crashed = d.depth == 0 and state == "busy"
            d.depth += 1
            try:
                if crashed and not self._survived_crash():
                    self._heal()
                yield
            finally:
                d.depth -= 1
                if d.depth == 0:
                    _mark(d.lock_file, f"{d.token} done")
                    d.lock_file.close()  # releases the flock
                    d.lock_file = None

    writing = _chroma  # the writer's lock is the same lock

    def _close_client(self) -> None:
        d = self._dir
        if d.client is not None:
            try:
                d.client.close()
            except Exception:  # noqa: BLE001 - a broken client is being dropped anyway
                pass
        d.client = None
        d.collections.clear()

    def _open(self, kind: str):
        """One of the store's collections ("units"; on a server "catalog" and "texts" too),
        opened on first use (the units: inside `_chroma`)."""
        d = self._dir
        with d.lock:
            if kind not in d.collections:
                if d.client is None:
                    d.client = self._client()
                d.collections[kind] = d.client.get_or_create_collection(
                    f"{self.name}-{kind}" if self.url else kind,
                    embedding_function=_ChromaEmbedding(None, self.fingerprint.get("model", "")),
                    configuration={"hnsw": {"space": "cosine"}}, metadata={"schema": SCHEMA})
            return d.collections[kind]

    def _client(self):
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        if not self.url:
            return chromadb.PersistentClient(path=str(self.path / "chroma"),
                                             settings=ChromaSettings(anonymized_telemetry=False, allow_reset=True))
        where = urlsplit(self.url)
        try:
            return chromadb.HttpClient(host=where.hostname, port=where.port or 8000, ssl=where.scheme == "https",
                                       settings=ChromaSettings(anonymized_telemetry=False))
        except Exception as exc:  # noqa: BLE001 - chromadb says "Could not connect" in several ways
            raise ChromaUnreachable(
                f"No Chroma server answers at {self.url} (POLICYQA_CHROMA_URL): start one with "
                "`chroma run --path DIR --port PORT`, or unset the setting to keep the store in "
                "its directory.") from exc

    def _collection(self):
        return self._open(COLLECTION)

    def collection(self):
        """The open units collection, for inspection (tests). Every other use goes through `_use`."""
        with self._chroma():
            return self._collection()

    def open_in_background(self) -> threading.Thread:
        """Import chromadb on a thread (about a second), so a caller can read and embed
        meanwhile. The collection itself is opened under the lock, when first used."""
        thread = threading.Thread(target=__import__, args=("chromadb",), name="chroma-import", daemon=True)
        thread.start()
        return thread

    def _use(self, fn: Callable):
        """fn(collection) under the lock. If Chroma fails, reopen the client and retry (another
        process may have changed the index under it); if it fails again the index is damaged:
        rebuild it from the stored versions and retry once more. fn must be safe to repeat."""
        from chromadb.errors import ChromaError

        with self._chroma():
            for attempt in ("first", "reopened", "healed"):
                try:
                    return fn(self._collection())
                except (ChromaError, _Damaged) as exc:
                    if attempt == "healed":
                        raise
                    log.warning("store %s: Chroma failed (%s); %s", self.path.name, exc,
                                "reopening it" if attempt == "first" else "rebuilding the vector index")
                    self._close_client()
                    if attempt == "reopened":
                        self._heal()

    # ----------------------------------------------------------------- healing
    def _heal(self) -> None:
        """Rebuild the units collection from the active versions' texts and unit places (their
        vectors re-embedded), so a store whose index a crash damaged loses no policy."""
        embedder = self.embedder()
        if embedder is None:
            raise StoreMismatch("The store's vector index is damaged and this process has no embedding "
                                "model to rebuild it; run policyqa ingest with your policies to repair it.")
        t0 = time.perf_counter()
        self._drop_collection()
        col = self._collection()
        catalog, n = self._catalog(), 0
        for pid, rec in catalog["policies"].items():
            units = self._stored_units(pid, rec["version"])
            contexts = {context_hash(u): u.context for u in units}
            vectors = dict(zip(contexts, embedder.embed_passages(list(contexts.values())))) if contexts else {}
            ids = [unit_id(u, rec["version"]) for u in units]
            vecs = np.asarray([vectors[context_hash(u)] for u in units], dtype=np.float32)
            metas = [_unit_meta(u, rec["version"]) for u in units]
            for s in range(0, len(ids), BATCH):
                col.upsert(ids=ids[s:s + BATCH], embeddings=vecs[s:s + BATCH], metadatas=metas[s:s + BATCH])
            n += len(units)
        self.heals += 1
        log.warning("store %s: vector index rebuilt from %d policies (%d units) in %.1f s",
                    self.path.name, len(catalog["policies"]), n, time.perf_counter() - t0)

    def _drop_collection(self) -> None:
        """Delete Chroma's directory, or the units collection on a server: nothing in it is lost
        (the active versions' texts and places are kept apart), and no Chroma code has to read a
        damaged index to delete it."""
        if self.url:
            from chromadb.errors import NotFoundError

            self._collection()  # the client
            try:
                self._dir.client.delete_collection(self._dir.collections.pop(COLLECTION).name)
            except NotFoundError:
                pass
            return
        self._close_client()
        shutil.rmtree(self.path / "chroma", ignore_errors=True)

    def _survived_crash(self) -> bool:
        """The last process to use the store was killed while it held it, so Chroma's index may
        be half-written, and reading a half-written index can crash the reading process (a
        segfault in Chroma's native code), not just raise. A child process reads it all first."""
        if not (self.path / "chroma").exists():
            return True
        probe = ("import sys, chromadb\n"
                 "from chromadb.config import Settings\n"
                 "c = chromadb.PersistentClient(path=sys.argv[1], settings=Settings(anonymized_telemetry=False))\n"
                 f"names = [x.name for x in c.list_collections()]\n"
                 f"col = c.get_collection({COLLECTION!r}) if {COLLECTION!r} in names else None\n"
                 f"n = col.count() if col else 0\n"
                 f"for s in range(0, n, {BATCH}):\n"
                 f"    col.get(include=['embeddings', 'metadatas'], limit={BATCH}, offset=s)\n")
        import subprocess
        import sys

        done = subprocess.run([sys.executable, "-c", probe, str(self.path / "chroma")], capture_output=True,
                              timeout=max(60.0, self.lock_timeout))
        if done.returncode:
            log.warning("store %s: a process was killed while writing it, and its index no longer reads "
                        "(probe exit code %s)", self.path.name, done.returncode)
        return done.returncode == 0

    def _stored_units(self, policy: str, version: str) -> list[Unit]:
        """A version's units from its stored text and places. A store written before unit files
        existed has only the text: then the text is segmented again (its headings inferred, not
        read from markup)."""
        text, places = self._state.version(policy, version)
        if places is None:
            from ingest.segment import segment

            log.warning("store %s: no unit file for %s@%s; segmenting its text again", self.path.name,
                        policy, version)
            units = segment(Document(policy=policy, text=text, source="", format="txt"))
            self._state.put_text(policy, version, text, [_place(u) for u in units])
            rec = self._state.records([policy]).get(policy)
            if rec and rec["version"] == version:
                self._state.flip({policy: {**rec, "units": len(units)}})
            return units
        return [_unit_from(policy, text, m) for m in places]

    # ----------------------------------------------------------------- writing
    def reset(self) -> None:
        """Drop everything (for --rebuild)."""
        with self._chroma():
            self._drop_collection()
            self._state.reset()
            self._rows, self._rows_key, self._snapshot = {}, None, ({}, {})

    def version_of(self, policy: str) -> str | None:
        rec = self._state.records([policy]).get(policy)
        return rec["version"] if rec else None

    def cached_vectors(self, policy: str) -> dict[str, np.ndarray]:
        """Vectors of the active version's units by context hash, to reuse in an update."""
        with self._chroma():
            version = self.version_of(policy)
            if version is None:
                return {}
            got = self._use(lambda col: _get_all(col, policy, version, ["embeddings", "metadatas"]))
            return {json.loads(m["unit"])["chash"]: np.asarray(e, dtype=np.float32)
                    for m, e in zip(got["metadatas"], got["embeddings"])}

    def put_many(self, items: list["PolicyVersion"]) -> list[str]:
        """Make each item the active version of its policy: its text and unit places and its rows
        are written first (in batches, whatever the policy's size), then the catalog flips them
        live together, then the previous versions' rows go. Returns their versions."""
        versions = [text_version(it.text) for it in items]
        with self._chroma():
            ids, vecs, metas = [], [], []
            for it, version in zip(items, versions):
                self._state.put_text(it.meta.policy, version, it.text, [_place(u) for u in it.units])
                ids += [unit_id(u, version) for u in it.units]
                vecs.append(it.vectors)
                metas += [_unit_meta(u, version) for u in it.units]
            vecs = np.vstack(vecs) if vecs else np.zeros((0, 0), np.float32)

            # no documents: Chroma would index them for full-text search (BM25 is ours), which
            # was 40% of the write time; every metadata key is a row of its own, hence one packed key
            def upsert(col):
                for s in range(0, len(ids), BATCH):
                    col.upsert(ids=ids[s:s + BATCH], embeddings=vecs[s:s + BATCH], metadatas=metas[s:s + BATCH])
            self._use(upsert)
            old = self._state.records([it.meta.policy for it in items])
            self._state.flip({it.meta.policy: {
                "meta": it.meta.to_dict(), "version": version, "units": len(it.units), "chars": len(it.text),
                "sections": [list(x) for x in it.sections], "path": it.path} for it, version in zip(items, versions)})
            self._drop_replaced({pid: rec["version"] for pid, rec in old.items()})
        return versions

    def remove(self, policy: str) -> None:
        with self._chroma():
            rec = self._state.records([policy]).get(policy)
            if rec is None:
                return
            self._state.flip({policy: None})
            self._drop_replaced({policy: rec["version"]})

    def _drop_replaced(self, previous: dict[str, str]) -> None:
        """Delete the rows and texts of the versions just replaced (or removed), unless the
        catalog names one of them again: on a server, another writer may have flipped it back."""
        now = self._state.records(list(previous))
        for policy, version in previous.items():
            if now.get(policy, {}).get("version") != version:
                self._drop_version(policy, version)

    def _drop_version(self, policy: str, version: str) -> None:
        def drop(col):
            while ids := col.get(where=_where(policy, version), include=[], limit=BATCH)["ids"]:
                col.delete(ids=ids)
        self._use(drop)  # the rows first: rows without their text would never be found by `tidy`
        self._state.drop_text(policy, version)

    def tidy(self) -> int:
        """Delete what no active version names: the rows and texts of an update or removal that
        was killed half-way, or of a writer that lost to another on a server. On a server, what
        was written less than TIDY_AFTER seconds ago is kept: it may be an update under way on
        another machine. Cheap when there is nothing to do (a count and a listing of the texts).
        Returns rows deleted."""
        grace = TIDY_AFTER if self.url else 0.0
        with self._chroma():
            def orphans(col) -> int:
                catalog = self._catalog()
                active = {(pid, rec["version"]) for pid, rec in catalog["policies"].items()}
                if col.count() <= sum(rec["units"] for rec in catalog["policies"].values()) \
                        and not self._state.strays(active):
                    return 0
                # the rows, then the texts, then the catalog: a version whose rows are seen here
                # had its text written before them, and is named by the catalog read last if it
                # went live meanwhile
                rows = []
                for s in range(0, col.count(), BATCH):
                    got = col.get(include=["metadatas"], limit=BATCH, offset=s)
                    rows += [(i, (m.get("policy"), m.get("version"))) for i, m in zip(got["ids"], got["metadatas"])]
                strays = self._state.strays(active)
                live = {(pid, rec["version"]) for pid, rec in self._catalog()["policies"].items()}
                keep = active | live | {v for v, written in strays.items() if time.time() - written < grace}
                stray = [i for i, v in rows if v not in keep]
                for s in range(0, len(stray), BATCH):
                    col.delete(ids=stray[s:s + BATCH])
                for policy, version in set(strays) - keep:
                    self._state.drop_text(policy, version)
                return len(stray)
            n = self._use(orphans)
            self._state.drop_temporaries()
            if n:
                log.warning("store %s: deleted %d rows left by an interrupted update", self.path.name, n)
            return n

    # ----------------------------------------------------------------- reading
    def rows(self) -> dict[str, UnitRows]:
        """The active units of every policy with their vectors (see `snapshot`). For tools and
        tests: memory grows with the whole corpus, so answers read a policy at a time (`read`)."""
        return self.snapshot()[1]

    def snapshot(self) -> tuple[dict[str, PolicyRecord], dict[str, UnitRows]]:
        """The records and the active units with their vectors of every policy, from one read of
        the catalog. After the catalog changes, only the policies whose version changed are read
        again; the others keep their objects. A policy that cannot be read is left out of both
        (and named in `unreadable`), never the others."""
        with self._rows_lock:
            key = self.catalog_key()
            if key is None:
                return {}, {}
            if key == self._rows_key:
                return self._snapshot
            self.check()
            with self._chroma():  # no writer between reading the catalog and reading its rows
                key = self.catalog_key()
                catalog = self._catalog()
                active = {pid: rec["version"] for pid, rec in catalog["policies"].items()}
                rows = {pid: r for pid, r in self._rows.items() if active.get(pid) == r.version}
                for pid, version in active.items():
                    if pid in rows:
                        continue
                    try:
                        rows[pid] = self.read(pid, version)
                    except PolicyUnreadable:  # one policy never makes the others unanswerable
                        pass
            records = {pid: rec for pid, rec in self._parse_records(catalog).items() if pid in rows}
            self._rows, self._rows_key = dict(sorted(rows.items())), key
            self._snapshot = (records, self._rows)
            return self._snapshot

    def read(self, policy: str, version: str) -> UnitRows:
        """One policy version's units with their vectors, in policy order: what an answer's index
        is built from, read when the policy is first asked about. A policy that cannot be read
        raises PolicyUnreadable (and is named in `unreadable`); the others are not affected."""
        try:
            rows = self._read_rows(policy, version)
        except StoreBusy:
            raise
        except Exception as exc:  # noqa: BLE001 - a missing file, a damaged row: this policy only
            log.error("store %s: policy %s cannot be read: %s", self.path.name, policy, exc)
            self.unreadable[policy] = str(exc)
            self._dir.checked = float("-inf")  # on a server, the catalog may have changed: look now
            raise PolicyUnreadable(f"The policy {policy!r} cannot be read from the store; ingest its file "
                                   "again to repair it.") from exc
        self.unreadable.pop(policy, None)
        return rows

    def _read_rows(self, pid: str, version: str) -> UnitRows:
        text, places = self._state.version(pid, version)

        def read(col):
            got = _get_all(col, pid, version, ["embeddings", "metadatas"])
            if places is None or len(got["ids"]) != len(places):
                if self.version_of(pid) != version:  # an update replaced it since its text was read
                    raise UnknownPolicy(f"{pid}@{version} is no longer stored")
                if places is not None:
                    raise _Damaged(f"{pid}@{version}: Chroma holds {len(got['ids'])} of its rows")
            return got
        got = self._use(read)
        items = sorted(((i, json.loads(m["unit"]), e) for i, m, e in
                        zip(got["ids"], got["metadatas"], got["embeddings"])), key=lambda r: r[1]["order"])
        units = [_unit_from(pid, text, m) for _, m, _ in items]
        if places is None:  # a store from before unit files: write them now, while it can be read
            self._state.put_text(pid, version, text, [_place(u) for u in units])
        return UnitRows(pid, units, [i for i, *_ in items],
                        np.asarray([e for *_, e in items], dtype=np.float32).reshape(len(items), -1), version, text)

    def nearest(self, vector: np.ndarray, k: int) -> list[tuple[str, str, float]]:
        """The k units nearest to `vector` in every policy, by Chroma's approximate (HNSW) index:
        [(policy, version, cosine similarity)], nearest first. Versions that are not active (an
        update under way) are the caller's to skip."""
        res = self._use(lambda col: col.query(query_embeddings=[vector], n_results=k, include=["metadatas", "distances"]))
        return [(m["policy"], m["version"], 1.0 - d) for m, d in zip(res["metadatas"][0], res["distances"][0])]


def _checked_url(url: str) -> str:
    if url and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname):
        raise ChromaUnreachable(f"POLICYQA_CHROMA_URL must look like http://HOST:PORT, not {url!r}.")
    return url.rstrip("/")


def _checked_name(name: str) -> str:
    """A store's name on a server, which names its collections: what Chroma allows in them."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}[A-Za-z0-9]", name or "") or ".." in name:
        raise ChromaUnreachable(f"POLICYQA_CHROMA_COLLECTION must be 2 to 202 letters, digits, '.', '_' or '-', "
                                f"starting and ending with a letter or digit, not {name!r}.")
    return name


def _where(policy: str, version: str) -> dict:
    return {"$and": [{"policy": policy}, {"version": version}]}


def _get_all(col, policy: str, version: str, include: list[str]) -> dict:
    """Every row of one policy version, BATCH rows a call (one call for all of a large policy
    fails with "too many SQL variables")."""
    out = {"ids": [], "metadatas": [], "embeddings": []}
    offset = 0
    while True:
        got = col.get(where=_where(policy, version), include=include, limit=BATCH, offset=offset)
        for k in include:
            out[k].extend(got[k])
        out["ids"].extend(got["ids"])
        if len(got["ids"]) < BATCH:
            return out
        offset += BATCH


def _place(u: Unit) -> dict:
    """Where a unit is in its version's text, and what its vector was made from."""
    return {"order": u.order, "start": u.start, "end": u.end, "section": list(u.section),
            "kind": u.kind, "page": u.page, "chash": context_hash(u)}


def _unit_meta(u: Unit, version: str) -> dict:
    """Chroma metadata: the two keys queries filter on, and the rest packed in one JSON key."""
    return {"policy": u.policy, "version": version, "unit": json.dumps(_place(u), ensure_ascii=False)}


def _unit_from(policy: str, text: str, m: dict) -> Unit:
    """A unit from its metadata and its version's text (its quote is text[start:end])."""
    return Unit(policy=policy, order=m["order"], text=text[m["start"]:m["end"]], start=m["start"],
                end=m["end"], section=tuple(m["section"]), kind=m["kind"], page=m["page"])
