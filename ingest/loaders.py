"""Turn a policy file (.txt, .md, .html, .pdf) into a normalised `Document`.

Every failure is an `IngestError` whose one-line message names the file and says what is
wrong with it, so a batch ingest can report the file and carry on with the rest.
"""
from __future__ import annotations

import codecs
import io
import re
from pathlib import Path

from .errors import IngestError, LimitExceeded
from .normalize import BULLET_RE, clean_chars, is_i18n_key, normalize
from .types import Document, Limits

FORMATS = {".txt": "txt", ".text": "txt", ".md": "md", ".markdown": "md",
           ".html": "html", ".htm": "html", ".pdf": "pdf"}

Block = tuple[str, int]  # (one line of text, heading level; 0 = not a heading)
MAX_HTML_DEPTH = 200  # elements nested deeper than this are refused (real pages stay under 50)


def over(path: Path | str, found: int | str, limit: int, noun: str, setting: str) -> LimitExceeded:
    """"acme.pdf: 612 pages, over the limit of 500 pages; raise it with POLICYQA_MAX_PAGES ..." """
    found = f"{found:,}" if isinstance(found, int) else found
    return LimitExceeded(f"{path}: {found} {noun}, over the limit of {limit:,}; raise it with {setting} "
                         "if this file really is a policy")


def check_chars(path: Path, text: str, limits: Limits) -> None:
    if len(text) > limits.chars:
        raise over(path, len(text), limits.chars, "characters of text", "POLICYQA_MAX_CHARS")


def load(path: Path, limits: Limits | None = None) -> Document:
    """Load one policy; its id is the file name without extension. `limits` caps the file's
    size, pages and characters (checked as early as each can be)."""
    path, limits = Path(path), limits or Limits()
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        supported = ", ".join(sorted(FORMATS))
        raise IngestError(f"{path}: unsupported file type {path.suffix or '(none)'!r}; "
                          f"supported: {supported}")
    try:
        size = path.stat().st_size
        if size > limits.file_bytes:
            raise over(path, size, limits.file_bytes, "bytes", "POLICYQA_MAX_FILE_BYTES")
        with open(path, "rb") as fh:  # no more than the limit, even if the file grows meanwhile
            data = fh.read(min(size, limits.file_bytes) + 1)
            if len(data) > size:
                data += fh.read(limits.file_bytes + 1 - len(data))
    except OSError as e:
        raise IngestError(f"{path}: cannot read file ({e.strerror or e})") from e
    if len(data) > limits.file_bytes:
        raise over(path, f"more than {limits.file_bytes:,}", limits.file_bytes, "bytes", "POLICYQA_MAX_FILE_BYTES")
    if not data.strip():
        raise IngestError(f"{path}: empty file (no text at all)")
    if fmt == "pdf":
        return load_pdf(path, data, limits)
    raw = decode_text(path, data)
    if fmt == "md":
        check_chars(path, raw, limits)
        text, headings, title = assemble(markdown_blocks(raw))
    elif fmt == "html":
        blocks, title = html_blocks(raw, path)
        check_chars(path, "\n".join(b for b, _ in blocks), limits)
        text, headings, first = assemble(blocks)
        title = title or first
    else:
        check_chars(path, raw, limits)
        text, headings, title = normalize(raw), (), ""
    if not text.strip():
        raise IngestError(f"{path}: no readable text after cleaning (only markup or debris)")
    return Document(policy=path.stem, text=text, source=str(path), format=fmt,
                    title=title, headings=headings)


def decode_text(path: Path, data: bytes) -> str:
    """UTF-8 (with or without BOM) or BOM-marked UTF-16 or UTF-32; anything else is refused, not
    guessed."""
    # UTF-32's little-endian mark begins with UTF-16's: it is tried first
    for boms, codec in (((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE), "utf-32"),
                        ((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE), "utf-16")):
        if data.startswith(boms):
            try:
                text = data.decode(codec)
            except UnicodeDecodeError as e:
                raise IngestError(f"{path}: not valid {codec.upper()} text despite its byte-order mark "
                                  f"(offset {e.start})") from e
            break
    else:
        if b"\x00" in data:
            raise IngestError(f"{path}: binary file (contains NUL bytes), not a text policy")
        if _control_ratio(data) > 0.05:
            raise IngestError(f"{path}: binary file (mostly non-text bytes), not a text policy")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            bad = data[e.start]
            raise IngestError(f"{path}: not valid UTF-8 text (byte 0x{bad:02x} at offset "
                              f"{e.start}); re-save it as UTF-8") from e
    if not text.strip():
        raise IngestError(f"{path}: empty file (whitespace only)")
    return text


