"""The CLI contract, through click's runner: JSON shapes, batch, errors without tracebacks."""
from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from conftest import CORPUS
from policyqa.cli import cli


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory, embedder):
    path = tmp_path_factory.mktemp("cli") / "store"
    result = CliRunner().invoke(cli, ["ingest", str(CORPUS), "--store", str(path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert sorted(report) == ["added", "embedded", "failed", "removed", "skipped", "unchanged", "units", "updated"]
    assert len(report["added"]) == 5 and report["failed"] == [] and report["units"] > 150
    return path


def run(*args):
    return CliRunner().invoke(cli, list(map(str, args)))


def test_ask_json_contract(store_dir):
    r = run("ask", "Who processes my payments?", "--policy", "antiai-pics", "--store", store_dir, "--json")
    assert r.exit_code == 0, r.output
    ans = json.loads(r.output)
    assert {"id", "answer", "answerable", "citations", "timings"} <= set(ans)
    assert ans["answerable"] is True and ans["timings"]["total"] > 0
    assert all(c["policy"] == "antiai-pics" for c in ans["citations"])
    assert {"policy", "quote", "section", "score"} <= set(ans["citations"][0])
    assert "Stripe" in ans["citations"][0]["quote"]
    scores = [c["score"] for c in ans["citations"] if not c["related"]]
    assert scores == sorted(scores, reverse=True)
    text = (CORPUS / "antiai-pics.txt").read_text()
    assert all(" ".join(c["quote"].split()) in " ".join(text.split()) for c in ans["citations"])


def test_ask_text_output_for_people(store_dir):
    r = run("ask", "Do you use cookies?", "--policy", "antiai-pics", "--store", store_dir)
    assert r.exit_code == 0 and "[1]" in r.output and "AntiAI Pics" in r.output


def test_batch_answers_every_line_in_order_and_reports_bad_lines(store_dir, tmp_path):
    batch = tmp_path / "in.jsonl"
    batch.write_text("\n".join([
        json.dumps({"id": "a", "question": "Where are my images stored?", "policy": "antiai-pics"}),
        "{not json",
        json.dumps({"id": "c", "question": "", "policy": "antiai-pics"}),
        json.dumps({"id": "d", "question": "Is my data sent to China?", "policy": "no-such-policy"}),
        json.dumps({"id": "e", "question": "Is my data sent to China?", "policy": None}),
    ]) + "\n")
    r = run("ask", "--batch", batch, "--store", store_dir, "--json")
    assert r.exit_code == 0, r.output
    out = [json.loads(line) for line in r.output.splitlines()]
    assert [o["id"] for o in out] == ["a", 2, "c", "d", "e"]
    assert "error" not in out[0] and out[0]["citations"]
    assert "not JSON" in out[1]["error"]
    assert "empty" in out[2]["error"]
    assert "no-such-policy" in out[3]["error"] and "antiai-pics" in out[3]["error"]
    assert out[4]["answerable"] and "product-image-gen" in {c["policy"] for c in out[4]["citations"]}


@pytest.mark.parametrize("args, message", [
    (["ask", "", "--policy", "antiai-pics"], "empty"),
    (["ask", "x" * 2001, "--policy", "antiai-pics"], "limit is 2000"),
    (["ask", "Hello?", "--policy", "nope"], "Unknown policy 'nope'"),
    (["ask"], "either a QUESTION or --batch"),
])
def test_bad_questions_get_one_clear_line(store_dir, args, message):
    r = run(*args, "--store", store_dir)
    assert r.exit_code == 1
    assert message in r.output and "Traceback" not in r.output


def test_ask_without_a_store_says_how_to_make_one(tmp_path):
    r = run("ask", "Hello?", "--store", tmp_path / "none")
    assert r.exit_code == 1 and "policyqa ingest" in r.output


def test_ingest_reports_bad_files_and_exits_nonzero(tmp_path, embedder):
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "good.md").write_text("# Privacy\n\nWe never sell your data.\n")
    (folder / "empty.txt").write_text("  \n")
    r = run("ingest", folder, "--store", tmp_path / "store", "--json")
    assert r.exit_code == 1
    report = json.loads(r.output)
    assert report["added"] == ["good"] and report["failed"][0]["path"].endswith("empty.txt")


def test_every_command_has_help():
    for name, command in cli.commands.items():
        assert command.help and len(command.help) > 20, name
        r = run(name, "--help")
        assert r.exit_code == 0 and "Usage" in r.output
        for param in command.params:
            if isinstance(param, click.Option) and param.name != "help":
                assert param.help, f"{name} --{param.name} has no help text"
