"""The structured Answer: its text and its copy-ready text are rendered from the blocks, once."""
import json

from qa.types import Answer, Block, Citation, Kind, Quote, Reply, Status, with_marks


def cite(n, quote, section="3. Sharing", related=False, listed=False):
    return Citation(n=n, policy="acme", policy_name="Acme", quote=quote, section=section, score=1.0 / n,
                    start=0, end=len(quote), last_updated="2026-01-02", related=related, listed=listed)


LEAD, A, B = "We use these services:", "Stripe (payments)", "Resend (email)"
ANSWERED = Answer(
    question="Who do you share my data with?", status=Status.ANSWERED, policy="acme", policies=("acme",),
    blocks=(Block(Kind.QUOTES, "The Acme privacy policy says:", (Quote(1, (2, 3), more=4),), policy="acme"),),
    citations=(cite(2, A), cite(1, LEAD, listed=True), cite(3, B, listed=True),
               cite(4, "We keep logs.", "5. Logs", related=True)))


def test_the_text_shows_each_quote_once_a_list_under_its_lead_in():
    assert ANSWERED.answer == "\n".join(["The Acme privacy policy says:", f"- “{LEAD}” [1]", f"  - “{A}” [2]",
                                         f"  - “{B}” [3]"])


def test_copy_ready_text_lists_the_sources_shown_and_no_related_clause():
    assert ANSWERED.with_sources() == ANSWERED.answer + (
        "\n\nSources:\n[1] Acme, section “3. Sharing”, last updated 2026-01-02\n"
        "[2] Acme, section “3. Sharing”, last updated 2026-01-02\n"
        "[3] Acme, section “3. Sharing”, last updated 2026-01-02\n")


def test_verdict_markers_go_before_the_final_stop_and_the_json_keeps_strings():
    assert with_marks("Yes, according to the Acme privacy policy.", [1]) == "Yes, according to the Acme privacy policy [1]."
    assert with_marks("是的，根据 Acme 的隐私政策。", [2, 3]) == "是的，根据 Acme 的隐私政策 [2][3]。"
    silent = Answer(question="Is my data sent to China?", status=Status.NOT_ADDRESSED, policy="acme",
                    blocks=(Block(Kind.VERDICT, "The policy does not say.", policy="acme", reply=Reply.NOT_SAID),
                            Block(Kind.RELATED, "The closest:", (Quote(1),), policy="acme")),
                    citations=(cite(1, "We keep logs.", related=True),))
    assert silent.answer == "The policy does not say.\n\nThe closest:\n- “We keep logs.” [1]"
    d = json.loads(json.dumps(silent.to_dict()))
    assert d["status"] == "not_addressed" and d["answerable"] is False and d["answer"] == silent.answer
    assert d["blocks"][0] == {"kind": "verdict", "text": "The policy does not say.", "policy": "acme", "quotes": [],
                              "reply": "not_said"}
    assert "Sources:\n[1] Acme, section “3. Sharing”" in silent.with_sources()  # nothing answers: related shown