def _control_ratio(data: bytes) -> float:
    sample = data[:65536]
    controls = sum(1 for b in sample if (b < 32 and b not in b"\n\r\t\f\v") or b == 127)
    return controls / len(sample)


def assemble(blocks: list[Block]) -> tuple[str, tuple[tuple[int, int, int], ...], str]:
    """Join cleaned blocks into text, one per line; return (text, heading offsets, first h1)."""
    parts: list[str] = []
    headings: list[tuple[int, int, int]] = []
    pos, title = 0, ""
    for raw, level in blocks:
        line = " ".join(clean_chars(raw).split())
        if not line or is_i18n_key(line):
            continue
        sep = "\n\n" if parts and level else ("\n" if parts else "")
        pos += len(sep)
        if level:
            headings.append((pos, pos + len(line), level))
            title = title or (line if level == 1 else "")
        parts.append(sep + line)
        pos += len(line)
    return "".join(parts), tuple(headings), title


# --------------------------------------------------------------------------- markdown
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_MD_BULLET = re.compile(r"^\s*[*+-]\s+")
_MD_NUMBERED = re.compile(r"^\s*\d+[.)]\s+")
_MD_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
_MD_SETEXT = re.compile(r"^\s*(=+|-+)\s*$")


def markdown_blocks(raw: str) -> list[Block]:
    """Headings, list items and paragraphs of a markdown file, markers stripped.

    Soft-wrapped paragraph lines are joined; a list item is its own block, as "- text".
    """
    lines = _strip_front_matter(clean_chars(raw).split("\n"))
    blocks: list[Block] = []
    para: list[str] = []

    def flush() -> None:
        if para:
            blocks.append((md_inline(" ".join(para)), 0))
            para.clear()

    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if m := _MD_HEADING.match(line):
            flush()
            blocks.append((md_inline(m.group(2)), len(m.group(1))))
        elif line.strip() and not para and _MD_SETEXT.match(nxt) and not _MD_RULE.match(line):
            blocks.append((md_inline(line), 1 if nxt.strip()[0] == "=" else 2))
        elif _MD_SETEXT.match(line) or _MD_RULE.match(line) or not line.strip():
            flush()
        elif _MD_BULLET.match(line):
            flush()
            para.append("- " + _MD_BULLET.sub("", line))
        elif _MD_NUMBERED.match(line):
            flush()
            para.append(line.strip())
        else:
            para.append(line.strip().lstrip(">").strip())
    flush()
    return blocks


def _strip_front_matter(lines: list[str]) -> list[str]:
    if lines and lines[0].strip() == "---" and "---" in (s.strip() for s in lines[1:]):
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
        return lines[end + 1:]
    return lines


def md_inline(text: str) -> str:
    """Strip inline markdown: images, links -> their text, emphasis, code ticks."""
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\[([^\]]+)\]\[[^\]]*\]", r"\1", text)
    text = re.sub(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", r"\2", text)
    text = re.sub(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])", r"\1", text)
    text = re.sub(r"(?<!\w)_(?=\S)(.+?)(?<=\S)_(?!\w)", r"\1", text)
    text = re.sub(r"`([^`]*)`", r"\1", text)
    return re.sub(r"<[^>]+>", "", text)


# --------------------------------------------------------------------------- html
_DROP_TAGS = ["script", "style", "noscript", "template", "nav", "aside", "form", "svg",
              "iframe", "button", "select", "input", "head", "object", "canvas"]
_BLOCK_TAGS = {"p", "div", "section", "article", "main", "ul", "ol", "li", "table", "tr",
               "td", "th", "dl", "dt", "dd", "blockquote", "pre", "br", "hr", "header",
               "footer", "figure", "figcaption", "address", "body", "caption", "tbody",
               "thead"}
_HEADING_TAGS = {f"h{i}": i for i in range(1, 7)}
# ARIA landmarks and widgets that are the site's, not the policy's: navigation, the site header
# ("banner"), the site footer ("contentinfo"), dialogs (cookie banners, newsletter pop-ups)
_CHROME_ROLES = re.compile(r"^(?:navigation|banner|contentinfo|dialog|alertdialog)$")
# cookie-consent and other banners, by the id or class their tools give them
_BANNER = re.compile(r"cookie[-_ ]?(?:banner|bar|notice|consent|popup|law)|consent[-_ ]?(?:banner|bar|manager|popup)|"
                     r"\bgdpr[-_ ]?(?:banner|bar)|onetrust|cookiebot|\bcc[-_](?:window|banner)|"
                     r"\b(?:site|promo|announcement)[-_]banner", re.I)


