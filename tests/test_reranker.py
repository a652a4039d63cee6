"""The shipped reranker (qa/models/reranker): it loads from the repository with no network, reads a
question with each clause, and with POLICYQA_RERANK=1 its calibrated probability is what answers
rely on (off by default: the first stage alone)."""
from __future__ import annotations

import numpy as np
import pytest

from ingest.types import Unit
from qa import compose
from qa.rerank import MAX_LEAD, MODEL_DIR, Reranker, load_reranker, passages
from qa.service import Assistant
from qa.translate import query_for_retrieval


@pytest.fixture(scope="module")
def reranker() -> Reranker:
    return Reranker(MODEL_DIR)


def test_the_reranker_loads_offline_and_scores_the_answering_clause_first(reranker, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cases = [
        ("How long do you keep my data?",
         "Data Retention: We retain your personal information for 30 days after you close your account.",
         "Cookies: We use cookies to remember your preferences."),
        ("Do you share my information with advertisers?",
         "Sharing: We share your browsing history with advertising partners to show you relevant ads.",
         "Security: Your password is stored encrypted with bcrypt."),
        ("Can I delete my account?",
         "Your Rights: You can delete your account at any time from the settings page.",
         "Children: Our service is not directed at children under 13."),
    ]
    for question, answer, other in cases:
        p = reranker.probability(question, [answer, other])
        assert p.shape == (2,) and ((p > 0) & (p < 1)).all()
        assert p[0] > p[1], (question, p)
        assert reranker.probability(question, [answer])[0] == p[0]  # whatever it is asked with


def test_each_pair_is_read_at_its_own_length(reranker):
    """MiniLM's tokenizer.json pads every input to 128 tokens; the model's time grows with the
    tokens it reads, so a short pair must not be padded (it ran 3x slower so)."""
    short = reranker.tokenizer.encode("Do you sell my data?", "Selling: We never sell your data.")
    assert 0 not in short.ids and len(short.ids) < 20  # 0: [PAD]
    long = reranker.tokenizer.encode("Do you sell my data?", "We never sell your data. " * 40)
    assert len(long.ids) == reranker.config["max_tokens"]  # still cut where training cut


def test_the_first_stage_score_moves_the_calibrated_probability(reranker):
    text = ["Data Retention: We retain your personal information for 30 days."]
    low = reranker.probability("How long do you keep my data?", text, np.array([0.01]))
    high = reranker.probability("How long do you keep my data?", text, np.array([0.9]))
    assert reranker.config["calibration"][2] > 0 and high[0] > low[0]


def test_list_items_and_short_sentences_are_read_after_their_lead_in_and_section():
    units = [Unit("p", i, text, 0, 0, section, kind) for i, (text, section, kind) in enumerate([
        ("Your rights", ("Your rights",), "heading"),
        ("You can ask us for a copy of the personal data we hold about you.", ("Your rights",), "sentence"),
        ("We will respond within 30 days.", ("Your rights",), "sentence"),
        ("We use the following service providers to run the website and to send you emails:",
         ("Sharing",), "sentence"),
        ("Vercel (hosting)", ("Sharing",), "item"),
        ("Neon (database)", ("Sharing",), "item"),
        ("We do not sell personal information.", ("Selling",), "sentence"),
    ])]
    out = passages(units)
    assert out[0] == "Your rights: Your rights"
    assert out[1] == f"Your rights: {units[1].text}"  # a long sentence stands alone
    assert out[2] == f"Your rights: {units[1].text} … We will respond within 30 days."
    assert out[4].startswith("Sharing: ") and out[4].endswith("… Vercel (hosting)")
    assert "to send you emails: … Neon (database)" in out[5]  # every item of the list
    assert len(out[4]) < len("Sharing: ") + MAX_LEAD + len(" … Vercel (hosting)") + 1
    assert out[6] == "Selling: We do not sell personal information."  # not across sections


def test_an_index_gives_the_reranker_its_units_passages(assistant):
    idx = assistant.index(next(iter(assistant.policies())))
    assert idx.passages == passages(idx.units)
    assert all(p.endswith(u.text) for p, u in zip(idx.passages, idx.units))


def test_a_setting_turns_the_reranker_on_and_answers_then_rest_on_its_probability(seed_store, embedder,
                                                                                   monkeypatch):
    from policyqa.settings import get_settings

    assert Assistant.from_settings(get_settings(), store=seed_store, embedder=embedder).reranker is None
    monkeypatch.setenv("POLICYQA_RERANK", "1")
    get_settings.cache_clear()
    on = Assistant.from_settings(get_settings(), store=seed_store, embedder=embedder)
    assert on.reranker is not None and on.bar == on.reranker.bar
    off = Assistant(seed_store, embedder)
    assert off.reranker is None and off.bar == off.ranker["bar"]
    pid, question = "antiai-pics", "Will my photos be used to train AI?"
    a, b = on.answer(question, pid), off.answer(question, pid)
    assert a.answerable and a.citations[0].quote == "Images will not be used for AI training or marketing purposes"
    idx = on.index(pid)
    best = [i for i, u in enumerate(idx.units) if u.text == a.citations[0].quote][0]
    text, _ = query_for_retrieval(question)
    expected = on.reranker.probability(text, [idx.passages[best]], np.array([_first_stage(on, pid, text, best)]))
    assert a.citations[0].score == pytest.approx(float(expected[0]), abs=1e-6)  # the calibrated probability
    assert [c.score for c in a.citations] != [c.score for c in b.citations]

    monkeypatch.setenv("POLICYQA_RERANKER", str(MODEL_DIR.parent / "no-such-folder"))
    assert load_reranker() is None  # no model file: the first stage alone


def _first_stage(assistant, pid, text, i) -> float:
    from qa import rank

    idx = assistant.index(pid)
    qvec = assistant.embedder.embed_query(text)
    return float(rank.score(rank.features(idx, text, qvec, assistant.ranker, assistant.practices).x,
                            assistant.ranker)[i])


def test_with_the_reranker_related_clauses_never_outrank_relied_on_ones(seed_store, embedder):
    on = Assistant(seed_store, embedder, reranker=True)
    for pid in on.policies():
        for question in ("Who do you share my data with?", "How long do you keep my images?",
                         "Do you collect my location?"):
            ans = on.answer(question, pid)
            relied = [c.score for c in ans.citations if not c.related and not c.listed]
            related = [c.score for c in ans.citations if c.related]
            assert [c.related for c in ans.citations] == sorted(c.related for c in ans.citations)
            if relied and related:
                assert min(relied) >= max(related), (question, pid)
            assert all(s >= on.bar for s in relied)


def test_with_the_reranker_across_policies_cites_those_whose_probability_clears_the_bar(seed_store, embedder):
    on = Assistant(seed_store, embedder, reranker=True)
    for question in ("Do you sell my data?", "Is my data processed in China?", "Who do you share my data with?"):
        ans = on.answer(question)
        _, _, hits, _, addressed = on._retrieve(question, on.scope(None))
        best = {p: h[0].score if h else 0.0 for p, h in hits.items()}
        near = {p: max((x.dense for x in h), default=0.0) for p, h in hits.items()}
        clear = {p for p, s in best.items()  # and close in meaning, as compose.select asks
                 if s >= on.bar and addressed[p] >= on.gate and near[p] >= compose.MIN_COSINE}
        assert set(ans.policies) == clear, (question, best, addressed, near)


def test_with_the_reranker_a_policy_the_gate_finds_silent_is_not_reread(seed_store, embedder, monkeypatch):
    # it relies on no clause whatever they score, so the reranker's time goes to the others only
    on = Assistant(seed_store, embedder, reranker=True)
    question = "Is my data processed in China?"
    addressed = on._retrieve(question, on.scope(None))[4]
    silent = {p for p, a in addressed.items() if a < on.gate}
    assert silent and silent != set(addressed)  # both kinds, or the test says nothing
    read = []
    logits = on.reranker.logits
    monkeypatch.setattr(on.reranker, "logits", lambda q, texts: read.append(len(texts)) or logits(q, texts))
    ans = on.answer(question)
    assert len(read) == len(addressed) - len(silent)
    assert not set(ans.policies) & silent


def test_with_the_reranker_a_long_policy_still_refuses_what_it_is_silent_on(tmp_path, embedder):
    from conftest import new_store
    from ingest.pipeline import ingest_paths

    from test_relevance import NATURAL

    store = new_store(tmp_path / "walmart")
    assert not ingest_paths([NATURAL / "walmart-com.txt"], store, embedder).failed
    on = Assistant(store, embedder, reranker=True)
    ans = on.answer("Is my data sent to China?", "walmart-com")
    assert not ans.answerable and ans.citations and all(c.related for c in ans.citations)
    assert on.answer("Can I opt out of receiving marketing emails?", "walmart-com").answerable
