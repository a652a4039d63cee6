"""Turn ranked hits into an Answer whose every statement is a cited, verbatim quote.

For each policy one decision, a `Verdict` (`decide`), says what is relied on and what is
related (by `select`, the one place relevance thresholds apply), which lists the relied-on
clauses belong to, and, for a yes/no question, the direct reply a relied-on sentence gives
plainly (`qa.polarity`). The answer is built from verdicts as blocks: a verdict line, the
quotes of each policy that addresses the question (a list's items under its lead-in), notes in
the answer's own words, or, when nothing answers, what the policy never mentions and the
closest clauses as related. The default answerer writes no claims of its own beyond "yes",
"no" or "does not say" with the quote it rests on."""
from __future__ import annotations

from dataclasses import replace

from ingest.store import PolicyRecord
from qa import lists, polarity
from qa.index import PolicyIndex
from qa.types import Answer, Block, Citation, Hit, Kind, ListGroup, Quote, Reply, Status, Verdict

MAX_CITED = 3  # quotes an answer relies on
MAX_SHOWN = 5  # citations returned in all, the rest as related
KEEP_RATIO = 0.6  # a further quote must score at least this share of the best one
MIN_COSINE = 0.3  # a relied-on clause must also be close in meaning: off-topic questions
#                   ("How do I bake bread?") reach at most ~0.2 with any clause, while 99.3% of
#                   PolicyQA questions have a clause at 0.3 or more
MAX_QUOTE = 400  # the longest a passage grows (passages): ../shared/bench/score_seeds.py's longest
#                  quote that is still a precise pointer to the answer


def select(hits: list[Hit], bar: float) -> tuple[list[Hit], list[Hit]]:
    """Split ranked hits into (relied on, related). Nothing is relied on below the bar, nor when
    no clause ranked (the policy's best POOL) is MIN_COSINE close to the question in meaning: the
    question is off every topic the policy has. The clauses relied on need not be close
    themselves: a long sentence that answers can sit below the floor ("We implement
    industry-standard security measures: encrypted passwords (bcrypt, ...)" for "Is my password
    encrypted?"), and so can each item of a list the first stage reads as the answer ("PostHog:
    product analytics." for "Who do you share my data with?"; until 2026-12-03 the floor asked
    it of the first MAX_CITED)."""
    top = hits[:MAX_CITED]
    if not hits or hits[0].score < bar or max(h.dense for h in hits) < MIN_COSINE:
        return [], hits[:MAX_SHOWN]
    cited = [h for h in top if h.score >= bar and h.score >= KEEP_RATIO * hits[0].score]
    rest = [h for h in hits if h not in cited]
    return cited, rest[: MAX_SHOWN - len(cited)]


