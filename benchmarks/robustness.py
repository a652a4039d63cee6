"""The reliability campaign of issue #12 against a real `policyqa serve` and the CLI, on loopback
only, bounded in count and time; prints one table, each row beside a baseline from the same run.

    python benchmarks/robustness.py [--seconds 60] [--fuzz 2000] [--files 200] [--kills 100]
                                    [--large-units 40000] [--only load,fuzz,...]

Campaigns (clients are told apart by their loopback address, 127.x.y.z):
  load    50 REST clients for --seconds on /api/ask and 20 on the chat, each asking, reading the
          answer and thinking 1 s (errors, p50/p95, the server's peak RSS); baseline: one client
  fuzz    --fuzz malformed questions and bodies over REST, the widget, the chat and the CLI
          (5xx, tracebacks in the server's log or the CLI's stderr, connection resets)
  files   --files malformed or oversized files ingested by one `policyqa ingest` (crashes,
          tracebacks, files over 60 s or 1 GB, policies lost); baseline: the worst files read
          without the caps, each stopped after 60 s
  kills   --kills ingests killed 0-25 ms after Chroma starts rewriting its index (stores broken,
          policies lost); baseline: whether Chroma alone can still read each store
  serving `policyqa ingest` into a served store, five times, while 10 clients ask (errors; the
          server answers from the new version)
  flood   one address flooding /api/ask from 32 connections beside 10 ordinary clients (429s to
          the flooder, the others' p95); baseline: the same 10 clients alone
  large   one policy of --large-units units (caps raised) beside the bundled five (ingest, every
          policy answerable, a restart)
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the tests' helpers: kills, hostile files, the chat client

from crashes import ingest_command, kill_at_index_write, synthetic_policy  # noqa: E402
import hostile  # noqa: E402
from webserver import chat, free_port  # noqa: E402

CORPUS = ROOT / "corpus"
SEEDS = sorted(p.stem for p in CORPUS.glob("*.txt"))
QUESTIONS = ["Is my data sent to China?", "Will my photos be used to train AI?", "How long do you keep my images?",
             "Do you sell my data?", "Who processes my payments?", "Do you use cookies?", "Is my data encrypted?"]
TOKEN = "robustness-token"
ROWS: list[tuple[str, str, str, str, str]] = []  # campaign, measure, baseline, policyqa, target


def row(campaign, measure, baseline, ours, target=""):
    ROWS.append((campaign, measure, str(baseline), str(ours), target))
    print(f"  {campaign:8} {measure:44} {baseline!s:>22} {ours!s:>24}  {target}", flush=True)


def pct(xs, q):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def ms(xs):
    return f"{pct(xs, .5) * 1000:.0f} / {pct(xs, .95) * 1000:.0f} ms" if xs else "-"


def cli(*args, env=None, timeout=600, input_bytes=None):
    return subprocess.run([sys.executable, "-m", "policyqa", *args], cwd=ROOT, capture_output=True,
                          timeout=timeout, env={**os.environ, **(env or {})}, input=input_bytes)


def build_store(path: Path, extra: list[Path] = ()) -> Path:
    r = cli("ingest", str(CORPUS), *map(str, extra), "--store", str(path), "--json")
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    return path


class Server:
    """`policyqa serve` in its own process; its log, its RSS."""

    def __init__(self, store: Path, log: Path, **settings):
        self.port, self.log = free_port(), log
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, **{f"POLICYQA_{k.upper()}": str(v) for k, v in settings.items()}}
        self._fh = open(log, "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "policyqa", "serve", "--port", str(self.port),
                                      "--store", str(store)], cwd=ROOT, env=env, stdout=self._fh,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 300
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start in 300 s")
            time.sleep(0.2)
        self.peak_rss = 0
        self._stop = threading.Event()
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self):
        while not self._stop.is_set():
            self.peak_rss = max(self.peak_rss, rss_mb(self.proc.pid))
            time.sleep(0.25)

    def tracebacks(self) -> int:
        return self.log.read_text(errors="replace").count("Traceback")

    def stop(self) -> int:
        self._stop.set()
        self.proc.terminate()
        try:
            code = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._fh.close()
        return code


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """A process's resident memory now (VmRSS) or at its peak (VmHWM), in MB; 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


