"""Values that flow through answering. `Answer.to_dict()` is the one serialisation that the
CLI, the REST API and the UI all show.

An Answer is structured: a `Status`, and `blocks` that say what to show in what order (a
verdict line, each policy's verbatim quotes by citation number, notes, related clauses). Every
surface renders the blocks; `Answer.answer`, the plain text of the CLI and the JSON, is one
such rendering (`answer_text`). Nothing reads the text back."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum


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
    score: float  # the ranker's score in [0, 1], higher is better
    dense: float = 0.0  # cosine similarity of question and unit
    lexical: float = 0.0  # BM25 score
    page: int | None = None

    @classmethod
    def of(cls, unit, unit_id: str, score: float, dense: float = 0.0, lexical: float = 0.0) -> "Hit":
        """The hit for an `ingest.types.Unit` of a policy."""
        return cls(unit_id=unit_id, policy=unit.policy, text=unit.text, section=unit.section_path,
                   order=unit.order, start=unit.start, end=unit.end, score=score, dense=dense,
                   lexical=lexical, page=unit.page)


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
    listed: bool = False  # shown to complete a list a relied-on clause belongs to (not itself ranked)

    @property
    def note(self) -> str:
        """What a reader must know about the quote: an email address its source page hid."""
        return HIDDEN_EMAIL_NOTE if HIDDEN_EMAIL.search(self.quote) else ""

    def to_dict(self) -> dict:
        return {"n": self.n, "policy": self.policy, "policy_name": self.policy_name,
                "quote": self.quote, "section": self.section, "score": round(self.score, 4),
                "start": self.start, "end": self.end, "last_updated": self.last_updated,
                "unit_id": self.unit_id, "related": self.related, "listed": self.listed,
                "page": self.page, "note": self.note}

    def source(self) -> str:
        """'SnapNest, section “4. Retention”, page 2, last updated 2026-03-03' (and its note)."""
        bits = [self.policy_name or self.policy, *([f"section “{self.section}”"] if self.section else []),
                *([f"page {self.page}"] if self.page else []),
                f"last updated {self.last_updated}" if self.last_updated else "no date given"]
        return ", ".join(bits) + (f" ({self.note})" if self.note else "")


# An address a web page's email obfuscation replaced ("[email protected]" is what its text says)
HIDDEN_EMAIL = re.compile(r"\[\s*email\s+protected\s*\]", re.I)
HIDDEN_EMAIL_NOTE = "the source page hid this email address: “[email protected]” is not the address"


class Status(StrEnum):
    """What an answer is: the question answered, or why not."""

    ANSWERED = "answered"
    NOT_ADDRESSED = "not_addressed"  # the policy is silent on it
    # nothing found for a question in a language without a glossary: silence is not claimed
    LANGUAGE_NOT_SUPPORTED = "language_not_supported"


class Reply(StrEnum):
    """The direct answer to a yes/no question, given only when a cited sentence says it plainly."""

    YES = "yes"
    NO = "no"
    NOT_SAID = "not_said"  # the policy does not address it (it never mentions what was asked about)


class Kind(StrEnum):
    VERDICT = "verdict"  # the direct answer to a yes/no question: `reply`, `policy`, the quote it rests on
    QUOTES = "quotes"  # what a policy says: a header in the answer's words, then verbatim quotes
    RELATED = "related"  # the closest clauses, which do not answer it (only when nothing does)
    WRITTEN = "written"  # one sentence of the LLM writer, held to the quotes it cites
    NOTE = "note"  # the answer's own words: how many policies address it, what a policy never mentions


@dataclass(frozen=True, slots=True)
class Quote:
    """A citation shown in a block, by number. A list's lead-in carries the items shown under it."""

    n: int
    items: tuple[int, ...] = ()
    more: int = 0  # items of that list not shown (lists are bounded)

    def to_dict(self) -> dict:
        return {"n": self.n, "items": list(self.items), "more": self.more}


@dataclass(frozen=True, slots=True)
class Block:
    """One piece of an answer's view. `text` is always the answer's own words, never a quote;
    quotes are referred to by citation number, so each surface shows them its own way."""

    kind: Kind
    text: str = ""
    quotes: tuple[Quote, ...] = ()
    policy: str | None = None
    reply: Reply | None = None  # VERDICT only

    @property
    def numbers(self) -> list[int]:
        """Every citation number the block shows, in order (lead-ins before their items)."""
        return [n for q in self.quotes for n in (q.n, *q.items)]

    def to_dict(self) -> dict:
        return {"kind": self.kind.value, "text": self.text, "policy": self.policy,
                "quotes": [q.to_dict() for q in self.quotes],
                **({"reply": self.reply.value} if self.reply else {})}


@dataclass(frozen=True, slots=True)
class ListGroup:
    """A list of the policy that a relied-on clause belongs to: its lead-in ("We use the
    following third-party services:") and the items shown, in the policy's order."""

    lead: Hit | None
    items: tuple[Hit, ...]
    more: int = 0  # items left out


