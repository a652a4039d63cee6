"""Split a normalised Document into citable units: sentences and list items.

Every unit is a verbatim slice, `unit.text == doc.text[unit.start:unit.end]`, so a citation
can always be shown exactly as the policy says it. Each unit carries its section path: the
headings above it, outermost first. Headings come from markup when the loader found some
(HTML, markdown), otherwise from the shape of a line ("3.1 Image Processing", "Data
Retention"). Headings are units too (kind "heading"): a short title line can be the answer,
and dropping it would lose text. The document title ("Privacy Policy") is a heading unit
but never part of a section path.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from .normalize import BULLET_RE
from .types import Document, Section, Unit

SEGMENTER_VERSION = "1"
MAX_CHARS = 400  # units longer than this are split (items into sentences, sentences at ; or ,)
MIN_CHARS = 3  # shorter fragments are merged into a neighbour

# Same boundary as the PolicyQA benchmark's splitter (so units align with its sentences),
# plus curly quotes and the CJK enders, which need no space after them.
_BOUNDARY = re.compile(r"[.!?]+[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])"
                       r"|[。！？]+[」』”’）)]*\s*(?=\S)")
_ABBREV = {"mr", "mrs", "ms", "dr", "prof", "inc", "ltd", "co", "corp", "llc", "jr", "sr",
           "st", "no", "vs", "e.g", "i.e", "u.s", "u.k", "approx", "dept", "fig", "jan",
           "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
           "cf", "al", "art", "sec", "para", "vol", "nos", "viz", "eg", "ie", "e.u"}
_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,3})\.?\s+(\S.*)$")
_DATE_LINE = re.compile(
    r"^(?:last\s+)?(?:updated|revised|modified|effective)\b|更新|生效|改定", re.I)
_DOC_TITLE = re.compile(r"privacy|policy|notice|statement|隐私|隱私|プライバシー|개인정보", re.I)
_SMALL_WORDS = {"a", "an", "the", "and", "or", "nor", "but", "of", "for", "to", "in", "on",
                "with", "by", "at", "from", "as", "per", "via", "about", "under", "&", "-",
                "–", "—", "/", "vs", "into", "than"}
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")


@dataclass(frozen=True, slots=True)
class Line:
    """One non-empty line of the text and what it is: "title", "heading", "item" or "text"."""

    start: int
    end: int
    kind: str
    level: int = 0


def segment(doc: Document) -> list[Unit]:
    """All units of a document, in reading order, numbered 0..n-1."""
    spans: list[tuple[int, int, str, tuple[str, ...]]] = []
    stack: list[tuple[int, str]] = []  # open sections: (level, title)
    for line in classify(doc):
        path = tuple(title for _, title in stack)
        if line.kind == "title":
            spans.append((line.start, line.end, "heading", ()))
        elif line.kind == "heading":
            while stack and stack[-1][0] >= line.level:
                stack.pop()
            path = tuple(title for _, title in stack)
            spans.append((line.start, line.end, "heading", path))
            stack.append((line.level, doc.text[line.start:line.end]))
        elif line.kind == "item":
            spans += [(s, e, "item", path) for s, e in item_spans(doc.text, line.start, line.end)]
        else:
            spans += [(s, e, "sentence", path)
                      for s, e in sentence_spans(doc.text, line.start, line.end)]
    return [Unit(policy=doc.policy, order=i, text=doc.text[s:e], start=s, end=e, section=path,
                 kind=kind, page=page_of(doc, s))
            for i, (s, e, kind, path) in enumerate(spans)]


def sections(doc: Document) -> list[Section]:
    """The document's headings (not its title), in order, with levels and offsets."""
    return [Section(title=doc.text[ln.start:ln.end], level=ln.level, start=ln.start)
            for ln in classify(doc) if ln.kind == "heading"]


def page_of(doc: Document, offset: int) -> int | None:
    """1-based PDF page holding `offset`, None for other formats."""
    if not doc.pages:
        return None
    i = bisect.bisect_right([start for _, start, _ in doc.pages], offset) - 1
    return doc.pages[max(i, 0)][0]


# --------------------------------------------------------------------------- lines
def classify(doc: Document) -> list[Line]:
    """Label every non-empty line; markup headings win, else headings are inferred."""
    text, marked = doc.text, {start: level for start, _, level in doc.headings}
    raw = [(m.start(), m.end()) for m in re.finditer(r"[^\n]+", text) if m.group().strip()]
    out: list[Line] = []
    numbered_level = 0  # depth of the last numbered heading: bare titles nest below it
    for i, (s, e) in enumerate(raw):
        line = text[s:e]
        has_next = i + 1 < len(raw)
        if i == 0 and has_next and is_doc_title(line, doc.title):
            out.append(Line(s, e, "title"))
        elif s in marked:
            out.append(Line(s, e, "heading", marked[s]))
        elif m := BULLET_RE.match(line):
            out.append(Line(s + m.end(), e, "item"))
        elif doc.headings or not has_next:
            out.append(Line(s, e, "text"))
        elif level := numbered_heading_level(line):
            numbered_level = level
            out.append(Line(s, e, "heading", level))
        elif is_bare_title(line):
            out.append(Line(s, e, "heading", numbered_level + 1))
        else:
            out.append(Line(s, e, "text"))
    return out


