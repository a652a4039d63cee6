"""Screenshots for the README: the chat, the desk and the widget, taken from the real app.

    python benchmarks/screenshots.py [--out docs]

Starts `python app.py` on the bundled corpus (a fresh store in a temp dir), serves
examples/help-page.html from a second local port (the "third-party" site), and drives Debian's
Chromium with Playwright. Writes chat.png, desk.png, widget.png and widget-button.png."""
from __future__ import annotations

import argparse
import functools
import http.server
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(store: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--store", str(store)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            if httpx.get(base + "/healthz").status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("app.py did not start")
        time.sleep(0.2)


def serve_help_page(folder: Path, base: str) -> tuple[http.server.HTTPServer, int]:
    page = (ROOT / "examples" / "help-page.html").read_text("utf-8").replace("http://127.0.0.1:7860", base)
    (folder / "help-page.html").write_text(page, "utf-8")
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    port = free_port()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, port


def shoot(base: str, site: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 940}, device_scale_factor=1)
        page.set_default_timeout(60_000)

        page.goto(base + "/")
        page.fill("#pq-question textarea", "Is my data sent to China?")
        page.keyboard.press("Enter")
        page.locator("#pq-chatbot .pq-answer .pq-cite").first.wait_for()
        page.wait_for_timeout(600)
        page.evaluate("""() => { const m = [...document.querySelectorAll('#pq-chatbot .message-row')];
                                 if (m.length) m[m.length - 2].scrollIntoView(); }""")
        page.wait_for_timeout(300)
        page.screenshot(path=str(out / "chat.png"))

        page.get_by_role("tab", name="Support desk").click()
        page.click("#pq-compare-btn")
        page.locator("#pq-compare-out table.pq-compare").wait_for()
        page.wait_for_timeout(400)
        page.screenshot(path=str(out / "desk.png"), full_page=True)

        page.goto(f"{site}/help-page.html")
        frame = page.frame_locator("iframe[title='Privacy questions']").first
        frame.locator("#q").fill("Is my data sent to China?")
        frame.locator("#q").press("Enter")
        frame.locator(".msg.bot .cite").first.wait_for()
        page.wait_for_timeout(400)
        page.screenshot(path=str(out / "widget.png"))

        page.goto(f"{site}/help-page.html")
        page.locator("[data-policyqa-widget] .pq-btn").click()
        panel = page.frame_locator("[data-policyqa-widget] iframe")
        panel.locator("#q").fill("How long do you keep my images?")
        panel.locator("#q").press("Enter")
        panel.locator(".msg.bot.answerable, .msg.bot.unaddressed").first.wait_for()
        page.wait_for_timeout(400)
        page.screenshot(path=str(out / "widget-button.png"))
        browser.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pq-shots-") as tmp:
        tmp = Path(tmp)
        proc, base = start_app(tmp / "store")
        site_dir = tmp / "site"
        site_dir.mkdir()
        httpd, port = serve_help_page(site_dir, base)
        try:
            shoot(base, f"http://127.0.0.1:{port}", args.out)
        finally:
            httpd.shutdown()
            proc.terminate()
            proc.wait(timeout=30)
    for name in ("chat", "desk", "widget", "widget-button"):
        print(f"{args.out / (name + '.png')}: {os.path.getsize(args.out / (name + '.png')):,} bytes")


if __name__ == "__main__":
    main()
