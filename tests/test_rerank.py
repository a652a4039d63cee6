"""The reranker: the shipped cross-encoder loads offline and reads a clause with its question;
its calibrated probability decides what is relied on, what is related, and which policies
address a question."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ingest.types import Unit
from qa import rerank
from qa.service import Assistant

ROOT = Path(__file__).resolve().parent.parent
NATURAL = ROOT / "benchmarks" / "natural" / "corpus"


SHIPPED = (rerank.MODEL_DIR / "model.onnx").is_file()
needs_model = pytest.mark.skipif(not SHIPPED, reason="no reranker in qa/models/reranker")


@pytest.fixture(scope="module")
def reranker():
    return rerank.load_reranker()


@needs_model
def test_the_shipped_model_loads_offline_and_says_what_it_is(reranker, monkeypatch):
    assert reranker.name.startswith("policyqa-reranker")
    config = json.loads((rerank.MODEL_DIR / "config.json").read_text())
    assert "OPP-115" in config["trained_on"] and 0 < config["bar"] < 1 and config["k"] >= 5
    card = (rerank.MODEL_DIR / "README.md").read_text()
    assert "OPP-115" in card and "Wilson" in card and "licen" in card.lower()


@needs_model
def test_a_clause_that_answers_scores_above_one_that_does_not(reranker):
    question = "How long do you keep my photos?"
    clauses = ["Data Retention: We keep your photos for thirty days after you delete your account.",
               "Payments: Payments are handled by Stripe.",
               "Contact: You can reach us by email at privacy@example.com."]
    p = reranker.probability(question, clauses)
    assert p.shape == (3,) and ((0 <= p) & (p <= 1)).all()
    assert p[0] > p[1] and p[0] > p[2]
    sharing = reranker.probability("Who do you share my information with?", clauses[:1] + [
        "Third parties: We share your information with our payment processor and hosting provider."])
    assert sharing[1] > sharing[0]


def test_a_list_item_is_read_with_its_lead_in_and_section():
    units = [Unit("p", 0, "Services", 0, 8, (), "heading"),
             Unit("p", 1, "We use the following third-party services:", 9, 52, ("Services",)),
             Unit("p", 2, "Vercel (hosting and image storage)", 53, 87, ("Services",), "item"),
             Unit("p", 3, "Contact", 88, 95, (), "heading"),
             Unit("p", 4, "Email us.", 96, 105, ("Contact",))]
    got = rerank.passages(units)
    assert got[2] == "Services: We use the following third-party services: … Vercel (hosting and image storage)"
    assert got[1] == "Services: We use the following third-party services:"
    assert got[4] == "Contact: Email us."  # a lead-in never crosses into another section
    long = "x " * 200 + "we share data with these partners:"
    tail = rerank.passages([Unit("p", 0, long, 0, len(long)), Unit("p", 1, "Acme", 0, 4, (), "item")])[1]
    assert tail.endswith("we share data with these partners: … Acme") and len(tail) < rerank.MAX_LEAD + 20


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


@pytest.fixture(scope="module")
def long_policy(tmp_path_factory, embedder):
    """The Walmart policy of the PolicyQA dev split (21,000 characters), in a real store."""
    from conftest import new_store
    from ingest.pipeline import ingest_paths

    store = new_store(tmp_path_factory.mktemp("walmart"))
    report = ingest_paths([NATURAL / "walmart-com.txt"], store, embedder)
    assert not report.failed
    return Assistant(store, embedder)


@needs_model
def test_a_question_a_long_policy_is_silent_on_is_refused(long_policy):
    # nothing in it on genetic data or on moving data to China (grep: no "genetic", "DNA", "China")
    for question in ("Do you collect my DNA or genetic information?", "Is my data sent to China?"):
        ans = long_policy.answer(question, "walmart-com")
        assert not ans.answerable, (question, ans.answer)
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
