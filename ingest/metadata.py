"""What we know about a policy besides its text: display name, date, language, source.

A folder may carry a `manifest.json` ({"<policy-id>": {"name", "last_updated", "language",
"source"}}); any key it gives wins over what we can read from the text itself.
"""
from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

from .errors import IngestError
from .normalize import valid_text
from .types import Document, PolicyMeta

MANIFEST = "manifest.json"
_MONTHS = {m: i for i, names in enumerate(
    [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",),
     ("jun", "june"), ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"),
     ("oct", "october"), ("nov", "november"), ("dec", "december")], start=1) for m in names}
_MONTH = r"(?P<mon>[A-Za-z]{3,9})\.?"
_DAY = r"(?P<d>\d{1,2})(?:st|nd|rd|th)?"
_DATES = [  # (pattern, order of the numeric groups); named groups y, m/mon, d
    re.compile(r"(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日?"),
    re.compile(r"(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})\b"),
    re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+(?P<y>\d{{4}})\b"),
    re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH},?\s+(?P<y>\d{{4}})\b"),
    re.compile(r"\b(?P<a>\d{1,2})/(?P<b>\d{1,2})/(?P<y>\d{4})\b"),  # US m/d/y unless a > 12
    re.compile(r"\b(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})\b"),  # European d.m.y
]
_DATE_WORDS = re.compile(r"updated|effective|revised|modified|last\s+change|dated|更新|生效|"
                         r"修订|修改|改定|施行|제정|시행", re.I)
_UPDATE_WORDS = re.compile(r"updated|revised|modified|last\s+change|更新|修订|修改|改定", re.I)
_SERVICE_NAME = re.compile(r"^(?P<name>[A-Z][\w .&'-]{1,40}?)\s*\((?:the\s+)?[\"“]?"
                           r"(?:Service|Site|App|Platform|Company)[\"”]?\)", re.M)
_GENERIC_TITLE = re.compile(r"^(privacy (policy|notice|statement)|隐私政策|隱私政策|"
                            r"プライバシーポリシー|개인정보\s*처리방침)$", re.I)
# what a title says besides the service's name: "SnapNest Privacy Policy", "Privacy Policy | SnapNest"
_POLICY_WORDS = re.compile(r"\b(?:(?:online|global|website|app|customer)\s+)?(?:privacy|data\s+protection|cookie)"
                           r"\s+(?:policy|notice|statement)\b|隐私政策|隱私政策|プライバシーポリシー", re.I)
_TITLE_PARTS = re.compile(r"\s*[|–—·•]\s*|\s+-\s+|:\s+")
_EDGE_WORDS = re.compile(r"^(?:the|our|of|for|at|by|from|on|about)\s+|\s+(?:of|for|at|by|on|and)$|['’]s$", re.I)


def extract_last_updated(text: str, top_lines: int = 40) -> str | None:
    """ISO date of "Last updated: June 3, 2026" & co; a dated keyword line near the top wins."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    keyworded = [ln for ln in lines if _DATE_WORDS.search(ln)]
    for line in [ln for ln in keyworded if ln in lines[:top_lines]] + keyworded:
        # "Effective July 20, 2012 (last updated October 8, 2013)": the update date wins
        starts = [m.start() for m in _DATE_WORDS.finditer(line)]
        starts.sort(key=lambda i: not _UPDATE_WORDS.match(line, i))
        for i in starts:
            if found := parse_date(line[i:]):
                return found
    return None


def parse_date(s: str) -> str | None:
    """First date written in `s` as "YYYY-MM-DD", or None; impossible dates are skipped."""
    hits = sorted((m.start(), i, m) for i, p in enumerate(_DATES) for m in p.finditer(s))
    for _, _, m in hits:
        g = m.groupdict()
        if g.get("a"):
            a, b = int(g["a"]), int(g["b"])
            month, day = (b, a) if a > 12 else (a, b)
        elif g.get("mon"):
            month, day = _MONTHS.get(g["mon"].lower()), int(g["d"])
        else:
            month, day = int(g["m"]), int(g["d"])
        try:
            return date(int(g["y"]), month or 0, day).isoformat()
        except ValueError:
            continue
    return None


def guess_language(text: str) -> str:
    """"en" unless the letters are mostly CJK: then "ja" (kana), "ko" (hangul) or "zh"."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return "en"
    kana = sum("\u3040" <= c <= "\u30ff" for c in letters)
    hangul = sum("\uac00" <= c <= "\ud7af" for c in letters)
    han = sum("\u3400" <= c <= "\u9fff" for c in letters)
    if (kana + hangul + han) / len(letters) < 0.3:
        return "en"
    return "ja" if kana else "ko" if hangul > han else "zh"


def find_name(doc: Document) -> str:
    """A name the text gives itself ('AntiAI Pics (the "Service")'), else the name its title
    gives ("SnapNest" from "SnapNest Privacy Policy" or "Privacy Policy | SnapNest"), else the
    name a first line naming a privacy policy gives (a .txt or .pdf without a title), or ""."""
    if m := _SERVICE_NAME.search(doc.text[:3000]):
        return m.group("name").strip()
    if name := name_in_title(doc.title):
        return name
    first = doc.text.lstrip().split("\n", 1)[0].strip()
    return name_in_title(first) if len(first) <= 100 and _POLICY_WORDS.search(first) else ""


def name_in_title(title: str) -> str:
    """The service's name in a policy's title: the first part (split at "|", " - "...) that says
    more than "Privacy Policy", without those words; "" for a title that names nothing."""
    for part in _TITLE_PARTS.split(title.strip()):
        name = " ".join(_POLICY_WORDS.sub(" ", part).split())
        while (trimmed := _EDGE_WORDS.sub("", name).strip()) != name:
            name = trimmed
        if name and not _GENERIC_TITLE.match(name):
            return name
    return ""


def prettify_id(policy: str) -> str:
    return " ".join(w.capitalize() for w in re.split(r"[-_\s]+", policy) if w)


def policy_meta(doc: Document, manifest: dict) -> PolicyMeta:
    """Manifest values first, then what the text says, then the id made readable.

    `manifest` is a folder's whole manifest ({policy-id: entry}) or just this policy's entry.
    """
    entry = dict(_entry(doc.policy, manifest or {}))
    known = {"name", "last_updated", "language", "source"}
    name = entry.get("name")
    # a name is one line of plain text wherever it is shown (a manifest's may hold blank lines and markdown)
    name = " ".join(valid_text(str(name)).split()) if name else ""
    return PolicyMeta(
        policy=doc.policy,
        name=name or find_name(doc) or prettify_id(doc.policy),
        last_updated=entry.get("last_updated") or extract_last_updated(doc.text),
        language=entry.get("language") or guess_language(doc.text),
        source=entry.get("source") or doc.source,
        extra={k: v for k, v in entry.items() if k not in known},
    )


def _entry(policy: str, manifest: dict) -> dict:
    if isinstance(manifest.get(policy), dict):
        return manifest[policy]
    if all(isinstance(v, dict) for v in manifest.values()):
        return {}  # a whole manifest that does not mention this policy
    return manifest


def load_manifest(folder: Path) -> dict:
    """`folder/manifest.json` as {policy-id: {...}}, {} when absent; malformed -> IngestError."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise IngestError(f"{path}: malformed manifest ({e}); "
                          f"fix the JSON or remove the file") from e
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise IngestError(f'{path}: malformed manifest (expected '
                          f'{{"<policy-id>": {{"name": ...}}}}, got {type(data).__name__} '
                          f"of other values)")
    return data