def html_blocks(raw: str, path: Path | str = "") -> tuple[list[Block], str]:
    """Visible text of an HTML page as blocks, site chrome and code removed; plus <title>."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(raw, "html.parser")
    deepest = _depth(soup)
    if deepest > MAX_HTML_DEPTH:
        raise IngestError(f"{path}: HTML nested {deepest} elements deep; policies are read up to "
                          f"{MAX_HTML_DEPTH} (is the markup broken, e.g. unclosed tags?)")
    title = " ".join(soup.title.get_text(" ").split()) if soup.title else ""
    for tag in soup(_DROP_TAGS):
        tag.decompose()
    for tag in soup.find_all(attrs={"role": _CHROME_ROLES}):
        tag.decompose()
    for tag in soup.find_all(_is_banner):
        tag.decompose()
    for tag in soup.find_all(["header", "footer"]):
        if _is_chrome(tag):
            tag.decompose()
    blocks: list[Block] = []
    _walk(soup.body or soup, blocks, [])
    return blocks, title


def _is_banner(tag) -> bool:
    """A cookie-consent (or other) banner or modal: by its id or class, or aria-modal."""
    names = " ".join([tag.get("id") or "", *(tag.get("class") or [])])
    return bool(_BANNER.search(names)) or tag.get("aria-modal") == "true"


def _depth(root) -> int:
    """How deep elements nest below `root` (iteratively: the page may be nested thousands deep)."""
    deepest, stack = 0, [(root, 0)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        stack.extend((child, d + 1) for child in node.contents if hasattr(child, "contents"))
    return deepest


def _is_chrome(tag) -> bool:
    """A page header/footer that is navigation: mostly link text, or outside the article."""
    text = " ".join(tag.get_text(" ").split())
    links = sum(len(" ".join(a.get_text(" ").split())) for a in tag.find_all("a"))
    if not text or links >= 0.5 * len(text):
        return True
    return tag.find_parent(["article", "main"]) is None and not tag.find(list(_HEADING_TAGS))


def _walk(node, blocks: list[Block], buf: list[str], item: bool = False) -> None:
    """Depth-first: inline text accumulates in `buf`, block tags flush it as a line."""
    from bs4 import NavigableString, Tag
    from bs4.element import Comment

    for child in node.children:
        if isinstance(child, Comment):
            continue
        if isinstance(child, NavigableString):
            buf.append(str(child))
        elif isinstance(child, Tag) and child.name in _HEADING_TAGS:
            _flush(blocks, buf, item)
            blocks.append((child.get_text(" "), _HEADING_TAGS[child.name]))
        elif isinstance(child, Tag) and child.name in _BLOCK_TAGS:
            _flush(blocks, buf, item)
            is_item = child.name == "li"
            _walk(child, blocks, buf, item=is_item)
            _flush(blocks, buf, is_item)
        elif isinstance(child, Tag):
            _walk(child, blocks, buf, item)


def _flush(blocks: list[Block], buf: list[str], item: bool) -> None:
    text = " ".join("".join(buf).split())
    buf.clear()
    if text:
        blocks.append((f"- {text}" if item else text, 0))


# --------------------------------------------------------------------------- pdf
_PAGE_NUMBER = re.compile(r"^(?:page\s+)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?$|^-\s*\d{1,4}\s*-$",
                          re.I)  # "3", "Page 3 of 9", "- 3 -"
_NUMBERED_START = re.compile(r"^(?:\d+(?:\.\d+)*[.)]|\d+(?:\.\d+)+)\s")  # "3. ", "3.1 ", "2) "; not "30 days"


def load_pdf(path: Path, data: bytes, limits: Limits | None = None) -> Document:
    """Text of every page, de-hyphenated and unwrapped, running headers and footers left out;
    `pages` maps offsets to page numbers. The title is the PDF's own, else its first line."""
    pages, title = pdf_page_texts(path, data, limits or Limits())
    if not any(p.strip() for p in pages):
        raise IngestError(f"{path}: scanned PDF? no extractable text on any of {len(pages)} "
                          f"pages; run OCR on it first")
    first = next((ln.strip() for p in pages for ln in clean_chars(p).split("\n") if ln.strip()), "")
    title = title or (first if len(first) <= 100 else "")
    running = running_lines(pages)
    text, spans = "", []
    for number, raw in enumerate(pages, start=1):
        page = normalize(pdf_page_text(raw, running))
        if not page:
            continue
        if text:
            text += "\n\n"
        spans.append((number, len(text), len(text) + len(page)))
        text += page
    return Document(policy=path.stem, text=text, source=str(path), format="pdf", title=title,
                    pages=tuple(spans))