@contextmanager
def serving(store: Path, log: Path, **settings):
    server = Server(store, log, **settings)
    try:
        yield server
    finally:
        server.stop()


def client(url: str, address: str, timeout: float = 60) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=timeout, transport=httpx.HTTPTransport(local_address=address))


def address(group: int, i: int) -> str:
    return f"127.{group}.{i // 250}.{i % 250 + 1}"


# --------------------------------------------------------------------------- load
def users(url: str, n_rest: int, n_chat: int, seconds: float, group: int, think: float = 1.0,
          chat_group: int | None = None) -> dict:
    """n_rest REST and n_chat chat users for `seconds`: each asks, reads the answer, thinks."""
    out = {"rest": [], "chat": [], "rest_err": [], "chat_err": []}
    stop = time.monotonic() + seconds
    lock = threading.Lock()

    def rest_user(i):
        rng = random.Random(i)
        with client(url, address(group, i)) as c:
            while time.monotonic() < stop:
                body = {"question": rng.choice(QUESTIONS), "policy": rng.choice(SEEDS + [None])}
                t0 = time.perf_counter()
                try:
                    r = c.post("/api/ask", json=body)
                    ok = r.status_code == 200
                    err = None if ok else f"HTTP {r.status_code}"
                except httpx.HTTPError as exc:
                    ok, err = False, type(exc).__name__
                with lock:
                    (out["rest"] if ok else out["rest_err"]).append(time.perf_counter() - t0 if ok else err)
                time.sleep(think * rng.uniform(0.5, 1.5))

    def chat_user(i):
        rng = random.Random(1000 + i)
        with client(url, address(chat_group or group + 1, i)) as c:
            while time.monotonic() < stop:
                t0 = time.perf_counter()
                try:
                    status, _ = chat(c, rng.choice(QUESTIONS), rng.choice(SEEDS + [""]))
                    ok, err = status == 200, f"status {status}"
                except httpx.HTTPError as exc:
                    ok, err = False, type(exc).__name__
                with lock:
                    (out["chat"] if ok else out["chat_err"]).append(time.perf_counter() - t0 if ok else err)
                time.sleep(think * rng.uniform(0.5, 1.5))

    threads = [threading.Thread(target=rest_user, args=(i,)) for i in range(n_rest)]
    threads += [threading.Thread(target=chat_user, args=(i,)) for i in range(n_chat)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def campaign_load(tmp: Path, args):
    store = build_store(tmp / "load-store")
    with serving(store, tmp / "load.log") as server:
        alone = users(server.url, 1, 1, min(15, args.seconds), group=10)
        crowd = users(server.url, 50, 20, args.seconds, group=11, chat_group=12)
        row("load", f"REST: errors (of answers) over {args.seconds:g} s", f"{len(alone['rest_err'])} (1 client)",
            f"{len(crowd['rest_err'])} of {len(crowd['rest']) + len(crowd['rest_err'])}", "0")
        row("load", "REST: p50 / p95", ms(alone["rest"]), ms(crowd["rest"]), "p95 < 1 s")
        row("load", "chat: errors (of answers)", f"{len(alone['chat_err'])} (1 client)",
            f"{len(crowd['chat_err'])} of {len(crowd['chat']) + len(crowd['chat_err'])}", "0")
        row("load", "chat: p50 / p95 (streamed to the end)", ms(alone["chat"]), ms(crowd["chat"]))
        row("load", "server peak RSS", "", f"{server.peak_rss:.0f} MB")
        row("load", "tracebacks in the server's log", "", server.tracebacks(), "0")
        if crowd["rest_err"] or crowd["chat_err"]:
            print("    errors seen:", sorted(set(map(str, crowd["rest_err"] + crowd["chat_err"])))[:10])


# --------------------------------------------------------------------------- fuzz
NASTY = ["\ud800", "\udfff", "\ud83d\ude00", "\x00", "\x1b[31m", "\u202e", "\ufeff", "\U0010ffff", "﷽", "\r\n\r\n",
         "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "{{7*7}}", "%s%s%n", "' OR 1=1 --",
         "../../etc/passwd", "\\", '"', "😀" * 40, "ｄａｔａ", "数据", "données", "\t", " " * 300, "\u0301" * 50]


def fuzz_text(rng: random.Random) -> str:
    base = rng.choice(QUESTIONS + [""])
    parts = [base] + [rng.choice(NASTY) for _ in range(rng.randint(0, 4))]
    rng.shuffle(parts)
    text = "".join(parts)
    if rng.random() < 0.05:
        text *= rng.choice([50, 300])  # over the 2,000-character limit
    return text


def fuzz_body(rng: random.Random) -> tuple[bytes, str]:
    """A request body for /api/ask: mostly JSON with odd text, sometimes odd JSON or none."""
    kind = rng.random()
    policy = rng.choice(SEEDS + [None, "", "nope", "../x", "\ud800", "a" * 5000, 7, [], {}])
    question = fuzz_text(rng)
    if kind < 0.55:
        body = json.dumps({"question": question, "policy": policy})
    elif kind < 0.7:
        body = json.dumps({"question": rng.choice([42, None, [], {}, True, 1e300, [question]]), "policy": policy})
    elif kind < 0.8:
        body = json.dumps({"question": question, "policies": [policy], "x": {"y": [1] * 10}})
    elif kind < 0.88:
        body = rng.choice(["{", "[" * 5000, '{"question": "a"' * 100, "null", '"just a string"', "", "{}",
                           '{"question": NaN}', '{"question": "\\ud800\\udc00\\ud800"}'])
    elif kind < 0.94:
        body = json.dumps({"question": "x" * rng.choice([100_000, 300_000])})  # 413 either way
    else:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 400))), "application/json"
    return body.encode(), rng.choice(["application/json"] * 8 + ["text/plain", "application/x-www-form-urlencoded"])


