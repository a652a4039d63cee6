"""Ingestion pipeline: files -> Documents -> Units -> vectors -> the store, with a report."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ingest.embedding import Embedder, get_embedder
from ingest.errors import IngestError
from ingest.loaders import FORMATS, load
from ingest.metadata import load_manifest, policy_meta
from ingest.segment import SEGMENTER_VERSION, sections, segment
from ingest.store import SCHEMA, Store, context_hash, text_version

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
    return {"model": f"{model}/{backend}", "segmenter": SEGMENTER_VERSION, "schema": SCHEMA}


def open_store(path: Path, model: str, backend: str) -> Store:
    return Store(path, fingerprint(model, backend))


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


def ingest_paths(paths: list[Path], store: Store, embedder: Embedder | None = None, *,
                 model: str = "all-MiniLM-L6-v2", backend: str = "onnx-int8",
                 progress: Callable | None = None) -> IngestReport:
    """Ingest files and folders into the store. A bad file is reported; the others still ingest.
    A policy whose file is gone from an ingested folder is removed from the store."""
    report = IngestReport()
    files, report.failed = expand(paths)
    store.check()
    known = store.policies()
    seen: dict[str, Path] = {}
    manifests: dict[Path, dict] = {}
    for path, folder in (progress(files) if progress else files):
        try:
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
                report.unchanged.append(pid)
                continue
            units = segment(doc)
            if not units:
                raise IngestError(f"{path}: no sentences found after normalising the text")
            embedder = embedder or get_embedder(model, backend)
            cached = store.cached_vectors(pid) if old else {}
            vectors, fresh = _vectors(units, cached, embedder)
            store.put(meta, doc.text, units, vectors,
                      [(" > ".join(s.title for s in path_), start) for path_, start in _section_paths(doc)],
                      path=str(path.resolve()))
            report.embedded += fresh
            (report.updated if old else report.added).append(pid)
        except IngestError as exc:
            report.failed.append({"path": str(path), "error": str(exc)})
        except Exception as exc:  # a bug or a library failure: report it, keep the rest going
            report.failed.append({"path": str(path), "error": f"{path}: {type(exc).__name__}: {exc}"})
    for folder in {f.resolve() for _, f in files if f is not None}:
        for pid, rec in store.policies().items():
            if rec.path and Path(rec.path).parent == folder and pid not in seen:
                store.remove(pid)
                report.removed.append(pid)
    report.units = sum(r.units for r in store.policies().values())
    return report


def _vectors(units, cached: dict, embedder: Embedder) -> tuple[np.ndarray, int]:
    """Vectors for units, reusing those of unchanged units (same context) from the old version."""
    keys = [context_hash(u) for u in units]
    todo = [i for i, k in enumerate(keys) if k not in cached]
    out = np.zeros((len(units), embedder.dim), dtype=np.float32)
    if todo:
        out[todo] = embedder.embed_passages([units[i].context for i in todo])
    for i, k in enumerate(keys):
        if k in cached:
            out[i] = cached[k]
    return out, len(todo)


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
