"""The in-memory search index of each policy: its units, their vectors (from the store), a BM25
index over the same units, and each unit's vector averaged with its neighbours' (same
section), so a sentence that only makes sense with the one before it ("This includes your IP
address.") is found. Computed from the stored vectors at build time: no extra embedding.
Built when a policy is first asked about (qa.service keeps the most recently used)."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ingest.store import UnitRows
from ingest.types import Unit
from qa.lexical import BM25
from qa import rerank
from qa.practices import Practices

WINDOW = 1  # neighbours on each side in the window vector


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def window_vectors(units: list[Unit], vectors: np.ndarray, w: int = WINDOW) -> np.ndarray:
    """Unit vector plus half-weighted neighbours within the same section, renormalised."""
    out = vectors.astype(np.float32).copy()
    for d in range(1, w + 1):
        same = np.array([units[i].section == units[i - d].section for i in range(d, len(units))], bool)
        out[d:][same] += 0.5 * vectors[:-d][same]
        out[:-d][same] += 0.5 * vectors[d:][same]
    return _unit(out) if len(units) else out


@dataclass(frozen=True)
class PolicyIndex:
    policy: str
    units: list[Unit]
    ids: list[str]
    vectors: np.ndarray
    bm25: BM25
    window: np.ndarray  # (n, dim) neighbour-window vectors, see window_vectors
    signpost: np.ndarray  # (n,) bool: a heading, a lead-in ending in ":", a sentence ending in "?"
    practices: Practices | None = field(default=None, repr=False, compare=False)  # what `stated` asks
    text: str = field(default="", repr=False, compare=False)  # the policy's text ("": not at hand)

    @classmethod
    def build(cls, rows: UnitRows, practices: Practices | None = None) -> "PolicyIndex":
        return cls.of(rows.policy, rows.units, rows.ids, rows.vectors, practices, rows.text)

    @classmethod
    def of(cls, policy: str, units: list[Unit], ids: list[str], vectors: np.ndarray,
           practices: Practices | None = None, text: str = "") -> "PolicyIndex":
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2:
            vectors = vectors.reshape(len(units), -1)
        signpost = np.array([u.kind == "heading" or u.text.rstrip().endswith((":", "?")) for u in units],
                            dtype=bool)
        return cls(policy, units, ids, vectors, BM25([u.context for u in units]),
                   window_vectors(units, vectors), signpost, practices, text)

    @cached_property
    def passages(self) -> list[str]:
        """What the reranker reads of each unit (qa.rerank.passages); built when it is first asked
        for, as the reranker is off by default."""
        return rerank.passages(self.units)

    @cached_property
    def stated(self) -> np.ndarray | None:
        """P(some unit states each data practice) by the practice models the index was built
        with (qa.practices), once per index; None without them."""
        return self.practices.stated(self.vectors) if self.practices is not None else None

    def dense(self, query_vec: np.ndarray) -> np.ndarray:
        """Cosine similarity of the query with every unit (vectors are L2-normalised)."""
        return self.vectors @ query_vec if len(self.units) else np.zeros(0, dtype=np.float32)
