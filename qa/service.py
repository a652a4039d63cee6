"""The single entry point for answers: `Assistant.answer(question, policy=None) -> Answer`.

An Assistant holds the resources (the store, the embedding model, the per-policy indexes) and
is shared by the CLI, the REST API, the chat, the desk and the widget. A policy's index is built
from its rows in the store when it is first asked about, and the `cache_size` most recently used
are kept: start-up and memory follow the policies asked about, not the size of the store."""
from __future__ import annotations

import functools
import logging
import re
import threading
import time
from dataclasses import replace
from functools import lru_cache

import numpy as np

from ingest.embedding import DEFAULT_MODEL, Embedder, get_embedder, runtime_name
from ingest.metadata import name_in_title
from ingest.normalize import valid_text
from ingest.store import PolicyRecord, Store
from qa import compose, practices, rank, rerank
from qa.errors import PolicyUnreadable, QuestionError, UnknownPolicy
from qa.index import PolicyIndex
from qa.translate import query_for_retrieval
from qa.types import Answer, Hit, Verdict

DEFAULT_BAR = 0.5  # relevance a unit needs to be relied on; calibrated by benchmarks/calibrate.py
log = logging.getLogger(__name__)
POOL = 30  # units per policy that reach evidence selection
UNITS_PER_CANDIDATE = 10  # nearest units fetched from Chroma for each candidate policy wanted


def _one_snapshot(method):
    """Within one call every lookup of policies sees the same catalog read, even if another
    process changes the catalog meanwhile."""
    @functools.wraps(method)
    def pinned(self, *args, **kwargs):
        if getattr(self._pinned, "records", None) is not None:
            return method(self, *args, **kwargs)
        self._pinned.records = self._current()
        try:
            return method(self, *args, **kwargs)
        finally:
            self._pinned.records = None
    return pinned


