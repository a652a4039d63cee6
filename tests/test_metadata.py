"""Dates, names, languages and the corpus manifest."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.errors import IngestError
from ingest.loaders import load
from ingest.metadata import extract_last_updated, guess_language, load_manifest, policy_meta
from ingest.types import Document

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


@pytest.mark.parametrize("line, iso", [
    ("Last updated: 2026年1月8日", "2026-01-08"),
    ("Last updated: June 3, 2026", "2026-06-03"),
    ("Last updated: 8/30/2025", "2025-08-30"),
    ("Last updated: 3/4/2025", "2025-03-04"),  # US month/day
    ("Last updated: 31/12/2024", "2024-12-31"),  # day first when it cannot be a month
    ("Effective date: 3 June 2026", "2026-06-03"),
    ("Updated 2026-01-08", "2026-01-08"),
    ("最后更新：2026年4月24日", "2026-04-24"),
    ("Revised: Sept. 1st, 2024", "2024-09-01"),
    ("Effective July 20, 2012 (last updated October 08, 2013)", "2013-10-08"),
    ("Last updated: February 30, 2026", None),  # no such day
    ("This policy is effective as of the date listed above.", None),
])
def test_extract_last_updated(line: str, iso: str | None):
    assert extract_last_updated(f"Privacy Policy\n{line}\n\nWe collect data.") == iso


def test_dated_keyword_line_wins_over_other_dates():
    text = "Privacy Policy\nWe were founded on 1 May 2001.\nLast updated: 2024-02-02\n"
    assert extract_last_updated(text) == "2024-02-02"
    assert extract_last_updated("We were founded on 1 May 2001.") is None


@pytest.mark.parametrize("policy, iso", [
    ("antiai-pics", "2026-01-08"), ("cloudflare-image-gen", "2026-04-24"),
    ("figure-gen", "2025-08-30"), ("product-image-gen", "2026-06-03"),
    ("image-video-gen", None),
])
def test_seed_dates(policy: str, iso: str | None):
    assert extract_last_updated(load(CORPUS / f"{policy}.txt").text) == iso


def test_corpus_manifest_names_every_seed_and_leaves_dates_to_the_text():
    manifest = load_manifest(CORPUS)
    seeds = sorted(p.stem for p in CORPUS.glob("*.txt"))
    assert sorted(manifest) == seeds and len(seeds) == 5
    for policy in seeds:
        meta = policy_meta(load(CORPUS / f"{policy}.txt"), manifest)
        assert meta.name == manifest[policy]["name"]
        assert meta.source.startswith("bundled seed policy")
        assert meta.language == "en"
        assert manifest[policy].get("last_updated") is None
    assert policy_meta(load(CORPUS / "figure-gen.txt"), manifest).last_updated == "2025-08-30"


def test_policy_meta_fallbacks(tmp_path: Path):
    doc = load(CORPUS / "antiai-pics.txt")
    meta = policy_meta(doc, {})
    assert (meta.name, meta.last_updated, meta.source) == (
        "AntiAI Pics", "2026-01-08", str(CORPUS / "antiai-pics.txt"))
    plain = Document(policy="my-shop_policy", text="We keep logs.", source="x", format="txt")
    assert policy_meta(plain, {}).name == "My Shop Policy"
    titled = Document(policy="p", text="x", source="x", format="html", title="Acme Privacy")
    assert policy_meta(titled, {}).name == "Acme Privacy"
    override = {"antiai-pics": {"last_updated": "2020-01-01", "language": "ja", "owner": "me"}}
    meta = policy_meta(doc, override)
    assert (meta.last_updated, meta.language, meta.to_dict()["owner"]) == ("2020-01-01", "ja", "me")
    assert policy_meta(doc, override["antiai-pics"]) == meta  # the entry alone works too
    assert policy_meta(doc, {"other-policy": {"name": "Other"}}).name == "AntiAI Pics"


@pytest.mark.parametrize("text, lang", [
    ("We collect your email address.", "en"),
    ("我们收集您的电子邮件地址和使用数据。", "zh"),
    ("メールアドレスを収集します。", "ja"),
    ("이메일 주소를 수집합니다.", "ko"),
    ("隐私政策\nLast updated: 2026\nWe collect your email address and usage data.", "en"),
])
def test_guess_language(text: str, lang: str):
    assert guess_language(text) == lang


def test_manifest_absent_and_malformed(tmp_path: Path):
    assert load_manifest(tmp_path) == {}
    (tmp_path / "manifest.json").write_text('{"a": {"name": "A",}}', encoding="utf-8")
    with pytest.raises(IngestError, match=r"manifest\.json: malformed manifest \(.*line 1"):
        load_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps(["a"]), encoding="utf-8")
    with pytest.raises(IngestError, match=r"manifest\.json: malformed manifest"):
        load_manifest(tmp_path)