def campaign_fuzz(tmp: Path, args):
    store = build_store(tmp / "fuzz-store")
    rng = random.Random(12)
    n_rest, n_widget, n_chat, n_batch = (int(args.fuzz * f) for f in (0.4, 0.2, 0.1, 0.3))
    codes: dict[int, int] = {}
    resets = chat_fail = 0
    with serving(store, tmp / "fuzz.log") as server:
        for i in range(n_rest + n_widget):
            body, ctype = fuzz_body(rng)
            path = "/api/ask" if i < n_rest else f"/api/widget/{rng.choice(SEEDS + ['nope', '%00'])}/ask"
            if i >= n_rest and rng.random() < 0.8:  # the widget's body holds only the question
                body = json.dumps({"question": fuzz_text(rng)}).encode()
            with client(server.url, address(20, i % 2000)) as c:
                try:
                    r = c.post(path, content=body, headers={"content-type": ctype})
                    codes[r.status_code] = codes.get(r.status_code, 0) + 1
                except httpx.HTTPError:
                    resets += 1
        for i in range(n_chat):
            with client(server.url, address(21, i)) as c:
                try:
                    status, text = chat(c, fuzz_text(rng), rng.choice(SEEDS + [""]))
                    chat_fail += status >= 500
                    codes[status] = codes.get(status, 0) + 1
                except httpx.HTTPError:
                    resets += 1
        server_tb = server.tracebacks()
    # the CLI: one batch of fuzzed lines, and single questions whose arguments are not UTF-8
    lines = []
    for _ in range(n_batch):
        k = rng.random()
        if k < 0.6:
            lines.append(json.dumps({"id": len(lines), "question": fuzz_text(rng),
                                     "policy": rng.choice(SEEDS + [None, "nope", 3, ["x"]])}).encode())
        elif k < 0.8:
            lines.append(bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 200))).replace(b"\n", b" "))
        else:
            lines.append(rng.choice([b"[" * 50_000, b"{", b'{"question": 42}', b"null", b'{"id": {}}', b"\xff\xfe{}"]))
    lines = [ln for ln in lines if ln.strip()]
    batch = tmp / "fuzz.jsonl"
    batch.write_bytes(b"\n".join(lines) + b"\n")
    r = cli("ask", "--batch", str(batch), "--store", str(store), "--json")
    out = r.stdout.decode("utf-8", "replace").splitlines()
    cli_tb = r.stderr.count(b"Traceback")
    cli_bad = int(r.returncode not in (0, 1)) + int(len(out) != len(lines))
    singles = 10
    for i in range(singles):
        q = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 60))).replace(b"\x00", b"?")
        s = cli("ask", q, "--policy", rng.choice(SEEDS), "--store", str(store), "--json")
        cli_tb += s.stderr.count(b"Traceback")
        cli_bad += s.returncode not in (0, 1)
    total = n_rest + n_widget + n_chat + len(lines) + singles
    five = sum(v for k, v in codes.items() if k >= 500)
    row("fuzz", f"inputs: REST {n_rest}, widget {n_widget}, chat {n_chat}, CLI {len(lines) + singles}", "",
        f"{total}", ">= 2,000")
    row("fuzz", "HTTP status codes seen", "", " ".join(f"{k}:{v}" for k, v in sorted(codes.items())))
    row("fuzz", "5xx / connection resets", "", f"{five} / {resets}", "0 / 0")
    row("fuzz", "tracebacks: server log / CLI stderr", "", f"{server_tb} / {cli_tb}", "0 / 0")
    row("fuzz", "CLI: bad exits or lost batch lines", "", cli_bad, "0")