def passages(hits: list[Hit], index: PolicyIndex | None, k: int = MAX_SHOWN) -> list[Hit]:
    """The ranked hits as the passages an answer quotes, best first. The best hits are taken, in
    rank order, until they make k passages: sentences next to each other in a paragraph (the same
    section and page, nothing but spaces between them) make one passage, so a quote reads as the
    policy does and sentences the first stage ranks high take one place among the k instead of
    two (PolicyQA dev: an annotated answer among the first five quotes 0.576 -> 0.602,
    2026-12-03). A passage has its best sentence's score and place; nothing before the best
    hit joins it, as the answer leads with that sentence. Headings, list items and lead-ins
    (index.signpost) stay single; a passage grows to MAX_QUOTE characters at most. The hits not
    taken follow as they are. Without the policy's text (index.text) the hits are the passages."""
    if index is None or not index.text or not hits:
        return list(hits)
    at = {uid: i for i, uid in enumerate(index.ids)}
    units, text, lead = index.units, index.text, at.get(hits[0].unit_id)

    def joins(a: int, b: int) -> bool:  # unit b continues unit a's paragraph
        ua, ub = units[a], units[b]
        return (b == a + 1 and b != lead and ua.section == ub.section and ua.page == ub.page
                and ua.kind == ub.kind == "sentence" and not index.signpost[a] and not index.signpost[b]
                and not text[ua.end:ub.start].strip(" "))

    def runs(taken: dict[int, int]) -> list[list[int]]:  # the taken units as passages, in policy order
        out: list[list[int]] = []
        for i in sorted(taken):
            if out and joins(out[-1][-1], i) and units[i].end - units[out[-1][0]].start <= MAX_QUOTE:
                out[-1].append(i)
            else:
                out.append([i])
        return out

    taken: dict[int, int] = {}  # unit -> its hit's rank: the first len(taken) hits
    for rank, h in enumerate(hits):
        i = at.get(h.unit_id)
        if i is None or len(runs(taken | {i: rank})) > k:
            break
        taken[i] = rank
    out = []
    for run in sorted(runs(taken), key=lambda r: min(taken[i] for i in r)):
        best, members = hits[min(taken[i] for i in run)], [hits[taken[i]] for i in run]
        if len(run) > 1:
            start, end = units[run[0]].start, units[run[-1]].end
            best = replace(best, text=text[start:end], start=start, end=end,
                           dense=max(m.dense for m in members), lexical=max(m.lexical for m in members))
        out.append(best)
    return out + list(hits[len(taken):])


def citation(n: int, hit: Hit, rec: PolicyRecord, related: bool = False, listed: bool = False) -> Citation:
    return Citation(n=n, policy=hit.policy, policy_name=rec.meta.name, quote=hit.text,
                    section=hit.section, score=hit.score, start=hit.start, end=hit.end,
                    last_updated=rec.meta.last_updated, unit_id=hit.unit_id, related=related,
                    page=hit.page, listed=listed)


# The answer's own words, in the question's language; quotes always stay verbatim. A question in
# a language without a glossary ("other") that finds nothing gets "unread", in English: the
# assistant could not read it, which says nothing about whether the policy addresses it.
UNREAD = ("No answer found, but this question seems to be in a language policyqa does not read yet, "
          "so this does not mean {scope} silent on it. Please ask in English, 中文, 日本語, español, "
          "français or Deutsch.")
