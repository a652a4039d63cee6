"""The app in a real browser: Debian's Chromium driven by Playwright against the real server.

One server and one browser for the whole module. A second local port plays the third-party site
that embeds the widget (by iframe and by the script tag); the server allows framing only by that
origin, so the same page served as http://localhost:PORT (another origin) must be refused."""
from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from webserver import ROOT, ADMIN_TOKEN, HOSTILE_ID, HOSTILE_NAME, build_store, free_port, running, settings_for, static_site

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
LOCAL_HOSTS = ("http://127.0.0.1:", "http://localhost:")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The server (frame embedding allowed for the third-party origin only) and that site's port."""
    from web import create_app

    tmp = tmp_path_factory.mktemp("browser")
    store = build_store(tmp)
    third = free_port()
    app = create_app(settings_for(store, admin_token=ADMIN_TOKEN, frame_ancestors=f"http://127.0.0.1:{third}", rate_limit=0))
    with running(app) as base:
        pages = tmp / "third-party"
        pages.mkdir()
        (pages / "iframe.html").write_text(f"""<!doctype html><html><head><meta charset="utf-8"><title>Help</title></head>
<body><h1>Acme help centre</h1>
<iframe id="help" title="Privacy questions" src="{base}/widget?policy=product-image-gen&theme=light"
        width="400" height="600" style="border:1px solid #ccc"></iframe></body></html>""", "utf-8")
        (pages / "script.html").write_text(f"""<!doctype html><html><head><meta charset="utf-8"><title>Help</title></head>
<body><h1>Acme help centre</h1><p>Questions about your data? Use the button.</p>
<script src="{base}/widget.js" data-policy="product-image-gen" data-theme="dark"></script></body></html>""", "utf-8")
        (pages / "configured.html").write_text(f"""<!doctype html><html><head><meta charset="utf-8"><title>Ayuda</title></head>
<body><h1>Centro de ayuda</h1><input id="search" placeholder="Buscar en la ayuda">
<script src="{base}/widget.js" data-policy="figure-gen" data-theme="light" data-title="Acme &lt;b&gt;ayuda&lt;/b&gt;"
        data-greeting="Hola: pregunte sobre sus datos." data-accent="#0b7a3e" data-position="left"
        data-language="es"></script></body></html>""", "utf-8")
        help_page = (ROOT / "examples" / "help-page.html").read_text("utf-8")
        (pages / "help-page.html").write_text(help_page.replace("http://127.0.0.1:7860", base), "utf-8")
        (pages / "hostile.html").write_text(f"""<!doctype html><html><head><meta charset="utf-8"></head><body>
<iframe id="help" src="{base}/widget?policy={HOSTILE_ID}" width="400" height="600"></iframe></body></html>""", "utf-8")
        with static_site(pages, third):
            yield base, third


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.outside = []  # requests that left the machine's local servers
    context.on("request", lambda r: page.outside.append(r.url)
               if not r.url.startswith(LOCAL_HOSTS + ("data:", "blob:", "about:")) else None)
    yield page
    context.close()


def ask_in_chat(page, question: str):
    page.fill("#pq-question textarea", question)
    page.keyboard.press("Enter")
    last = page.locator("#pq-chatbot .pq-answer").last
    last.locator(".pq-cite").first.wait_for()
    return last


def cited_policies(answer) -> set[str]:
    """The policies an answer's citation cards link to (the chat's sanitiser drops data- attributes)."""
    hrefs = [a.get_attribute("href") for a in answer.locator(".pq-cite a").all()]
    return {re.match(r"/policy/([^?]+)", h).group(1) for h in hrefs}


def pick(page, dropdown_id: str, label: str):
    page.click(f"#{dropdown_id} input")
    page.locator(f"#{dropdown_id} li[role=option]", has_text=label).first.click()


# ------------------------------------------------------------------ end users: the chat
def test_chat_answer_shows_citations_and_opens_the_highlight(page, site):
    base, _ = site
    page.goto(base + "/")
    answer = ask_in_chat(page, "Is my data sent to China?")
    card = answer.locator(".pq-cite").first
    href = card.locator("a").get_attribute("href")
    policy = re.match(r"/policy/([^?]+)\?start=\d+&end=\d+#hl$", href).group(1)
    meta = httpx.get(f"{base}/api/policies/{policy}").json()
    head = card.locator(".pq-cite-head").inner_text()
    assert meta["name"] in head and (meta["last_updated"] or "no date given") in head
    quote = card.locator(".pq-quote").inner_text()
    assert quote.strip()
    quotes = [q.inner_text() for q in answer.locator(".pq-quote").all()]
    assert len(quotes) == len(set(quotes)), "each quote is shown once"

    with page.context.expect_page() as popup:
        card.locator("a").click()
    viewer = popup.value
    viewer.wait_for_load_state()
    assert viewer.locator("mark#hl").inner_text() == quote
    in_view = viewer.evaluate("""() => { const r = document.getElementById('hl').getBoundingClientRect();
                                         return r.top >= 0 && r.bottom <= window.innerHeight; }""")
    assert in_view
    assert page.outside == [] and viewer.url.startswith(base), "everything comes from our server"


