"""The Gradio app: the chat for end users (first tab) and the support desk (second tab).

Answers are rendered by `web.render` from the same `Answer` the API returns; every piece of
policy text is escaped there. Citations link to the FastAPI policy viewer (`/policy/ID`), which
highlights the cited sentence and scrolls it into view."""
from __future__ import annotations

import time
from pathlib import Path

import gradio as gr

from ingest.normalize import valid_text
from qa.errors import PolicyQAError
from web.render import (answer_html, block_html, context_html, e, error_html, policy_href,
                        thinking_html)
from web.service import UploadError, WebService

STATIC = Path(__file__).parent / "static"
STREAM_STEP = 0.03  # seconds between streamed lines of an answer
# the chat's examples, asked of every policy (the widget suggests its own policy's, web.widget)
EXAMPLES = ["Is my data sent to China?", "Will my photos be used to train AI?", "How long do you keep my images?"]
USER_ERRORS = PolicyQAError  # shown in the page; anything else is a bug, which Gradio reports

HEADER = """<div class="pq-header"><div class="pq-brand"><span class="pq-logo">§</span>
<div><div class="pq-name">policyqa</div><div class="pq-tagline">Questions about privacy policies,
answered from the policies' own words. Every answer quotes its sources.</div></div></div>
<nav class="pq-links"><a href="/docs" target="_blank">REST API</a><a href="/api/policies" target="_blank">Policies (JSON)</a></nav></div>"""


def theme() -> gr.themes.Base:
    """Gradio's Soft theme in the system's own fonts (complete faces; nothing is fetched or
    bundled), darkened where its colours miss WCAG AA contrast (4.5:1; the browser tests measure it)."""
    system = ["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"]
    return gr.themes.Soft(primary_hue="indigo", neutral_hue="slate", font=system,
                          font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]).set(
        body_text_color_subdued="*neutral_600", body_text_color_subdued_dark="*neutral_400",
        block_label_text_color="*primary_700", block_title_text_color="*primary_700",
        block_label_text_color_dark="*neutral_50", block_title_text_color_dark="*neutral_50",
        button_primary_background_fill="*primary_600", button_primary_background_fill_hover="*primary_700",
        button_primary_background_fill_dark="*primary_600", button_primary_background_fill_hover_dark="*primary_700",
        color_accent="*primary_600",
        link_text_color="*primary_700", link_text_color_dark="*primary_300")


def css() -> str:
    return (STATIC / "app.css").read_text("utf-8")


def head() -> str:
    """Our one script for the Gradio page (served by us): the answers' Copy buttons."""
    return '<script src="/widget/static/app.js" defer></script>'


# --------------------------------------------------------------------------- desk views
def why_not(ans) -> str:
    """One line for a comparison row the policy does not answer."""
    if ans.unread:
        return "The question's language is not supported: ask in English, 中文, 日本語, español, français or Deutsch."
    if ans.absent:
        return f"Not addressed by this policy: it does not mention {', '.join(ans.absent)}."
    return "Not addressed by this policy."


