"""Plain values that flow through ingestion. Vectors live in the store, not here."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Section:
    """A heading found in a policy: its title, depth (1 = top) and where it starts."""

    title: str
    level: int
    start: int  # offset of the heading line in the normalised text


@dataclass(frozen=True, slots=True)
class Document:
    """A loaded, normalised policy.

    `text` is what a reader sees: the normalised text every unit's offsets point into.
    `pages` maps page numbers to (start, end) offsets for PDFs, empty otherwise.
    """

    policy: str  # the policy id: the file name without extension
    text: str
    source: str  # the path it was loaded from
    format: str  # "txt", "md", "html", "pdf"
    title: str = ""  # a title the file itself declares (HTML <title>, a first heading), if any
    pages: tuple[tuple[int, int, int], ...] = ()  # (page number, start, end)
    # headings the file's markup declares (HTML <h1>-<h6>, markdown "#"): (start, end, level)
    # offsets of the heading line in `text`; plain text leaves it empty and segment.py infers them
    headings: tuple[tuple[int, int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Unit:
    """A sentence or list item: the smallest thing a citation can point at.

    `text` is verbatim `document.text[start:end]`; `context` is what gets embedded
    (the section path plus the sentence) and is never shown as a quote.
    """

    policy: str
    order: int  # position in the policy, 0-based
    text: str
    start: int
    end: int
    section: tuple[str, ...] = ()  # section path, outermost first
    kind: str = "sentence"  # "sentence" | "item" | "heading"
    page: int | None = None  # PDF page number, 1-based

    @property
    def section_path(self) -> str:
        return " > ".join(self.section)

    @property
    def context(self) -> str:
        return f"{self.section_path}: {self.text}" if self.section else self.text


@dataclass(frozen=True, slots=True)
class PolicyMeta:
    """What we know about a policy besides its text."""

    policy: str
    name: str
    last_updated: str | None = None  # ISO date, "YYYY-MM-DD"
    language: str = "en"
    source: str = ""
    extra: dict = field(default_factory=dict, hash=False, compare=False)

    def to_dict(self) -> dict:
        return {"policy": self.policy, "name": self.name, "last_updated": self.last_updated,
                "language": self.language, "source": self.source, **self.extra}


@dataclass(frozen=True, slots=True)
class Limits:
    """What one policy file may cost. Each refusal names the limit and the setting that raises it."""

    file_bytes: int = 10_000_000  # POLICYQA_MAX_FILE_BYTES
    pages: int = 500  # POLICYQA_MAX_PAGES
    chars: int = 1_000_000  # POLICYQA_MAX_CHARS: the extracted text, before normalising
    units: int = 20_000  # POLICYQA_MAX_UNITS
    seconds: float = 60.0  # POLICYQA_INGEST_TIMEOUT: reading, normalising and splitting one file
    memory_mb: int = 1024  # POLICYQA_INGEST_MEMORY_MB: address space of the process that reads files
