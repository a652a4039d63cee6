"""What answers rely on: relied-on clauses always outrank related ones, a policy is cited
across policies only when its best clause clears the bar, and a long real policy's silence on
a question is said, not papered over with its closest clause."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qa.service import Assistant

ROOT = Path(__file__).resolve().parent.parent
NATURAL = ROOT / "benchmarks" / "natural" / "corpus"


def test_relied_on_clauses_always_outrank_related_ones(assistant):
    for pid in assistant.policies():
        for question in ("Who do you share my data with?", "Can I delete my account?",
                         "Do you use my photos to train AI?"):
            ans = assistant.answer(question, pid)
            flags = [c.related for c in ans.citations]
            assert flags == sorted(flags), (question, pid, flags)  # relied on first, then related
            # a list's items come with the clause relied on (qa.lists), whatever their own score
            relied = [c.score for c in ans.citations if not c.related and not c.listed]
            related = [c.score for c in ans.citations if c.related]
            if relied and related:
                assert min(relied) >= max(related), (question, pid)
            assert all(s >= assistant.bar for s in relied)


def one_policy(folder: Path, policy: Path, embedder) -> Assistant:
    """An assistant over a real store holding one policy file."""
    from conftest import new_store
    from ingest.pipeline import ingest_paths

    store = new_store(folder)
    assert not ingest_paths([policy], store, embedder).failed
    return Assistant(store, embedder)


@pytest.fixture(scope="module")
def long_policy(tmp_path_factory, embedder):
    """The Walmart policy of the PolicyQA dev split (21,000 characters), in a real store."""
    return one_policy(tmp_path_factory.mktemp("walmart"), NATURAL / "walmart-com.txt", embedder)


def test_a_question_a_long_policy_is_silent_on_is_refused(long_policy):
    # nothing in it on moving data to China (grep: no "China"). Not asserted, as it fails: "Do you
    # collect my DNA or genetic information?" is answered from its closest clauses (issue #9)
    ans = long_policy.answer("Is my data sent to China?", "walmart-com")
    assert not ans.answerable, ans.answer
    assert ans.citations and all(c.related for c in ans.citations)
    ans = long_policy.answer("Can I opt out of receiving marketing emails?", "walmart-com")
    assert ans.answerable


def test_across_policies_the_cited_are_those_whose_best_clause_clears_the_bar(assistant):
    for question in ("Do you sell my data?", "Is my data processed in China?", "How can I contact you?"):
        ans = assistant.answer(question)
        best = {p: hits[0].score if hits else 0.0
                for p, hits in assistant._retrieve(question, assistant.scope(None))[2].items()}
        clear = {p for p, s in best.items() if s >= assistant.bar}
        assert set(ans.policies) <= clear, (question, best)
        for p in ans.policies:  # each cited policy's quotes are its own best clauses
            assert [c.policy for c in ans.citations].count(p) >= 1
        assert np.isfinite(list(best.values())).all()


@pytest.mark.parametrize("qsets, corpus, counts", [
    (["natural_questions.jsonl"], "natural/corpus", "70 questions, 15 silent"),
    (["natural_dev_questions.jsonl"], "natural_dev/corpus", "70 questions, 15 silent"),
    ([f"plain_train/part{i}.jsonl" for i in range(1, 36)], "plain_train/corpus", "1820 questions, 497 silent"),
])
def test_the_plain_words_question_sets_quote_their_policies(qsets, corpus, counts, tmp_path, capsys):
    """Each set's evidence phrases are verbatim parts of one sentence of their policy, silent
    questions carry none, and every policy has its share of silent ones (check_set.py)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("check_set", ROOT / "benchmarks" / "natural" / "check_set.py")
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    joined = tmp_path / "set.jsonl"
    joined.write_text("".join((ROOT / "benchmarks" / q).read_text(encoding="utf-8") for q in qsets), encoding="utf-8")
    check.main([str(joined), str(ROOT / "benchmarks" / corpus)])
    assert capsys.readouterr().out.strip().endswith(f"OK: {counts}")