def compare_html(svc: WebService, question: str, answers) -> str:
    recs = svc.policies()
    rows = []
    for ans in answers:
        rec = recs.get(ans.policy)
        name = rec.meta.name if rec else ans.policy
        date = f"updated {e(rec.meta.last_updated)}" if rec and rec.meta.last_updated else "no date given"
        if ans.answerable:
            cites = [c for c in ans.citations if not c.related]
            says = "".join(block_html(b, {c.n: c for c in cites}) for b in ans.verdicts) + "".join(
                f'<div class="pq-row-quote"><span class="pq-n">{c.n}</span><div><blockquote>{e(c.quote)}</blockquote>'
                f'<a class="pq-open" href="{e(policy_href(c.policy, c.start, c.end))}" target="_blank" rel="noopener">'
                f'{e(c.section or "Open in the policy")} ↗</a></div></div>' for c in cites)
            status = '<span class="pq-badge pq-yes">Addressed</span>'
        else:
            near = next((c for c in ans.citations if c.related), None)
            says = f'<div class="pq-none">{e(why_not(ans))}</div>'
            if near:
                says += (f'<div class="pq-nearest">{"Closest clause" if ans.unread else "Closest clause, which does not answer it"}: '
                         f'<a href="{e(policy_href(near.policy, near.start, near.end))}" target="_blank" rel="noopener">'
                         f'“{e(near.quote)}”</a></div>')
            status = f'<span class="pq-badge pq-no">{"Not read" if ans.unread else "Not addressed"}</span>'
        rows.append(f'<tr class="{"pq-row-yes" if ans.answerable else "pq-row-no"}" data-policy="{e(ans.policy)}">'
                    f'<th scope="row"><div class="pq-row-name">{e(name)}</div><div class="pq-row-date">{date}</div>{status}</th>'
                    f'<td>{says}</td></tr>')
    n_yes = sum(a.answerable for a in answers)
    return (f'<div class="pq-compare-wrap"><div class="pq-compare-q">“{e(question)}”: addressed by {n_yes} of '
            f'{len(answers)} policies</div><div class="pq-compare-box"><table class="pq-compare"><thead><tr>'
            f'<th>Policy</th><th>What it says</th></tr></thead><tbody>{"".join(rows)}</tbody></table></div></div>')


def search_html(svc: WebService, hits) -> str:
    if not hits:
        return '<div class="pq-empty">No clauses found. Try other words or remove a filter.</div>'
    recs = svc.policies()
    texts: dict[str, str] = {}
    items = []
    for i, h in enumerate(hits, 1):
        if h.policy not in texts:
            texts[h.policy] = svc.store.text(h.policy)
        rec = recs[h.policy]
        date = f" · updated {e(rec.meta.last_updated)}" if rec.meta.last_updated else ""
        items.append(
            f'<li class="pq-hit" data-policy="{e(h.policy)}"><div class="pq-hit-head"><span class="pq-rank">{i}</span>'
            f'<span class="pq-policy">{e(rec.meta.name)}</span><span class="pq-sep">·</span>'
            f'<span class="pq-section">{e(h.section or "Policy")}</span><span class="pq-date">{date}</span>'
            f'<span class="pq-score" title="relevance">{h.score:.2f}</span></div>'
            f'<div class="pq-hit-ctx">{context_html(texts[h.policy], h.start, h.end)}</div>'
            f'<a class="pq-open" href="{e(policy_href(h.policy, h.start, h.end))}" target="_blank" rel="noopener">'
            f'Open in the policy ↗</a></li>')
    return f'<ol class="pq-hits">{"".join(items)}</ol>'


def section_choices(svc: WebService, policy: str | None) -> list[tuple[str, str]]:
    recs = svc.policies()
    pids = [policy] if policy in recs else list(recs)
    tops = sorted({title.split(" > ")[0] for p in pids for title, _ in recs[p].sections})
    return [("All sections", "")] + [(t, t) for t in tops]