# --------------------------------------------------------------------------- files
def hostile_files(folder: Path, n: int, rng: random.Random) -> int:
    """n malformed or oversized files, of every supported type."""
    makers = [
        lambda i: (f"bomb-{i}.pdf", hostile.pdf_bomb(rng.choice([50_000, 150_000, 300_000]))),
        lambda i: (f"pages-{i}.pdf", hostile.many_pages_pdf(rng.choice([3, 600]))),
        lambda i: (f"trunc-{i}.pdf", hostile.many_pages_pdf(5)[: rng.randint(10, 400)]),
        lambda i: (f"junk-{i}.pdf", b"%PDF-1.4\n" + bytes(rng.getrandbits(8) for _ in range(rng.randint(10, 5000)))),
        lambda i: (f"deep-{i}.html", hostile.deep_html(rng.choice([300, 1000, 20_000]))),
        lambda i: (f"wide-{i}.html", hostile.many_paragraphs_html(rng.choice([5_000, 100_000]))),
        lambda i: (f"tags-{i}.html", b"<" * rng.randint(1, 200_000)),
        lambda i: (f"bullets-{i}.md", hostile.bullets_md(rng.choice([2_000, 200_000]))),
        lambda i: (f"long-{i}.txt", hostile.long_text(rng.choice([2_000, 75_000]))),
        lambda i: (f"oneline-{i}.txt", b"We keep data " * rng.choice([1_000, 200_000])),
        lambda i: (f"huge-{i}.txt", b"We may share your information.\n" * 400_000),
        lambda i: (f"bin-{i}.txt", bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 3000)))),
        lambda i: (f"nul-{i}.md", b"# Privacy\n\nWe keep\x00 data.\n" * rng.randint(1, 50)),
        lambda i: (f"u32-{i}.txt", "\ufeffPrivacy Policy\n\nWe never sell your data.\n".encode(rng.choice(["utf-32", "utf-16"]))),
        lambda i: (f"latin-{i}.txt", "Données personnelles: nous gardons vos données.".encode("latin-1")),
        lambda i: (f"empty-{i}.html", rng.choice([b"", b"   ", b"<html></html>", b"<script>x</script>"])),
        lambda i: (f"surrogate-{i}.md", b"# P\n\nWe keep \xed\xa0\x80 data.\n"),
        lambda i: (("n" * 240) + f"-{i}.txt", b"Privacy Policy\n\nWe keep data for a day.\n"),
    ]
    for i in range(n):
        name, data = makers[i % len(makers)](i)
        (folder / name).write_bytes(data)
    for name, make in WORST.items():
        (folder / name).write_bytes(make())
    (folder / "link-out.txt").symlink_to("/etc/hostname")
    os.mkfifo(folder / "pipe.txt")
    return n + len(WORST)


