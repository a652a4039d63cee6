"""HTML and plain-text views of an `Answer`, a search hit and a policy.

Every piece of policy or user text goes through `html.escape` (or, in the widget's JS,
`textContent`): a policy that contains `<script>` shows the tag as text. The HTML is kept on one
line (no blank lines) so that the chat's Markdown renderer passes it through as one HTML block
instead of reading policy text as Markdown.

An answer is drawn from its blocks (`qa.types.Block`), never from its text: a verdict line, the
quotes as cards (each quote once, a list's items under its lead-in), notes, related clauses."""
from __future__ import annotations

from html import escape
from urllib.parse import quote as urlquote

from qa.types import Answer, Block, Citation, Kind, split_stop


def e(text) -> str:
    return escape(str(text if text is not None else ""), quote=True)


def lines(text: str) -> str:
    """Escaped text whose line breaks are character references: the HTML stays on one line (see
    above), and the browser still reads the breaks."""
    return e(text).replace("\n", "&#10;")


def policy_href(policy: str, start: int | None = None, end: int | None = None) -> str:
    """The policy viewer, with the range [start, end) highlighted and scrolled into view."""
    url = f"/policy/{urlquote(policy, safe='')}"
    if start is not None and end is not None:
        url += f"?start={int(start)}&end={int(end)}#hl"
    return url


def where(c: Citation) -> str:
    """'Policy name · Section · page 2 · updated 2026-01-08' for a citation card."""
    parts = [f'<span class="pq-policy">{e(c.policy_name or c.policy)}</span>']
    if c.section:
        parts.append(f'<span class="pq-section">{e(c.section)}</span>')
    if c.page:
        parts.append(f'<span class="pq-page">page {c.page}</span>')
    parts.append(f'<span class="pq-date">{"updated " + e(c.last_updated) if c.last_updated else "no date given"}</span>')
    return '<span class="pq-sep">·</span>'.join(parts)


def citation_card(c: Citation, items: list[Citation] = (), more: int = 0) -> str:
    """A quote as a card: its number, policy, section and date, the verbatim quote, a link to it
    in the policy; a list's lead-in carries its items underneath, compactly."""
    cls = "pq-cite pq-related" if c.related else "pq-cite"
    note = f'<span class="pq-hidden-note">{e(c.note)}</span>' if c.note else ""
    sub = ""
    if items or more:
        sub = ('<ol class="pq-items">' + "".join(
            f'<li class="pq-item"><a class="pq-item-link" href="{e(policy_href(i.policy, i.start, i.end))}" '
            f'target="_blank" rel="noopener"><span class="pq-n">{i.n}</span><span class="pq-quote">{e(i.quote)}</span></a></li>'
            for i in items) + (f'<li class="pq-more">and {more} more in the policy</li>' if more else "") + "</ol>")
    return (f'<li class="{cls}" data-n="{c.n}" data-policy="{e(c.policy)}">'
            f'<a class="pq-cite-link" href="{e(policy_href(c.policy, c.start, c.end))}" target="_blank" '
            f'rel="noopener" title="Open the full policy at this sentence">'
            f'<span class="pq-cite-head"><span class="pq-n">{c.n}</span>{where(c)}</span>'
            f'<span class="pq-quote">{e(c.quote)}</span>{note}</a>{sub}</li>')


def marked(text: str, numbers: list[int], cites: dict[int, Citation]) -> str:
    """A sentence in the answer's own words, its citation markers as links before its final stop
    (as `qa.types.with_marks` writes them in text)."""
    body, stop = split_stop(text)
    marks = "".join(f'<a class="pq-marker" href="{e(policy_href(cites[n].policy, cites[n].start, cites[n].end))}" '
                    f'target="_blank" rel="noopener">{n}</a>' for n in numbers if n in cites)
    return f"{e(body)}{' ' + marks if marks else ''}{e(stop)}"


def block_html(b: Block, cites: dict[int, Citation]) -> str:
    if b.kind is Kind.VERDICT:
        reply = b.reply.value if b.reply else ""
        return f'<p class="pq-verdict pq-reply-{e(reply)}">{marked(b.text, b.numbers, cites)}</p>'
    if b.kind is Kind.WRITTEN:
        return f'<span class="pq-written">{marked(b.text, b.numbers, cites)}</span>'
    if b.kind is Kind.NOTE:
        return f'<p class="pq-note">{e(b.text)}</p>'
    cards = "".join(citation_card(cites[q.n], [cites[i] for i in q.items], q.more) for q in b.quotes)
    cls = "pq-group pq-related-group" if b.kind is Kind.RELATED else "pq-group"
    head = f'<div class="pq-group-head">{e(b.text)}</div>' if b.text else ""
    return f'<div class="{cls}">{head}<ol class="pq-cites">{cards}</ol></div>'