class Assistant:
    def __init__(self, store: Store, embedder: Embedder | None = None, *, model: str = DEFAULT_MODEL,
                 backend: str = "onnx-int8", writer=None, bar: float | None = None,
                 max_question_chars: int = 2000, ranker: dict | None = None, cache_size: int = 256,
                 candidates: int = 20, reranker: rerank.Reranker | bool | None = False):
        """`ranker`: the ranking model (qa.rank.load_model's format), default the shipped one.
        `cache_size`: how many policies' indexes are kept in memory (least recently used out first).
        `candidates`: how many policies a question across policies is ranked against (see `candidates`).
        `reranker`: True loads the shipped one (qa.rerank.load_reranker; settings.rerank), False or
        None answers from the first stage alone (the default, the fastest path), or a qa.rerank.Reranker."""
        self.store = store
        self._embedder = embedder
        self._model, self._backend = model, backend
        self.writer = writer
        self.ranker = ranker if ranker is not None else rank.load_model()
        ranker = self.ranker or {}
        self.reranker = rerank.load_reranker() if reranker is True else (reranker or None)
        default_bar = self.reranker.bar if self.reranker else ranker.get("bar", DEFAULT_BAR)
        self.bar = bar if bar is not None else default_bar
        self.gate = (ranker.get("gate") or {}).get("threshold")  # below it, a policy is silent (rank.addresses)
        trained_on = ranker.get("embedder")
        configured = runtime_name(model, backend)

        def reads(fitted_on: str) -> bool:  # a model fitted on these vectors? A folder model's name
            return re.sub(r"@[^/]*", "", fitted_on) == configured  # carries a digest ("policyqa-minilm@1a2b/...")

        if trained_on and not reads(trained_on) and embedder is None:
            log.warning("the ranker %s was trained on %s vectors, but answers use %s: retrain it "
                        "(python benchmarks/train_ranker.py --model %s)", rank.model_path(), trained_on,
                        configured, model)
        # the practice models read the shipped embedder's vectors: with another, the gate does without
        self.practices = practices.load()
        if self.practices is not None and not reads(self.practices.meta["embedder"]):
            self.practices = None
        self.max_question_chars = max_question_chars
        self.max_candidates = candidates
        self._records: tuple[object, dict[str, PolicyRecord]] = (None, {})  # (catalog key, records)
        # keyed by (policy, version): a new version is a new entry, and the old one ages out
        self._cached_index = lru_cache(maxsize=cache_size)(self._build_index)
        self._pinned = threading.local()  # the records one answer uses throughout (see _one_snapshot)

    @classmethod
    def from_settings(cls, settings, store: Store | None = None, *, embedder: Embedder | None = None,
                      writer=None) -> "Assistant":
        """The assistant the settings (policyqa.settings.Settings) describe; the one way the CLI,
        the REST API, the chat, the desk and the widget build it: the store (`settings.store`
        unless one is given), the embedding model, the LLM writer `settings.llm` names (unless
        one is given), the question length limit."""
        if store is None:
            from ingest.pipeline import store_from_settings

            store = store_from_settings(settings)
        if writer is None and settings.llm:
            try:
                from qa.llm import writer_from_settings
            except ImportError as exc:
                raise ImportError(f"POLICYQA_LLM={settings.llm} needs LangChain: pip install 'policyqa[llm]' "
                                  "(or [ollama], [openai] for those providers)") from exc

            writer = writer_from_settings(settings)
        return cls(store, embedder, model=settings.model, backend=settings.backend, writer=writer,
                   max_question_chars=settings.max_question_chars,
                   cache_size=settings.policy_cache, candidates=settings.across_candidates,
                   reranker=settings.rerank)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = get_embedder(self._model, self._backend)
        return self._embedder

    # ------------------------------------------------------------ resources
    def policies(self) -> dict[str, PolicyRecord]:
        """Every policy of the store's catalog, read again when it changes (another process's
        ingest is seen from the next question on)."""
        return dict(self._current())

    def _current(self) -> dict[str, PolicyRecord]:
        pinned = getattr(self._pinned, "records", None)
        if pinned is not None:
            return pinned
        key = self.store.catalog_key()
        if key is None or key != self._records[0]:
            self.store.check()
            self._records = (key, self.store.policies())
        return self._records[1]

    def candidates(self, question: str, qvec: np.ndarray) -> list[str]:
        """The policies a question across policies is ranked against: all of them when there are
        no more than `max_candidates`; otherwise the policies of the units nearest to the question
        (Chroma's index over every unit), nearest first, up to `max_candidates`, and every policy
        the question names ("Does Acme sell my data?"). Sorted by id, like `scope(None)`."""
        records = self._current()
        if len(records) <= self.max_candidates:
            return sorted(records)
        words = f" {' '.join(_words(question))} "
        found = {pid for pid, r in records.items() if any(f" {key} " in words for key in name_keys(pid, r.meta.name))}
        near = []
        for pid, version, _ in self.store.nearest(qvec, self.max_candidates * UNITS_PER_CANDIDATE):
            if pid in records and records[pid].version == version and pid not in near:
                near.append(pid)
        return sorted(found | set(near[:self.max_candidates]))

    def index(self, policy: str) -> PolicyIndex:
        """The policy's index (its units, vectors, BM25), built from the store on first use."""
        self.scope(policy)  # an unknown policy is an error that names the known ones
        version = self._current()[policy].version
        try:
            return self._cached_index(policy, version)
        except PolicyUnreadable:  # an update by another process may have replaced that version since
            latest = self.store.policies().get(policy)
            if latest is None or latest.version == version:
                raise
            return self._cached_index(policy, latest.version)

    def _build_index(self, policy: str, version: str) -> PolicyIndex:
        return PolicyIndex.build(self.store.read(policy, version), self.practices)

    def cached(self) -> int:
        """How many policies' indexes are in memory now."""
        return self._cached_index.cache_info().currsize

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
        records = self._current()
        if policy is None:
            return sorted(records)
        if policy not in records:
            known = ", ".join(sorted(records)) or "none: ingest some first"
            raise UnknownPolicy(f"Unknown policy {policy!r}. Known policies: {known}.")
        return [policy]

    # ------------------------------------------------------------ retrieval
    def ranked(self, question: str, policy: str, qvec: np.ndarray, k: int = POOL) -> list[Hit]:
        """The best k units of one policy for the question, best first, scored in [0, 1]."""
        return self._ranked(question, policy, qvec, k)[0]

    def _ranked(self, question: str, policy: str, qvec: np.ndarray,
                k: int) -> tuple[list[Hit], list[str], float | None]:
        """`ranked`; what the question names that the policy never mentions (rank.absent); and
        the gate's P(the policy addresses the question) (rank.addresses; None without a gate)."""
        pidx = self.index(policy)
        if not pidx.units:
            return [], [], None
        missing = rank.absent(pidx, question)
        f = rank.features(pidx, question, qvec, self.ranker or {}, self.practices)
        first = rank.score(f.x, self.ranker)
        scores = rank.adjust(pidx, question, first, missing)
        # read off the first stage's scores and the practices asked and stated
        addressed = rank.addresses(f.x, scores, self.ranker or {}, self._silence(pidx, qvec))
        # a heading names a topic, it says nothing
        order = [int(i) for i in np.argsort(-first, kind="stable") if pidx.units[i].kind != "heading"]
        # the first stage's best, re-scored by the reranker's calibrated probability; 0 for the rest,
        # in the first stage's order. A policy the gate finds silent relies on no clause whatever they
        # score (compose.decide): the reranker does not read it, its related clauses keep these scores
        if self.reranker is not None and not compose.finds_silent(addressed, self.gate):
            cands = order[:self.reranker.k]
            rescored = np.zeros(len(first), dtype=np.float32)
            rescored[cands] = self.reranker.probability(question, [pidx.passages[i] for i in cands], first[cands])
            scores = rank.adjust(pidx, question, rescored, missing)
        top = sorted(order, key=lambda i: -scores[i])[:k]
        return [_hit(pidx, i, float(scores[i]), float(f.dense[i]), float(f.bm25[i])) for i in top], missing, addressed

    def _silence(self, pidx: PolicyIndex, qvec: np.ndarray) -> float:
        """How surely the question asks about a data practice the policy never states
        (qa.practices.silence), one of the gate's figures; 0 without the practice models."""
        if self.practices is None or pidx.stated is None:
            return 0.0
        return practices.silence(self.practices.asked(qvec), pidx.stated)

    def _retrieve(self, q: str, pids: list[str] | None, k: int = POOL):
        """A checked question against some policies, embedded once: (the text retrieval used,
        English for other languages; its language; hits, absent words and the gate's probability,
        each per policy).
        `pids` None: across policies, i.e. the `candidates`, leaving out any that cannot be read."""
        text, lang = query_for_retrieval(q)  # other languages: glossary translation to English
        qvec = self.embedder.embed_query(text)
        found = {}
        for p in self.candidates(q, qvec) if pids is None else pids:
            try:
                found[p] = self._ranked(text, p, qvec, k)
            except PolicyUnreadable:
                if pids is not None:
                    raise
        return (text, lang, {p: r[0] for p, r in found.items()}, {p: r[1] for p, r in found.items()},
                {p: r[2] for p, r in found.items()})

    @_one_snapshot
    def search(self, query: str, policy: str | None = None, section: str | None = None,
               k: int = 20) -> list[Hit]:
        """Clauses across policies for the desk: best first, optionally within one section."""
        q = self.check_question(query)
        _, _, per_policy, _, _ = self._retrieve(q, self.scope(policy) if policy else None, k=200)
        hits = [h for hits in per_policy.values() for h in hits]
        if section:
            hits = [h for h in hits if section.lower() in h.section.lower()]
        return sorted(hits, key=lambda h: -h.score)[:k]

    # ------------------------------------------------------------ answers
    @_one_snapshot
    def answer(self, question: str, policy: str | None = None, *, id: str | None = None) -> Answer:
        t0 = time.perf_counter()
        q = self.check_question(question)
        text, lang, verdicts = self._decide(q, self.scope(policy) if policy else None)
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
        for p in policies or ():
            self.scope(p)  # an unknown policy is an error before any work
        text, lang, verdicts = self._decide(q, policies or None)
        t1 = time.perf_counter()
        records = self.policies()
        return [self._finish(compose.compose_one(q, verdicts[p], records[p], lang), question, q, p, text, lang, t0, t1)
                for p in verdicts]  # in the order asked (the candidates: by id)

    def _decide(self, q: str, pids: list[str] | None) -> tuple[str, str, dict[str, Verdict]]:
        """Each policy's verdict on a checked question: (the text retrieval used, its language,
        the verdicts); `pids` as in `_retrieve`."""
        text, lang, per_policy, absent, addressed = self._retrieve(q, pids)
        verdicts = {p: compose.decide(q, hits, p, self.bar, lang, absent[p], self.index(p), text,
                                      addressed[p], self.gate)
                    for p, hits in per_policy.items()}
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


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


@lru_cache(maxsize=100_000)
def name_keys(policy: str, name: str) -> tuple[str, ...]:
    """How a question may name a policy, as lower-case words: its name without "Privacy Policy"
    ("Acme Privacy Policy": "acme", as ingest.metadata reads a title), and its id ("acme-app":
    "acme app")."""
    keys = {" ".join(_words(name_in_title(name) or name)), " ".join(_words(policy))}
    return tuple(sorted(k for k in keys if len(k) >= 4))


def _hit(pidx: PolicyIndex, i: int, score: float, dense: float, bm25: float) -> Hit:
    return Hit.of(pidx.units[i], pidx.ids[i], score, dense, bm25)


@lru_cache(maxsize=4)
def assistant_for(store_path: str, model: str, backend: str) -> Assistant:
    """One Assistant per store per process (the CLI's), built from the settings."""
    from pathlib import Path

    from policyqa.settings import get_settings

    settings = get_settings().model_copy(update={"store": Path(store_path), "model": model, "backend": backend})
    return Assistant.from_settings(settings)
