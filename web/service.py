"""What every front end shares: the settings, the Assistant, the cold start, uploads.

One `WebService` per server. The chat, the desk, the widget and the REST API all call it and
all show the same `Answer`."""
from __future__ import annotations

import hmac
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ingest.errors import PolicyQAError
from ingest.loaders import FORMATS
from ingest.pipeline import IngestReport, ingest_paths, is_skipped_name, store_from_settings
from ingest.store import Store
from policyqa.settings import Settings, ingest_limits
from qa.errors import UnknownPolicy
from qa.service import Assistant
from qa.suggest import suggested_questions
from qa.types import Answer

log = logging.getLogger("policyqa.web")

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class UploadError(PolicyQAError):
    """An upload was refused: uploads off, wrong token, bad file name or type, or it did not ingest."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (the scheme in any case), else None."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def unknown_widget_policy(policy: str) -> str:
    """The widget's error for a policy id it does not know: it names no policy that is hosted."""
    return (f"This widget's policy {policy!r} is not available. "
            "Check the policy id in the page's data-policy attribute (or the widget's address).")


def _progress(label: str):
    def wrap(files):
        total = len(files)
        for i, item in enumerate(files, 1):
            log.info("%s %d/%d: %s", label, i, total, item[0].name)
            yield item
    return wrap


def prepare_store(settings: Settings) -> Store:
    """Open the store; a store built with another embedding model has its policies embedded
    again (Store.reembed: none is lost); on a cold start (no store, or one built with another
    segmenter) ingest the bundled corpus first. Uploaded policies are ingested at every start: a start
    killed between the corpus and the uploads would otherwise leave them out for good (the next
    start is warm); an unchanged upload costs a read."""
    store = store_from_settings(settings)
    stale = store.stale_reason()
    t0 = time.perf_counter()
    if stale and store.reembed():
        log.warning("store %s was built with another model (%s): its policies were embedded again",
                    settings.store, stale)
        stale = None
    cold = bool(stale) or not store.exists()
    if stale:
        log.warning("store %s was built differently (%s): rebuilding it", settings.store, stale)
        store.reset()
    failed = []
    if cold:
        log.info("cold start: ingesting %s into %s", settings.corpus, settings.store)
        failed += ingest_paths([settings.corpus], store,
                               progress=_progress("ingesting"), limits=ingest_limits(settings)).failed
    else:
        log.info("store %s is ready: %d policies (warm start)", settings.store, len(store.policies()))
    uploads = uploads_dir(settings)
    if uploads.is_dir() and any(uploads.iterdir()):
        up = ingest_paths([uploads], store,
                          progress=_progress("ingesting upload"), limits=ingest_limits(settings))
        failed += up.failed
        if up.added or up.updated:
            log.info("uploads: %d added, %d updated", len(up.added), len(up.updated))
    for f in failed:
        log.error("could not ingest %s", f["error"])
    log.info("%d policies, %d units ready in %.1f s", len(store.policies()),
             sum(r.units for r in store.policies().values()), time.perf_counter() - t0)
    return store


def uploads_dir(settings: Settings) -> Path:
    """Uploaded policy files live next to the index, so a rebuild ingests them again."""
    return Path(settings.store) / "uploads"