def campaign_files(tmp: Path, args):
    from ingest.types import Limits
    from ingest.worker import FileReader

    folder = tmp / "hostile"
    folder.mkdir()
    n = hostile_files(folder, args.files, random.Random(5))
    store = build_store(tmp / "files-store")
    t0 = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    r = cli("ingest", str(folder), "--store", str(store), "--json", timeout=3600)
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    report = json.loads(r.stdout or b"{}")
    reasons: dict[str, int] = {}
    for f in report.get("failed", []):
        key = next((k for k in ("POLICYQA_MAX_CHARS", "POLICYQA_MAX_PAGES", "POLICYQA_MAX_UNITS",
                                "POLICYQA_MAX_FILE_BYTES", "POLICYQA_INGEST_TIMEOUT", "POLICYQA_INGEST_MEMORY_MB")
                    if k in f["error"]), "other (corrupt, binary, empty...)")
        reasons[key] = reasons.get(key, 0) + 1
    # each file on its own, timed, through the same reader; the reader's peak memory
    reader, slowest = FileReader(Limits()), (0.0, "")
    hwm = 0.0
    for f in sorted(folder.iterdir()):
        if not f.is_file() or f.is_symlink():
            continue
        t = time.perf_counter()
        try:
            reader.read(f)
        except Exception:  # noqa: BLE001 - refusals are the point
            pass
        slowest = max(slowest, (time.perf_counter() - t, f.name))
        if reader._proc is not None:
            hwm = max(hwm, rss_mb(reader._proc.pid, "VmHWM"))
    reader.close()
    lost = check_policies(store)
    row("files", f"files: {n}, a link out, a pipe", "", f"{len(report.get('failed', []))} refused, "
        f"{len(report.get('added', []))} added, {len(report.get('skipped', []))} skipped")
    row("files", "refusals by cap", "", "; ".join(f"{k.removeprefix('POLICYQA_')}: {v}" for k, v in sorted(reasons.items())))
    row("files", "ingest: exit code, tracebacks, crashes", "", f"{r.returncode}, {r.stderr.count(b'Traceback')}, "
        f"{int(r.returncode not in (0, 1))}", "1, 0, 0")
    row("files", "ingest: wall time / peak RSS (CLI and reader)", "", f"{wall:.0f} s / {peak:.0f} MB", "< 1 GB")
    row("files", "slowest file / reader peak memory", "", f"{slowest[0]:.1f} s ({slowest[1][:24]}) / {hwm:.0f} MB",
        "< 60 s / < 1 GB")
    row("files", "bundled policies lost", "", lost, "0")
    # baseline: the worst kinds of file read without the caps (each stopped after 60 s)
    free_limits = Limits(file_bytes=10 ** 10, pages=10 ** 6, chars=10 ** 10, units=10 ** 9, seconds=60,
                         memory_mb=16_000)
    for name in WORST:
        f = folder / name
        base_s, base_mem, what = _read_watched(f, free_limits)
        ours_s, ours_mem, verdict = _read_watched(f, Limits())
        row("files", f"{name} ({f.stat().st_size / 1e6:.1f} MB), no caps / caps",
            f"{base_s:.0f} s, {base_mem:.0f} MB, {what}", f"{ours_s:.1f} s, {ours_mem:.0f} MB, {verdict}")


