"""The practice models (qa/models/practices.npz, from OPP-115): they load from the repository, say
which data practice a question asks about and whether a policy states it, and the gate reads
that as one of its figures."""
from __future__ import annotations

import numpy as np
import pytest

from qa import practices, rank


@pytest.fixture(scope="module")
def model() -> practices.Practices:
    m = practices.load()
    assert m is not None, "qa/models/practices.npz is missing: python benchmarks/train_practices.py"
    return m


def test_the_practice_models_match_the_shipped_embedder(model, embedder):
    assert model.meta["embedder"] == embedder.name
    assert model.clause_w.shape == (len(model.types), embedder.dim) == model.question_w.shape


def test_a_policy_that_never_states_the_practice_asked_about_reads_as_silent(model, embedder):
    states = embedder.embed_passages([
        "We use cookies to remember your preferences and to track how visitors use the site.",
        "Our site responds to Do Not Track signals: when your browser sends one, we stop tracking you.",
    ])
    never = states[:1]  # tracking words, but nothing on Do Not Track
    q = embedder.embed_query("Do you honour the Do Not Track setting in my browser?")
    asked = model.asked(q)
    assert "Do Not Track" in model.types[int(np.argmax(asked))]
    near, far = practices.silence(asked, model.stated(states)), practices.silence(asked, model.stated(never))
    assert far < near and far < np.log(0.1) < near, (near, far)
    assert practices.silence(asked, model.stated(np.zeros((0, embedder.dim), np.float32))) <= far


def test_the_gate_reads_the_silence_figure_and_refuses_more_when_it_falls(assistant):
    gate = assistant.ranker["gate"]
    assert gate["features"][-1] == "silence" == rank.GATE[-1] and len(gate["coef"]) == len(rank.GATE)
    x = np.tile(np.linspace(0.1, 0.9, len(rank.FEATURES)), (20, 1)).astype(np.float32)
    scores = np.linspace(0.8, 0.0, 20).astype(np.float32)
    said = rank.addresses(x, scores, assistant.ranker, silence=0.0)
    unsaid = rank.addresses(x, scores, assistant.ranker, silence=float(np.log(practices.FLOOR)))
    assert unsaid < said


def test_a_long_policy_silent_on_do_not_track_is_refused_for_it(tmp_path, embedder):
    # vikings-com (OPP-115 validation, natural-dev) speaks of cookies and of tracking, never of
    # Do Not Track: the first stage's figures alone find it addresses the question
    from test_relevance import one_policy

    from conftest import ROOT

    vikings = one_policy(tmp_path, ROOT / "benchmarks" / "natural_dev" / "corpus" / "vikings-com.txt", embedder)
    question = "Does vikings.com respond to my browser's Do Not Track signal?"
    ans = vikings.answer(question, "vikings-com")
    assert not ans.answerable and ans.citations and all(c.related for c in ans.citations)
    assert vikings.answer("Do you use cookies on vikings.com?", "vikings-com").answerable
    vikings.practices = None  # the gate without the silence figure
    assert vikings.answer(question, "vikings-com").answerable