@dataclass
class WebService:
    settings: Settings
    assistant: Assistant
    _upload_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self):
        # (policy, version, language) -> suggested questions, for as many policies as the
        # assistant keeps indexes of (a policy's suggestions are worked out from its index)
        self._suggested = lru_cache(maxsize=self.settings.policy_cache)(
            lambda policy, version, lang: suggested_questions(self.assistant, policy, lang=lang))

    @classmethod
    def start(cls, settings: Settings) -> "WebService":
        return cls(settings, Assistant.from_settings(settings, prepare_store(settings)))

    def warm(self) -> None:
        """Read the catalog and load the embedder now rather than on the first question (a policy's
        index is built when it is first asked about)."""
        t0 = time.perf_counter()
        self.assistant.policies()
        self.assistant.embedder.embed_query("warm up")
        log.info("assistant ready in %.1f s", time.perf_counter() - t0)

    # ------------------------------------------------------------------ reading
    @property
    def store(self) -> Store:
        return self.assistant.store

    def policies(self):
        return self.assistant.policies()

    def choices(self) -> list[tuple[str, str]]:
        """(label, id) pairs for policy pickers, "All policies" first (its id is "")."""
        return [("All policies", "")] + [(r.meta.name, pid) for pid, r in self.policies().items()]

    def answer(self, question: str, policy: str | None = None) -> Answer:
        return self.assistant.answer(question, policy or None)

    def scoped_answer(self, question: str, policy: str) -> Answer:
        """The widget's answer: one policy, whatever the client asked for. The assistant already
        keeps to the scope; this is the server's own check that nothing else leaves."""
        try:
            ans = self.assistant.answer(question, policy)
        except UnknownPolicy:
            raise UnknownPolicy(unknown_widget_policy(policy)) from None
        foreign = [c for c in ans.citations if c.policy != policy]
        if foreign or ans.policy != policy:
            raise RuntimeError(f"scope violation: answer for {policy!r} cites {[c.policy for c in foreign]}")
        return ans

    def suggestions(self, policy: str, lang: str = "en") -> list[str]:
        """The widget's suggested questions for a policy, in `lang`, worked out once per version of
        the policy (none while the answers do not know it yet: just ingested by another process)."""
        rec = self.policies().get(policy)
        if rec is None:
            return []
        return self._suggested(policy, rec.version, lang)

    # ------------------------------------------------------------------ uploads
    @property
    def uploads_enabled(self) -> bool:
        return bool(self.settings.admin_token)

    def check_token(self, token: str | None) -> None:
        if not self.uploads_enabled:
            raise UploadError("Uploads are off: no admin token is configured. "
                              "Set POLICYQA_ADMIN_TOKEN and restart the server to turn them on.", 403)
        if not token or not hmac.compare_digest(token.encode(), self.settings.admin_token.encode()):
            raise UploadError("Wrong or missing admin token (send the header 'Authorization: Bearer <token>').", 401)

    def add_policy(self, filename: str, data: bytes, token: str | None) -> IngestReport:
        """Add or replace a policy from an uploaded file; its id is the file name without extension.
        The file is checked first; a file that fails to ingest leaves the old version in place."""
        self.check_token(token)
        name = Path(filename or "").name
        if not SAFE_NAME.match(name):
            raise UploadError(f"Bad file name {name!r}: use letters, digits, '.', '_' or '-', "
                              "e.g. acme-privacy.txt. The name without extension becomes the policy id.")
        suffix = Path(name).suffix.lower()
        if suffix not in FORMATS:
            raise UploadError(f"Unsupported file type {suffix or '(none)'!r} in {name!r}; "
                              f"upload one of: {', '.join(sorted(FORMATS))}.", 415)
        if is_skipped_name(name):
            raise UploadError(f"{name!r} is a name folder ingestion skips (README files are not policies); "
                              "rename the file: its name without extension becomes the policy id.")
        if not data:
            raise UploadError(f"{name} is empty.")
        limit = self.settings.max_file_bytes
        if len(data) > limit:
            raise UploadError(f"{name} is {len(data):,} bytes; the limit is {limit:,} "
                              "(POLICYQA_MAX_FILE_BYTES).", 413)
        folder = uploads_dir(self.settings)
        folder.mkdir(parents=True, exist_ok=True)
        pid = Path(name).stem
        with self._upload_lock:
            # the previous file of this policy steps aside until the new one has ingested
            old = [f for f in folder.iterdir() if f.stem == pid and f.suffix.lower() in FORMATS]
            aside = [f.rename(f.with_name(f".previous-{f.name}")) for f in old]
            final = folder / name
            try:
                final.write_bytes(data)
                report = ingest_paths([final], self.store, limits=ingest_limits(self.settings))
                if report.failed:
                    raise UploadError(report.failed[0]["error"].replace(str(folder) + "/", ""), 422)
            except BaseException:
                final.unlink(missing_ok=True)
                for f in aside:
                    f.rename(f.with_name(f.name.removeprefix(".previous-")))
                raise
            for f in aside:
                f.unlink(missing_ok=True)
        log.info("upload: %s %s", "replaced" if report.updated else "added", pid)
        return report