WORST = {"worst-bomb.pdf": lambda: hostile.pdf_bomb(300_000), "worst-wide.html": lambda: hostile.many_paragraphs_html(100_000),
         "worst-bullets.md": lambda: hostile.bullets_md(200_000), "worst-5mb.txt": lambda: hostile.long_text(75_000)}


def _read_watched(f: Path, limits) -> tuple[float, float, str]:
    """Read one file through a reader of its own: seconds, the reader's peak memory, the outcome."""
    from ingest.worker import FileReader

    reader, peak, stop = FileReader(limits), [0.0], threading.Event()

    def watch():
        while not stop.is_set():
            if reader._proc is not None:
                peak[0] = max(peak[0], rss_mb(reader._proc.pid, "VmHWM"))
            time.sleep(0.05)
    threading.Thread(target=watch, daemon=True).start()
    t = time.perf_counter()
    try:
        _, units = reader.read(f)
        what = f"read, {len(units):,} units"
    except Exception as exc:  # noqa: BLE001 - a refusal is an outcome
        msg = str(exc)
        what = ("stopped at the time bound" if "took over" in msg else "refused: " + next(
            (w for w in ("characters", "pages", "sentences", "bytes", "memory") if w in msg), type(exc).__name__))
    took = time.perf_counter() - t
    stop.set()
    reader.close()
    return took, peak[0], what


def check_policies(store: Path, ids=None) -> int:
    """How many of `ids` (the bundled policies) a fresh `policyqa ask` process cannot answer from."""
    ids = ids or SEEDS
    batch = "\n".join(json.dumps({"id": p, "question": "Do you use cookies?", "policy": p}) for p in ids)
    r = cli("ask", "--batch", "-", "--store", str(store), "--json", input_bytes=batch.encode())
    got = {}
    for line in r.stdout.decode(errors="replace").splitlines():
        try:
            o = json.loads(line)
            got[o["id"]] = "error" not in o and o.get("policy") == o["id"]
        except (ValueError, KeyError):
            pass
    return sum(1 for p in ids if not got.get(p))


# --------------------------------------------------------------------------- kills
RAW_READ = ("import sys, chromadb\nfrom chromadb.config import Settings\n"
            "c = chromadb.PersistentClient(path=sys.argv[1], settings=Settings(anonymized_telemetry=False))\n"
            "col = c.get_collection('units')\nn = col.count()\n"
            "for s in range(0, n, 5000):\n    col.get(include=['embeddings'], limit=5000, offset=s)\n")


def campaign_kills(tmp: Path, args):
    folder = tmp / "kill-policies"
    shutil.copytree(CORPUS, folder)
    for n in range(3):
        (folder / f"example-{n}.txt").write_text(synthetic_policy(n, 300), "utf-8")
    store = tmp / "kill-store"
    r = cli(*ingest_command([folder], store)[3:])
    assert r.returncode == 0, r.stderr
    ids = sorted(p.stem for p in folder.glob("*.txt"))
    rng = random.Random(9)
    killed = raw_broken = lost_total = broken_after = runs = 0
    t0 = time.perf_counter()
    for trial in range(2 * args.kills):  # until --kills runs were killed (an ingest may finish first)
        if killed == args.kills:
            break
        runs += 1
        for f in folder.glob("*.txt"):
            f.write_text(f.read_text("utf-8") + f"\nRevision {trial}.\n", "utf-8")
        was_killed = kill_at_index_write(ingest_command([folder], store), store, nth=rng.randint(1, 3),
                                         delay=rng.uniform(0, 0.025))
        killed += was_killed
        if not was_killed:
            continue
        snapshot = tmp / "kill-copy"
        shutil.rmtree(snapshot, ignore_errors=True)
        if (store / "chroma").is_dir():  # Chroma alone, on a copy: the baseline
            shutil.copytree(store / "chroma", snapshot)
            raw = subprocess.run([sys.executable, "-c", RAW_READ, str(snapshot)], capture_output=True, timeout=300)
            raw_broken += raw.returncode != 0
        else:  # killed while a heal had deleted the index and not yet rebuilt it: no index at all
            raw_broken += 1
        lost = check_policies(store, ids)
        lost_total += lost
        broken_after += lost > 0
        if killed % 10 == 0:
            print(f"    {runs} runs, {killed} killed, Chroma alone broken {raw_broken}, policyqa lost "
                  f"{lost_total} ({time.perf_counter() - t0:.0f} s)", flush=True)
    row("kills", "ingests killed 0-25 ms into an index write", "", f"{killed} (of {runs} runs)", ">= 100")
    row("kills", "stores broken (Chroma alone / policyqa)", f"{raw_broken} of {killed}", f"{broken_after} of {killed}", "0")
    row("kills", "policies lost (of 8 per store)", "", lost_total, "0")


