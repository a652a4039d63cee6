"""Ingestion pipeline: files -> Documents -> Units -> vectors -> the store, with a report."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ingest.embedding import Embedder, get_embedder, runtime_name
from ingest.errors import IngestError
from ingest.loaders import FORMATS, load
from ingest.metadata import load_manifest, policy_meta
from ingest.segment import SEGMENTER_VERSION, sections, segment
from ingest.store import SCHEMA, PolicyVersion, Store, context_hash, text_version

SKIP_NAMES = {"manifest.json"}  # folder files that are not policies; README.* is skipped too


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)  # {"path", "error"}
    units: int = 0  # units in the store after the run
    embedded: int = 0  # units that needed a new vector in this run

    def to_dict(self) -> dict:
        return {"added": self.added, "updated": self.updated, "unchanged": self.unchanged,
                "removed": self.removed, "failed": self.failed, "units": self.units,
                "embedded": self.embedded}


def fingerprint(model: str, backend: str) -> dict:
    return {"model": runtime_name(model, backend), "segmenter": SEGMENTER_VERSION, "schema": SCHEMA}


def open_store(path: Path, model: str, backend: str, *, lock_timeout: float = 60.0) -> Store:
    """The store at `path` for this model; the model is loaded only if the store must heal."""
    return Store(path, fingerprint(model, backend), lock_timeout=lock_timeout,
                 embedder=lambda: get_embedder(model, backend))


def expand(paths: list[Path]) -> tuple[list[tuple[Path, Path | None]], list[dict]]:
    """Files to ingest as (file, folder it was found in), and failures for paths that are not there."""
    files, failed = [], []
    for p in map(Path, paths):
        if p.is_dir():
            for f in sorted(p.iterdir()):
                if (f.is_file() and not f.name.startswith(".") and f.name not in SKIP_NAMES
                        and not f.stem.upper() == "README" and f.suffix.lower() in FORMATS):
                    files.append((f, p))
        elif p.is_file():
            files.append((p, None))
        else:
            failed.append({"path": str(p), "error": f"no such file or folder: {p}"})
    return files, failed


GROUP_UNITS = 1024  # units embedded together: long length-sorted batches across files are faster


@dataclass
class _Pending:
    """A policy read and segmented, waiting for its vectors."""

    path: Path
    doc: object
    meta: object
    units: list
    cached: dict  # vectors of the old version's units by context hash
    is_new: bool

    def __post_init__(self):
        self.keys = [context_hash(u) for u in self.units]  # what each unit's vector is looked up by


def ingest_paths(paths: list[Path], store: Store, embedder: Embedder | None = None, *,
                 model: str = "all-MiniLM-L6-v2", backend: str = "onnx-int8",
                 progress: Callable | None = None) -> IngestReport:
    """Ingest files and folders into the store. A bad file is reported; the others still ingest.
    A policy whose file is gone from an ingested folder is removed from the store.

    Files are read and segmented one by one; their new units are embedded in groups of about
    GROUP_UNITS across files (length-sorted batches waste little on padding), then each policy
    is swapped in on its own."""
    report = IngestReport()
    files, report.failed = expand(paths)
    store.check()
    store.open_in_background()
    known = store.policies()
    seen: dict[str, Path] = {}
    manifests: dict[Path, dict] = {}
    group: list[_Pending] = []
    for path, folder in (progress(files) if progress else files):
        try:
            pending = _read(path, known, seen, manifests, store)
        except Exception as exc:
            report.failed.append({"path": str(path), "error": _reason(path, exc)})
            continue
        if pending is None:
            report.unchanged.append(path.stem)
            continue
        group.append(pending)
        if sum(len(p.units) for p in group) >= GROUP_UNITS:
            embedder = embedder or get_embedder(model, backend)
            _embed_and_store(group, store, embedder, report)
            group = []
    if group:
        _embed_and_store(group, store, embedder or get_embedder(model, backend), report)
    for folder in {f.resolve() for _, f in files if f is not None}:
        for pid, rec in store.policies().items():
            if rec.path and Path(rec.path).parent == folder and pid not in seen:
                store.remove(pid)
                report.removed.append(pid)
    store.tidy()  # what a killed run left behind
    report.units = sum(r.units for r in store.policies().values())
    return report


def _reason(path: Path, exc: Exception) -> str:
    if isinstance(exc, IngestError):
        return str(exc)
    return f"{path}: {type(exc).__name__}: {exc}"  # a bug or a library failure, reported as such


def _read(path: Path, known: dict, seen: dict, manifests: dict, store: Store) -> _Pending | None:
    """Load and segment one file; None if the store already holds exactly this policy."""
    pid = path.stem
    if pid in seen:
        raise IngestError(f"{path}: policy id {pid!r} is already taken by {seen[pid]}; "
                          "give one of the files another name")
    seen[pid] = path
    parent = path.parent.resolve()
    if parent not in manifests:
        manifests[parent] = load_manifest(parent)
    doc = load(path)
    meta = policy_meta(doc, manifests[parent].get(pid, {}))
    old = known.get(pid)
    if (old and old.version == text_version(doc.text) and old.meta.to_dict() == meta.to_dict()
            and old.path == str(path.resolve())):
        return None
    units = segment(doc)
    if not units:
        raise IngestError(f"{path}: no sentences found after normalising the text")
    return _Pending(path, doc, meta, units, store.cached_vectors(pid) if old else {}, old is None)


def _embed_and_store(group: list[_Pending], store: Store, embedder: Embedder, report: IngestReport) -> None:
    """Embed the group's new units in one call, then swap the group's policies in together. If
    anything fails, every policy of the group is reported and keeps its previous version."""
    todo: dict[str, str] = {}  # context hash -> context, for units with no vector yet
    for p in group:
        for u, key in zip(p.units, p.keys):
            if key not in p.cached:
                todo.setdefault(key, u.context)
    try:
        fresh = dict(zip(todo, embedder.embed_passages(list(todo.values())))) if todo else {}
    except Exception as exc:
        report.failed += [{"path": str(p.path), "error": _reason(p.path, exc)} for p in group]
        return
    ready = []
    for p in group:
        vectors = np.stack([p.cached.get(k, fresh.get(k)) for k in p.keys])
        sections = tuple((" > ".join(s.title for s in path_), start) for path_, start in _section_paths(p.doc))
        ready.append(PolicyVersion(p.meta, p.doc.text, p.units, vectors.astype(np.float32), sections,
                                   str(p.path.resolve())))
    try:
        store.put_many(ready)
    except Exception as exc:
        report.failed += [{"path": str(p.path), "error": _reason(p.path, exc)} for p in group]
        return
    for p in group:
        report.embedded += sum(1 for k in p.keys if k not in p.cached)
        (report.added if p.is_new else report.updated).append(p.path.stem)


def _section_paths(doc):
    """(tuple of Sections from outermost, start) for every heading, for the policy view."""
    stack, out = [], []
    for s in sections(doc):
        while stack and stack[-1].level >= s.level:
            stack.pop()
        stack.append(s)
        out.append((tuple(stack), s.start))
    return out


def progress_bar(enabled: bool):
    """A tqdm progress bar on stderr for long runs, or None."""
    if not enabled:
        return None
    from tqdm import tqdm

    return lambda items: tqdm(items, desc="ingesting", unit="file", file=sys.stderr,
                              disable=len(items) < 5 or not sys.stderr.isatty())
