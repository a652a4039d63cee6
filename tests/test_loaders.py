"""Loaders: every format becomes clean text; every bad file becomes one specific IngestError."""
from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from ingest.errors import IngestError
from ingest.loaders import load
from ingest.normalize import normalize
from ingest.segment import segment


def make_pdf(pages: list[list[str]]) -> bytes:
    """A minimal valid PDF: one Helvetica text line per string, one list per page."""
    from hostile import pdf, text_ops

    return pdf([text_ops(lines) for lines in pages], compress=False)


PAGE1 = ["Privacy Policy", "1. Information We Collect",
         "We keep a small collec-", "tion of the images you upload for",
         "thirty days. Then we delete them.", "1"]
PAGE2 = ["2. Sharing", "We never sell your data (such as", "photos) to anyone.", "2"]


@pytest.fixture
def two_page_pdf(tmp_path: Path) -> Path:
    path = tmp_path / "two-pages.pdf"
    path.write_bytes(make_pdf([PAGE1, PAGE2]))
    return path


def encrypted(tmp_path: Path, user_password: str) -> Path:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf([PAGE1]))))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
    path = tmp_path / "locked.pdf"
    with path.open("wb") as f:
        writer.write(f)
    return path


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


# --------------------------------------------------------------------------- pdf
def test_pdf_text_pages_and_hyphenation(two_page_pdf: Path):
    doc = load(two_page_pdf)
    assert (doc.policy, doc.format) == ("two-pages", "pdf")
    assert "collection of the images you upload for thirty days." in doc.text
    assert "collec-" not in doc.text
    assert "We never sell your data (such as photos) to anyone." in doc.text  # unwrapped
    assert [n for n, _, _ in doc.pages] == [1, 2]
    (_, s1, e1), (_, s2, e2) = doc.pages
    assert "thirty days" in doc.text[s1:e1] and "thirty days" not in doc.text[s2:e2]
    assert doc.text[s2:e2].startswith("2. Sharing")
    assert "\n1\n" not in doc.text + "\n" and not doc.text.rstrip().endswith("2")  # page numbers


def test_pdf_units_know_their_page(two_page_pdf: Path):
    units = {u.text: u for u in segment(load(two_page_pdf))}
    assert units["Then we delete them."].page == 1
    assert units["We never sell your data (such as photos) to anyone."].page == 2
    assert units["Then we delete them."].section == ("1. Information We Collect",)


def test_encrypted_pdf_with_password_is_refused(tmp_path: Path):
    with pytest.raises(IngestError, match=r"locked\.pdf: encrypted PDF \(needs a password\)"):
        load(encrypted(tmp_path, "secret"))


def test_encrypted_pdf_with_empty_password_opens(tmp_path: Path):
    assert "Information We Collect" in load(encrypted(tmp_path, "")).text


def test_pdf_without_text_layer(tmp_path: Path):
    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    writer.add_blank_page(612, 792)
    path = tmp_path / "scan.pdf"
    with path.open("wb") as f:
        writer.write(f)
    with pytest.raises(IngestError, match=r"scan\.pdf: scanned PDF\? no extractable text on "
                                          r"any of 2 pages"):
        load(path)


def test_truncated_pdf_is_corrupt(tmp_path: Path):
    path = write(tmp_path, "broken.pdf", make_pdf([PAGE1])[:120])
    with pytest.raises(IngestError, match=r"broken\.pdf: corrupt PDF"):
        load(path)


# --------------------------------------------------------------------------- html / markdown
HTML = """<!doctype html><html><head><title>Acme Privacy</title>
<style>body { color: red }</style><script>alert(1)</script></head><body>
<header><nav><a href="/">Home</a> <a href="/legal">Legal</a></nav></header>
<nav><ul><li><a href="/pricing">Pricing</a></li></ul></nav>
<main><h1>Privacy Policy</h1>
<p>We collect your <b>email</b>
   address.   We never sell it.</p>
<h2>Sharing</h2><p>We share data with:</p>
<ul><li>Stripe, for payments.</li><li>Vercel, for hosting.</li></ul>
<h3>Retention</h3><p>Logs are kept for 30&nbsp;days.</p>
<script>document.write("tracking")</script><noscript>Enable JS</noscript>
<form><label>Subscribe to news</label></form></main>
<footer><a href="/terms">Terms</a> <a href="/privacy">Privacy</a></footer>
</body></html>"""


