"""A realistic policy as real sites publish it (tests/snapnest.py: Markdown, an HTML page with a
cookie banner and site chrome, a two-page PDF with wrapped lines and a running footer), read the
way a person reads it, through the real loaders, store and CLI."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from conftest import BACKEND, MODEL
from ingest.loaders import load
from ingest.metadata import name_in_title, policy_meta
from ingest.segment import segment
from policyqa.cli import cli
from snapnest import snapnest_files

RETENTION = "Photos you delete stay in the Trash for 30 days and are then permanently deleted."


@pytest.fixture
def files(tmp_path):
    return {p.suffix[1:]: p for p in snapnest_files(tmp_path / "snapnest")}


@pytest.mark.parametrize("title, name", [
    ("SnapNest Privacy Policy", "SnapNest"),
    ("Privacy Policy | SnapNest", "SnapNest"),
    ("The SnapNest Privacy Policy", "SnapNest"),
    ("SnapNest's Privacy Notice", "SnapNest"),
    ("Privacy Policy of SnapNest Inc.", "SnapNest Inc."),
    ("SnapNest: Privacy Policy", "SnapNest"),
    ("Acme Privacy", "Acme Privacy"),
    ("Privacy Policy", ""),
])
def test_the_name_in_a_title(title, name):
    assert name_in_title(title) == name


def test_every_format_gets_the_services_name(files, tmp_path):
    for fmt, path in files.items():
        assert policy_meta(load(path), {}).name == "SnapNest", fmt  # not the title, nor "Snapnest Pdf"
    assert policy_meta(load(files["pdf"]), {}).last_updated == "2026-03-03"
    manifest = {"snapnest-html": {"name": "SnapNest Photos"}}
    assert policy_meta(load(files["html"]), manifest).name == "SnapNest Photos"  # a manifest still wins


def test_html_is_read_without_the_cookie_banner_and_site_chrome(files):
    text = load(files["html"]).text
    for chrome in ("We use essential cookies only.", "Pricing", "Back up every photo, forever.",
                   "All rights reserved", "Made with care in Lisbon"):
        assert chrome not in text, chrome
    assert "We use one cookie to keep you signed in." in text  # the policy's own Cookies section stays
    assert text.startswith("SnapNest Privacy Policy\nLast updated: March 3, 2026\n")


def test_pdf_lines_are_joined_into_sentences_and_the_running_footer_is_dropped(files):
    doc = load(files["pdf"])
    assert "SnapNest Privacy Policy - page" not in doc.text
    units = [u for u in segment(doc) if u.kind != "heading"]
    by_text = {u.text: u for u in units}
    assert by_text[RETENTION].page == 2
    assert by_text["SnapNest is a photo backup app."].page == 1
    assert "We collect your name and email address, the photos and videos you back up, and your device " \
           "model." in by_text
    assert [s for s, *_ in doc.pages] == [1, 2]
    assert doc.text.startswith("SnapNest Privacy Policy\n")  # its title line is no running header


def ask(store, question, policy, *flags):
    result = CliRunner().invoke(cli, ["ask", question, "--policy", policy, "--store", str(store), *flags])
    assert result.exit_code == 0, result.output
    return result.output


def test_cli_citations_show_the_page_and_a_hidden_address(files, tmp_path):
    store = tmp_path / "store"
    result = CliRunner().invoke(cli, ["ingest", str(files["md"].parent), "--store", str(store)])
    assert result.exit_code == 0, result.output

    out = ask(store, "How long do you keep deleted photos?", "snapnest-pdf")
    assert out.startswith(f"The SnapNest privacy policy says:\n- “{RETENTION}” [1]\n"), out
    assert "\n[1] SnapNest, section “3. Retention”, page 2, last updated 2026-03-03\n" in out
    data = json.loads(ask(store, "How long do you keep deleted photos?", "snapnest-pdf", "--json"))
    assert all(c["page"] in (1, 2) for c in data["citations"])
    md = json.loads(ask(store, "How long do you keep deleted photos?", "snapnest-md", "--json"))
    assert all(c["page"] is None for c in md["citations"])  # no pages to show

    data = json.loads(ask(store, "What email address do I write to about privacy?", "snapnest-html", "--json"))
    [hidden] = [c for c in data["citations"] if "[email protected]" in c["quote"]]
    assert hidden["quote"] == "Write to [email protected]."  # verbatim, as the page says it
    assert "hid this email address" in hidden["note"]
    assert all(not c["note"] for c in data["citations"] if c is not hidden)
    out = ask(store, "What email address do I write to about privacy?", "snapnest-html")
    assert f"\n[{hidden['n']}] SnapNest, section “6. Contact”, last updated 2026-03-03 (the source page hid " \
           "this email address: “[email protected]” is not the address)\n" in out


def test_the_chat_and_desk_cards_show_the_page_and_the_hidden_address(files, tmp_path, embedder):
    from ingest.pipeline import ingest_paths, open_store
    from qa.service import Assistant
    from web.render import answer_html

    store = open_store(tmp_path / "store", MODEL, BACKEND)
    assert not ingest_paths(list(files.values()), store, embedder).failed
    assistant = Assistant(store, embedder)
    html = answer_html(assistant.answer("How long do you keep deleted photos?", "snapnest-pdf"))
    assert '<span class="pq-section">3. Retention</span><span class="pq-sep">·</span><span class="pq-page">page 2</span>' in html
    html = answer_html(assistant.answer("What email address do I write to about privacy?", "snapnest-html"))
    assert ("Write to [email protected].</span><span class=\"pq-hidden-note\">the source page hid this email "
            "address: “[email protected]” is not the address</span>") in html
