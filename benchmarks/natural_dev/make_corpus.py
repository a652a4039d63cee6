#!/usr/bin/env python3
"""Write the five policy documents of the natural-question tuning set (natural_dev_questions.jsonl).

Five of the ten OPP-115 validation policies (benchmarks/opp115.is_validation: no model here is
trained on them), each written as benchmarks/opp115.load builds it (its segments joined by blank
lines, as PolicyQA builds a policy document), to benchmarks/natural_dev/corpus/<id>.txt.
Idempotent. Run from anywhere:

    python benchmarks/natural_dev/make_corpus.py
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import opp115  # noqa: E402

DOMAINS = ["redorbit.com", "steampowered.com", "tulsaworld.com", "vikings.com", "pbs.org"]


def main() -> None:
    out = HERE / "corpus"
    out.mkdir(exist_ok=True)
    training = [d for d in opp115.policy_files() if d not in opp115.dev_titles()]
    for domain in DOMAINS:
        assert opp115.is_validation(training.index(domain)), f"{domain} is a training policy"
        policy, _ = opp115.load(domain)
        path = out / f"{policy.pid}.txt"
        if not path.exists() or path.read_text(encoding="utf-8") != policy.text:
            path.write_text(policy.text, encoding="utf-8")
        print(f"{path}: {len(policy.text)} chars")


if __name__ == "__main__":
    main()
