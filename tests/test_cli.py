"""The CLI contract, through click's runner: JSON shapes, batch, errors without tracebacks."""
from __future__ import annotations

import json
import os
import subprocess
import sys

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
    assert r.exit_code == 1, r.output  # some lines failed
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


def test_ask_uses_the_llm_the_settings_name(store_dir, monkeypatch):
    """POLICYQA_LLM reaches the CLI's assistant (the same builder as the web app's)."""
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from policyqa.settings import get_settings
    from qa import llm
    from qa.service import assistant_for

    monkeypatch.setitem(llm.PROVIDERS, "fake", lambda name, settings: FakeListChatModel(
        responses=["Stripe processes payments [1]."]))
    monkeypatch.setenv("POLICYQA_LLM", "fake:cli")
    get_settings.cache_clear()
    assistant_for.cache_clear()
    try:
        r = run("ask", "Who processes my payments?", "--policy", "antiai-pics", "--store", store_dir, "--json")
    finally:
        assistant_for.cache_clear()  # the other tests' assistant has no writer
    ans = json.loads(r.output)
    assert ans["writer"] == "llm:fake:cli" and ans["answer"].startswith("Stripe processes payments [1].")
    assert "Stripe" in next(c["quote"] for c in ans["citations"] if c["n"] == 1)


def test_batch_survives_every_kind_of_bad_line(store_dir, tmp_path):
    batch = tmp_path / "bad.jsonl"
    lines = [
        json.dumps({"id": "list", "question": "Do you use cookies?", "policy": ["antiai-pics"]}).encode(),
        b"[" * 100_000,  # nested far beyond what a parser's stack takes
        b'{"id": "utf8", "question": "Do you use cookies? \xff\xfe"}',  # not UTF-8
        json.dumps({"id": "number", "question": 42}).encode(),
        json.dumps({"id": "object", "question": {"text": "hi"}}).encode(),
        json.dumps({"id": "surrogate", "question": "Do you sell my data? \ud800", "policy": "antiai-pics"}).encode(),
        json.dumps({"id": "last", "question": "Do you use cookies?", "policy": "antiai-pics"}).encode(),
    ]
    batch.write_bytes(b"\n".join(lines) + b"\n")
    r = run("ask", "--batch", batch, "--store", store_dir, "--json")
    assert r.exit_code == 1 and "Traceback" not in r.output
    out = [json.loads(line) for line in r.output.splitlines()]
    assert [o["id"] for o in out] == ["list", 2, 3, "number", "object", "surrogate", "last"]
    assert "'policy' must be a string, not list" in out[0]["error"]
    assert "nested too deeply" in out[1]["error"]
    assert "not valid UTF-8 (byte 0xff" in out[2]["error"]
    assert "'question' must be a string, not int" in out[3]["error"]
    assert "must be a string, not dict" in out[4]["error"]
    assert "error" not in out[5] and out[5]["question"] == "Do you sell my data? \ufffd"
    assert "error" not in out[6] and out[6]["citations"]


def test_a_question_that_is_not_utf8_on_the_command_line(store_dir):
    """Arguments are bytes: Python hands undecodable ones over as lone surrogates."""
    r = subprocess.run([sys.executable, "-m", "policyqa", "ask", b"Do you sell my data? \xff", "--policy",
                        "antiai-pics", "--store", str(store_dir), "--json"], capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    assert b"Traceback" not in r.stderr
    assert json.loads(r.stdout)["question"] == "Do you sell my data? \ufffd"


def test_store_errors_are_one_line(tmp_path, store_dir):
    """A store another process holds: the CLI waits, then says so in one line."""
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, sys, time; fh = open(sys.argv[1], 'a+'); fcntl.flock(fh, fcntl.LOCK_EX); "
        "print('held', flush=True); time.sleep(60)"), str(store_dir / ".writer.lock")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        r = subprocess.run([sys.executable, "-m", "policyqa", "ingest", str(CORPUS), "--store", str(store_dir)],
                           capture_output=True, text=True, timeout=120,
                           env={**os.environ, "POLICYQA_STORE_LOCK_TIMEOUT": "0.5"})
    finally:
        holder.kill()
        holder.wait()
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip().startswith("Error: Another process has been using the store for over 0.5 s")


def test_ingest_reads_paths_relative_to_where_it_is_run(tmp_path):
    """As the scoreboards run it: `policyqa ingest policies --store store` from the folder that
    holds them (the file reader once ran in the project's folder and found none of them). A
    folder there named like one of our packages is not imported."""
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "acme.md").write_text("# Acme privacy policy\n\nWe never sell your data.\n")
    (tmp_path / "ingest").mkdir()
    (tmp_path / "ingest" / "__init__.py").write_text("raise SystemExit('the wrong ingest package')\n")
    policyqa = os.path.join(os.path.dirname(sys.executable), "policyqa")
    done = subprocess.run([policyqa, "ingest", "policies", "--store", "store", "--json"], cwd=tmp_path,
                          capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["added"] == ["acme"]
    assert (tmp_path / "store" / "catalog.json").exists()


def test_ask_of_a_store_of_another_model_embeds_it_again_and_answers(tmp_path, monkeypatch, embedder):
    """After an upgrade that changes the embedder (a new export, say), the first `policyqa ask`
    embeds the stored policies again and answers, instead of telling the user to rebuild."""
    store = tmp_path / "store"
    assert run("ingest", CORPUS / "figure-gen.txt", "--store", store, "--json").exit_code == 0
    from policyqa.settings import get_settings

    monkeypatch.setenv("POLICYQA_BACKEND", "torch")
    get_settings.cache_clear()
    try:
        question = "How long do you keep my uploaded images?"
        r = run("ask", question, "--policy", "figure-gen", "--store", store, "--json")
        assert r.exit_code == 0, r.output
        assert "embedded again" in r.stderr
        asked = json.loads(r.stdout)
        assert asked["answerable"] and "automatically deleted" in asked["citations"][0]["quote"]
        again = run("ask", question, "--policy", "figure-gen", "--store", store, "--json")
        assert "embedded again" not in again.stderr  # once
    finally:
        monkeypatch.delenv("POLICYQA_BACKEND")
        get_settings.cache_clear()


def test_ingest_into_a_store_of_another_model_keeps_its_policies(tmp_path, monkeypatch, embedder):
    """`policyqa ingest` with another embedding model configured embeds the kept policies again
    (it used to refuse with StoreMismatch): the policy ingested before stays answerable."""
    store = tmp_path / "store"
    assert run("ingest", CORPUS / "figure-gen.txt", "--store", store, "--json").exit_code == 0
    from policyqa.settings import get_settings

    monkeypatch.setenv("POLICYQA_BACKEND", "torch")
    get_settings.cache_clear()
    try:
        r = run("ingest", CORPUS / "antiai-pics.txt", "--store", store)
        assert r.exit_code == 0, r.output
        assert "embedded again" in r.output and "added: 1  (antiai-pics)" in r.output
        asked = json.loads(run("ask", "Is my data sent to China?", "--policy", "figure-gen", "--store", store,
                               "--json").output)
        assert asked["citations"] and {c["policy"] for c in asked["citations"]} == {"figure-gen"}
    finally:
        monkeypatch.delenv("POLICYQA_BACKEND")
        get_settings.cache_clear()
