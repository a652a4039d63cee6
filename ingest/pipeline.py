"""Ingestion pipeline: files -> Documents -> Units -> vectors -> the store, with a report."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ingest.embedding import DEFAULT_BACKEND, DEFAULT_MODEL, Embedder, get_embedder, model_name, runtime_name
from ingest.errors import IngestError, StoreBusy, StoreMismatch
from ingest.loaders import FORMATS
from ingest.metadata import MANIFEST, load_manifest, policy_meta
from ingest.normalize import valid_text
from ingest.segment import SEGMENTER_VERSION, sections
from ingest.store import SCHEMA, PolicyVersion, Store, context_hash, text_version
from ingest.types import Limits
from ingest.worker import file_reader

MAX_ID_CHARS = 120  # a policy id names files in the store (with its version): keep well under 255 bytes


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)  # {"path", "error"}
    units: int = 0  # units in the store after the run
    embedded: int = 0  # units that needed a new vector in this run
    skipped: list[dict] = field(default_factory=list)  # {"path", "reason"}: folder entries not read

    def to_dict(self) -> dict:
        return {"added": self.added, "updated": self.updated, "unchanged": self.unchanged,
                "removed": self.removed, "failed": self.failed, "units": self.units,
                "embedded": self.embedded, "skipped": self.skipped}


def fingerprint(model: str, backend: str) -> dict:
    return {"model": runtime_name(model_name(model), backend), "segmenter": SEGMENTER_VERSION, "schema": SCHEMA}


def open_store(path: Path, model: str = DEFAULT_MODEL, backend: str = DEFAULT_BACKEND, *,
               lock_timeout: float = 60.0, chroma_url: str = "", chroma_collection: str = "policyqa") -> Store:
    """The store at `path` for this model (the shipped one unless named), or the one named
    `chroma_collection` on the Chroma server at `chroma_url` if one is given; the model is
    loaded only if the store must heal or ingest."""
    return Store(path, fingerprint(model, backend), lock_timeout=lock_timeout,
                 embedder=lambda: get_embedder(model, backend), url=chroma_url, name=chroma_collection)


def store_from_settings(settings, path: Path | None = None) -> Store:
    """The store the settings (policyqa.settings.Settings) describe, at `path` if one is given."""
    return open_store(path or settings.store, settings.model, settings.backend,
                      lock_timeout=settings.store_lock_timeout, chroma_url=settings.chroma_url,
                      chroma_collection=settings.chroma_collection)


def is_skipped_name(name: str) -> bool:
    """Names a folder may hold that are not policies: hidden files, README.*, the manifest."""
    return name.startswith(".") or name == MANIFEST or Path(name).stem.upper() == "README"


def expand(paths: list[Path]) -> tuple[list[tuple[Path, Path | None]], list[dict], list[dict]]:
    """Files to ingest as (file, folder it was found in); failures for paths that are not there
    or not files; and what a folder holds that is not read, with the reason (its manifest aside)."""
    files, failed, skipped = [], [], []
    for p in map(Path, paths):
        if p.is_dir():
            for f in sorted(p.iterdir()):
                reason = _skip_reason(f, p)
                if reason is None:
                    files.append((f, p))
                elif reason:
                    skipped.append({"path": str(f), "reason": reason})
        elif p.is_file():
            files.append((p, None))
        elif p.exists():
            failed.append({"path": str(p), "error": f"{p}: not a regular file (a pipe, socket or device)"})
        else:
            failed.append({"path": str(p), "error": f"no such file or folder: {p}"})
    return files, failed, skipped


def _skip_reason(f: Path, folder: Path) -> str | None:
    """Why a folder entry is not ingested ("" for the manifest, which is read, not skipped), or None."""
    if f.name == MANIFEST:
        return ""
    if f.name.startswith("."):
        return "hidden file"
    if f.is_symlink():
        if not f.exists():
            return "dangling link"
        if not f.resolve().is_relative_to(folder.resolve()):
            return f"link to a file outside the folder ({f.resolve().name}); ingest that file by its own path"
    if f.is_dir():
        return "folder (folders are not read recursively)"
    if not f.is_file():
        return "not a regular file (a pipe, socket or device)"
    if f.stem.upper() == "README":
        return "README files are not policies"
    if f.suffix.lower() not in FORMATS:
        return f"unsupported file type {f.suffix or '(none)'!r}"
    return None


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
                 progress: Callable | None = None, limits: Limits | None = None) -> IngestReport:
    """Ingest files and folders into the store. A bad file is reported; the others still ingest.
    A policy whose file is gone from an ingested folder is removed from the store. Units are
    embedded with the store's own model (`open_store`'s), or `embedder`, which must be that model.

    Files are read and segmented one by one, each within `limits` (in a reader process: see
    ingest.worker); their new units are embedded in groups of about GROUP_UNITS across files
    (length-sorted batches waste little on padding), then the group's policies are swapped in."""
    report = IngestReport()
    if embedder is not None:
        store.check_embedder(embedder)
    files, report.failed, report.skipped = expand(paths)
    files, report.failed, seen = _without_shared_ids(files, report.failed)
    store.check()
    store.open_in_background()
    known = store.policies()
    reader = file_reader(limits or Limits())
    manifests: dict[Path, dict] = {}
    group: list[_Pending] = []
    for path, folder in (progress(files) if progress else files):
        try:
            pending = _read(path, known, seen, manifests, store, reader)
        except Exception as exc:
            report.failed.append({"path": str(path), "error": _reason(path, exc)})
            continue
        if pending is None:
            report.unchanged.append(path.stem)
            continue
        group.append(pending)
        if sum(len(p.units) for p in group) >= GROUP_UNITS:
            embedder = embedder or _own_embedder(store)
            _embed_and_store(group, store, embedder, report)
            group = []
    if group:
        _embed_and_store(group, store, embedder or _own_embedder(store), report)
    for folder in {f.resolve() for _, f in files if f is not None}:
        for pid, rec in store.policies().items():
            if rec.path and Path(rec.path).parent == folder and pid not in seen:
                store.remove(pid)
                report.removed.append(pid)
    store.tidy()  # what a killed run left behind
    report.units = sum(r.units for r in store.policies().values())
    return report


