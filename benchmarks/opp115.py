"""OPP-115 as PolicyQA-style training data, on the 75 policies outside the PolicyQA dev split.

PolicyQA (Ahmad et al., Findings of EMNLP 2020) was built from the OPP-115 annotations (Wilson et
al., ACL 2016): every annotated span of a (category, attribute, value) type answers the
human-written questions of that type. The dev split's questions carry their type, so the same
construction on the other 75 OPP-115 policies gives training data on policies the dev split does
not hold, and the 20 dev policies stay a clean held-out set:

- a policy is its sanitized segments, tags stripped and whitespace collapsed, joined by blank
  lines: exactly how PolicyQA's paragraphs were made (checked on the 20 dev policies: every dev
  paragraph is such a segment) and how ../shared/bench/policyqa_bench.py joins them;
- a question asked of a policy has as gold every span of its types annotated in that policy
  (the 0.75 consolidation; a span is found by its text, at the occurrence nearest its
  recorded index, so the spans with known-wrong indexes are kept: 96% of the dev split's
  answers are found this way among its own policies' spans);
- a question none of whose types is annotated in a policy is one that policy is silent on.

Question wordings are PolicyQA's templates, shared with the dev split. `held_out_wording(q)`
puts a fixed fifth of them aside: training never sees them, so figures on the dev questions with
those wordings are on unseen policies *and* unseen wordings.

    python benchmarks/opp115.py          # prints what the data holds
"""
from __future__ import annotations

import collections
import csv
import hashlib
import html
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from _data import SHARED, scoreboard  # noqa: E402  (benchmarks/ is on the path of every caller)

OPP = SHARED / "eval" / "opp115"
CONSOLIDATION = OPP / "consolidation" / "threshold-0.75-overlap-similarity"
_TAG = re.compile(r"<[^>]+>")