def is_doc_title(line: str, declared: str = "") -> bool:
    """The first line names the document ("Privacy Policy", "隐私政策")."""
    if declared and line.strip() == declared.strip():
        return True
    return bool(_DOC_TITLE.search(line)) and (is_bare_title(line) or _is_cjk_title(line))


def numbered_heading_level(line: str) -> int:
    """ "3.1 Image Processing" -> 2, "10. Contact" -> 1; 0 when the line is not one."""
    m = _NUMBERED.match(line)
    if not m or not _short_title(m.group(2), max_words=12):
        return 0
    first = m.group(2)[0]
    return m.group(1).count(".") + 1 if first.isupper() or _CJK.match(first) else 0


def is_bare_title(line: str) -> bool:
    """A short title-case line with no sentence punctuation: "Payments (Stripe & PayPal)"."""
    if _DATE_LINE.search(line) or not _short_title(line, max_words=8):
        return False
    if _CJK.search(line):
        return _is_cjk_title(line)
    words = [w.strip("()[]\"'“”‘’") for w in line.split()]
    words = [w for w in words if w and w[0].isalpha()]
    return bool(words) and words[0][0].isupper() and all(
        w[0].isupper() or w.lower() in _SMALL_WORDS for w in words)


def _short_title(s: str, max_words: int) -> bool:
    return (len(s) <= 80 and len(s.split()) <= max_words
            and not s.endswith(tuple(".,;!?。，；：！？"))
            and not any(mark in s for mark in (":", "@", "://")))


def _is_cjk_title(line: str) -> bool:
    return len(line) <= 20 and not re.search(r"[。，、；：！？,.;:]", line)


# --------------------------------------------------------------------------- sentences
def item_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """A list item is one unit, unless it is too long to quote: then its sentences."""
    if end - start <= MAX_CHARS:
        return [(start, end)]
    return sentence_spans(text, start, end)


def sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentences of text[start:end], tiny fragments merged, over-long ones cut at ; or ,."""
    spans = merge_fragments(text, split_sentences(text[start:end], base=start))
    out: list[tuple[int, int]] = []
    for s, e in spans:
        out += split_long(text, s, e)
    return out


def split_sentences(text: str, base: int = 0) -> list[tuple[int, int]]:
    """Rule-based splitter: [(start, end)] offsets (+ base), trimmed of surrounding space.

    Splits after . ! ? (and closing quotes/brackets) followed by space and a capital or
    digit, and after 。！？. Not after abbreviations (e.g., Inc., U.S.), single letters
    (initials), or inside an open parenthesis ("(such as Acme Inc. Ltd. Products)").
    """
    spans, start = [], 0
    for m in _BOUNDARY.finditer(text):
        punct = m.start()
        if text[punct] == "." and _is_abbreviation(text[start:punct]):
            continue
        if text[start:punct].count("(") > text[start:punct].count(")") and \
                punct - start < MAX_CHARS:
            continue
        _add_span(spans, text, start, m.end(), base)
        start = m.end()
    _add_span(spans, text, start, len(text), base)
    return spans


def _is_abbreviation(before: str) -> bool:
    w = re.search(r"(\S+)$", before)
    tok = w.group(1).lower().lstrip("(\"'“‘[") if w else ""
    return tok in _ABBREV or (len(tok) == 1 and tok.isalpha())


def _add_span(spans: list, text: str, s: int, e: int, base: int) -> None:
    chunk = text[s:e]
    if chunk.strip():
        lead = len(chunk) - len(chunk.lstrip())
        spans.append((base + s + lead, base + s + len(chunk.rstrip())))


def merge_fragments(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Fold fragments shorter than MIN_CHARS into the next span ("2." + "We keep it."),
    or into the previous one when the fragment ends the line."""
    out: list[tuple[int, int]] = []
    carry = None
    for s, e in spans:
        if carry is not None:
            s, carry = carry, None
        if e - s < MIN_CHARS:
            carry = s
            continue
        out.append((s, e))
    if carry is not None:
        if out:
            out[-1] = (out[-1][0], spans[-1][1])
        else:  # the whole line is a fragment: keep it rather than lose text
            out.append((carry, spans[-1][1]))
    return out


_CUTS = (re.compile(r";\s+"), re.compile(r",\s+(?=(?:and|or|but|including|such as)\b)"),
         re.compile(r",\s+"))


def split_long(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Cut a sentence longer than MAX_CHARS at the separator nearest its middle (last resort)."""
    if end - start <= MAX_CHARS:
        return [(start, end)]
    chunk = text[start:end]
    for cut in _CUTS:
        points = [m for m in cut.finditer(chunk) if MIN_CHARS * 10 < m.start() < len(chunk) - 30]
        if points:
            m = min(points, key=lambda m: abs(m.start() - len(chunk) / 2))
            return (split_long(text, start, start + m.start() + 1)
                    + split_long(text, start + m.end(), end))
    return [(start, end)]
