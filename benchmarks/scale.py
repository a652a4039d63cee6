"""How policyqa grows with the number of policies: today's design beside this tree, in one run.

A corpus of N policies (10, 100, 1,000 by default) is made from the 95 real OPP-115 policies
(../shared/eval/opp115/sanitized_policies): each copy renames the company everywhere (its
domain's name becomes a made-up one, which also names every section, so no two copies embed a
sentence alike) and shuffles the order of its sections. The corpus grows in place (10, then 90
more, ...) and each step is ingested with `policyqa ingest FOLDER --store DIR --json`, then the
store is copied aside (store-N), so that a later run can measure each size again.

For each size, and each design (`baseline`: the code at --baseline-rev, `current`: this tree, or
any git revision), a
fresh worker process on that store (`Assistant.from_settings`, what the CLI and the server
build) reports:
  start-up     from spawning the process to its first answer (a scoped question)
  RSS          the worker's resident memory (VmRSS, MB) after its scoped questions, and after all
  scoped       warm p50/p95 of PolicyQA dev questions asked of copies of their own policy
               (each policy asked once before the timed rounds)
  across       warm p50/p95 of questions asked of all policies, half of them naming a company
plus the ingest throughput of the step and the store's size on disk.

    python benchmarks/scale.py [--sizes 10,100,1000] [--workdir DIR] [--designs baseline,current]

With --workdir the corpora and stores are kept: a later run ingests nothing new and prints the
ingest figures measured when they were built. With --server, a `chroma run` server is started
too, each size is ingested into a store kept whole on it (POLICYQA_CHROMA_URL: vectors, catalog
and texts), and this tree's worker is measured on that store as well ("current, chroma run";
store MB: the server's data). `--designs '' --server` measures the server's store alone.

Every measured row is also appended to WORKDIR/results.jsonl (or --results). --plot FILE.png
draws latency (p95) and worker memory against the number of policies, one line per design,
from this run's rows, or with --from RESULTS.jsonl... from rows measured before (nothing is
measured then):

    python benchmarks/scale.py --from benchmarks/results/scale-2026-11-30.jsonl --plot docs/scale.png
"""
from __future__ import annotations

import argparse
import html
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("POLICYQA_SHARED", ROOT.parent / "shared"))
OPP115 = SHARED / "eval" / "opp115" / "sanitized_policies"
POLICYQA_DEV = SHARED / "eval" / "policyqa" / "dev.json"
POLICYQA = ROOT / ".venv" / "bin" / "policyqa"

SYLLABLES = ["bra", "ven", "tor", "lum", "qui", "sar", "pel", "dox", "mir", "cal", "zen", "rho", "tav", "nix"]
ACROSS = ["Do you sell my personal information?", "How long do you keep my data?",
          "Do you use cookies to show me ads?", "Can I delete my account?",
          "Is my information shared with advertisers?"]
NAMED = ["Does {name} sell my personal information?", "How does {name} use cookies?",
         "What information does {name} collect when I register?"]


# ----------------------------------------------------------------------------- the corpus
def base_policies() -> list[tuple[str, list[str]]]:
    """(domain, sections as plain text) of every OPP-115 policy."""
    out = []
    for f in sorted(OPP115.glob("*.html")):
        domain = f.stem.split("_", 1)[1]
        sections = []
        for part in f.read_text("utf-8").split("|||"):
            text = re.sub(r"<[^>]+>", "\n", part.replace("<br>", "\n"))
            lines = [" ".join(html.unescape(x).split()) for x in text.splitlines()]
            text = "\n".join(x for x in lines if x)
            if len(text) > 40:
                sections.append(text)
        if sections:
            out.append((domain, sections))
    return out


def company(n: int) -> str:
    """A made-up company name, different for every n."""
    rnd = random.Random(n)
    word = "".join(rnd.choice(SYLLABLES) for _ in range(3)).capitalize()
    return f"{word} {n}"


def variant(n: int, base: list[tuple[str, list[str]]]) -> tuple[str, str, str]:
    """(policy id, company name, text) of the n-th policy of the corpus: a copy of a real
    policy whose company is renamed (in its text and every section title) and whose sections
    are shuffled."""
    domain, sections = base[n % len(base)]
    name = company(n)
    brand = domain.removeprefix("www.").split(".")[0]
    pattern = re.compile(rf"{re.escape(domain)}|\b{re.escape(brand)}(\.com)?\b", re.IGNORECASE)
    rnd = random.Random(n)
    order = list(range(len(sections)))
    rnd.shuffle(order)
    parts = [f"# {name} Privacy Policy\n"]
    for k, i in enumerate(order, 1):
        body = pattern.sub(name, sections[i])
        first = body.split("\n", 1)[0]
        title = first if len(first) < 70 and not first.endswith(".") else f"Part {k}"
        parts.append(f"## {name}: {title}\n\n{body}\n")
    return f"p{n:05d}-{brand}", name, "\n".join(parts)