def clean(segment: str) -> str:
    """A sanitized segment as PolicyQA's paragraph: tags out, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(_TAG.sub(" ", segment)).split())


@dataclass(frozen=True)
class Span:
    type: str  # "Category|||Attribute|||Value"
    start: int  # offsets in the policy's text
    end: int
    text: str


VALIDATION = 8  # every 8th training policy (10 of 75): held out from every model, for calibration


def is_validation(index: int) -> bool:
    """Policies (by index in training_set's order) no model trains on: the training scripts'
    own figures (and the reranker experiment's calibration) come from them."""
    return index % VALIDATION == 0


def held_out_wording(question: str) -> bool:
    """A fixed fifth of the question wordings, never trained on."""
    return hashlib.sha256(question.strip().lower().encode()).digest()[0] % 5 == 0


def dev_titles() -> set[str]:
    return {e["title"] for e in json.loads((SHARED / "eval" / "policyqa" / "dev.json").read_text())["data"]}


NATURAL = Path(__file__).resolve().parent / "opp115_questions.jsonl"


def question_types(natural: bool = False) -> dict[str, set[str]]:
    """Every PolicyQA dev question wording and the annotation types it was asked for; with
    `natural`, also the plain-words questions written for each type (NATURAL, written without
    reading any evaluation set: "how long do you keep my stuff?" for Retention Period)."""
    out: dict[str, set[str]] = collections.defaultdict(set)
    for e in json.loads((SHARED / "eval" / "policyqa" / "dev.json").read_text())["data"]:
        for p in e["paragraphs"]:
            for qa in p["qas"]:
                out[qa["question"]].add(qa["type"])
    if natural:
        for line in NATURAL.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            for q in row["questions"]:
                out[q].add(row["type"])
    return dict(out)


def policy_files() -> dict[str, Path]:
    """domain -> sanitized policy file, for all 95 policies."""
    return {re.sub(r"^\d+_", "", f.stem): f for f in sorted((OPP / "sanitized_policies").glob("*.html"))}


def load(domain: str):
    """(bench Policy, [Span]) for one OPP-115 policy: the text as PolicyQA builds it."""
    bench = scoreboard()
    f = policy_files()[domain]
    raw = f.read_text(encoding="utf-8").split("|||")
    parts, para_spans, pos, seg_at = [], [], 0, {}
    for i, seg in enumerate(raw):
        c = clean(seg)
        if not c:
            continue
        seg_at[i] = (pos, seg)
        para_spans.append((pos, pos + len(c)))
        parts.append(c)
        pos += len(c) + 2
    text = "\n\n".join(parts)
    policy = bench.Policy(bench.policy_id(domain), domain, text, para_spans)
    spans = []
    for row in csv.reader((CONSOLIDATION / f"{f.stem}.csv").open(encoding="utf-8")):
        if int(row[4]) not in seg_at:
            continue
        base, seg = seg_at[int(row[4])]
        for attr, a in json.loads(row[6]).items():
            if a.get("startIndexInSegment", -1) < 0 or not a.get("selectedText") or \
                    a["selectedText"] == "Not selected":
                continue
            want = clean(a["selectedText"])
            if not want:
                continue
            near = len(clean(seg[:a["startIndexInSegment"]]))  # where the span starts, cleaned
            seg_clean = clean(seg)
            hits = [m.start() for m in re.finditer(re.escape(want), seg_clean)]
            if not hits:
                continue
            s = min(hits, key=lambda h: abs(h - near))
            spans.append(Span(f"{row[5]}|||{attr}|||{a['value']}", base + s, base + s + len(want), want))
    return policy, spans


def training_set(wordings: str = "train", natural: str = "all"):
    """(policies, questions, silent, spans) on the 75 policies outside the dev split.

    `questions`: bench Question objects (gold texts and ranges), one per (policy, wording) with a
    gold span; `silent`: (policy id, wording) pairs none of whose types the policy has annotated.
    `spans`: every policy's annotated spans, by policy id.
    `wordings`: "train" (the four fifths of PolicyQA's wordings training may see), "held-out"
    or "all"; `natural`: the plain-words questions (always training ones: no evaluation set uses
    them) to add: "all", "gaps" (only for the types no PolicyQA wording asks about, such as
    "Privacy contact information": "How can I contact you about my privacy?") or "none"."""
    bench = scoreboard()
    qtypes = asked(wordings, natural)
    dev = dev_titles()
    policies, questions, silent, all_spans = [], [], [], {}
    for domain in policy_files():
        if domain in dev:
            continue
        pol, spans = load(domain)
        by_type = collections.defaultdict(list)
        for s in spans:
            by_type[s.type].append(s)
        policies.append(pol)
        all_spans[pol.pid] = spans
        for n, (q, types) in enumerate(sorted(qtypes.items())):
            gold = [s for t in types for s in by_type.get(t, ())]
            if not gold:
                silent.append((pol.pid, q))
                continue
            texts = list(dict.fromkeys(s.text for s in gold))
            ranges = list(dict.fromkeys((s.start, s.end) for s in gold))
            questions.append(bench.Question(f"{pol.pid}#{n:04d}", pol.pid, q, texts, ranges))
    return policies, questions, silent, all_spans


def asked(wordings: str = "train", natural: str = "all") -> dict[str, set[str]]:
    """The questions `training_set` asks (same arguments), with the types each asks about."""
    keep = {"train": lambda q: not held_out_wording(q), "held-out": held_out_wording,
            "all": lambda q: True}[wordings]
    policyqa = question_types()
    qtypes = {q: t for q, t in policyqa.items() if keep(q)}
    if natural != "none" and wordings != "held-out":
        known = {t for ts in policyqa.values() for t in ts}
        qtypes.update({q: t for q, t in question_types(natural=True).items()
                       if q not in policyqa and (natural == "all" or not set(t) & known)})
    return qtypes


def main() -> None:
    qtypes = question_types()
    print(f"PolicyQA dev wordings: {len(qtypes)} over {len({t for ts in qtypes.values() for t in ts})} types; "
          f"held out from training: {sum(map(held_out_wording, qtypes))}")
    policies, questions, silent, _ = training_set("all")
    n_spans = sum(len(q.gold_ranges) for q in questions)
    print(f"training policies: {len(policies)} ({sum(len(p.text) for p in policies) / 1e6:.1f} M chars)")
    print(f"answerable (policy, wording) pairs: {len(questions)}, gold ranges {n_spans}; silent pairs: {len(silent)}")
    pol, spans = load("sci-news.com")
    print(f"check on a dev policy: {len(spans)} spans, e.g. {spans[0].type!r}: {pol.text[spans[0].start:spans[0].end]!r}")


if __name__ == "__main__":
    main()