# --------------------------------------------------------------------------- ingest while serving
def campaign_serving(tmp: Path, args):
    folder = tmp / "serve-policies"
    shutil.copytree(CORPUS, folder)
    store = build_store(tmp / "serve-store")
    build = cli("ingest", str(folder), "--store", str(store), "--json")  # from this folder from now on
    assert build.returncode == 0
    fresh, ingests = None, 0
    with serving(store, tmp / "serve.log") as server:
        lat, errs = [], []
        stop = threading.Event()

        def user(i):
            rng = random.Random(i)
            with client(server.url, address(30, i)) as c:
                while not stop.is_set():
                    try:
                        r = c.post("/api/ask", json={"question": rng.choice(QUESTIONS), "policy": rng.choice(SEEDS + [None])})
                        (lat if r.status_code == 200 else errs).append(r.status_code)
                    except httpx.HTTPError as exc:
                        errs.append(type(exc).__name__)
                    time.sleep(rng.uniform(0.25, 0.75))

        threads = [threading.Thread(target=user, args=(i,)) for i in range(10)]
        for t in threads:
            t.start()
        for k in range(5):
            f = folder / "product-image-gen.txt"
            f.write_text(f.read_text("utf-8") + f"\nWe review these terms every {k + 2} weeks.\n", "utf-8")
            r = cli("ingest", str(folder), "--store", str(store), "--json")
            ingests += r.returncode == 0
            time.sleep(2)
        # the server answers from the last version
        deadline = time.monotonic() + 30
        with client(server.url, address(31, 1)) as c:
            while time.monotonic() < deadline and not fresh:
                a = c.post("/api/ask", json={"question": "How often do you review these terms?",
                                             "policy": "product-image-gen"}).json()
                fresh = any("every 6 weeks" in x["quote"] for x in a.get("citations", []))
                time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join()
        tb = server.tracebacks()
    row("serving", "CLI ingests into the served store (exit 0)", "", f"{ingests} of 5")
    row("serving", "errors of the answers asked meanwhile", "", f"{len(errs)} of {len(lat) + len(errs)}", "0")
    row("serving", "server answers from the new version / tracebacks", "", f"{'yes' if fresh else 'no'} / {tb}", "yes / 0")


