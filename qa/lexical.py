"""BM25 over the units of one policy (bm25s), with English stopwords and a Snowball stemmer.

Stemming lets "deleted" find "delete"; names ("Stripe", "kie.ai", "ByteDance") still match
exactly because they are tokens like any other word.

Besides BM25 scores, the index answers "which query terms does each unit contain?" (a sparse
unit x term matrix), so the ranker can see term coverage, and "which query terms does the
policy not contain at all?" (out-of-vocabulary terms), a strong hint that a policy is silent
on the question ("China" in a policy that never names it)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse


# Snowball leaves derivations apart that questions and policies use interchangeably ("how
# long do you retain..." / "retention period", "stored" / "storage"): after stemming, these
# stems are read as the one on the right. General English morphology, not any policy's words.
CONFLATE = {
    "storag": "store", "retent": "retain", "usag": "use", "disclosur": "disclos",
    "transmiss": "transmit", "sold": "sell", "sale": "sell", "children": "child",
    "notif": "notifi", "modif": "modifi", "verif": "verifi", "analysi": "analyz", "analyt": "analyz",
    "collector": "collect", "payment": "pay", "paid": "pay",
}


class _Stemmer:
    """Snowball English, then CONFLATE."""

    def __init__(self, snowball):
        self._snowball = snowball

    def stemWords(self, words: list[str]) -> list[str]:  # noqa: N802 (bm25s calls it so)
        return [CONFLATE.get(w, w) for w in self._snowball.stemWords(words)]


def _stemmer():
    try:
        import Stemmer

        return _Stemmer(Stemmer.Stemmer("english"))
    except ImportError:  # PyStemmer is a dependency; without it BM25 still works, unstemmed
        return None


@dataclass(frozen=True)
class QueryTerms:
    """A question's distinct content terms, split into those the policy holds and those it lacks."""

    ids: list[int]  # vocabulary ids of the terms the policy contains
    idf: np.ndarray  # their inverse document frequencies (over the policy's units)
    n_missing: int  # distinct terms no unit contains
    missing_idf: float  # the idf such a term would get (it occurs in no unit)


class BM25:
    def __init__(self, texts: list[str]):
        import bm25s

        self._bm25s = bm25s
        self._stemmer = _stemmer()
        self.n = len(texts)
        self.retriever = bm25s.BM25()
        tokens = bm25s.tokenize(texts, stopwords="en", stemmer=self._stemmer, show_progress=False)
        if texts:  # bm25s cannot index an empty corpus; an empty policy matches nothing
            self.retriever.index(tokens, show_progress=False)
        self.vocab = self.retriever.vocab_dict if texts else {}
        vocab = max(tokens.vocab.values(), default=-1) + 1
        rows = [i for i, doc in enumerate(tokens.ids) for _ in doc]
        cols = [t for doc in tokens.ids for t in doc]
        m = sparse.csc_matrix((np.ones(len(cols), dtype=np.float32), (rows, cols)),
                              shape=(self.n, max(vocab, 1)))
        m.data[:] = 1.0  # presence, not counts (duplicates were summed)
        self.presence = m  # (units, vocab): 1 where the unit contains the term
        df = np.asarray(m.sum(axis=0)).ravel()
        self.idf = np.log1p((self.n - df + 0.5) / (df + 0.5)).astype(np.float32)
        self.missing_idf = float(np.log1p((self.n + 0.5) / 0.5))

    def terms(self, query: str) -> QueryTerms:
        """The question's distinct stemmed content terms, as this policy's vocabulary sees them."""
        distinct = list(dict.fromkeys(self.stems(query)))
        vocab = self.vocab
        ids = [vocab[t] for t in distinct if t in vocab and vocab[t] < self.presence.shape[1]]
        return QueryTerms(ids, self.idf[ids] if ids else np.zeros(0, np.float32),
                          len(distinct) - len(ids), self.missing_idf)

    def stem_words(self, words: list[str]) -> list[str]:
        """Each word's stem (lowercased; no stopword removal), as the index stems it."""
        low = [w.lower() for w in words]
        return self._stemmer.stemWords(low) if self._stemmer else low

    def stems(self, text: str) -> list[str]:
        """The text's content words as this index stems them."""
        return [t for t in self._bm25s.tokenize([text], stopwords="en", stemmer=self._stemmer,
                                                 return_ids=False, show_progress=False)[0] if t]

    def mentions(self, word: str) -> bool:
        """Whether any unit holds the word or a close form of it: a shared stem prefix, so
        that "Californian" finds "California" and "Europe" finds "European"."""
        for stem in self.stems(word):
            prefix = stem[:max(5, len(stem) - 2)]
            if stem not in self.vocab and not any(t.startswith(prefix) for t in self.vocab):
                return False
        return True

    def scores(self, query: str, terms: QueryTerms | None = None) -> np.ndarray:
        """BM25 score of every unit for the query (0 where no query term occurs)."""
        ids = (terms or self.terms(query)).ids
        if not ids or self.n == 0:
            return np.zeros(self.n, dtype=np.float32)
        return np.asarray(self.retriever.get_scores_from_ids(ids), dtype=np.float32)

    def coverage(self, terms: QueryTerms) -> tuple[np.ndarray, np.ndarray]:
        """Per unit: the share of the question's terms it contains, plain and idf-weighted.
        Terms the policy lacks count in the denominator, so they lower every unit's coverage."""
        n_terms = len(terms.ids) + terms.n_missing
        if n_terms == 0 or self.n == 0:
            return np.zeros(self.n, np.float32), np.zeros(self.n, np.float32)
        if terms.ids:
            sub = self.presence[:, terms.ids]
            plain = np.asarray(sub.sum(axis=1)).ravel()
            weighted = np.asarray(sub @ terms.idf).ravel()
        else:
            plain = weighted = np.zeros(self.n, np.float32)
        total_idf = float(terms.idf.sum()) + terms.n_missing * terms.missing_idf
        return ((plain / n_terms).astype(np.float32),
                (weighted / max(total_idf, 1e-9)).astype(np.float32))