def _running_key(line: str) -> str:
    """A line with its numbers blanked: "Acme Policy - page 3" and "... page 4" are one line."""
    return re.sub(r"\d+", "#", " ".join(line.lower().split()))


def running_lines(pages: list[str], edge: int = 2) -> set[str]:
    """Running headers and footers: lines among the first or last `edge` of a page that recur
    (numbers aside) at the edge of at least half the pages, and of two at least."""
    seen: dict[str, int] = {}
    for raw in pages:
        lines = [ln for ln in clean_chars(raw).split("\n") if ln.strip()]
        for key in {_running_key(ln) for ln in lines[:edge] + lines[-edge:]}:
            seen[key] = seen.get(key, 0) + 1
    return {key for key, n in seen.items() if n >= 2 and n >= len(pages) / 2}


def pdf_page_texts(path: Path, data: bytes, limits: Limits | None = None) -> tuple[list[str], str]:
    """Raw extracted text per page, and the title the PDF declares ("" if none); corrupt and
    password-protected files become IngestErrors, and so does a PDF over the page or character
    limit (stopped as soon as it is over)."""
    from pypdf import PdfReader

    limits = limits or Limits()
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not _decrypts_with_empty_password(reader):
            raise IngestError(f"{path}: encrypted PDF (needs a password); "
                              f"save an unencrypted copy and ingest that")
        if len(reader.pages) > limits.pages:
            raise over(path, len(reader.pages), limits.pages, "pages", "POLICYQA_MAX_PAGES")
        chars, out = 0, []

        def count(text, *_):  # called for every piece of text as it is extracted
            nonlocal chars
            chars += len(text)
            if chars > limits.chars:
                raise over(path, f"more than {limits.chars:,}", limits.chars, "characters of text",
                           "POLICYQA_MAX_CHARS")
        for page in reader.pages:
            out.append(page.extract_text(visitor_text=count) or "")
        title = " ".join(str((reader.metadata or {}).get("/Title") or "").split())
        return out, clean_chars(title)
    except IngestError:
        raise
    except Exception as e:  # pypdf raises many types for broken files
        reason = " ".join(str(e).split())[:200] or type(e).__name__
        raise IngestError(f"{path}: corrupt PDF ({reason})") from e


def _decrypts_with_empty_password(reader) -> bool:
    try:
        return bool(reader.decrypt(""))
    except Exception:  # e.g. AES without the `cryptography` package, or a bad password
        return False


# a line ending in one of these words goes on: "... stay in the Trash for" / "30 days ..."
_CONTINUES = re.compile(r"\b(?:a|an|the|and|or|but|nor|of|for|to|in|on|at|by|with|from|into|as|than|that|"
                        r"which|who|whom|whose|your|our|their|its|we|you|is|are|be|may|will|can|not|"
                        r"such|including|within|after|before|per|via|about)$", re.I)


def pdf_page_text(raw: str, running: set[str] = frozenset()) -> str:
    """Undo PDF line layout: join "collec-\ntion", unwrap mid-sentence breaks, drop page numbers
    and the `running` headers and footers (see running_lines)."""
    text = clean_chars(raw)
    text = re.sub(r"(?<=[^\W\d_])-\n[ ]*(?=[a-z])", "", text)
    lines = [ln.strip() for ln in text.split("\n")]
    lines = [ln for ln in lines if not _PAGE_NUMBER.match(ln) and _running_key(ln) not in running]
    width = max((len(ln) for ln in lines), default=0)
    out: list[str] = []
    for line in lines:
        prev = out[-1] if out else ""
        wrapped = prev and line and not prev.endswith(tuple(".!?。！？:;")) and not (
            BULLET_RE.match(line) or _NUMBERED_START.match(line))
        if wrapped and (line[0].islower() or _CONTINUES.search(prev) or len(prev) >= 0.6 * width > 30):
            out[-1] = f"{prev} {line}"
        else:
            out.append(line)
    return "\n".join(out)
