"""The `policyqa` command: ingest policies, ask questions, serve the app.

Text for people by default, `--json` for machines. The JSON shapes are a contract that
external scoreboards rely on (see DEVELOPERS.md)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from policyqa.settings import get_settings, ingest_limits

STORE_HELP = "Store directory (default: $POLICYQA_STORE or the user data dir)."


def _store_path(store: Path | None) -> Path:
    return Path(store) if store else get_settings().store


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="policyqa")
def cli():
    """Answer questions about privacy policies from their own text, with citations."""


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--store", type=click.Path(path_type=Path), help=STORE_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON report instead of a summary.")
@click.option("--rebuild", is_flag=True, help="Drop the store first (after a model or segmenter change).")
def ingest(paths, store, as_json, rebuild):
    """Load policy files and folders (.txt .md .html .pdf) into the store.

    A policy's id is its file name without extension. Unchanged policies are not re-embedded;
    a policy whose file is gone from an ingested folder is removed. Exits 1 if any file failed.
    """
    from ingest.errors import StoreMismatch
    from ingest.pipeline import ingest_paths, open_store, progress_bar

    s = get_settings()
    st = open_store(_store_path(store), s.model, s.backend, lock_timeout=s.store_lock_timeout)
    try:
        if rebuild:
            st.reset()
        report = ingest_paths(list(paths), st, model=s.model, backend=s.backend,
                              progress=progress_bar(not as_json), limits=ingest_limits(s))
    except StoreMismatch as exc:
        _fail(str(exc))
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        for key in ("added", "updated", "unchanged", "removed"):
            ids = getattr(report, key)
            click.echo(f"{key:>9}: {len(ids)}" + (f"  ({', '.join(ids)})" if ids else ""))
        click.echo(f"{'failed':>9}: {len(report.failed)}")
        for f in report.failed:
            click.echo(f"           {f['error']}")
        if report.skipped:
            click.echo(f"{'skipped':>9}: {len(report.skipped)}")
            for f in report.skipped:
                click.echo(f"           {f['path']}: {f['reason']}")
        click.echo(f"{'units':>9}: {report.units} in the store, {report.embedded} embedded now")
    sys.exit(1 if report.failed else 0)


@cli.command()
@click.argument("question", required=False)
@click.option("--policy", help="Answer from this policy only (its id). Default: every policy.")
@click.option("--batch", type=click.File("r", encoding="utf-8"),
              help='JSONL file, one {"id", "question", "policy"} a line; one answer a line, same order.')
@click.option("--store", type=click.Path(path_type=Path), help=STORE_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print answers as JSON, one object a line.")
def ask(question, policy, batch, store, as_json):
    """Ask a question; the answer quotes the policy text it relies on."""
    from qa.errors import QuestionError, StoreMismatch, UnknownPolicy

    if (question is None) == (batch is None):
        _fail("give either a QUESTION or --batch FILE.jsonl (not both, not neither)")
    assistant = _assistant(store)
    if batch:
        for n, line in enumerate(batch, 1):
            if not line.strip():
                continue
            click.echo(json.dumps(_batch_answer(assistant, line, n), ensure_ascii=False))
        return
    try:
        ans = assistant.answer(question, policy)
    except (QuestionError, UnknownPolicy, StoreMismatch) as exc:
        _fail(str(exc).strip("'\""))
    if as_json:
        click.echo(json.dumps(ans.to_dict(), ensure_ascii=False))
    else:
        click.echo(ans.answer)
        click.echo()
        for c in ans.citations:
            where = " > ".join(x for x in (c.policy_name, c.section) if x)
            date = f", last updated {c.last_updated}" if c.last_updated else ""
            tag = " (related)" if c.related else ""
            click.echo(f"[{c.n}]{tag} {where}{date}\n    “{c.quote}”")


def _batch_answer(assistant, line: str, n: int) -> dict:
    """One batch line's answer, or an error object for that id: a bad line never stops the rest."""
    from qa.errors import QuestionError, StoreMismatch, UnknownPolicy

    qid = None
    try:
        item = json.loads(line)
        if not isinstance(item, dict):
            raise ValueError("expected a JSON object")
        qid = item.get("id", n)
        return assistant.answer(str(item.get("question") or ""), item.get("policy") or None,
                                id=qid).to_dict()
    except (ValueError, QuestionError, UnknownPolicy, StoreMismatch) as exc:
        msg = f"line {n}: " + (f"not JSON ({exc})" if isinstance(exc, json.JSONDecodeError) else str(exc).strip("'\""))
        return {"id": qid if qid is not None else n, "error": msg, "answer": "", "answerable": False,
                "citations": [], "timings": {"total": 0.0}}


def _assistant(store: Path | None):
    from qa.service import assistant_for

    s = get_settings()
    path = _store_path(store)
    if not (path / "catalog.json").exists():
        _fail(f"no store at {path}: ingest policies first, e.g. policyqa ingest corpus --store {path}")
    return assistant_for(str(path), s.model, s.backend)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=7860, show_default=True, type=int, help="Port to listen on.")
@click.option("--store", type=click.Path(path_type=Path), help=STORE_HELP)
def serve(host, port, store):
    """Start the web app (chat, desk, widget, REST API) on the bundled corpus."""
    import app

    app.serve(host=host, port=port, store=_store_path(store))


def main():
    cli(prog_name="policyqa")
