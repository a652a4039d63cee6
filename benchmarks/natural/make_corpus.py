#!/usr/bin/env python3
"""Write the five policy documents of the natural-question set.

Reads the PolicyQA dev split (../shared/eval/policyqa/dev.json, relative to the repo root)
and writes benchmarks/natural/corpus/<id>.txt for the five policies below, each the policy's
paragraphs joined by a blank line, exactly as ../shared/bench/policyqa_bench.py builds a
policy document. Stdlib only; idempotent.
"""
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT.parent / "shared" / "eval" / "policyqa" / "dev.json"
OUT = Path(__file__).resolve().parent / "corpus"
TITLES = ["walmart.com", "kaleidahealth.org", "theatlantic.com", "ticketmaster.com", "fool.com"]


def policy_id(title: str) -> str:
    return re.sub(r"[^a-z0-9]", "-", title.lower())


def main() -> None:
    data = json.loads(DEV.read_text(encoding="utf-8"))["data"]
    by_title = {e["title"]: e for e in data}
    OUT.mkdir(parents=True, exist_ok=True)
    for title in TITLES:
        entry = by_title[title]
        text = "\n\n".join(p["context"] for p in entry["paragraphs"])
        path = OUT / f"{policy_id(title)}.txt"
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        print(f"{path.relative_to(ROOT)}: {len(text)} chars")


if __name__ == "__main__":
    main()