PHRASES_OTHER = {"related": "The clauses closest to it:"}
PHRASES = {
    "en": {"yes": "Yes, according to the {name} privacy policy.",
           "no": "No, according to the {name} privacy policy.",
           "not_said": "The policy does not say: the {name} privacy policy does not address this.",
           "absent_short": "does not mention {terms}", "absent": "It does not mention {terms}.",
           "says": "The {name} privacy policy says:",
           "silent": "The {name} privacy policy does not address this.",
           "related": "The closest related clauses, which do not answer it:",
           "some": "{k} of {n} policies address this.",
           "some_1": "1 of {n} policies addresses this.", "not_by": "Not addressed by: ",
           "none": "None of the policies addresses this.",
           "nearest": "(Of {total} policies, the {n} closest to the question were read.)"},
    "zh": {"yes": "是的，根据 {name} 的隐私政策。", "no": "不，根据 {name} 的隐私政策。",
           "not_said": "政策没有说明：{name} 的隐私政策没有涉及这个问题。",
           "absent_short": "未提到 {terms}", "absent": "其中没有提到 {terms}。",
           "says": "{name} 的隐私政策写道：", "silent": "{name} 的隐私政策没有涉及这个问题。",
           "related": "最相关的条款（并未回答这个问题）：", "some": "{n} 项政策中有 {k} 项涉及这个问题。",
           "not_by": "未涉及：", "none": "没有任何政策涉及这个问题。",
           "nearest": "（共 {total} 项政策，只读了与问题最相关的 {n} 项。）"},
    "ja": {"yes": "はい（{name} のプライバシーポリシーによる）。",
           "no": "いいえ（{name} のプライバシーポリシーによる）。",
           "not_said": "ポリシーには書かれていません：{name} のプライバシーポリシーはこの質問に触れていません。",
           "absent_short": "{terms} の記述なし", "absent": "{terms} についての記述はありません。",
           "says": "{name} のプライバシーポリシーには次のように書かれています：",
           "silent": "{name} のプライバシーポリシーはこの質問に触れていません。",
           "related": "関連する条項（この質問への回答ではありません）：",
           "some": "{n} 件のポリシーのうち {k} 件がこの質問に触れています。",
           "not_by": "触れていないポリシー：", "none": "この質問に触れているポリシーはありません。",
           "nearest": "（全 {total} 件のうち、質問に最も近い {n} 件を読みました。）"},
    "es": {"yes": "Sí, según la política de privacidad de {name}.",
           "no": "No, según la política de privacidad de {name}.",
           "not_said": "La política no lo dice: la política de privacidad de {name} no trata esta cuestión.",
           "absent_short": "no menciona {terms}", "absent": "No menciona {terms}.",
           "says": "La política de privacidad de {name} dice:",
           "silent": "La política de privacidad de {name} no trata esta cuestión.",
           "related": "Las cláusulas relacionadas más cercanas, que no la responden:",
           "some": "{k} de {n} políticas tratan esta cuestión.",
           "some_1": "1 de {n} políticas trata esta cuestión.", "not_by": "No la tratan: ",
           "none": "Ninguna de las políticas trata esta cuestión.",
           "nearest": "(De {total} políticas, se leyeron las {n} más cercanas a la pregunta.)"},
    "fr": {"yes": "Oui, selon la politique de confidentialité de {name}.",
           "no": "Non, selon la politique de confidentialité de {name}.",
           "not_said": "La politique ne le dit pas : la politique de confidentialité de {name} ne traite pas cette question.",
           "absent_short": "ne mentionne pas {terms}", "absent": "Elle ne mentionne pas {terms}.",
           "says": "La politique de confidentialité de {name} dit :",
           "silent": "La politique de confidentialité de {name} ne traite pas cette question.",
           "related": "Les clauses liées les plus proches, qui n'y répondent pas :",
           "some": "{k} politiques sur {n} traitent cette question.",
           "some_1": "1 politique sur {n} traite cette question.", "not_by": "Ne la traitent pas : ",
           "none": "Aucune des politiques ne traite cette question.",
           "nearest": "(Sur {total} politiques, les {n} plus proches de la question ont été lues.)"},
    "de": {"yes": "Ja, laut der Datenschutzerklärung von {name}.",
           "no": "Nein, laut der Datenschutzerklärung von {name}.",
           "not_said": "Die Richtlinie sagt dazu nichts: Die Datenschutzerklärung von {name} behandelt diese Frage nicht.",
           "absent_short": "erwähnt {terms} nicht", "absent": "{terms} wird darin nicht erwähnt.",
           "says": "Die Datenschutzerklärung von {name} sagt:",
           "silent": "Die Datenschutzerklärung von {name} behandelt diese Frage nicht.",
           "related": "Die nächstliegenden Klauseln, die sie nicht beantworten:",
           "some": "{k} von {n} Richtlinien behandeln diese Frage.",
           "some_1": "1 von {n} Richtlinien behandelt diese Frage.", "not_by": "Nicht behandelt von: ",
           "none": "Keine der Richtlinien behandelt diese Frage.",
           "nearest": "(Von {total} Richtlinien wurden die {n} gelesen, die der Frage am nächsten sind.)"},
}


def phrase(lang: str, key: str, **kw) -> str:
    if lang == "other" and key in PHRASES_OTHER:
        return PHRASES_OTHER[key].format(**kw)
    phrases = PHRASES.get(lang, PHRASES["en"])
    if kw.get("k") == 1 and f"{key}_1" in phrases:  # the singular, where the language has one
        key = f"{key}_1"
    return phrases[key].format(**kw)


def quoted(words: list[str]) -> str:
    return ", ".join(f"“{w}”" for w in words)