def unaddressed_question(base: str, policy: str) -> str:
    """A question the policy does not address, per the API (the ranker evolves; the UI must follow it)."""
    for q in ("Do you sell cars?", "What is the boiling point of mercury?", "Who won the 1998 chess olympiad?",
              "How do I bake sourdough bread?"):
        if not httpx.post(f"{base}/api/ask", json={"question": q, "policy": policy}).json()["answerable"]:
            return q
    pytest.fail(f"every candidate question counts as addressed by {policy}; the abstention bar looks broken")


def test_chat_not_addressed_looks_different_and_lists_related(page, site):
    base, _ = site
    page.goto(base + "/")
    question = unaddressed_question(base, "figure-gen")
    pick(page, "pq-chat-policy", "AI character figure generator")
    answer = ask_in_chat(page, question)
    assert "pq-unaddressed" in answer.get_attribute("class")
    assert answer.locator(".pq-label").inner_text().lower() == "not addressed by this policy"
    assert answer.locator(".pq-related").count() >= 1
    assert cited_policies(answer) == {"figure-gen"}
    color = answer.evaluate("el => getComputedStyle(el).borderLeftColor")
    assert color != "rgba(0, 0, 0, 0)"


def test_chat_example_question(page, site):
    base, _ = site
    page.goto(base + "/")
    page.locator("#pq-chatbot button", has_text="Will my photos be used to train AI?").first.click()
    answer = page.locator("#pq-chatbot .pq-answer").last
    answer.locator(".pq-cite").first.wait_for()
    assert "train" in page.locator("#pq-chatbot").inner_text()


def test_chat_verdict_line_for_a_yes_no_question(page, site):
    base, _ = site
    page.goto(base + "/")
    pick(page, "pq-chat-policy", "AI product image generator")
    answer = ask_in_chat(page, "Is my data sent to China?")
    verdict = answer.locator(".pq-verdict")
    assert verdict.inner_text().startswith("Yes, according to the AI product image generator privacy policy")
    marker = verdict.locator("a.pq-marker")  # the quote it rests on, by number, linked into the policy
    card = answer.locator(".pq-cite").filter(has=page.locator(".pq-cite-head .pq-n", has_text=marker.inner_text()))
    assert "China" in card.locator(".pq-quote").first.inner_text()
    assert marker.get_attribute("href") == card.locator("a.pq-cite-link").first.get_attribute("href")


def test_chat_list_question_shows_every_named_processor_once(page, site):
    base, _ = site
    page.goto(base + "/")
    pick(page, "pq-chat-policy", "Cloudflare-hosted AI image generator")
    answer = ask_in_chat(page, "Which third-party services do you use?")
    quotes = [q.inner_text() for q in answer.locator(".pq-quote").all()]
    for name in ("kie.ai", "Creem", "Resend", "PostHog", "Sentry"):
        assert sum(q.startswith(name + ":") for q in quotes) == 1, (name, quotes)
    assert len(quotes) == len(set(quotes))


def test_chat_copy_button_copies_plain_text(page, site):
    base, _ = site
    page.goto(base + "/")
    pick(page, "pq-chat-policy", "Cloudflare-hosted AI image generator")
    answer = ask_in_chat(page, "How long do you keep my images?")
    api = httpx.post(f"{base}/api/ask", json={"question": "How long do you keep my images?",
                                              "policy": "cloudflare-image-gen"}).json()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    answer.locator("button.pq-copy").click()
    page.wait_for_function("navigator.clipboard.readText().then(t => t.length > 0)")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith(api["answer"]), copied  # the answer as the API and the CLI give it
    assert "\nSources:\n[1] Cloudflare-hosted AI image generator, section " in copied
    assert "<" not in copied and "pq-" not in copied  # no HTML
    assert answer.locator(".pq-copy-text").is_hidden()


