"""The `policyqa` command: ingest policies, ask questions, serve the app.

Text for people by default, `--json` for machines. The JSON shapes are a contract that
external scoreboards rely on (see DEVELOPERS.md). Every error policyqa reports (a
`PolicyQAError`) is one line on stderr and exit code 1, never a traceback."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ingest.errors import PolicyQAError
from ingest.normalize import valid_text
from policyqa.settings import get_settings, ingest_limits

STORE_HELP = "Store directory (default: $POLICYQA_STORE or the user data dir)."


def _store_path(store: Path | None) -> Path:
    return Path(store) if store else get_settings().store


def _fail(message: str) -> None:
    click.echo(f"Error: {valid_text(message)}", err=True)
    sys.exit(1)


class _Commands(click.Group):
    """policyqa's errors are click's: "Error: <message>" on stderr, exit code 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except PolicyQAError as exc:
            raise click.ClickException(valid_text(str(exc))) from None


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
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
    a policy whose file is gone from an ingested folder is removed. What a folder holds that is
    not a policy (hidden, README, other types, links out of it) is listed as skipped. Exits 1
    if any file failed.
    """
    from ingest.pipeline import ingest_paths, progress_bar, store_from_settings

    s = get_settings()
    st = store_from_settings(s, _store_path(store))
    if rebuild:
        st.reset()
    elif st.reembed() and not as_json:  # built with another embedding model: keep every policy
        click.echo("the store was built with another embedding model: its policies were embedded again")
    report = ingest_paths(list(paths), st,
                          progress=progress_bar(not as_json), limits=ingest_limits(s))
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
@click.option("--batch", type=click.File("rb"),
              help='JSONL file, one {"id", "question", "policy"} a line; one answer a line, same order. '
                   "A bad line gets an error object; the exit code is 1 if any line failed.")
@click.option("--store", type=click.Path(path_type=Path), help=STORE_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print answers as JSON, one object a line.")
def ask(question, policy, batch, store, as_json):
    """Ask a question; the answer quotes the policy text it relies on."""
    if (question is None) == (batch is None):
        _fail("give either a QUESTION or --batch FILE.jsonl (not both, not neither)")
    assistant = _assistant(store)
    if batch:
        failed = 0
        for n, raw in enumerate(batch, 1):
            if not raw.strip():
                continue
            out = _batch_answer(assistant, raw, n)
            failed += "error" in out
            click.echo(json.dumps(out, ensure_ascii=False))
        sys.exit(1 if failed else 0)
    ans = assistant.answer(valid_text(question), valid_text(policy) if policy else None)
    if as_json:
        click.echo(json.dumps(ans.to_dict(), ensure_ascii=False))
    else:  # each quote once, in the answer; then its sources
        click.echo(ans.with_sources(), nl=False)


class _BadLine(ValueError):
    """A batch line that cannot be asked; `id` is its id when the line got that far."""

    def __init__(self, message: str, id=None):
        super().__init__(message)
        self.id = id


def _batch_item(raw: bytes) -> dict:
    """One batch line as {"id", "question", "policy"} (text made valid); _BadLine says what is wrong."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _BadLine(f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})") from None
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        raise _BadLine(f"not JSON ({exc})") from None
    except RecursionError:
        raise _BadLine("JSON nested too deeply (a line holds one flat object: id, question, policy)") from None
    if not isinstance(item, dict):
        raise _BadLine(f"expected a JSON object, got {type(item).__name__}")
    qid = item.get("id")
    if qid is not None and not isinstance(qid, (str, int)):
        raise _BadLine(f"'id' must be a string or a number, not {type(qid).__name__}")
    qid = valid_text(qid) if isinstance(qid, str) else qid
    for key in ("question", "policy"):
        if item.get(key) is not None and not isinstance(item[key], str):
            raise _BadLine(f"'{key}' must be a string, not {type(item[key]).__name__}", qid)
    return {"id": qid, **{k: valid_text(item[k]) for k in ("question", "policy") if item.get(k) is not None}}


def _batch_answer(assistant, raw: bytes, n: int) -> dict:
    """One batch line's answer, or an error object for that id: a bad line never stops the rest."""
    qid = None
    try:
        item = _batch_item(raw)
        qid = item["id"]
        return assistant.answer(item.get("question") or "", item.get("policy") or None,
                                id=qid if qid is not None else n).to_dict()
    except (_BadLine, PolicyQAError) as exc:
        qid = qid if qid is not None else getattr(exc, "id", None)
        return {"id": qid if qid is not None else n, "error": f"line {n}: {exc}",
                "answer": "", "answerable": False, "citations": [], "timings": {"total": 0.0}}


def _assistant(store: Path | None):
    from qa.service import assistant_for

    s = get_settings()
    path = _store_path(store)
    assistant = assistant_for(str(path), s.model, s.backend)
    if not assistant.store.exists():
        _fail(f"no store at {assistant.store.where}: ingest policies first, e.g. policyqa ingest corpus --store {path}")
    if assistant.store.reembed():  # built with another embedding model (e.g. before an upgrade): keep every policy
        click.echo("the store was built with another embedding model: its policies were embedded again", err=True)
    return assistant


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=7860, show_default=True, type=int, help="Port to listen on.")
@click.option("--store", type=click.Path(path_type=Path), help=STORE_HELP)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1),
              help="Worker processes (for more than one, point them at a Chroma server: POLICYQA_CHROMA_URL).")
@click.option("--verbose", is_flag=True, help="Log every HTTP request and the search indexes' building too.")
def serve(host, port, store, workers, verbose):
    """Start the web app (chat, desk, widget, REST API) on the bundled corpus."""
    import app

    app.serve(host=host, port=port, store=_store_path(store), verbose=verbose, workers=workers)


def main():
    cli(prog_name="policyqa")
