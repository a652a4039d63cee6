"""Segmentation of the bundled seed policies and of tricky sentences."""
from __future__ import annotations

from pathlib import Path

import pytest

from ingest.loaders import load
from ingest.segment import MAX_CHARS, SEGMENTER_VERSION, sections, segment, split_sentences
from ingest.types import Document

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
SEEDS = ["antiai-pics", "cloudflare-image-gen", "figure-gen", "image-video-gen",
         "product-image-gen"]


def units_of(policy: str) -> dict:
    return {u.text: u for u in segment(load(CORPUS / f"{policy}.txt"))}


def doc_of(text: str, policy: str = "t") -> Document:
    return Document(policy=policy, text=text, source="mem", format="txt")


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


@pytest.mark.parametrize("policy", SEEDS)
def test_units_are_verbatim_ordered_and_short(policy: str):
    doc = load(CORPUS / f"{policy}.txt")
    units = segment(doc)
    assert len(units) > 20
    assert [u.order for u in units] == list(range(len(units)))
    for u in units:
        assert u.text == doc.text[u.start:u.end]
        assert u.text == u.text.strip() and len(u.text) >= 3
        assert len(u.text) <= MAX_CHARS
        assert u.policy == policy and u.page is None
    assert [u.start for u in units] == sorted(u.start for u in units)


def test_antiai_pics_sections():
    units = units_of("antiai-pics")
    vercel = units["Vercel (hosting and image storage)"]
    assert vercel.kind == "item"
    assert vercel.section == ("3. Third-Party Disclosure", "External Services Used")
    assert units["Email address (when using email authentication)"].section == (
        "1. Information We Collect", "Account Information")
    assert units["Deleting account"].section == ("7. User Rights",)
    assert units["Privacy Policy"].section == ()  # the document title opens no section
    assert not any("Legal.privacy" in text for text in units)
    assert units["Last updated: 2026年1月8日"].kind == "sentence"


def test_image_video_gen_split_bullets_become_items():
    units = units_of("image-video-gen")
    item = units["Account information such as email address and basic account identifiers "
                 "(if registration is required)."]
    assert item.kind == "item" and item.section == ("Information We Collect",)
    secure = [u for t, u in units.items() if t.startswith("Secure processing:")]
    assert len(secure) == 1 and secure[0].section == ("Payments (Stripe & PayPal)",)
    assert "-" not in units  # no bullet left on its own
    wrapped = [t for t in units if t.startswith("This policy explains")]
    assert wrapped and wrapped[0].endswith("(the “Service”).")  # the wrapped line is one unit


def test_figure_gen_numbered_sections():
    units = units_of("figure-gen")
    assert units["Regular security audits and updates"].section == ("4. Data Security",)
    assert units["Temporary storage during processing"].section == (
        "3. AI Processing and Data Handling", "3.1 Image Processing")
    assert units["Email: privacy@aigenerator.com"].kind == "sentence"


def test_cloudflare_image_gen_crumbs_and_title():
    doc = load(CORPUS / "cloudflare-image-gen.txt")
    assert doc.text.startswith("隐私政策\n")  # "主页" / "legal" breadcrumbs dropped
    units = segment(doc)
    assert units[0].text == "隐私政策" and units[0].section == ()
    titles = [s.title for s in sections(doc)]
    assert titles[:2] == ["1. Data We Collect", "2. How We Store Your Data"]


def test_product_image_gen_email_placeholder_does_not_break_sentences():
    units = units_of("product-image-gen")
    assert units["For privacy-related inquiries: [email protected]"].section == ("7. Contact",)
    assert units["To exercise these rights, contact us."].section == ("6. Your Rights",)


def test_sections_levels():
    doc = load(CORPUS / "figure-gen.txt")
    levels = {s.title: s.level for s in sections(doc)}
    assert levels["1. Information We Collect"] == 1
    assert levels["1.2 Usage Data"] == 2
    assert "Privacy Policy" not in levels


@pytest.mark.parametrize("text, expected", [
    ("We use Google Inc. services, e.g. Analytics. You may opt out.",
     ["We use Google Inc. services, e.g. Analytics.", "You may opt out."]),
    ("Data is stored in the U.S. and the E.U. only. Version 2.5 applies.",
     ["Data is stored in the U.S. and the E.U. only.", "Version 2.5 applies."]),
    ("Email privacy@acme.com or visit https://acme.com/privacy. We reply fast.",
     ["Email privacy@acme.com or visit https://acme.com/privacy.", "We reply fast."]),
    ("We share data (such as logs. Or crash dumps) with vendors. Nothing else.",
     ["We share data (such as logs. Or crash dumps) with vendors.", "Nothing else."]),
    ("Write to [email protected]. We answer within 30 days.",
     ["Write to [email protected].", "We answer within 30 days."]),
    ("我们收集您的邮箱。我们不会出售数据！您有权删除吗？是的。",
     ["我们收集您的邮箱。", "我们不会出售数据！", "您有权删除吗？", "是的。"]),
    ("He said \"Stop.\" Then he left.", ["He said \"Stop.\"", "Then he left."]),
])
def test_split_sentences(text: str, expected: list[str]):
    assert sentences(text) == expected


def test_tiny_fragments_are_merged():
    units = segment(doc_of("Intro line here.\n\n1. We collect email. 2. We keep it."))
    assert all(len(u.text) >= 3 for u in units)
    assert "1. We collect email." in [u.text for u in units]


def test_long_items_and_sentences_are_split():
    long_item = "- " + " ".join(f"Sentence number {i} is about data." for i in range(20))
    run_on = "We collect " + ", ".join(f"field {i}" for i in range(80)) + "."
    units = segment(doc_of(f"Intro.\n{long_item}\n{run_on}"))
    assert all(len(u.text) <= MAX_CHARS for u in units)
    items = [u for u in units if u.kind == "item"]
    assert len(items) == 20 and items[0].text == "Sentence number 0 is about data."
    pieces = [u.text for u in units if u.kind == "sentence" and u.start > 20]
    assert len(pieces) > 1 and "".join(pieces).replace(" ", "") == run_on.replace(" ", "")


def test_policyqa_style_paragraphs_have_no_false_headings():
    text = ("Live Nation Entertainment Privacy Policy - Your Privacy Rights Effective July 20, "
            "2012 (last updated October 08, 2013)\n\nThis Privacy Policy applies to the sites "
            "and apps where it appears. It also includes at our box offices.\n\nCookies\n\n"
            "We use cookies to remember you.")
    units = segment(doc_of(text))
    assert [u.kind for u in units] == ["sentence", "sentence", "sentence", "heading", "sentence"]
    assert units[-1].section == ("Cookies",)
    assert units[0].text.startswith("Live Nation") and units[0].text.endswith("2013)")


def test_version_is_a_string():
    assert isinstance(SEGMENTER_VERSION, str) and SEGMENTER_VERSION