# ------------------------------------------------------------------ support staff: the desk
def test_desk_compare_table(page, site):
    base, _ = site
    page.goto(base + "/")
    page.get_by_role("tab", name="Support desk").click()
    assert page.input_value("#pq-compare-q textarea") == "Where is my data processed?"
    page.click("#pq-compare-btn")
    table = page.locator("#pq-compare-out table.pq-compare")
    table.wait_for()
    rows = table.locator("tbody tr")
    assert rows.count() == 6  # the five seeds and the test's hostile policy: one row each
    ids = {rows.nth(i).get_attribute("data-policy") for i in range(rows.count())}
    assert {"antiai-pics", "cloudflare-image-gen", "figure-gen", "image-video-gen", "product-image-gen"} <= ids
    for i in range(rows.count()):
        text = rows.nth(i).inner_text()
        assert rows.nth(i).locator("blockquote").count() or "Not addressed" in text
    cf = table.locator("tr[data-policy='cloudflare-image-gen']")
    assert "Cloudflare" in cf.inner_text()

    page.fill("#pq-compare-q textarea", "Do you sell my data?")
    page.click("#pq-compare-btn")
    page.locator("#pq-compare-out", has_text="Do you sell my data?").wait_for()
    row = page.locator("#pq-compare-out tr[data-policy='image-video-gen']")
    assert row.locator(".pq-verdict").inner_text().startswith("No, according to the AI image & video generator")

    page.fill("#pq-compare-q textarea", "Do you collect biometric data?")
    page.click("#pq-compare-btn")
    page.locator("#pq-compare-out", has_text="biometric data?").wait_for()
    for pid in ("antiai-pics", "cloudflare-image-gen", "figure-gen", "image-video-gen", "product-image-gen"):
        row = page.locator(f"#pq-compare-out tr[data-policy='{pid}']").inner_text()
        assert "it does not mention biometric" in row, row


def test_desk_search_with_filters_and_reply(page, site):
    base, _ = site
    page.goto(base + "/")
    page.get_by_role("tab", name="Support desk").click()
    page.get_by_role("tab", name="Search clauses").click()
    page.fill("#pq-search-q textarea", "delete my account")
    pick(page, "pq-search-policy", "AntiAI Pics")
    page.click("#pq-search-btn")
    hits = page.locator("#pq-search-out li.pq-hit")
    hits.first.wait_for()
    assert {h.get_attribute("data-policy") for h in hits.all()} == {"antiai-pics"}
    assert hits.first.locator("mark").inner_text().strip()

    page.get_by_role("tab", name="Reply to a ticket").click()
    page.fill("#pq-reply-q textarea", "Is my data sent to China?")
    page.click("#pq-reply-btn")
    page.locator("#pq-reply-answer .pq-verdict").wait_for()
    page.wait_for_function("document.querySelector('#pq-reply-text textarea').value.startsWith('Yes, according to')")
    assert page.locator("#pq-reply-answer .pq-verdict").inner_text().startswith(
        "Yes, according to the AI product image generator privacy policy")

    page.fill("#pq-reply-q textarea", "How long do you keep my images?")
    page.click("#pq-reply-btn")
    page.locator("#pq-reply-answer .pq-answer").wait_for()
    # the reply to this question, not the one before it still in the box
    page.wait_for_function("(v => v.includes('Sources') && !v.startsWith('Yes, according to'))"
                           "(document.querySelector('#pq-reply-text textarea').value)")
    reply = page.input_value("#pq-reply-text textarea")
    assert re.search(r"\nSources:\n\[1\] .+, last updated 20\d\d-\d\d-\d\d\n", reply), reply
    assert "class=" not in reply and "do not answer" not in reply, reply  # plain text, no related clauses
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page.click("#pq-reply-copy")
    page.wait_for_function("navigator.clipboard.readText().then(t => t.length > 0)")
    assert page.evaluate("navigator.clipboard.readText()") == reply