def with_absent(text: str, lang: str, absent) -> str:
    """A sentence, then what the policy never mentions: '... It does not mention “China”.'"""
    if not absent:
        return text
    return text + ("" if lang in ("zh", "ja") else " ") + phrase(lang, "absent", terms=quoted(list(absent)))


# --------------------------------------------------------------------------- the decision
def decide(question: str, hits: list[Hit], policy: str, bar: float, lang: str = "en",
           absent: list[str] = (), index: PolicyIndex | None = None, query: str | None = None,
           addressed: float | None = None, gate: float | None = None) -> Verdict:
    """The verdict of one policy on one question. `absent`: what the question names that the
    policy never mentions (qa.rank.absent); `index`: the policy's units, for its lists; `query`:
    the English a question in another language was searched with; `addressed`: the gate's
    P(the policy addresses the question) (qa.rank.addresses), which must reach `gate` for any
    clause to be relied on."""
    hits = passages(hits, index)
    cited, related = select(hits, bar)
    gated = bool(cited) and finds_silent(addressed, gate)
    if gated:
        cited, related = [], hits[:MAX_SHOWN]
    reply = rests_on = None
    if cited:
        status, why = Status.ANSWERED, f"{len(cited)} clause(s) clear the bar {bar:g}"
        found = polarity.reply(question, query or question, lang, cited, item_context(cited, index))
        if found:
            (reply, rests_on), why = found, why + f"; one says {found[0].value} plainly"
    elif lang == "other":
        status, why = Status.LANGUAGE_NOT_SUPPORTED, "nothing found, and the question's language has no glossary"
    else:
        status = Status.NOT_ADDRESSED
        why = (f"it does not mention {', '.join(absent)}" if absent
               else f"the gate finds it silent: P(addresses) {addressed:.2f} < {gate:g}" if gated
               else f"no clause clears the bar {bar:g}")
        if absent and polarity.is_yes_no(question, lang):  # silence the policy's own words show
            reply = Reply.NOT_SAID
    return Verdict(policy=policy, status=status, relied_on=tuple(cited), related=tuple(related), why=why,
                   absent=tuple(absent) if status is Status.NOT_ADDRESSED else (),
                   lists=complete_lists(question, lang, cited, hits, index) if cited and index else (),
                   reply=reply, rests_on=rests_on, addressed=addressed)


def finds_silent(addressed: float | None, gate: float | None) -> bool:
    """The gate finds the policy silent: its P(addresses) (qa.rank.addresses) is below the gate's
    threshold; then no clause is relied on, whatever they score (decide)."""
    return addressed is not None and gate is not None and addressed < gate


def item_context(hits: list[Hit], index: PolicyIndex | None) -> dict[str, str]:
    """What says what a list item is: its heading and its list's lead-in ("Data We Collect",
    "We may collect the following:"), by unit id, for the relied-on hits that are list items."""
    out = {}
    for h in hits if index is not None else ():
        i = _position(index.units, h.order)
        if i is None or index.units[i].kind != "item":
            continue
        lead = lists.list_of(index.units, i)[0]
        out[h.unit_id] = " ".join([*index.units[i].section[-1:], index.units[lead].text if lead is not None else ""])
    return out


def complete_lists(question: str, lang: str, cited: list[Hit], hits: list[Hit],
                   index: PolicyIndex) -> tuple[ListGroup, ...]:
    """The lists the relied-on clauses belong to, when the list is the answer: the clause is a
    list's lead-in, or an item and the question asks for a set of things (qa.lists)."""
    units, scored = index.units, {h.unit_id: h for h in hits}

    def hit(j: int) -> Hit:  # a unit as retrieval scored it, or unscored if it was not among the hits
        return scored.get(index.ids[j]) or Hit.of(units[j], index.ids[j], 0.0)

    wants_set = lists.asks_for_a_set(question, lang)
    groups, seen, budget = [], set(), lists.MAX_ITEMS
    for h in cited:
        i = _position(units, h.order)
        found = lists.list_of(units, i) if i is not None else None
        if not found or found[1][0] in seen or not (wants_set or lists.is_lead_in(units, i)):
            continue
        lead, items = found
        seen.add(items[0])
        shown = [j for k, j in enumerate(items) if k < budget or j == i]
        budget = max(budget - len(shown), 0)
        groups.append(ListGroup(lead=hit(lead) if lead is not None else None,
                                items=tuple(hit(j) for j in shown), more=len(items) - len(shown)))
    return tuple(groups)


