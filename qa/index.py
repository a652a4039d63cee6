"""The in-memory search index of each policy: its units, their vectors (from the store) and a
BM25 index over the same units. Rebuilt when the store's catalog changes."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingest.store import UnitRows
from ingest.types import Unit
from qa.lexical import BM25


@dataclass(frozen=True)
class PolicyIndex:
    policy: str
    units: list[Unit]
    ids: list[str]
    vectors: np.ndarray
    bm25: BM25

    @classmethod
    def build(cls, rows: UnitRows) -> "PolicyIndex":
        return cls(rows.policy, rows.units, rows.ids, rows.vectors, BM25([u.context for u in rows.units]))

    def dense(self, query_vec: np.ndarray) -> np.ndarray:
        """Cosine similarity of the query with every unit (vectors are L2-normalised)."""
        return self.vectors @ query_vec if len(self.units) else np.zeros(0, dtype=np.float32)