def test_the_plain_words_parts_are_chosen_by_number_or_range(monkeypatch):
    """POLICYQA_PLAIN_PARTS: N reads parts 1 to N, M-N parts M to N (which parts trained which
    shipped model: the first stage 1-23, the gate's unseen rows 24-31)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_data", ROOT / "benchmarks" / "_data.py")
    data = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(data)
    folder = ROOT / "benchmarks" / "plain_train"

    def questions(*parts):
        return [line for n in parts for line in (folder / f"part{n}.jsonl").read_text(encoding="utf-8").splitlines()
                if line.strip()]

    for parts, expected in (("23", range(1, 24)), ("24-31", range(24, 32)), ("28-28", [28]), ("", range(1, 36))):
        monkeypatch.setenv("POLICYQA_PLAIN_PARTS", parts)
        assert (sorted(r["question"] for r in data.plain_questions())
                == sorted(json.loads(q)["question"] for q in questions(*expected))), parts


def test_a_policy_the_gate_finds_silent_relies_on_nothing():
    from ingest.types import Unit
    from qa import compose
    from qa.types import Hit, Status

    units = [Unit(policy="p", order=i, text=t, start=0, end=len(t), section=("Sharing",), kind="sentence")
             for i, t in enumerate(["We share your email address with our payment provider.",
                                    "We never sell your data."])]
    hits = [Hit.of(u, f"p#{i}", score, dense=0.5) for i, (u, score) in enumerate(zip(units, (0.4, 0.3)))]
    question = "Do you share my data with advertisers?"
    kept = compose.decide(question, hits, "p", 0.07, addressed=0.6, gate=0.45)
    assert kept.status is Status.ANSWERED and len(kept.relied_on) == 2
    gated = compose.decide(question, hits, "p", 0.07, addressed=0.3, gate=0.45)
    assert gated.status is Status.NOT_ADDRESSED and not gated.relied_on
    assert [h.text for h in gated.related] == [h.text for h in hits]  # shown as related, best first
    assert "gate" in gated.why and "0.30" in gated.why
    assert compose.decide(question, hits, "p", 0.07, addressed=0.3).status is Status.ANSWERED  # no gate


def test_the_gate_reads_the_ranked_clauses():
    from qa import rank

    model = rank.load_model()
    assert rank.addresses(np.zeros((0, len(rank.FEATURES))), np.zeros(0), model) is None
    assert rank.addresses(np.zeros((3, len(rank.FEATURES))), np.array([0.9, 0.1, 0.0]), {}) is None  # no gate
    gate = {"mean": [0.0] * len(rank.GATE), "scale": [1.0] * len(rank.GATE), "intercept": 0.0,
            "coef": [1.0] + [0.0] * (len(rank.GATE) - 1)}  # the best clause's log-odds alone
    x = np.zeros((3, len(rank.FEATURES)), dtype=np.float32)
    assert rank.addresses(x, np.array([0.9, 0.2, 0.1]), {"gate": gate}) == pytest.approx(0.9)
    assert rank.addresses(x, np.array([0.1, 0.05, 0.0]), {"gate": gate}) == pytest.approx(0.1)


@pytest.fixture(scope="module")
def vikings(tmp_path_factory, embedder):
    """The Minnesota Vikings policy (OPP-115 validation, 21,000 characters), in a real store."""
    return one_policy(tmp_path_factory.mktemp("vikings"), ROOT / "benchmarks" / "natural_dev" / "corpus" / "vikings-com.txt",
                      embedder)


def test_the_shipped_gate_refuses_a_silent_question_the_bar_lets_through(vikings, assistant):
    # the policy never says where data is stored or sent (grep: no "country", "abroad",
    # "transfer" of data across borders); its closest clause clears the bar, the gate finds it silent
    question = "Is my personal data stored in a different country?"
    assert vikings.gate is not None
    ans = vikings.answer(question, "vikings-com")
    assert not ans.answerable, ans.answer
    assert ans.citations and all(c.related for c in ans.citations)
    assert ans.to_dict()["addressed"]["vikings-com"] < vikings.gate  # the reading is in the JSON
    gate, vikings.gate = vikings.gate, None
    try:
        assert vikings.answer(question, "vikings-com").answerable  # the bar alone answers it
    finally:
        vikings.gate = gate
    assert vikings.answer("How do I change the email address you have for me?", "vikings-com").answerable
    assert assistant.answer("Do you use my photos to train AI?", "antiai-pics").answerable
    across = assistant.answer("Do you use my photos to train AI?").to_dict()
    assert set(across["addressed"]) == set(assistant.policies())
    assert {p for p, v in across["addressed"].items() if v >= assistant.gate} >= set(across["policies"])