# --------------------------------------------------------------------------- the app
def build_ui(svc: WebService) -> gr.Blocks:
    with gr.Blocks(title="policyqa · privacy policy answers", analytics_enabled=False) as demo:
        gr.HTML(HEADER, elem_id="pq-header")
        with gr.Tabs(elem_id="pq-tabs"):
            with gr.Tab("Ask", id="chat", elem_id="pq-chat-tab"):
                with gr.Row(equal_height=True, elem_id="pq-chat-bar"):
                    chat_policy = gr.Dropdown(svc.choices(), value="", label="Answer from", scale=2,
                                              elem_id="pq-chat-policy")
                    gr.HTML('<div class="pq-hint">Answers quote the policies. Click a citation to read it in '
                            'the full policy.</div>', scale=3, elem_id="pq-chat-hint")
                chatbot = gr.Chatbot(elem_id="pq-chatbot", height=560, show_label=False,
                                     latex_delimiters=[], feedback_options=None, buttons=[],
                                     placeholder="<div class='pq-placeholder'><b>Ask about your data.</b><br>"
                                                 "Answers quote the policy, with links to the full text.</div>",
                                     examples=[{"text": q} for q in EXAMPLES])
                with gr.Row(equal_height=True):
                    question = gr.Textbox(placeholder="Ask a question about a privacy policy…", show_label=False,
                                          scale=8, max_lines=4, elem_id="pq-question", autofocus=True)
                    ask_btn = gr.Button("Ask", variant="primary", scale=1, min_width=90, elem_id="pq-ask")

            with gr.Tab("Support desk", id="desk", elem_id="pq-desk-tab"):
                with gr.Tabs():
                    with gr.Tab("Compare policies", id="compare"):
                        with gr.Row():
                            cmp_q = gr.Textbox("Where is my data processed?", label="Question", scale=8,
                                               elem_id="pq-compare-q")
                            cmp_btn = gr.Button("Compare", variant="primary", scale=1, elem_id="pq-compare-btn", elem_classes="pq-go")
                        cmp_out = gr.HTML(elem_id="pq-compare-out")
                    with gr.Tab("Search clauses", id="search"):
                        with gr.Row():
                            s_q = gr.Textbox(label="Search clauses", placeholder="e.g. retention of images",
                                             scale=4, elem_id="pq-search-q")
                            s_pol = gr.Dropdown(svc.choices(), value="", label="Policy", scale=3,
                                                elem_id="pq-search-policy")
                            s_sec = gr.Dropdown(section_choices(svc, None), value="", label="Section", scale=2,
                                                allow_custom_value=True, elem_id="pq-search-section")
                            s_btn = gr.Button("Search", variant="primary", scale=1, elem_id="pq-search-btn", elem_classes="pq-go")
                        s_out = gr.HTML(elem_id="pq-search-out")
                    with gr.Tab("Reply to a ticket", id="reply"):
                        with gr.Row():
                            r_q = gr.Textbox(label="Customer's question", scale=4, elem_id="pq-reply-q")
                            r_pol = gr.Dropdown(svc.choices(), value="", label="Policy", scale=3,
                                                elem_id="pq-reply-policy")
                            r_btn = gr.Button("Draft reply", variant="primary", scale=1, elem_id="pq-reply-btn", elem_classes="pq-go")
                        r_ans = gr.HTML(elem_id="pq-reply-answer")
                        r_text = gr.Textbox(label="Ready-to-paste reply", lines=10, max_lines=30, interactive=False,
                                            buttons=["copy"], elem_id="pq-reply-text")
                        r_copy = gr.Button("Copy reply", elem_id="pq-reply-copy")
                    with gr.Tab("Add or replace a policy", id="upload"):
                        on = svc.uploads_enabled
                        gr.Markdown("Upload a `.txt`, `.md`, `.html` or `.pdf` file. Its file name without the "
                                    "extension is the policy id: a file named like an existing policy replaces it."
                                    if on else
                                    "**Uploads are off.** Set an admin token (`POLICYQA_ADMIN_TOKEN`) and restart "
                                    "the server to add or replace policies here.", elem_id="pq-upload-help")
                        u_file = gr.File(label="Policy file", file_types=[".txt", ".md", ".html", ".htm", ".pdf"],
                                         interactive=on, elem_id="pq-upload-file")
                        u_token = gr.Textbox(label="Admin token", type="password", interactive=on,
                                             elem_id="pq-upload-token")
                        u_btn = gr.Button("Add or replace", variant="primary", interactive=on, elem_id="pq-upload-btn")
                        u_out = gr.HTML(elem_id="pq-upload-out")

        # ------------------------------------------------------------------ chat
        def respond(message: str, history: list, policy: str):
            message, policy = valid_text(message or "").strip(), valid_text(policy or "")
            if not message:
                yield gr.skip(), gr.skip()
                return
            limit = svc.settings.max_question_chars
            shown = message if len(message) <= limit else message[:200] + f"… ({len(message):,} characters)"
            history = list(history or []) + [{"role": "user", "content": e(shown)}]
            recs = svc.policies()
            scope = f"the {recs[policy].meta.name} policy" if policy in recs else f"{len(recs)} policies"
            yield "", history + [{"role": "assistant", "content": thinking_html(scope)}]
            try:
                ans = svc.answer(message, policy or None)
            except USER_ERRORS as exc:
                yield "", history + [{"role": "assistant", "content": error_html(str(exc))}]
                return
            for n in range(1, len(ans.blocks)):  # stream the answer a block at a time
                yield "", history + [{"role": "assistant", "content": answer_html(ans, upto=n)}]
                time.sleep(STREAM_STEP)
            yield "", history + [{"role": "assistant", "content": answer_html(ans)}]

        chat_io = dict(inputs=[question, chatbot, chat_policy], outputs=[question, chatbot])
        question.submit(respond, **chat_io)
        ask_btn.click(respond, **chat_io)
        def pick_example(evt: gr.SelectData) -> str:
            return evt.value.get("text", "") if isinstance(evt.value, dict) else str(evt.value)

        chatbot.example_select(pick_example, None, question).then(respond, **chat_io)
        chat_policy.change(lambda: [], None, chatbot)  # a new scope starts a new conversation

        # ------------------------------------------------------------------ desk
        def compare(q: str):
            q = valid_text(q or "")
            try:
                return compare_html(svc, q, svc.assistant.compare(q))
            except USER_ERRORS as exc:
                return error_html(str(exc))

        cmp_btn.click(compare, cmp_q, cmp_out)
        cmp_q.submit(compare, cmp_q, cmp_out)

        def search(q: str, policy: str, section: str):
            q, policy, section = (valid_text(x or "") for x in (q, policy, section))
            try:
                return search_html(svc, svc.assistant.search(q, policy or None, section or None, k=15))
            except USER_ERRORS as exc:
                return error_html(str(exc))

        s_btn.click(search, [s_q, s_pol, s_sec], s_out)
        s_q.submit(search, [s_q, s_pol, s_sec], s_out)
        s_pol.change(lambda p: gr.Dropdown(choices=section_choices(svc, p), value=""), s_pol, s_sec)

        def draft(q: str, policy: str):
            q, policy = valid_text(q or ""), valid_text(policy or "")
            try:
                ans = svc.answer(q, policy or None)
            except USER_ERRORS as exc:
                return error_html(str(exc)), ""
            return answer_html(ans, copy=False), ans.with_sources()

        r_btn.click(draft, [r_q, r_pol], [r_ans, r_text])
        r_q.submit(draft, [r_q, r_pol], [r_ans, r_text])
        r_copy.click(None, r_text, None, js="(t) => { navigator.clipboard.writeText(t); }")

        def pickers() -> list[gr.Dropdown]:
            """The three policy pickers' choices as the store holds them now."""
            return [gr.Dropdown(choices=svc.choices()) for _ in range(3)]

        def upload(path: str | None, token: str):
            if not path:
                return error_html("Choose a file first."), *pickers()
            try:
                report = svc.add_policy(Path(path).name, Path(path).read_bytes(), token)
            except UploadError as exc:
                return error_html(str(exc)), *pickers()
            pid = (report.added or report.updated or report.unchanged or ["?"])[0]
            verb = "Added" if report.added else "Replaced" if report.updated else "Unchanged:"
            rec = svc.policies().get(pid)
            units = f" ({rec.units} sentences)" if rec else ""
            # the pickers are read after the upload: it is in them without a reload
            return (f'<div class="pq-answer pq-answerable"><p>{verb} <a href="{e(policy_href(pid))}" target="_blank">'
                    f'{e(pid)}</a>{units}.</p></div>'), *pickers()

        u_btn.click(upload, [u_file, u_token], [u_out, chat_policy, s_pol, r_pol])

        # policies uploaded since the page was built show up in the pickers on load
        demo.load(pickers, None, [chat_policy, s_pol, r_pol])

    demo.queue(default_concurrency_limit=svc.settings.queue_concurrency, max_size=svc.settings.queue_max_size)
    return demo
