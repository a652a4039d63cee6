"""Text -> text clean-ups shared by every loader.

Real policies are copied out of web pages and PDFs: bullets land on their own line, a
breadcrumb ("Home / legal") sits above the title, an untranslated i18n key leaks through.
These functions remove that debris and fix whitespace, and nothing else: every sentence the
policy says survives, with its words unchanged, because quotes must be what the reader saw.
"""
from __future__ import annotations

import re
import unicodedata

BULLETS = "-*•·▪◦‣–—●○■□➢►"
BULLET_RE = re.compile(rf"^[{re.escape(BULLETS)}]\s+")
_LONE_BULLET = re.compile(rf"^[{re.escape(BULLETS)}]$")
# "Legal.privacy.section4.items.4": a dotted identifier, no spaces, that names a key, not a host
_I18N_KEY = re.compile(r"^[A-Za-z_][\w-]*(?:\.[\w-]+){2,}$")
_NAV_WORDS = {"home", "legal", "menu", "back", "skip to content", "skip to main content",
              "主页", "首页", "法律", "返回", "ホーム", "トップ"}
_CRUMB = re.compile(r"^[^\s/>›»|.]{1,20}(?:\s*[/>›»|]\s*[^/>›»|.]{1,30}){1,4}$")
_SPACES = re.compile(r"[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\t\f\v]")
_INVISIBLE = re.compile(r"[\u200b-\u200d\u2060\ufeff\u00ad]")
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")  # NUL and the other C0 controls a text never means
_TERMINAL = tuple(".!?。！？:;")


def normalize(text: str) -> str:
    """The full clean-up for a plain-text policy (also applied to each PDF page)."""
    lines = clean_chars(text).split("\n")
    lines = [line.strip() for line in lines]
    lines = join_lone_bullets(lines)
    lines = [line for line in lines if not is_i18n_key(line)]
    lines = drop_nav_crumbs(lines)
    lines = unwrap_lines(lines)
    return collapse_blank_lines(lines)


def valid_text(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD: what a JSON "\\ud800" or an undecodable
    byte in a command-line argument becomes in Python, and what no encoder, tokenizer or page
    accepts. Text from any source passes through this before anything else reads it."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:  # pairs written as two code points are joined, lone halves replaced
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def clean_chars(text: str) -> str:
    """Valid Unicode in NFC, Unix newlines, ordinary spaces; invisible characters, soft hyphens
    and control characters (a PDF's NULs) removed."""
    text = unicodedata.normalize("NFC", valid_text(text))
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n")
    text = _CONTROLS.sub("", _INVISIBLE.sub("", text))
    text = _SPACES.sub(" ", text)
    return "\n".join(re.sub(r" {2,}", " ", line).rstrip() for line in text.split("\n"))


def join_lone_bullets(lines: list[str]) -> list[str]:
    """A bullet alone on its line followed by its item ("-" then "Account info...") -> one item."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if _LONE_BULLET.match(line) and nxt and not _LONE_BULLET.match(nxt):
            out.append(f"{line} {nxt}")
            i += 2
            continue
        if not _LONE_BULLET.match(line):  # a bullet with nothing after it is debris
            out.append(line)
        i += 1
    return out


def is_i18n_key(line: str) -> bool:
    """True for a leaked translation key such as "Legal.privacy.section4.items.4".

    Host names ("www.example.co.uk") also look dotted, so a key must show a code-like part:
    a numeric last part or a part mixing letters and digits / camelCase.
    """
    body = BULLET_RE.sub("", line)
    if not _I18N_KEY.match(body):
        return False
    parts = body.split(".")
    codeish = any(re.search(r"[a-z]\d|[a-z][A-Z]|_", p) for p in parts)
    return parts[-1].isdigit() or codeish


def drop_nav_crumbs(lines: list[str], look: int = 4) -> list[str]:
    """Drop breadcrumb/navigation lines ("主页", "legal", "Home / legal") above the content."""
    out = list(lines)
    seen = 0
    i = 0
    while i < len(out) and seen < look:
        line = out[i]
        if not line:
            i += 1
            continue
        if line.lower() in _NAV_WORDS or _CRUMB.match(line) and _is_crumb(line):
            del out[i]
            continue
        seen += 1
        i += 1
    return out


def _is_crumb(line: str) -> bool:
    parts = [p.strip().lower() for p in re.split(r"[/>›»|]", line)]
    return any(p in _NAV_WORDS for p in parts)


def unwrap_lines(lines: list[str]) -> list[str]:
    """Join a line wrapped mid-sentence: no end punctuation, next line starts lower-case."""
    out: list[str] = []
    for line in lines:
        prev = out[-1] if out else ""
        if (prev and line and line[0].islower() and not prev.endswith(_TERMINAL)
                and not BULLET_RE.match(line)):
            out[-1] = f"{prev} {line}"
        else:
            out.append(line)
    return out


def collapse_blank_lines(lines: list[str]) -> str:
    """At most one blank line in a row, none at either end."""
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")