def _position(units, order: int) -> int | None:
    if 0 <= order < len(units) and units[order].order == order:
        return order
    return next((i for i, u in enumerate(units) if u.order == order), None)


# --------------------------------------------------------------------------- blocks
def shown(v: Verdict) -> list[tuple[Hit, tuple[Hit, ...], int]]:
    """The relied-on quotes in the order shown: (clause, list items under it, items left out).
    Each relied-on clause in select's order; a list where its first relied-on member comes (its
    lead-in, the items under it; a list without a lead-in, its items one by one); each clause once."""
    out, seen = [], set()
    for h in v.relied_on:
        if h.unit_id in seen:
            continue
        group = next((g for g in v.lists if h.unit_id in {x.unit_id for x in (g.lead, *g.items) if x}), None)
        if group is None:
            out.append((h, (), 0))
            seen.add(h.unit_id)
            continue
        items = tuple(x for x in group.items if x.unit_id not in seen)
        if group.lead is not None and group.lead.unit_id not in seen:
            out.append((group.lead, items, group.more))
        else:
            out += [(x, (), 0) for x in items]
        seen |= {x.unit_id for x in (group.lead, *items) if x}
    return out


class Numbering:
    """Citation numbers in the order the quotes are shown; the citations themselves best first."""

    def __init__(self):
        self.n: dict[str, int] = {}

    def __call__(self, h: Hit) -> int:
        return self.n.setdefault(h.unit_id, len(self.n) + 1)

    def quotes(self, entries) -> tuple[Quote, ...]:
        return tuple(Quote(self(h), tuple(self(x) for x in items), more) for h, items, more in entries)


def relied_citations(v: Verdict, rec: PolicyRecord, number: Numbering) -> list[Citation]:
    """A policy's relied-on citations, best first: select's, then the list items shown with them."""
    ranked = {h.unit_id for h in v.relied_on}
    listed = sorted({x.unit_id: x for h, items, _ in shown(v) for x in (h, *items) if x.unit_id not in ranked}
                    .values(), key=lambda x: -x.score)
    return ([citation(number(h), h, rec) for h in v.relied_on]
            + [citation(number(h), h, rec, listed=True) for h in listed])


def verdict_block(v: Verdict, rec: PolicyRecord, lang: str, number: Numbering) -> list[Block]:
    if v.reply is None:
        return []
    text = phrase(lang, v.reply.value, name=rec.meta.name)
    if v.reply is Reply.NOT_SAID:
        text = with_absent(text, lang, v.absent)
    quotes = (Quote(number(v.rests_on)),) if v.rests_on is not None else ()
    return [Block(Kind.VERDICT, text, quotes, policy=v.policy, reply=v.reply)]