def test_desk_upload_adds_a_policy(page, site, tmp_path):
    base, _ = site
    f = tmp_path / "acme-help.txt"
    f.write_text("Acme Privacy Policy\n\nLast updated: 2025-05-05\n\n1. Retention\n\n"
                 "We delete uploaded images after 14 days.\n", "utf-8")
    page.goto(base + "/")
    page.get_by_role("tab", name="Support desk").click()
    page.get_by_role("tab", name="Add or replace a policy").click()
    page.set_input_files("#pq-upload-file input[type=file]", str(f))
    page.fill("#pq-upload-token input", "wrong")
    page.click("#pq-upload-btn")
    page.locator("#pq-upload-out", has_text="Wrong or missing admin token").wait_for()
    page.fill("#pq-upload-token input", ADMIN_TOKEN)
    page.click("#pq-upload-btn")
    page.locator("#pq-upload-out", has_text="Added").wait_for()
    assert "acme-help" in page.locator("#pq-upload-out").inner_text()
    name = httpx.get(f"{base}/api/policies/acme-help").json()["name"]

    # without a reload, every policy picker offers it, and answers from it
    for tab, picker in (("Reply to a ticket", "pq-reply-policy"), ("Search clauses", "pq-search-policy")):
        page.get_by_role("tab", name=tab).click()
        page.click(f"#{picker} input")
        # the options of this picker only: another picker's list may still be closing
        options = page.locator(f"#{picker} li[role=option]")
        options.first.wait_for()
        assert options.filter(has_text=name).count() == 1, tab
        page.keyboard.press("Escape")
        options.first.wait_for(state="hidden")
    page.get_by_role("tab", name="Ask").click()
    pick(page, "pq-chat-policy", name)
    answer = ask_in_chat(page, "How long do you keep uploaded images?")
    assert cited_policies(answer) == {"acme-help"}