def scoped_questions(base, size: int, count: int, rnd: random.Random) -> list[tuple[str, str]]:
    """(question, policy id): PolicyQA dev questions asked of copies of their own policy."""
    domains = [d for d, _ in base]
    by_domain = {}
    for doc in json.loads(POLICYQA_DEV.read_text("utf-8"))["data"]:
        qs = [qa["question"] for p in doc["paragraphs"] for qa in p["qas"]]
        by_domain[doc["title"]] = qs
    out = []
    copies = [n for n in range(size) if domains[n % len(base)] in by_domain]
    for n in rnd.sample(copies, min(count, len(copies))):
        pid = variant(n, base)[0]
        out.append((rnd.choice(by_domain[domains[n % len(base)]]), pid))
    return out


def across_questions(base, size: int, rnd: random.Random) -> list[str]:
    named = [q.format(name=variant(rnd.randrange(size), base)[1]) for q in NAMED]
    return ACROSS + named


def grow_corpus(folder: Path, base, size: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(size):
        pid, _, text = variant(n, base)
        f = folder / f"{pid}.md"
        if not f.exists():
            f.write_text(text, "utf-8")


def ingest(folder: Path, store: Path, chroma_url: str = "") -> dict:
    t0 = time.perf_counter()
    done = subprocess.run([str(POLICYQA), "ingest", str(folder), "--store", str(store), "--json"],
                          capture_output=True, text=True, env=_env(ROOT, chroma_url=chroma_url))
    seconds = time.perf_counter() - t0
    report = json.loads(done.stdout)
    if report["failed"]:
        print(f"  ingest failures: {report['failed'][:3]}", file=sys.stderr)
    return {"seconds": seconds, "added": len(report["added"]), "embedded": report["embedded"],
            "units": report["units"]}


def disk_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


# ----------------------------------------------------------------------------- a worker
PROBE = r"""
import json, statistics, sys, time
t_spawn = float(sys.argv[1])
scoped = json.loads(sys.argv[2]); across = json.loads(sys.argv[3]); rounds = int(sys.argv[4])
from policyqa.settings import get_settings
from qa.service import Assistant
assistant = Assistant.from_settings(get_settings())
assistant.answer(scoped[0][0], scoped[0][1])
startup = time.time() - t_spawn
def timed(calls):
    out = []
    for _ in range(rounds):
        for fn in calls:
            t = time.perf_counter(); fn(); out.append((time.perf_counter() - t) * 1000)
    return out
scoped_calls = [lambda q=q, p=p: assistant.answer(q, p) for q, p in scoped]
across_calls = [lambda q=q: assistant.answer(q) for q in across]
t = time.perf_counter()
for fn in scoped_calls: fn()  # every policy asked once: its first question
first = (time.perf_counter() - t) * 1000 / len(scoped_calls)
s = timed(scoped_calls)
rss = lambda: int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS")).split()[1]) / 1024
rss_scoped = rss()
for fn in across_calls: fn()
a = timed(across_calls)
pct = lambda xs, q: statistics.quantiles(xs, n=100, method="inclusive")[q - 1]
print(json.dumps({"startup": startup, "rss_scoped": rss_scoped, "rss": rss(), "first": first, "scoped_p50": pct(s, 50), "scoped_p95": pct(s, 95),
                  "across_p50": pct(a, 50), "across_p95": pct(a, 95)}))
"""


def _env(code: Path, store: Path | None = None, chroma_url: str = "") -> dict:
    env = dict(os.environ, PYTHONPATH=str(code), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               POLICYQA_CHROMA_URL=chroma_url)
    if store is not None:
        env["POLICYQA_STORE"] = str(store)
    return env


def probe(code: Path, store: Path, scoped, across, rounds: int, chroma_url: str = "") -> dict:
    """Measure a fresh worker of the code in `code` on `store` (see the module's docstring)."""
    t_spawn = time.time()
    done = subprocess.run([sys.executable, "-c", PROBE, str(t_spawn), json.dumps(scoped), json.dumps(across),
                           str(rounds)], capture_output=True, text=True, env=_env(code, store, chroma_url), cwd=code)
    if done.returncode:
        raise RuntimeError(f"the worker of {code} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def code_at(rev: str, into: Path) -> Path:
    """The code at `rev`, unpacked (no checkout: the worktree stays as it is)."""
    into.mkdir(parents=True, exist_ok=True)
    if not (into / "qa").exists():
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


# ----------------------------------------------------------------------------- the table
def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10,100,1000")
    ap.add_argument("--designs", default="baseline,current", help="baseline, current, or git revisions")
    ap.add_argument("--baseline-rev", default="07325c8", help="today's design (default: before issue #13)")
    ap.add_argument("--workdir", type=Path, help="keep corpora and stores here (default: a temporary folder)")
    ap.add_argument("--scoped", type=int, default=20, help="policies asked a scoped question")
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds over the questions")
    ap.add_argument("--server", action="store_true", help="also measure this tree on a `chroma run` server")
    ap.add_argument("--results", type=Path, help="append each row here as JSON (default: WORKDIR/results.jsonl)")
    ap.add_argument("--plot", type=Path, help="draw the rows into this PNG (needs matplotlib: the [bench] extra)")
    ap.add_argument("--from", dest="from_", type=Path, nargs="+",
                    help="measure nothing: print and plot the rows of these results files")
    args = ap.parse_args(argv)
    if args.from_:
        rows = [row for f in args.from_ for row in read_rows(f)]
        print_table(rows)
        if args.plot:
            plot(rows, args.plot)
        return
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        base = base_policies()
        designs = [d for d in args.designs.split(",") if d]
        revs = {d: args.baseline_rev if d == "baseline" else d for d in designs if d != "current"}
        codes = {"current": ROOT, **{d: code_at(rev, work / f"code-{rev}") for d, rev in revs.items()}}
        folder, growing = work / "corpus", work / "store"
        ingests_file = work / "ingests.json"
        ingests = json.loads(ingests_file.read_text()) if ingests_file.exists() else {}
        rows = []
        results = args.results or work / "results.jsonl"

        def measured(*row):
            rows.append(row)
            with results.open("a", encoding="utf-8") as f:
                f.write(json.dumps(dict(zip(ROW_FIELDS, row))) + "\n")

        if args.server:
            sys.path.insert(0, str(ROOT / "tests"))
            from chroma_server import chroma_server

            shutil.rmtree(work / "server", ignore_errors=True)
            (work / "server").mkdir()
            chroma_url = stack.enter_context(chroma_server(work / "server" / "data"))
        for size in map(int, args.sizes.split(",")):
            store = work / f"store-{size}"
            grow_corpus(folder, base, size)
            if designs and not store.exists():
                ingests[str(size)] = ingest(folder, growing)
                ingests_file.write_text(json.dumps(ingests))
                shutil.copytree(growing, store)
            rnd = random.Random(size)
            scoped = scoped_questions(base, size, args.scoped, rnd)
            across = across_questions(base, size, rnd)
            for design in designs:
                m = probe(codes[design], store, scoped, across, args.rounds)
                measured(size, design, ingests[str(size)], disk_mb(store), m)
                print(f"{size} {design}: {json.dumps(m)}", file=sys.stderr, flush=True)
            if args.server:
                served = ingest(folder, work / "server" / "store", chroma_url)
                m = probe(ROOT, work / "server" / "store", scoped, across, args.rounds, chroma_url)
                measured(size, "current, chroma run", served, disk_mb(work / "server" / "data"), m)
                print(f"{size} server: {json.dumps(served)} {json.dumps(m)}", file=sys.stderr, flush=True)
        print_table(rows)
        if args.plot:
            plot(rows, args.plot)


ROW_FIELDS = ("policies", "design", "ingest", "store_mb", "worker")


def read_rows(path: Path) -> list[tuple]:
    lines = path.read_text("utf-8").splitlines()
    return [tuple(json.loads(line)[k] for k in ROW_FIELDS) for line in lines if line.strip()]


def plot(rows, out: Path) -> None:
    """Two panels against the number of policies (log scale): p95 latency of a scoped and of an
    across question, and the worker's memory; one line per design (the last row measured for
    each size and design; a design's name may carry a note in parentheses, "current (third
    run)", which joins it to the design's line where that size has no row yet)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_design: dict[str, dict[int, dict]] = {}
    for size, design, _, _, m in rows:
        line = by_design.setdefault(re.sub(r" \(.*\)$", "", design), {})
        if re.search(r"\(.*\)$", design):
            line.setdefault(size, m)
        else:
            line[size] = m
    fig, (lat, mem) = plt.subplots(1, 2, figsize=(11, 4.2))
    for design, points in by_design.items():
        sizes = sorted(points)
        line, = lat.plot(sizes, [points[n]["across_p95"] for n in sizes], marker="o", label=f"{design}: across")
        lat.plot(sizes, [points[n]["scoped_p95"] for n in sizes], marker="s", linestyle="--",
                 color=line.get_color(), label=f"{design}: scoped")
        mem.plot(sizes, [points[n]["rss"] for n in sizes], marker="o", color=line.get_color(), label=design)
    for ax, title, unit in ((lat, "warm p95 latency of a question", "ms"),
                            (mem, "worker memory (RSS) after all questions", "MB")):
        ax.set_xscale("log")
        ax.set_xlabel("policies in the store")
        ax.set_ylabel(unit)
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
    lat.set_yscale("log")
    lat.legend(fontsize=7)
    mem.legend(fontsize=7)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    print(f"plot: {out}")


def print_table(rows) -> None:
    print("| policies | units | design | ingest policies/s (units/s) | store MB | worker RSS MB (scoped / all) | start-up s "
          "| scoped first ms | scoped p50 / p95 ms | across p50 / p95 ms |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for size, design, ing, mb, m in rows:
        rate = f"{ing['added'] / ing['seconds']:.1f} ({ing['embedded'] / ing['seconds']:.0f})"
        print(f"| {size:,} | {ing['units']:,} | {design} | {rate} | {mb:.0f} | {m['rss_scoped']:.0f} / {m['rss']:.0f} | {m['startup']:.1f} "
              f"| {m['first']:.0f} | {m['scoped_p50']:.1f} / {m['scoped_p95']:.1f} "
              f"| {m['across_p50']:.0f} / {m['across_p95']:.0f} |")


if __name__ == "__main__":
    main()
