"""BM25 over the units of one policy (bm25s), with English stopwords and a Snowball stemmer.

Stemming lets "deleted" find "delete"; names ("Stripe", "kie.ai", "ByteDance") still match
exactly because they are tokens like any other word."""
from __future__ import annotations

import numpy as np


def _stemmer():
    try:
        import Stemmer

        return Stemmer.Stemmer("english")
    except ImportError:  # PyStemmer is a dependency; without it BM25 still works, unstemmed
        return None


class BM25:
    def __init__(self, texts: list[str]):
        import bm25s

        self._bm25s = bm25s
        self._stemmer = _stemmer()
        self.n = len(texts)
        self.retriever = bm25s.BM25()
        tokens = bm25s.tokenize(texts, stopwords="en", stemmer=self._stemmer, show_progress=False)
        self.retriever.index(tokens, show_progress=False)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every unit for the query (0 where no query term occurs)."""
        toks = self._bm25s.tokenize([query], stopwords="en", stemmer=self._stemmer,
                                    return_ids=False, show_progress=False)[0]
        ids = self.retriever.get_tokens_ids(toks)
        if not ids or self.n == 0:
            return np.zeros(self.n, dtype=np.float32)
        return np.asarray(self.retriever.get_scores_from_ids(ids), dtype=np.float32)