def contrast_failures(page) -> list[str]:
    """axe-core's WCAG AA colour-contrast check of the page as shown (axe-core comes with the
    axe-playwright-python package and is run in the page: nothing is fetched)."""
    import axe_playwright_python

    page.evaluate((Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text("utf-8"))
    return page.evaluate("""axe.run(document, {runOnly: ['color-contrast']}).then(r => r.violations.flatMap(
        v => v.nodes.map(n => n.target.join(' ') + ': ' + n.any.map(a => a.message).join('; '))))""")


def test_every_page_meets_wcag_aa_contrast(page, site):
    base, _ = site
    seen = {}
    page.goto(base + "/")
    ask_in_chat(page, "Is my data sent to China?")
    seen["chat"] = contrast_failures(page)
    # one complete face for every weight: the system's, no bundled partial face (semibold had few glyphs)
    assert page.evaluate("getComputedStyle(document.querySelector('#pq-ask')).fontFamily").startswith("system-ui")
    assert page.evaluate("[...document.fonts].filter(f => f.status === 'loaded').map(f => f.family)") == []
    page.get_by_role("tab", name="Support desk").click()
    # the tab has mounted (with its default question) before the question is replaced; the table
    # is read once it answers the new one, "Not addressed" rows on their tint among them
    page.wait_for_function("document.querySelector('#pq-compare-q textarea')?.value === 'Where is my data processed?'")
    page.fill("#pq-compare-q textarea", "Is my data sent to China?")
    page.click("#pq-compare-btn")
    page.locator("#pq-compare-out", has_text="sent to China?").wait_for()
    assert page.locator("#pq-compare-out tr.pq-row-no").count() >= 1
    seen["desk: compare"] = contrast_failures(page)
    page.get_by_role("tab", name="Search clauses").click()
    page.fill("#pq-search-q textarea", "delete my account")
    page.click("#pq-search-btn")
    page.locator("#pq-search-out li.pq-hit").first.wait_for()
    seen["desk: search"] = contrast_failures(page)
    page.get_by_role("tab", name="Reply to a ticket").click()
    page.fill("#pq-reply-q textarea", "How long do you keep my images?")
    page.click("#pq-reply-btn")
    page.locator("#pq-reply-answer .pq-cite").first.wait_for()
    seen["desk: reply"] = contrast_failures(page)
    aligned = page.evaluate("[...document.querySelectorAll('#pq-reply-answer :is(p, .pq-cite-link, .pq-cite-head, "
                            ".pq-quote)')].map(e => getComputedStyle(e).textAlign)")
    assert set(aligned) <= {"left", "start"}, "the reply's quotes are not centred"
    page.get_by_role("tab", name="Add or replace a policy").click()
    page.locator("#pq-upload-token").wait_for()
    seen["desk: upload"] = contrast_failures(page)
    for theme in ("light", "dark"):
        page.goto(f"{base}/widget?policy=product-image-gen&theme={theme}")
        widget_answer(page, "Is my data sent to China?")
        seen[f"widget, {theme}"] = contrast_failures(page)
    page.goto(f"{base}/policy/product-image-gen?start=0&end=40#hl")
    seen["policy viewer"] = contrast_failures(page)
    page.goto(base + "/docs")
    page.locator(".opblock").first.wait_for()
    seen["/docs"] = contrast_failures(page)

    page.emulate_media(color_scheme="dark")  # a visitor whose system is dark: Gradio's dark theme
    page.goto(base + "/")
    ask_in_chat(page, "Is my data sent to China?")
    seen["chat, dark"] = contrast_failures(page)
    page.get_by_role("tab", name="Support desk").click()
    # the tab has mounted (with its default question) before the question is replaced
    page.wait_for_function("document.querySelector('#pq-compare-q textarea')?.value === 'Where is my data processed?'")
    page.fill("#pq-compare-q textarea", "Do you collect biometric data?")  # "Not addressed" rows too
    page.click("#pq-compare-btn")
    page.locator("#pq-compare-out", has_text="biometric data?").wait_for()
    seen["desk: compare, dark"] = contrast_failures(page)
    assert {where: found for where, found in seen.items() if found} == {}


def test_desk_fits_a_390_px_phone(browser, site):
    base, _ = site
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(base + "/")
        page.get_by_role("tab", name="Support desk").click()
        page.click("#pq-compare-btn")
        page.locator("#pq-compare-out table.pq-compare").wait_for()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        for tab, field in (("Search clauses", "#pq-search-q"), ("Reply to a ticket", "#pq-reply-q"),
                           ("Add or replace a policy", "#pq-upload-token")):
            button = page.get_by_role("tab", name=tab)
            if button.is_visible():
                button.click()
            else:  # Gradio folds the tabs that do not fit into its "More tabs" menu
                page.locator("#pq-desk-tab button[aria-label='More tabs']").click()
                page.locator("#pq-desk-tab .overflow-dropdown button", has_text=tab).click()
            page.locator(field).wait_for()
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, tab
        page.get_by_role("tab", name="Ask").click()
        bar, hint = page.locator("#pq-chat-policy").bounding_box(), page.locator("#pq-chat-hint").bounding_box()
        assert hint["y"] >= bar["y"] + bar["height"] - 1 and hint["width"] >= 300  # under the picker, not squeezed
    finally:
        context.close()


# ------------------------------------------------------------------ programs: the REST API's docs
def test_rest_api_docs_render_from_our_own_server(page, site):
    base, _ = site
    page.goto(base + "/")
    with page.context.expect_page() as popup:
        page.locator("#pq-header a", has_text="REST API").click()
    docs = popup.value
    docs.locator(".opblock-summary-path", has_text="/api/ask").first.wait_for()
    paths = set(docs.locator(".opblock-summary-path").all_text_contents())
    assert {"/api/ask", "/api/widget/{policy}/ask", "/api/policies", "/healthz"} <= paths
    assert docs.locator(".info .title").inner_text().startswith("policyqa")
    assert page.outside == [], "no asset from a CDN"


# ------------------------------------------------------------------ site owners: the widget
def widget_answer(frame, question: str):
    frame.locator("#q").fill(question)
    frame.locator("#q").press("Enter")
    bot = frame.locator(".msg.bot").last
    frame.locator(".msg.bot.answerable, .msg.bot.unaddressed, .msg.bot.error").last.wait_for()
    assert bot.locator(".cite").count(), f"no citations in the widget's answer: {bot.inner_text()!r}"
    return bot


def test_widget_in_an_iframe_on_another_origin(page, site):
    base, third = site
    page.goto(f"http://127.0.0.1:{third}/iframe.html")
    frame = page.frame_locator("#help")
    bot = widget_answer(frame, "Is my data sent to China?")
    api = httpx.post(f"{base}/api/ask", json={"question": "Is my data sent to China?",
                                              "policy": "product-image-gen"}).json()
    assert ("answerable" if api["answerable"] else "unaddressed") in bot.get_attribute("class").split()
    shown = {n for b in api["blocks"] for q in b["quotes"] for n in [q["n"], *q["items"]]}
    assert bot.locator(".cite").count() == len(shown)  # every quote the blocks show, once
    assert {c.get_attribute("data-policy") for c in bot.locator(".cite").all()} == {"product-image-gen"}
    text = httpx.get(f"{base}/api/policies/product-image-gen").json()["text"]
    for quote in bot.locator(".cite .quote").all():
        assert quote.inner_text() in text
    assert page.outside == []


def test_widget_renders_from_the_structured_fields(page, site):
    """The widget draws the verdict line and the quotes from `blocks` and `citations`: with the
    JSON's `answer` text taken out on the way, the same answer appears."""
    base, third = site
    seen = []

    def without_text(route):
        data = route.fetch().json()
        seen.append(data)
        route.fulfill(json={k: v for k, v in data.items() if k != "answer"})

    page.route("**/api/widget/*/ask", without_text)
    page.goto(f"http://127.0.0.1:{third}/iframe.html")
    bot = widget_answer(page.frame_locator("#help"), "Is my data sent to China?")
    [data] = seen
    [verdict] = [b for b in data["blocks"] if b["kind"] == "verdict"]
    assert verdict["reply"] == "yes"
    n = verdict["quotes"][0]["n"]  # its marker before the final stop, as a link
    assert bot.locator(".verdict").inner_text() == f"{verdict['text'][:-1]} {n}."
    assert bot.locator(".verdict a.marker").get_attribute("href").startswith("/policy/product-image-gen?start=")
    assert bot.locator(".verdict").inner_text().startswith("Yes, according to the AI product image generator")
    by_n = {c["n"]: c for c in data["citations"]}
    cards = [n for b in data["blocks"] if b["kind"] in ("quotes", "related") for q in b["quotes"]
             for n in [q["n"], *q["items"]]]
    assert [q.inner_text() for q in bot.locator(".cite .quote").all()] == [by_n[n]["quote"] for n in cards]
    assert verdict["quotes"][0]["n"] in cards  # the verdict rests on a quote the answer shows


def test_widget_by_script_tag(page, site):
    base, third = site
    page.goto(f"http://127.0.0.1:{third}/script.html")
    page.locator("[data-policyqa-widget] .pq-btn").click()  # Playwright pierces the open shadow root
    frame = page.frame_locator("[data-policyqa-widget] iframe")
    assert frame.locator("html").get_attribute("data-theme") == "dark"
    bot = widget_answer(frame, "Is my data sent to China?")
    assert {c.get_attribute("data-policy") for c in bot.locator(".cite").all()} == {"product-image-gen"}
    assert page.outside == []


def open_panel(page):
    page.locator("[data-policyqa-widget] .pq-btn").click()
    frame = page.frame_locator("[data-policyqa-widget] iframe")
    frame.locator("#q").wait_for()
    return frame


def test_widget_closes_by_its_button_and_by_escape(page, site):
    _, third = site
    page.goto(f"http://127.0.0.1:{third}/script.html")
    panel, launcher = page.locator("[data-policyqa-widget] .pq-panel"), page.locator("[data-policyqa-widget] .pq-btn")
    frame = open_panel(page)
    assert panel.is_visible() and launcher.get_attribute("aria-expanded") == "true"
    frame.get_by_role("button", name="Close").click()  # the button inside the (cross-origin) panel
    panel.wait_for(state="hidden")
    assert launcher.get_attribute("aria-expanded") == "false"
    assert page.evaluate("document.activeElement.getAttribute('data-policyqa-widget')") == "product-image-gen"

    launcher.click()
    panel.wait_for(state="visible")
    frame.locator("#q").click()  # typing in the panel: Escape there closes it too
    page.keyboard.press("Escape")
    panel.wait_for(state="hidden")

    launcher.click()
    panel.wait_for(state="visible")
    page.locator("h1").click()  # and Escape on the page itself
    page.keyboard.press("Escape")
    panel.wait_for(state="hidden")

    page.goto(f"http://127.0.0.1:{third}/iframe.html")  # inline, nothing to close: no close button
    frame = page.frame_locator("#help")
    frame.locator("#q").wait_for()
    assert frame.locator("#close").count() == 0


def test_widget_configured_by_data_attributes(page, site):
    base, third = site
    page.goto(f"http://127.0.0.1:{third}/configured.html")
    launcher = page.locator("[data-policyqa-widget] .pq-btn")
    assert launcher.inner_text() == "¿Preguntas de privacidad?"
    assert launcher.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(11, 122, 62)"
    assert launcher.evaluate("b => getComputedStyle(b).color") == "rgb(255, 255, 255)"  # white reads on dark green
    assert launcher.bounding_box()["x"] < 100  # data-position="left"
    frame = open_panel(page)
    assert page.locator("[data-policyqa-widget] .pq-panel").bounding_box()["x"] < 100
    assert frame.locator("html").get_attribute("lang") == "es"
    assert frame.locator(".w-title").inner_text() == "Acme <b>ayuda</b>"  # the owner's title, as text
    assert frame.locator(".w-title b").count() == 0
    assert frame.locator(".w-hello p").inner_text() == "Hola: pregunte sobre sus datos."
    assert frame.locator("#q").get_attribute("placeholder") == "Pregunte sobre sus datos…"
    assert frame.locator("#close").get_attribute("aria-label") == "Cerrar"
    send = frame.locator("#send")
    assert send.inner_text() == "Preguntar"
    assert send.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(11, 122, 62)"
    bot = widget_answer(frame, "¿Cuánto tiempo guardan mis imágenes?")
    assert bot.locator(".cite .n").first.evaluate("n => getComputedStyle(n).backgroundColor") == "rgb(11, 122, 62)"
    assert page.outside == []

    # the same settings as query parameters of /widget; an accent that is not a colour is ignored
    page.goto(f"{base}/widget?policy=figure-gen&title=Help&greeting=Hi&lang=de&accent=red;x:1")
    assert page.locator(".w-title").inner_text() == "Help" and page.locator(".w-hello p").inner_text() == "Hi"
    assert page.locator("#send").inner_text() == "Fragen" and page.locator("html").get_attribute("lang") == "de"
    assert page.locator("html").get_attribute("data-accent") is None
    assert page.locator("#send").evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(47, 91, 234)"


def test_the_help_page_example_works_as_documented(page, site):
    _, third = site
    page.goto(f"http://127.0.0.1:{third}/help-page.html")
    launcher = page.locator("[data-policyqa-widget] .pq-btn")
    assert launcher.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(11, 122, 62)"
    assert launcher.bounding_box()["x"] < 100
    frame = open_panel(page)
    assert frame.locator(".w-title").inner_text() == "Acme privacy help"
    assert frame.locator(".w-hello p").inner_text() == "Hi! Ask how Acme handles your photos."
    assert frame.locator(".chip").count() >= 1
    inline = page.frame_locator("aside iframe")
    assert inline.locator(".w-title").inner_text() == "Privacy questions"
    assert page.outside == []


def test_widget_suggests_questions_its_own_policy_answers(page, site):
    from qa.suggest import candidate_questions

    base, _ = site
    shown = {}
    for pid in ("antiai-pics", "cloudflare-image-gen", "figure-gen", "image-video-gen", "product-image-gen"):
        page.goto(f"{base}/widget?policy={pid}")
        shown[pid] = [c.inner_text() for c in page.locator(".chip").all()]
        assert 1 <= len(shown[pid]) <= 3, (pid, shown[pid])
        sections = [s["title"] for s in httpx.get(f"{base}/api/policies/{pid}").json()["sections"]]
        for q in candidate_questions([t.split(" > ")[0] for t in sections]):
            answerable = httpx.post(f"{base}/api/widget/{pid}/ask", json={"question": q}).json()["answerable"]
            assert answerable or q not in shown[pid], (pid, q)  # a refused question is never suggested
        assert set(shown[pid]) <= set(candidate_questions(sections)), "drawn from the policy's own sections"
    assert len({tuple(qs) for qs in shown.values()}) > 1, "not the same questions for every policy"

    for lang in ("es", "ja"):  # in the widget's language, checked the same way
        page.goto(f"{base}/widget?policy=antiai-pics&lang={lang}")
        chips = [c.inner_text() for c in page.locator(".chip").all()]
        assert chips and set(chips) <= set(candidate_questions(
            [s["title"] for s in httpx.get(f"{base}/api/policies/antiai-pics").json()["sections"]], lang))
        for q in chips:
            assert httpx.post(f"{base}/api/widget/antiai-pics/ask", json={"question": q}).json()["answerable"], q

    page.goto(f"{base}/widget?policy=figure-gen")  # and asked in the widget, each is answered
    for i in range(len(shown["figure-gen"])):
        if i:
            page.reload()
        page.locator(".chip").nth(i).click()
        page.locator(".msg.bot.answerable, .msg.bot.unaddressed, .msg.bot.error").last.wait_for()
        assert "answerable" in page.locator(".msg.bot").last.get_attribute("class").split()


def test_widget_error_names_no_other_hosted_policy(page, site):
    base, _ = site
    page.goto(f"{base}/widget?policy=product-image-gne")
    api = httpx.post(f"{base}/api/widget/product-image-gne/ask", json={"question": "Is my data sold?"})
    assert api.status_code == 404
    for text in (page.locator("body").inner_text(), api.text):
        assert "'product-image-gne' is not available" in text and "data-policy" in text
        for pid in ("antiai-pics", "cloudflare-image-gen", "figure-gen", "image-video-gen", HOSTILE_ID):
            assert pid not in text


def test_widget_says_when_it_cannot_read_the_question(page, site):
    base, third = site
    page.goto(f"http://127.0.0.1:{third}/iframe.html")
    bot = widget_answer(page.frame_locator("#help"), "내 데이터가 중국으로 전송되나요?")
    assert "unaddressed" in bot.get_attribute("class").split()
    assert bot.locator(".label").inner_text().lower() == "question language not supported"
    assert "does not mean" in bot.inner_text()


def test_widget_refuses_an_origin_not_listed(page, site):
    _, third = site
    refused = []
    page.on("console", lambda m: refused.append(m.text) if "frame-ancestors" in m.text else None)
    page.goto(f"http://localhost:{third}/iframe.html")  # same files, another origin
    page.wait_for_timeout(1500)
    child = [f for f in page.frames if f != page.main_frame]
    assert child and child[0].url.startswith("chrome-error://") or refused
    assert refused, "Chromium reports the frame-ancestors refusal"


# ------------------------------------------------------------------ hostile policy text
def test_hostile_policy_text_is_shown_as_text(page, site):
    base, third = site
    page.goto(f"{base}/api/policies/{HOSTILE_ID}")
    text = page.evaluate("JSON.parse(document.body.innerText).text")
    start, end = text.index("Uploaded photos"), text.index("deleted.") + len("deleted.")
    page.goto(f"{base}/policy/{HOSTILE_ID}?start={start}&end={end}#hl")
    assert page.locator("h1").inner_text() == HOSTILE_NAME
    body = page.locator("article").inner_text()
    assert "<script>window.pwned=1</script>" in body and '<svg onload="window.pwned=1"></svg>' in body
    assert '<img src=x onerror="window.pwned=1">' in page.locator("mark#hl").inner_text()
    assert page.locator("body img, body script, body svg, article b").count() == 0
    assert page.evaluate("typeof window.pwned") == "undefined"

    # the widget: every line of the policy carries markup, so every quote must show some as text
    page.goto(f"http://127.0.0.1:{third}/hostile.html")
    frame = page.frame_locator("#help")
    bot = widget_answer(frame, "How long are uploaded photos stored?")
    quotes = [q.inner_text() for q in bot.locator(".cite .quote").all()]
    assert quotes and all("<" in q and ">" in q for q in quotes), quotes
    assert bot.locator("img, script, svg, b").count() == 0
    widget = [f for f in page.frames if "/widget" in f.url][0]
    assert HOSTILE_NAME in widget.locator(".w-sub").inner_text()
    assert widget.evaluate("typeof window.pwned") == "undefined"

    # the chat, scoped to the hostile policy through its (hostile) name in the picker
    page.goto(base + "/")
    pick(page, "pq-chat-policy", "Hostile")
    answer = ask_in_chat(page, "Do you collect my email address?")
    quotes = [q.inner_text() for q in answer.locator(".pq-quote").all()]
    assert quotes and all("<" in q and ">" in q for q in quotes), quotes
    assert HOSTILE_NAME in answer.inner_text()
    assert answer.locator("script, img, svg, b, strong, a[href^='http://203']").count() == 0
    page.wait_for_timeout(300)
    assert page.evaluate("typeof window.pwned") == "undefined"
    assert page.outside == [], "no remote image or link was loaded"


# ------------------------------------------------------------------ the optional LLM writer, everywhere
WRITTEN = "Yes: your image prompts may be processed in China [1]."


@pytest.fixture(scope="module")
def llm_site(tmp_path_factory):
    """A server whose settings name an LLM: a LangChain fake chat model, registered as a provider."""
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from qa import llm
    from web import create_app

    model = FakeListChatModel(responses=[WRITTEN])
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(llm.PROVIDERS, "fake", lambda name, settings: model)
        store = build_store(tmp_path_factory.mktemp("llm"), with_hostile=False)
        with running(create_app(settings_for(store, llm="fake:grounded"))) as base:
            yield base


def test_a_configured_llm_writes_the_answer_of_the_api_the_widget_and_the_chat(page, llm_site):
    body = {"question": "Is my data sent to China?"}
    for url, json in ((f"{llm_site}/api/ask", {**body, "policy": "product-image-gen"}),
                      (f"{llm_site}/api/widget/product-image-gen/ask", body)):
        ans = httpx.post(url, json=json, timeout=60).json()
        assert ans["writer"] == "llm:fake:grounded", ans
        assert ans["answer"].split("\n")[0] == WRITTEN
        assert ans["blocks"][0] == {"kind": "written", "text": WRITTEN.replace(" [1]", ""), "policy": None,
                                    "quotes": [{"n": 1, "items": [], "more": 0}]}
        assert "China" in next(c["quote"] for c in ans["citations"] if c["n"] == 1)
    page.goto(llm_site + "/")
    pick(page, "pq-chat-policy", "AI product image generator")
    answer = ask_in_chat(page, "Is my data sent to China?")
    assert answer.locator(".pq-written-text").inner_text() == WRITTEN.replace("[1]", "1")
    assert answer.locator(".pq-written-text a.pq-marker").get_attribute("href").startswith("/policy/product-image-gen?")
