"""HTML and plain-text views of an `Answer`, a search hit and a policy.

Every piece of policy or user text goes through `html.escape` (or, in the widget's JS,
`textContent`): a policy that contains `<script>` shows the tag as text. The HTML is kept on one
line (no blank lines) so that the chat's Markdown renderer passes it through as one HTML block
instead of reading policy text as Markdown."""
from __future__ import annotations

import re
from html import escape
from urllib.parse import quote as urlquote

from qa.types import Answer, Citation

MARKER = re.compile(r"\[(\d+)\]")


def e(text) -> str:
    return escape(str(text if text is not None else ""), quote=True)


def policy_href(policy: str, start: int | None = None, end: int | None = None) -> str:
    """The policy viewer, with the range [start, end) highlighted and scrolled into view."""
    url = f"/policy/{urlquote(policy, safe='')}"
    if start is not None and end is not None:
        url += f"?start={int(start)}&end={int(end)}#hl"
    return url


def where(c: Citation) -> str:
    """'Policy name · Section · updated 2026-01-08' for a citation card."""
    parts = [f'<span class="pq-policy">{e(c.policy_name or c.policy)}</span>']
    if c.section:
        parts.append(f'<span class="pq-section">{e(c.section)}</span>')
    parts.append(f'<span class="pq-date">{"updated " + e(c.last_updated) if c.last_updated else "no date given"}</span>')
    return '<span class="pq-sep">·</span>'.join(parts)


def citation_card(c: Citation) -> str:
    cls = "pq-cite pq-related" if c.related else "pq-cite"
    return (f'<li class="{cls}" data-n="{c.n}" data-policy="{e(c.policy)}">'
            f'<a class="pq-cite-link" href="{e(policy_href(c.policy, c.start, c.end))}" target="_blank" '
            f'rel="noopener" title="Open the full policy at this sentence">'
            f'<span class="pq-cite-head"><span class="pq-n">{c.n}</span>{where(c)}</span>'
            f'<span class="pq-quote">{e(c.quote)}</span></a></li>')


def _text_html(text: str, cites: dict[int, Citation]) -> str:
    """The answer text: paragraphs, '- ' lines as a list, [n] as links to the cited sentence."""
    def line(s: str) -> str:
        out, pos = [], 0
        for m in MARKER.finditer(s):
            out.append(e(s[pos:m.start()]))
            c = cites.get(int(m.group(1)))
            if c:
                out.append(f'<a class="pq-marker" href="{e(policy_href(c.policy, c.start, c.end))}" '
                           f'target="_blank" rel="noopener">{c.n}</a>')
            else:
                out.append(e(m.group(0)))
            pos = m.end()
        out.append(e(s[pos:]))
        return "".join(out)

    blocks = []
    for para in re.split(r"\n\s*\n", text.strip()):
        lines = [ln for ln in para.split("\n") if ln.strip()]
        head = [ln for ln in lines if not ln.startswith("- ")]
        items = [ln[2:] for ln in lines if ln.startswith("- ")]
        if head:
            blocks.append("<p>" + "<br>".join(line(h) for h in head) + "</p>")
        if items:
            blocks.append('<ul class="pq-quotes">' + "".join(f"<li>{line(i)}</li>" for i in items) + "</ul>")
    return "".join(blocks)


def answer_html(ans: Answer, *, lines: int | None = None, cards: bool = True) -> str:
    """An answer with its numbered citation cards. `lines` shows only the first lines of the
    text (for streaming); `cards=False` leaves the citations out (also for streaming)."""
    text = ans.answer
    if lines is not None:
        text = "\n".join(text.split("\n")[:lines])
    cites = {c.n: c for c in ans.citations}
    kind = "pq-answerable" if ans.answerable else "pq-unaddressed"
    scope = "this policy" if ans.policy else "these policies"
    label = ("" if ans.answerable else '<div class="pq-label">Question language not supported</div>'
             if ans.unread else f'<div class="pq-label">Not addressed by {scope}</div>')
    body = f'<div class="pq-text">{_text_html(text, cites)}</div>'
    listing = ""
    if cards and ans.citations:
        relied = [c for c in ans.citations if not c.related]
        related = [c for c in ans.citations if c.related]
        if relied:
            listing += ('<div class="pq-cites-title">Sources</div><ol class="pq-cites">'
                        + "".join(citation_card(c) for c in relied) + "</ol>")
        if related:
            listing += ('<div class="pq-cites-title">Related clauses (they do not answer the question)</div>'
                        '<ol class="pq-cites">' + "".join(citation_card(c) for c in related) + "</ol>")
    # one line, always: a blank line (say, in a policy name from an older store) would end the
    # chat's HTML block and let its Markdown renderer read the rest (images, links) as Markdown
    return f'<div class="pq-answer {kind}">{label}{body}{listing}</div>'.replace("\n", " ")


def error_html(message: str) -> str:
    return f'<div class="pq-answer pq-error"><div class="pq-label">Cannot answer</div><p>{e(message)}</p></div>'


def thinking_html(scope: str) -> str:
    return f'<div class="pq-answer pq-thinking"><p>Reading {e(scope)}…</p></div>'


def reply_text(ans: Answer) -> str:
    """A ready-to-paste reply for an email or a ticket: the answer, then each source written out."""
    out = [ans.answer.strip(), ""]
    relied = [c for c in ans.citations if not c.related]
    related = [c for c in ans.citations if c.related]
    for title, group in (("Sources", relied), ("Related clauses (they do not answer the question)", related)):
        if not group:
            continue
        out.append(f"{title}:")
        for c in group:
            bits = [c.policy_name or c.policy]
            if c.section:
                bits.append(f"section “{c.section}”")
            if c.last_updated:
                bits.append(f"last updated {c.last_updated}")
            out.append(f"[{c.n}] {', '.join(bits)}:\n    “{c.quote}”")
        out.append("")
    return "\n".join(out).strip() + "\n"


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
