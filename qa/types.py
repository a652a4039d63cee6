"""Values that flow through answering. `Answer.to_dict()` is the one serialisation that the
CLI, the REST API and the UI all show."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Hit:
    """A unit retrieved for a question, with the scores that ranked it."""

    unit_id: str
    policy: str
    text: str
    section: str
    order: int
    start: int
    end: int
    score: float  # final score, higher is better (calibrated relevance in [0, 1] after reranking)
    dense: float = 0.0  # cosine similarity of question and unit
    lexical: float = 0.0  # BM25 score
    page: int | None = None


@dataclass(frozen=True, slots=True)
class Citation:
    """One numbered citation: a verbatim quote of a policy and where it stands."""

    n: int  # the marker number, [n] in the answer text
    policy: str
    policy_name: str
    quote: str
    section: str
    score: float
    start: int
    end: int
    last_updated: str | None = None
    unit_id: str = ""
    related: bool = False  # shown as related, not relied on (the policy does not address the question)
    page: int | None = None

    def to_dict(self) -> dict:
        return {"n": self.n, "policy": self.policy, "policy_name": self.policy_name,
                "quote": self.quote, "section": self.section, "score": round(self.score, 4),
                "start": self.start, "end": self.end, "last_updated": self.last_updated,
                "unit_id": self.unit_id, "related": self.related, "page": self.page}


@dataclass(frozen=True, slots=True)
class Answer:
    """What the assistant says about one question (for one policy, or across all of them)."""

    question: str
    answer: str
    answerable: bool
    citations: tuple[Citation, ...] = ()
    policy: str | None = None  # the scope asked for; None = all policies
    id: str | None = None
    timings: dict = field(default_factory=dict, hash=False, compare=False)  # milliseconds
    policies: tuple[str, ...] = ()  # policies that address the question
    writer: str = "extractive"  # which answerer wrote `answer`
    error: str | None = None
    language: str = "en"  # the question's language
    retrieval_query: str | None = None  # the English keywords a non-English question was searched with
    unread: bool = False  # nothing found, and the question is in a language policyqa cannot read
    absent: tuple[str, ...] = ()  # not addressed: the question's words the policy never mentions

    @property
    def status(self) -> str:
        """"answered"; "not_addressed" (the policy is silent on it); or "language_not_supported"
        (nothing found for a question in a language without a glossary: silence is not claimed)."""
        if self.answerable:
            return "answered"
        return "language_not_supported" if self.unread else "not_addressed"

    def to_dict(self) -> dict:
        return {"id": self.id, "question": self.question, "policy": self.policy,
                "answer": self.answer, "answerable": self.answerable, "status": self.status,
                "policies": list(self.policies),
                "citations": [c.to_dict() for c in self.citations],
                "writer": self.writer, "language": self.language,
                **({"retrieval_query": self.retrieval_query} if self.retrieval_query else {}),
                **({"absent": list(self.absent)} if self.absent else {}),
                "timings": {k: round(v, 2) for k, v in self.timings.items()},
                **({"error": self.error} if self.error else {})}