@dataclass(frozen=True, slots=True)
class Verdict:
    """The one decision about a policy and a question: what is relied on, what is related, and
    why; the relevance rule itself is `qa.compose.select`'s. `reply` answers a yes/no question
    when the sentence it `rests_on` (one of `relied_on`) says it plainly."""

    policy: str
    status: Status
    relied_on: tuple[Hit, ...]
    related: tuple[Hit, ...]
    why: str  # in plain words, for logs and tests
    absent: tuple[str, ...] = ()  # not addressed: the question's words the policy never mentions
    lists: tuple[ListGroup, ...] = ()
    reply: Reply | None = None
    rests_on: Hit | None = None
    addressed: float | None = None  # the gate's P(the policy addresses the question); None: no gate


@dataclass(frozen=True, slots=True)
class Answer:
    """What the assistant says about one question (for one policy, or across all of them)."""

    question: str
    status: Status
    blocks: tuple[Block, ...] = ()
    citations: tuple[Citation, ...] = ()  # relied on first, best first; then related
    policy: str | None = None  # the scope asked for; None = all policies
    id: str | None = None
    timings: dict = field(default_factory=dict, hash=False, compare=False)  # milliseconds
    policies: tuple[str, ...] = ()  # policies that address the question
    writer: str = "extractive"  # which answerer wrote the blocks
    error: str | None = None
    language: str = "en"  # the question's language
    retrieval_query: str | None = None  # the English keywords a non-English question was searched with
    absent: tuple[str, ...] = ()  # not addressed: the question's words the policy never mentions
    addressed: dict = field(default_factory=dict, hash=False, compare=False)  # policy: the gate's P(addresses)

    @property
    def answerable(self) -> bool:
        return self.status is Status.ANSWERED

    @property
    def unread(self) -> bool:
        """Nothing found, and the question is in a language policyqa cannot read."""
        return self.status is Status.LANGUAGE_NOT_SUPPORTED

    @property
    def answer(self) -> str:
        """The answer as plain text (the CLI's and the JSON's `answer`), rendered from the blocks."""
        return answer_text(self.blocks, {c.n: c for c in self.citations})

    @property
    def verdicts(self) -> list[Block]:
        return [b for b in self.blocks if b.kind is Kind.VERDICT]

    def with_sources(self) -> str:
        """Plain text to paste into an email or a ticket, and the CLI's text: the answer (its
        verdict, the quotes; related clauses only when nothing answers the question), then a
        numbered list of its sources: policy, section, last updated."""
        cites = {c.n: c for c in self.citations}
        out = [self.answer.strip(), "", "Sources:"]
        for n in sorted({n for b in self.blocks for n in b.numbers}):
            out.append(f"[{n}] {cites[n].source()}")
        return "\n".join(out) + "\n"

    def to_dict(self) -> dict:
        return {"id": self.id, "question": self.question, "policy": self.policy,
                "answer": self.answer, "answerable": self.answerable, "status": self.status.value,
                "policies": list(self.policies),
                "citations": [c.to_dict() for c in self.citations],
                "blocks": [b.to_dict() for b in self.blocks],
                "writer": self.writer, "language": self.language,
                **({"retrieval_query": self.retrieval_query} if self.retrieval_query else {}),
                **({"absent": list(self.absent)} if self.absent else {}),
                **({"addressed": {p: round(v, 3) for p, v in self.addressed.items()}} if self.addressed else {}),
                "timings": {k: round(v, 2) for k, v in self.timings.items()},
                **({"error": self.error} if self.error else {})}


# --------------------------------------------------------------------------- plain text
END = (".", "!", "?", "。", "！", "？")


def split_stop(text: str) -> tuple[str, str]:
    """A sentence and its final stop ('.', '。', ...; '' if none): markers go between the two."""
    body = text.rstrip()
    return (body[:-1].rstrip(), body[-1]) if body.endswith(END) else (body, "")


def with_marks(text: str, numbers: list[int]) -> str:
    """A sentence of the answer's own words with its citation markers, before its final stop:
    'Yes, according to the Acme privacy policy [1].'"""
    if not numbers:
        return text
    body, stop = split_stop(text)
    return f"{body} {''.join(f'[{n}]' for n in numbers)}{stop}"


def answer_text(blocks: tuple[Block, ...], cites: dict[int, Citation]) -> str:
    """The blocks as plain text: paragraphs; each quote once, verbatim, as '- “...” [n]' (a list's
    items indented under its lead-in); consecutive verdict lines, and an LLM writer's consecutive
    sentences, in one paragraph."""
    paras: list[list[str]] = []
    prev = None
    for b in blocks:
        if b.kind is Kind.WRITTEN and prev is Kind.WRITTEN:
            paras[-1][-1] += " " + with_marks(b.text, b.numbers)
        elif b.kind is Kind.VERDICT and prev is Kind.VERDICT:
            paras[-1].append(with_marks(b.text, b.numbers))
        elif b.kind in (Kind.VERDICT, Kind.WRITTEN):
            paras.append([with_marks(b.text, b.numbers)])
        elif b.kind is Kind.NOTE:
            paras.append([b.text])
        else:
            lines = [b.text] if b.text else []
            for q in b.quotes:
                lines.append(f"- “{cites[q.n].quote}” [{q.n}]")
                lines += [f"  - “{cites[i].quote}” [{i}]" for i in q.items]
            paras.append(lines)
        prev = b.kind
    return "\n\n".join("\n".join(p) for p in paras if p)
