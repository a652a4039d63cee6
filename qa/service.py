"""The single entry point for answers: `Assistant.answer(question, policy=None) -> Answer`.

An Assistant holds the resources (the store, the embedding model, the per-policy indexes) and
is shared by the CLI, the REST API, the chat, the desk and the widget."""
from __future__ import annotations

import functools
import logging
import re
import threading
import time
from dataclasses import replace
from functools import lru_cache

import numpy as np

from ingest.embedding import Embedder, get_embedder, runtime_name
from ingest.normalize import valid_text
from ingest.store import PolicyRecord, Store
from qa import compose, rank
from qa.errors import QuestionError, UnknownPolicy
from qa.index import PolicyIndex
from qa.translate import query_for_retrieval
from qa.types import Answer, Hit, Verdict

DEFAULT_BAR = 0.5  # relevance a unit needs to be relied on; calibrated by benchmarks/calibrate.py
log = logging.getLogger(__name__)
POOL = 30  # units per policy that reach evidence selection


def _one_snapshot(method):
    """Within one call every lookup of policies and indexes sees the same snapshot, even if a
    refresh lands meanwhile (a policy removed half-way through an answer is still there)."""
    @functools.wraps(method)
    def pinned(self, *args, **kwargs):
        if getattr(self._pinned, "snap", None) is not None:
            return method(self, *args, **kwargs)
        self._pinned.snap = self._current()
        try:
            return method(self, *args, **kwargs)
        finally:
            self._pinned.snap = None
    return pinned


