"""The practice models (qa/models/practices.npz, from OPP-115): they load from the repository, say
which data practice a question asks about and whether a policy states it, and the gate reads
that as one of its figures."""
from __future__ import annotations

import numpy as np
import pytest

from ingest.types import Unit
from qa import practices, rank
from qa.index import PolicyIndex


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


@pytest.mark.parametrize("question, topic, says", [
    ("If you get hacked, will you tell me?", "breach_notification",
     "If a security breach exposes your personal information, we will notify you by email within 72 hours."),
    ("Which country is my data stored in?", "data_location", "Your data is stored on servers located in Germany."),
    ("Will my photos be used to train AI?", "ai_training", "We never use your photos to train our AI models."),
])
def test_topics_opp115_has_no_practice_for_are_asked_and_stated(model, embedder, question, topic, says):
    """Topics of our own (benchmarks/plain_train/topics): the question asks about the topic, the
    clause that answers it states it, and a security clause (close in words) does not."""
    near_miss, states = embedder.embed_passages(
        ["We use industry-standard encryption and firewalls to protect your information.", says])
    asked = model.asked(embedder.embed_query(question))
    assert model.types[int(np.argmax(asked))] == practices.TOPIC + topic
    assert practices.silence(asked, model.stated(near_miss[None])) < np.log(0.1) < \
        practices.silence(asked, model.stated(states[None]))


def test_the_first_stage_reads_which_clause_states_the_practice_asked_about(model, embedder):
    """The "practice_gap" column: 0 for the clause likeliest to state what the question asks
    about, below 0 for the others (an order, not a level: silence is the gate's), 0 everywhere
    without the practice models; the shipped first stage weighs it."""
    units = ["We use cookies to remember your preferences and to track how visitors use the site.",
             "Our site responds to Do Not Track signals: when your browser sends one, we stop tracking you.",
             "You can contact us at privacy@example.com."]
    pidx = PolicyIndex.of("p", [Unit(policy="p", order=i, text=t, start=0, end=len(t))
                                for i, t in enumerate(units)],
                          [str(i) for i in range(len(units))], embedder.embed_passages(units))
    question = "Do you honour the Do Not Track setting in my browser?"
    qvec = embedder.embed_query(question)
    col = rank.FEATURES.index("practice_gap")
    gap = rank.base_features(pidx, question, qvec, model).x[:, col]
    assert gap[1] == 0 and gap[0] < -1 and gap[2] < -1, gap
    assert not rank.base_features(pidx, question, qvec).x[:, col].any()
    assert rank.load_model()["coef"][col] > 0


def test_the_gate_reads_the_silence_figure_and_refuses_more_when_it_falls(assistant):
    gate = assistant.ranker["gate"]
    assert gate["features"][-1] == "silence" == rank.GATE[-1] and len(gate["coef"]) == len(rank.GATE)
    x = np.tile(np.linspace(0.1, 0.9, len(rank.FEATURES)), (20, 1)).astype(np.float32)
    scores = np.linspace(0.8, 0.0, 20).astype(np.float32)
    said = rank.addresses(x, scores, assistant.ranker, silence=0.0)
    unsaid = rank.addresses(x, scores, assistant.ranker, silence=float(np.log(practices.FLOOR)))
    assert unsaid < said


def test_a_long_policy_silent_on_breach_notice_is_refused_for_it(tmp_path, embedder):
    # tulsaworld-com (OPP-115 validation, natural-dev) speaks of security measures and encryption,
    # never of telling users about a breach (a topic of our own: OPP-115 has no practice for it):
    # the first stage's figures alone find it addresses the question
    from test_relevance import one_policy

    from conftest import ROOT

    tulsa = one_policy(tmp_path, ROOT / "benchmarks" / "natural_dev" / "corpus" / "tulsaworld-com.txt", embedder)
    question = "If you get hacked and my data leaks, will you tell me?"
    ans = tulsa.answer(question, "tulsaworld-com")
    assert not ans.answerable and ans.citations and all(c.related for c in ans.citations)
    assert tulsa.answer("How do you protect my personal information?", "tulsaworld-com").answerable
    tulsa.practices = None  # the gate without the silence figure
    assert tulsa.answer(question, "tulsaworld-com").answerable