def test_html_keeps_content_and_drops_chrome(tmp_path: Path):
    doc = load(write(tmp_path, "acme.html", HTML))
    assert doc.title == "Acme Privacy"
    for gone in ("alert", "color: red", "tracking", "Enable JS", "Pricing", "Subscribe", "Terms"):
        assert gone not in doc.text
    lines = doc.text.split("\n")
    assert "We collect your email address. We never sell it." in lines
    assert "- Stripe, for payments." in lines and "- Vercel, for hosting." in lines
    assert "Logs are kept for 30 days." in lines  # &nbsp; became a plain space
    titles = [(doc.text[s:e], level) for s, e, level in doc.headings]
    assert titles == [("Privacy Policy", 1), ("Sharing", 2), ("Retention", 3)]


def test_html_units_sections(tmp_path: Path):
    units = {u.text: u for u in segment(load(write(tmp_path, "acme.html", HTML)))}
    assert units["Stripe, for payments."].kind == "item"
    assert units["Stripe, for payments."].section == ("Sharing",)
    assert units["Logs are kept for 30 days."].section == ("Sharing", "Retention")
    assert units["We never sell it."].section == ()  # under the document title only


MARKDOWN = """# Privacy Policy

Last updated: June 3, 2026

## 1. What We Collect

We collect **your email** and _your prompts_, see [our FAQ](https://x.test/faq).
This line is a soft wrap.

* Uploaded images
- Payment status, via `Stripe`

## 2. Contact

Write to us.
"""


def test_markdown_strips_markup_and_records_headings(tmp_path: Path):
    doc = load(write(tmp_path, "notes.md", MARKDOWN))
    assert "#" not in doc.text and "**" not in doc.text and "](" not in doc.text
    assert ("We collect your email and your prompts, see our FAQ. This line is a soft wrap."
            in doc.text.split("\n"))
    assert [doc.text[s:e] for s, e, _ in doc.headings] == [
        "Privacy Policy", "1. What We Collect", "2. Contact"]
    units = {u.text: u for u in segment(doc)}
    assert units["Uploaded images"].kind == "item"
    assert units["Payment status, via Stripe"].section == ("1. What We Collect",)
    assert units["Write to us."].section == ("2. Contact",)
    assert units["Last updated: June 3, 2026"].kind == "sentence"


# --------------------------------------------------------------------------- text + bad files
def test_txt_is_normalised(tmp_path: Path):
    raw = "Privacy\u00a0Policy  \r\n\r\n\r\n\r\n-\r\nWe keep logs.\r\n"
    doc = load(write(tmp_path, "p.txt", raw))
    assert doc.text == "Privacy Policy\n\n- We keep logs."
    assert doc.text == normalize(doc.text)  # idempotent


def test_utf16_with_bom(tmp_path: Path):
    path = write(tmp_path, "wide.txt", "Privacy Policy\nWe keep logs.".encode("utf-16"))
    assert load(path).text == "Privacy Policy\nWe keep logs."


@pytest.mark.parametrize("name, content, message", [
    ("empty.txt", b"", r"empty\.txt: empty file"),
    ("blank.md", b"  \n\t\n", r"blank\.md: empty file"),
    ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", r"image\.txt: binary file"),
    ("latin.txt", "Caf\u00e9 policy".encode("latin-1"),
     r"latin\.txt: not valid UTF-8 text \(byte 0xe9 at offset 3\)"),
    ("policy.docx", b"PK\x03\x04", r"policy\.docx: unsupported file type '\.docx'; "
                                   r"supported: .*\.html.*\.md.*\.pdf.*\.txt"),
    ("chrome.html", b"<html><script>x()</script><nav>Home</nav></html>",
     r"chrome\.html: no readable text"),
])
def test_bad_files_get_specific_errors(tmp_path: Path, name: str, content: bytes, message: str):
    with pytest.raises(IngestError, match=message):
        load(write(tmp_path, name, content))