class Assistant:
    def __init__(self, store: Store, embedder: Embedder | None = None, *, model: str = "all-MiniLM-L6-v2",
                 backend: str = "onnx-int8", writer=None, bar: float | None = None,
                 max_question_chars: int = 2000, ranker: dict | None = None):
        """`ranker`: the ranking model (qa.rank.load_model's format), default the shipped one."""
        self.store = store
        self._embedder = embedder
        self._model, self._backend = model, backend
        self.writer = writer
        self.ranker = ranker if ranker is not None else rank.load_model()
        ranker = self.ranker or {}
        self.bar = bar if bar is not None else ranker.get("bar", DEFAULT_BAR)
        trained_on = ranker.get("embedder")
        configured = runtime_name(model, backend)
        # a folder model's name carries its weights' digest ("policyqa-minilm@1a2b/...")
        if trained_on and re.sub(r"@[^/]*", "", trained_on) != configured and embedder is None:
            log.warning("the ranker %s was trained on %s vectors, but answers use %s: retrain it "
                        "(python benchmarks/train_ranker.py --model %s)", rank.model_path(), trained_on,
                        configured, model)
        self.max_question_chars = max_question_chars
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._refreshing = False
        self._snap: tuple[dict[str, PolicyRecord], dict[str, PolicyIndex]] | None = None
        self._snap_key = None
        self._built: dict = {}  # policy -> the UnitRows its index was built from
        self._pinned = threading.local()  # the snapshot one answer uses throughout (see _one_snapshot)

    @classmethod
    def from_settings(cls, settings, store: Store | None = None, *, embedder: Embedder | None = None,
                      writer=None) -> "Assistant":
        """The assistant the settings (policyqa.settings.Settings) describe; the one way the CLI,
        the REST API, the chat, the desk and the widget build it: the store (`settings.store`
        unless one is given), the embedding model, the LLM writer `settings.llm` names (unless
        one is given), the question length limit."""
        if store is None:
            from ingest.pipeline import open_store

            store = open_store(settings.store, settings.model, settings.backend, lock_timeout=settings.store_lock_timeout)
        if writer is None and settings.llm:
            try:
                from qa.llm import writer_from_settings
            except ImportError as exc:
                raise ImportError(f"POLICYQA_LLM={settings.llm} needs LangChain: pip install 'policyqa[llm]' "
                                  "(or [ollama], [openai] for those providers)") from exc

            writer = writer_from_settings(settings)
        return cls(store, embedder, model=settings.model, backend=settings.backend, writer=writer,
                   max_question_chars=settings.max_question_chars)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = get_embedder(self._model, self._backend)
        return self._embedder

    # ------------------------------------------------------------ resources
    def indexes(self) -> dict[str, PolicyIndex]:
        """Each policy's index. When the catalog changes (an upload, another process's ingest),
        the changed policies are read and indexed again on a background thread while answers
        keep using the previous ones; only the very first call waits."""
        return self._current()[1]

    def policies(self) -> dict[str, PolicyRecord]:
        """The records of the policies `indexes()` holds (the same catalog read)."""
        return dict(self._current()[0])

    def _current(self) -> tuple[dict[str, PolicyRecord], dict[str, PolicyIndex]]:
        pinned = getattr(self._pinned, "snap", None)
        if pinned is not None:
            return pinned
        if self._snap is None:
            self.refresh()
        elif self.store.catalog_key() != self._snap_key:
            self._refresh_in_background()
        return self._snap

    def refresh(self) -> None:
        """Bring the indexes up to the store now, rebuilding only the policies whose rows changed
        (e.g. right after this process uploaded a policy)."""
        with self._refresh_lock:
            key = self.store.catalog_key()
            records, rows = self.store.snapshot()
            old = self._snap[1] if self._snap else {}
            indexes = {pid: old[pid] if pid in old and self._built.get(pid) is r else PolicyIndex.build(r)
                       for pid, r in rows.items()}
            self._built = dict(rows)
            self._snap, self._snap_key = (records, indexes), key

    def _refresh_in_background(self) -> None:
        with self._lock:
            if self._refreshing:
                return
            self._refreshing = True

        def run():
            try:
                self.refresh()
            except Exception:  # noqa: BLE001 - answers go on with the indexes they have
                log.exception("could not reload the changed policies; answering from the previous ones")
            finally:
                self._refreshing = False
        threading.Thread(target=run, name="policyqa-refresh", daemon=True).start()

    def check_question(self, question: str) -> str:
        if question is not None and not isinstance(question, str):
            raise QuestionError(f"The question must be text, not {type(question).__name__}.")
        q = " ".join(valid_text(question or "").split())
        if not q:
            raise QuestionError("The question is empty; ask something about a privacy policy.")
        if len(q) > self.max_question_chars:
            raise QuestionError(f"The question is {len(q)} characters long; the limit is "
                                f"{self.max_question_chars}. Ask a shorter question.", too_long=True)
        return q

    def scope(self, policy: str | None) -> list[str]:
        idx = self.indexes()
        if policy is None:
            return sorted(idx)
        if policy not in idx:
            known = ", ".join(sorted(idx)) or "none: ingest some first"
            raise UnknownPolicy(f"Unknown policy {policy!r}. Known policies: {known}.")
        return [policy]

    # ------------------------------------------------------------ retrieval
    def ranked(self, question: str, policy: str, qvec: np.ndarray, k: int = POOL) -> list[Hit]:
        """The best k units of one policy for the question, best first, scored in [0, 1]."""
        return self._ranked(question, policy, qvec, k)[0]

    def _ranked(self, question: str, policy: str, qvec: np.ndarray, k: int) -> tuple[list[Hit], list[str]]:
        """`ranked`, and what the question names that the policy never mentions (rank.absent)."""
        pidx = self.indexes()[policy]
        if not pidx.units:
            return [], []
        missing = rank.absent(pidx, question)
        f = rank.features(pidx, question, qvec, self.ranker or {})
        first = rank.score(f.x, self.ranker)
        # a heading names a topic, it says nothing
        order = [int(i) for i in np.argsort(-first, kind="stable") if pidx.units[i].kind != "heading"]
        scores = rank.adjust(pidx, question, first, missing)
        top = sorted(order, key=lambda i: -scores[i])[:k]
        return [_hit(pidx, i, float(scores[i]), float(f.dense[i]), float(f.bm25[i])) for i in top], missing

    def _retrieve(self, q: str, pids: list[str], k: int = POOL):
        """A checked question against some policies, embedded once: (the text retrieval used,
        English for other languages; its language; hits per policy; absent words per policy)."""
        text, lang = query_for_retrieval(q)  # other languages: glossary translation to English
        qvec = self.embedder.embed_query(text)
        found = {p: self._ranked(text, p, qvec, k) for p in pids}
        return text, lang, {p: hits for p, (hits, _) in found.items()}, {p: gone for p, (_, gone) in found.items()}

    @_one_snapshot
    def search(self, query: str, policy: str | None = None, section: str | None = None,
               k: int = 20) -> list[Hit]:
        """Clauses across policies for the desk: best first, optionally within one section."""
        _, _, per_policy, _ = self._retrieve(self.check_question(query), self.scope(policy), k=200)
        hits = [h for hits in per_policy.values() for h in hits]
        if section:
            hits = [h for h in hits if section.lower() in h.section.lower()]
        return sorted(hits, key=lambda h: -h.score)[:k]

    # ------------------------------------------------------------ answers
    @_one_snapshot
    def answer(self, question: str, policy: str | None = None, *, id: str | None = None) -> Answer:
        t0 = time.perf_counter()
        q = self.check_question(question)
        pids = self.scope(policy)
        text, lang, verdicts = self._decide(q, pids)
        t1 = time.perf_counter()
        records = self.policies()
        if policy is None:
            ans = compose.compose_across(q, verdicts, records, lang)
        else:
            ans = compose.compose_one(q, verdicts[policy], records[policy], lang)
        return self._finish(ans, question, q, policy, text, lang, t0, t1, id)

    @_one_snapshot
    def compare(self, question: str, policies: list[str] | None = None) -> list[Answer]:
        """One answer per policy, for the desk's comparison table (the same verdicts as an
        answer across policies); the question is embedded once."""
        t0 = time.perf_counter()
        q = self.check_question(question)
        pids = policies or self.scope(None)
        for p in pids:
            self.scope(p)  # an unknown policy is an error before any work
        text, lang, verdicts = self._decide(q, pids)
        t1 = time.perf_counter()
        records = self.policies()
        return [self._finish(compose.compose_one(q, verdicts[p], records[p], lang), question, q, p, text, lang, t0, t1)
                for p in pids]

    def _decide(self, q: str, pids: list[str]) -> tuple[str, str, dict[str, Verdict]]:
        """Each policy's verdict on a checked question: (the text retrieval used, its language,
        the verdicts)."""
        text, lang, per_policy, absent = self._retrieve(q, pids)
        indexes = self.indexes()
        verdicts = {p: compose.decide(q, per_policy[p], p, self.bar, lang, absent[p], indexes[p], text) for p in pids}
        for v in verdicts.values():
            log.debug("%r of %s: %s (%s)", q, v.policy, v.status.value, v.why)
        return text, lang, verdicts

    def _finish(self, ans: Answer, question: str, q: str, policy: str | None, text: str, lang: str,
                t0: float, t1: float, id: str | None = None) -> Answer:
        """The optional writer, then the fields every answer carries. `question` as asked, `q`
        its checked form, `text` what retrieval used (English); t0/t1: start, retrieval done."""
        t2 = time.perf_counter()
        if self.writer is not None and ans.answerable:
            ans = self.writer.rewrite(ans)
        t3 = time.perf_counter()
        ans = replace(ans, language=lang, retrieval_query=text if text != q else None)
        timings = {"retrieve": (t1 - t0) * 1000, "compose": (t2 - t1) * 1000,
                   "write": (t3 - t2) * 1000, "total": (t3 - t0) * 1000}
        return replace(ans, question=question, policy=policy, id=id, timings=timings)


def _hit(pidx: PolicyIndex, i: int, score: float, dense: float, bm25: float) -> Hit:
    return Hit.of(pidx.units[i], pidx.ids[i], score, dense, bm25)


@lru_cache(maxsize=4)
def assistant_for(store_path: str, model: str, backend: str) -> Assistant:
    """One Assistant per store per process (the CLI's), built from the settings."""
    from pathlib import Path

    from policyqa.settings import get_settings

    settings = get_settings().model_copy(update={"store": Path(store_path), "model": model, "backend": backend})
    return Assistant.from_settings(settings)