def compose_one(question: str, v: Verdict, rec: PolicyRecord, lang: str = "en") -> Answer:
    """The answer for one policy, from its verdict."""
    number = Numbering()
    entries = shown(v)
    number.quotes(entries)  # quotes are numbered in the order shown
    blocks = verdict_block(v, rec, lang, number)
    name = rec.meta.name
    if v.status is Status.ANSWERED:
        blocks.append(Block(Kind.QUOTES, phrase(lang, "says", name=name), number.quotes(entries), policy=v.policy))
        cites = relied_citations(v, rec, number)
    else:
        cites = []
        if v.status is Status.LANGUAGE_NOT_SUPPORTED:
            blocks.append(Block(Kind.NOTE, UNREAD.format(scope=f"the {name} privacy policy is"), policy=v.policy))
        elif v.reply is not Reply.NOT_SAID:  # the verdict line says it otherwise
            blocks.append(Block(Kind.NOTE, with_absent(phrase(lang, "silent", name=name), lang, v.absent),
                                policy=v.policy))
    rel = [citation(number(h), h, rec, related=True) for h in v.related if h.unit_id not in number.n]
    if rel and not v.relied_on:
        blocks.append(Block(Kind.RELATED, phrase(lang, "related"), tuple(Quote(c.n) for c in rel), policy=v.policy))
    return Answer(question=question, status=v.status, blocks=tuple(blocks), citations=tuple(cites + rel),
                  policy=v.policy, policies=(v.policy,) if v.relied_on else (), absent=v.absent,
                  addressed=gate_readings([v]))


def compose_across(question: str, verdicts: dict[str, Verdict], records: dict[str, PolicyRecord],
                   lang: str = "en") -> Answer:
    """The answer across all policies: each policy's verdict is the one it gets alone; one
    group of quotes for each policy that addresses the question, best policy first. When
    `verdicts` covers only some of `records` (the policies nearest to the question), the note
    says how many were read of how many."""
    nearest = f" {phrase(lang, 'nearest', total=len(records), n=len(verdicts))}" if len(verdicts) < len(records) else ""
    ranked = sorted(verdicts.values(), key=lambda v: -max((h.score for h in v.relied_on + v.related), default=0.0))
    yes = [v for v in ranked if v.status is Status.ANSWERED]
    number = Numbering()
    if not yes:
        best = sorted((v.related[0] for v in ranked if v.related), key=lambda h: -h.score)[:MAX_SHOWN]
        rel = [citation(number(h), h, records[h.policy], related=True) for h in best]
        unread = lang == "other"
        blocks = [Block(Kind.NOTE, UNREAD.format(scope="the policies are") if unread else phrase(lang, "none") + nearest)]
        if rel:
            blocks.append(Block(Kind.RELATED, phrase(lang, "related"), tuple(Quote(c.n) for c in rel)))
        return Answer(question=question, status=Status.LANGUAGE_NOT_SUPPORTED if unread else Status.NOT_ADDRESSED,
                      blocks=tuple(blocks), citations=tuple(rel), addressed=gate_readings(ranked))
    groups = []
    for v in yes:  # numbered in the order shown: policy by policy
        groups.append(Block(Kind.QUOTES, records[v.policy].meta.name + ":", number.quotes(shown(v)), policy=v.policy))
    blocks = [b for v in yes for b in verdict_block(v, records[v.policy], lang, number)]
    blocks.append(Block(Kind.NOTE, phrase(lang, "some", k=len(yes), n=len(verdicts)) + nearest))
    blocks += groups
    silent = [records[v.policy].meta.name
              + (f" ({phrase(lang, 'absent_short', terms=quoted(list(v.absent)))})" if v.absent else "")
              for v in ranked if v.status is not Status.ANSWERED]
    if silent:
        blocks.append(Block(Kind.NOTE, phrase(lang, "not_by") + ", ".join(silent) + "."))
    per_policy = [relied_citations(v, records[v.policy], number) for v in yes]
    cites = [c for cs in per_policy for c in cs if not c.listed] + [c for cs in per_policy for c in cs if c.listed]
    return Answer(question=question, status=Status.ANSWERED, blocks=tuple(blocks), citations=tuple(cites),
                  policies=tuple(v.policy for v in yes), addressed=gate_readings(ranked))


def gate_readings(verdicts: list[Verdict]) -> dict[str, float]:
    """Each policy's P(it addresses the question) by the ranker's gate, where it has one."""
    return {v.policy: v.addressed for v in verdicts if v.addressed is not None}