def answer_html(ans: Answer, *, upto: int | None = None, copy: bool = True) -> str:
    """An answer, block by block, each quote once, as a card. `upto` shows only the first blocks
    (for streaming); `copy` adds a Copy button with the plain text it copies (`Answer.with_sources`; the
    button is wired by web/static/app.js)."""
    cites = {c.n: c for c in ans.citations}
    kind = "pq-answerable" if ans.answerable else "pq-unaddressed"
    scope = "this policy" if ans.policy else "these policies"
    label = ("" if ans.answerable else '<div class="pq-label">Question language not supported</div>'
             if ans.unread else f'<div class="pq-label">Not addressed by {scope}</div>')
    body, written = [], []
    for b in ans.blocks[:upto]:  # an LLM writer's sentences run on in one paragraph
        if b.kind is Kind.WRITTEN:
            written.append(block_html(b, cites))
            continue
        if written:
            body.append(f'<p class="pq-written-text">{" ".join(written)}</p>')
            written = []
        body.append(block_html(b, cites))
    if written:
        body.append(f'<p class="pq-written-text">{" ".join(written)}</p>')
    tail = ""
    if copy and upto is None:
        tail = ('<div class="pq-actions"><button class="pq-copy" type="button" title="Copy the answer as plain '
                f'text">Copy answer</button></div><pre class="pq-copy-text">{lines(ans.with_sources())}</pre>')
    # one line, always: a line break (say, in a quote from a PDF) followed by a blank line would end
    # the chat's HTML block and let its Markdown renderer read the rest as Markdown
    return f'<div class="pq-answer {kind}">{label}{"".join(body)}{tail}</div>'.replace("\n", " ")


def error_html(message: str) -> str:
    return f'<div class="pq-answer pq-error"><div class="pq-label">Cannot answer</div><p>{e(message)}</p></div>'


def thinking_html(scope: str) -> str:
    return f'<div class="pq-answer pq-thinking"><p>Reading {e(scope)}…</p></div>'


def context_html(text: str, start: int, end: int, width: int = 220) -> str:
    """A hit in its surroundings: a little text before and after, the hit itself marked."""
    a = max(0, start - width)
    b = min(len(text), end + width)
    before, after = text[a:start], text[end:b]
    if a > 0:
        before = "…" + before.split(" ", 1)[-1]
    if b < len(text):
        after = after.rsplit(" ", 1)[0] + "…"
    return (f'<span class="pq-ctx">{e(before)}</span><mark>{e(text[start:end])}</mark>'
            f'<span class="pq-ctx">{e(after)}</span>')


def policy_page(rec, text: str, start: int | None, end: int | None) -> str:
    """The full policy as a standalone page: escaped text, headings from its sections, the cited
    range in <mark id="hl"> (the URL's #hl scrolls it into view, no script needed)."""
    meta = rec.meta
    hl = (start, end) if start is not None and end is not None and 0 <= start < end <= len(text) else None
    heads = {}  # heading line start -> its end
    for _, s in rec.sections:
        if 0 <= s < len(text):
            nl = text.find("\n", s)
            heads[s] = nl if nl != -1 else len(text)
    cuts = sorted({0, len(text)} | set(heads) | set(heads.values()) | (set(hl) if hl else set()))
    body, marked = [], False
    for a, b in zip(cuts, cuts[1:]):  # each piece wrapped on its own, so the tags always nest
        piece = e(text[a:b])
        if any(h <= a < he for h, he in heads.items()):
            piece = f'<span class="h">{piece}</span>'
        if hl and hl[0] <= a < hl[1]:
            piece = ("<mark>" if marked else '<mark id="hl">') + piece + "</mark>"
            marked = True
        if a in heads:
            piece = f'<a class="anchor" id="s{a}"></a>' + piece
        body.append(piece)
    toc = "".join(f'<li><a href="#s{s}">{e(t.split(" > ")[-1])}</a></li>' for t, s in rec.sections)
    date = f"Last updated {e(meta.last_updated)}" if meta.last_updated else "No last-updated date given"
    return f"""<!doctype html>
<html lang="{e(meta.language or 'en')}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(meta.name)} · privacy policy</title>
<link rel="stylesheet" href="/widget/static/policy.css"></head>
<body><header><a class="back" href="/">policyqa</a><h1>{e(meta.name)}</h1>
<p class="meta">{date} · policy id <code>{e(meta.policy)}</code> · {rec.units} sentences</p></header>
<main>{'<nav><h2>Sections</h2><ol>' + toc + '</ol></nav>' if toc else ''}
<article class="policy-text">{''.join(body)}</article></main></body></html>"""