def _own_embedder(store: Store) -> Embedder:
    embedder = store.embedder()
    if embedder is None:
        raise StoreMismatch(f"The store at {store.where} was opened without its embedding model; "
                            "open it with open_store(path, model, backend), or pass the embedder.")
    return embedder


def _reason(path: Path, exc: Exception) -> str:
    if isinstance(exc, IngestError):
        return str(exc)
    return f"{path}: {type(exc).__name__}: {exc}"  # a bug or a library failure, reported as such


def _without_shared_ids(files: list, failed: list[dict]) -> tuple[list, list[dict], dict[str, Path]]:
    """Files whose ids (names without extension) are shared, e.g. acme.txt and acme.md, all fail
    (which one is the policy is not for the order of a listing to decide), and their policies
    stay as they are. Returns the other files, the failures, and the shared ids."""
    by_id: dict[str, list[Path]] = {}
    for path, _ in files:
        by_id.setdefault(path.stem, []).append(path)
    shared = {pid: ps for pid, ps in by_id.items() if len(ps) > 1}
    for pid, ps in shared.items():
        failed += [{"path": str(p), "error": f"{p}: policy id {pid!r} is also the id of "
                    f"{', '.join(str(o) for o in ps if o != p)}; give one of the files another name"} for p in ps]
    return [(p, f) for p, f in files if p.stem not in shared], failed, {pid: ps[0] for pid, ps in shared.items()}


def check_id(path: Path) -> str:
    """The policy id of a file (its name without extension), if it can be one."""
    pid = path.stem
    if valid_text(pid) != pid:
        raise IngestError(f"{valid_text(str(path))}: the file name is not valid UTF-8; rename the file")
    if len(pid) > MAX_ID_CHARS:
        raise IngestError(f"{path}: the policy id (the file name without extension) has {len(pid)} "
                          f"characters; the limit is {MAX_ID_CHARS}. Rename the file.")
    return pid


def _read(path: Path, known: dict, seen: dict, manifests: dict, store: Store, reader) -> _Pending | None:
    """Load and segment one file; None if the store already holds exactly this policy."""
    pid = check_id(path)
    seen[pid] = path
    parent = path.parent.resolve()
    if parent not in manifests:
        manifests[parent] = load_manifest(parent)
    doc, units = reader.read(path)
    meta = policy_meta(doc, manifests[parent].get(pid, {}))
    old = known.get(pid)
    if (old and old.version == text_version(doc.text) and old.meta.to_dict() == meta.to_dict()
            and old.path == str(path.resolve())):
        return None
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
        stored = group
    except (StoreBusy, StoreMismatch) as exc:  # the store, not a policy: every one fails alike
        report.failed += [{"path": str(p.path), "error": _reason(p.path, exc)} for p in group]
        return
    except Exception:  # one policy can fail a group's write: then each goes on its own
        stored = []
        for p, version in zip(group, ready):
            try:
                store.put_many([version])
                stored.append(p)
            except Exception as exc:
                report.failed.append({"path": str(p.path), "error": _reason(p.path, exc)})
    for p in stored:
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
