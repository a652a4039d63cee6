#!/usr/bin/env python3
"""Write the policy documents of the hand-written plain-words question sets on OPP-115 policies.

- natural_dev (the tuning set, benchmarks/natural_dev_questions.jsonl): five of the ten OPP-115
  validation policies (benchmarks/opp115.is_validation: no model here is trained on them), to
  benchmarks/natural_dev/corpus/;
- plain_train (training questions, benchmarks/plain_train/*.jsonl): 60 of the 65 training
  policies, to benchmarks/plain_train/corpus/.
Each policy is written as benchmarks/opp115.load builds it (its segments joined by blank lines,
as PolicyQA builds a policy document), as <id>.txt. Idempotent. Run from anywhere:

    python benchmarks/opp115_corpus.py [natural_dev|plain_train]
"""
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
import opp115  # noqa: E402

SETS = {  # name -> (domains, validation policies?)
    "natural_dev": (["redorbit.com", "steampowered.com", "tulsaworld.com", "vikings.com", "pbs.org"], True),
    "plain_train": (["jibjab.com", "bankofamerica.com", "sheknows.com", "randomhouse.com", "gamestop.com",
                     "nytimes.com", "everydayhealth.com", "dailynews.com", "military.com", "allstate.com",
                     "playstation.com", "reddit.com", "instagram.com", "google.com", "aol.com",
                     "geocaching.com", "sltrib.com", "enthusiastnetwork.com", "sidearmsports.com", "foxsports.com",
                     "timeinc.com", "abcnews.com", "fortune.com", "washingtonpost.com", "newsbusters.org", "wnep.com",
                     "minecraft.gamepedia.com", "taylorswift.com", "voxmedia.com", "lids.com", "imdb.com",
                     "chasepaymentech.com",
                     # parts 9-13 (2026-12-01, third session)
                     "freep.com", "dcccd.edu", "austincc.edu", "citizen.org", "thehill.com", "miaminewtimes.com",
                     "msn.com", "wsmv.com", "sports-reference.com", "latinpost.com", "ocregister.com",
                     "tgifridays.com", "barnesandnoble.com", "fredericknewspost.com", "usa.gov", "ifsa-butler.org",
                     "esquire.com", "meredith.com", "lynda.com", "stlouisfed.org",
                     # parts 14-15 (2026-12-01, fourth session); parts 16-18 ask again of earlier ones
                     "www.loc.gov", "disinfo.com", "lodgemfg.com", "dairyqueen.com",
                     "coffeereview.com", "liquor.com", "earthkam.org", "uptodate.com"], False),
}


def main(name: str = "natural_dev") -> None:
    domains, validation = SETS[name]
    out = BENCH / name / "corpus"
    out.mkdir(parents=True, exist_ok=True)
    outside_dev = [d for d in opp115.policy_files() if d not in opp115.dev_titles()]
    for domain in domains:
        assert opp115.is_validation(outside_dev.index(domain)) == validation, f"{domain}: wrong split"
        policy, _ = opp115.load(domain)
        path = out / f"{policy.pid}.txt"
        if not path.exists() or path.read_text(encoding="utf-8") != policy.text:
            path.write_text(policy.text, encoding="utf-8")
        print(f"{path}: {len(policy.text)} chars")


if __name__ == "__main__":
    main(*sys.argv[1:])