# --------------------------------------------------------------------------- normalize
def test_normalize_drops_debris_but_no_sentences():
    raw = ("Home / legal\n主页\nPrivacy Policy\n\n\n\nLast updated: 2026\n•\nWe keep logs.\n"
           "  • Legal.privacy.section4.items.4\nOur site:\nwww.example.co.uk\n"
           "We sell nothing to\nanyone, ever.\nCafe\u0301 tea\u00a0time\u200b.   \n\n\n")
    assert normalize(raw) == (
        "Privacy Policy\n\nLast updated: 2026\n• We keep logs.\nOur site:\n"
        "www.example.co.uk\nWe sell nothing to anyone, ever.\nCaf\u00e9 tea time.")


def test_navigation_words_below_the_top_are_kept():
    raw = "Privacy Policy\nIntro.\nMore.\nEven more.\nLast one.\nlegal"
    assert normalize(raw).endswith("\nlegal")


def test_mostly_control_bytes_is_binary(tmp_path: Path):
    with pytest.raises(IngestError, match=r"blob\.txt: binary file \(mostly non-text bytes\)"):
        load(write(tmp_path, "blob.txt", bytes(range(1, 32)) * 10))


# ------------------------------------------------------------------ caps: what one file may cost
def _caps_cases():
    from hostile import many_pages_pdf, pdf_bomb
    from ingest.types import Limits

    return [
        ("big.txt", b"We keep your data.\n" * 100, Limits(file_bytes=1000), "1,900 bytes, over the limit of 1,000; raise it with POLICYQA_MAX_FILE_BYTES"),
        ("long.txt", b"We keep your data.\n" * 100, Limits(chars=500), "characters of text, over the limit of 500; raise it with POLICYQA_MAX_CHARS"),
        ("long.md", b"# P\n\n" + b"- We keep data.\n" * 100, Limits(chars=500), "POLICYQA_MAX_CHARS"),
        ("long.html", b"<p>We keep your data.</p>" * 100, Limits(chars=500), "POLICYQA_MAX_CHARS"),
        ("pages.pdf", many_pages_pdf(4), Limits(pages=3), "4 pages, over the limit of 3; raise it with POLICYQA_MAX_PAGES"),
        ("bomb.pdf", pdf_bomb(20_000), Limits(chars=10_000), "more than 10,000 characters of text"),
        ("units.txt", b"We keep your data. We share it.\n" * 10, Limits(units=5), "20 sentences and list items, over the limit of 5; raise it with POLICYQA_MAX_UNITS"),
    ]


@pytest.mark.parametrize("case", range(7))
def test_each_cap_names_itself_and_its_setting(tmp_path: Path, case: int):
    from ingest.errors import LimitExceeded
    from ingest.worker import read_file

    name, data, limits, message = _caps_cases()[case]
    (tmp_path / name).write_bytes(data)
    with pytest.raises(LimitExceeded, match=re.escape(message)):
        read_file(tmp_path / name, limits)


def test_utf32_with_bom(tmp_path: Path):
    for codec in ("utf-32-le", "utf-32-be"):
        f = tmp_path / f"{codec}.txt"
        f.write_bytes(("\ufeffPrivacy Policy\n\nWe never sell your data.\n").encode(codec))
        assert load(f).text == "Privacy Policy\n\nWe never sell your data."


def test_nul_and_control_characters_from_a_pdf_are_not_stored(tmp_path: Path):
    from hostile import pdf, text_ops

    f = tmp_path / "nul.pdf"
    f.write_bytes(pdf([text_ops(["We keep\x00 your data\x07 for 30 days."])], compress=False))
    text = load(f).text
    assert "\x00" not in text and "\x07" not in text and "We keep your data for 30 days." in text


def test_html_nested_a_thousand_deep_gets_a_reason(tmp_path: Path):
    from hostile import deep_html

    f = tmp_path / "deep.html"
    f.write_bytes(deep_html(1000))
    with pytest.raises(IngestError, match="HTML nested 100[0-9] elements deep; policies are read up to 200"):
        load(f)