# --------------------------------------------------------------------------- flood
def campaign_flood(tmp: Path, args):
    store = build_store(tmp / "flood-store")
    seconds = min(30, args.seconds)
    with serving(store, tmp / "flood.log") as server:
        alone = users(server.url, 10, 2, seconds, group=40, chat_group=41)
        counts = {"429": 0, "200": 0, "other": 0}
        stop = threading.Event()

        def flooder(i):
            with client(server.url, "127.50.0.1") as c:
                while not stop.is_set():
                    try:
                        r = c.post("/api/ask", json={"question": "Is my data sent to China?"})
                        key = str(r.status_code) if r.status_code in (200, 429) else "other"
                    except httpx.HTTPError:
                        key = "other"
                    counts[key] += 1

        def chat_flooder():
            with client(server.url, "127.50.0.1") as c:
                while not stop.is_set():
                    try:
                        status, _ = chat(c, "Do you sell my data?")
                        counts["429" if status == 429 else "200" if status == 200 else "other"] += 1
                    except httpx.HTTPError:
                        counts["other"] += 1

        floods = [threading.Thread(target=flooder, args=(i,)) for i in range(32)] + [threading.Thread(target=chat_flooder)]
        for t in floods:
            t.start()
        crowded = users(server.url, 10, 2, seconds, group=42, chat_group=43)
        stop.set()
        for t in floods:
            t.join()
    ratio = pct(crowded["rest"], .95) / pct(alone["rest"], .95)
    row("flood", "flooder (1 address, 33 connections): 200 / 429 / other", "",
        f"{counts['200']} / {counts['429']} / {counts['other']}")
    row("flood", "others: REST p50 / p95", ms(alone["rest"]), ms(crowded["rest"]), "p95 <= 2x")
    row("flood", "others: p95 ratio; errors", "1.00; " + str(len(alone["rest_err"])),
        f"{ratio:.2f}; {len(crowded['rest_err']) + len(crowded['chat_err'])}", "<= 2; 0")
    row("flood", "others: chat p50 / p95", ms(alone["chat"]), ms(crowded["chat"]))


# --------------------------------------------------------------------------- one large policy
def campaign_large(tmp: Path, args):
    big = tmp / "large-policy"
    big.mkdir()
    (big / "huge-policy.txt").write_bytes(hostile.long_text(args.large_units))
    store = build_store(tmp / "large-store")
    raised = {"POLICYQA_MAX_CHARS": "100000000", "POLICYQA_MAX_UNITS": "1000000",
              "POLICYQA_MAX_FILE_BYTES": "100000000", "POLICYQA_INGEST_MEMORY_MB": "4096"}
    t0 = time.perf_counter()
    r = cli("ingest", str(big / "huge-policy.txt"), "--store", str(store), "--json", env=raised, timeout=3600)
    took = time.perf_counter() - t0
    units = json.loads(r.stdout or b"{}").get("units", 0)
    lost = check_policies(store)
    huge = check_policies(store, ["huge-policy"])
    with serving(store, tmp / "large.log") as server:
        with client(server.url, "127.60.0.1") as c:
            ok = sum(c.post("/api/ask", json={"question": "Do you use cookies?", "policy": p}).status_code == 200
                     for p in SEEDS + ["huge-policy"])
    row("large", f"one policy of {args.large_units:,} units (caps raised)", "",
        f"exit {r.returncode}, {units:,} units, {took:.0f} s")
    row("large", "policies unanswerable after it (CLI)", "", f"{lost} of 5 bundled, {huge} of 1 large", "0")
    row("large", "the server starts and answers them all", "", f"{ok} of {len(SEEDS) + 1}", "all")


CAMPAIGNS = {"load": campaign_load, "fuzz": campaign_fuzz, "files": campaign_files, "kills": campaign_kills,
             "serving": campaign_serving, "flood": campaign_flood, "large": campaign_large}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--fuzz", type=int, default=2000)
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--kills", type=int, default=100)
    ap.add_argument("--large-units", type=int, default=40_000)
    ap.add_argument("--only", default=",".join(CAMPAIGNS), help="campaigns to run, comma separated")
    args = ap.parse_args()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="policyqa-robustness-") as tmp:
        for name in args.only.split(","):
            print(f"== {name}", flush=True)
            t = time.perf_counter()
            CAMPAIGNS[name](Path(tmp), args)
            print(f"   ({time.perf_counter() - t:.0f} s)", flush=True)
    print(f"\n| campaign | measure | baseline (same run) | policyqa | target |\n|---|---|---|---|---|")
    for r in ROWS:
        print("| " + " | ".join(x.replace("|", "/") for x in r) + " |")
    print(f"\n({time.perf_counter() - t0:.0f} s in all)")


if __name__ == "__main__":
    main()
