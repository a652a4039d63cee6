"""Turn ranked hits into an Answer whose every statement is a cited, verbatim quote.

The default answerer writes no claims of its own: it says which policy it is reading, quotes
the sentences that cleared the bar, each with its marker, or says plainly that the policy does
not address the question and lists the closest clauses as related."""
from __future__ import annotations

from ingest.store import PolicyRecord
from qa.types import Answer, Citation, Hit

MAX_CITED = 3  # quotes an answer relies on
MAX_SHOWN = 5  # citations returned in all, the rest as related
KEEP_RATIO = 0.6  # a further quote must score at least this share of the best one
MIN_COSINE = 0.3  # a relied-on clause must also be close in meaning: off-topic questions
#                   ("How do I bake bread?") reach at most ~0.2 with any clause, while 99.3% of
#                   PolicyQA questions have a clause at 0.3 or more


def select(hits: list[Hit], bar: float) -> tuple[list[Hit], list[Hit]]:
    """Split ranked hits into (relied on, related). Nothing is relied on below the bar, nor when
    no clause among the first MAX_CITED is MIN_COSINE close to the question in meaning (a long
    sentence that answers can sit below the floor itself: "We implement industry-standard
    security measures: encrypted passwords (bcrypt, ...)" for "Is my password encrypted?")."""
    top = hits[:MAX_CITED]
    if not hits or hits[0].score < bar or max(h.dense for h in top) < MIN_COSINE:
        return [], hits[:MAX_SHOWN]
    cited = [h for h in top if h.score >= bar and h.score >= KEEP_RATIO * hits[0].score]
    rest = [h for h in hits if h not in cited]
    return cited, rest[: MAX_SHOWN - len(cited)]


def citation(n: int, hit: Hit, rec: PolicyRecord, related: bool) -> Citation:
    return Citation(n=n, policy=hit.policy, policy_name=rec.meta.name, quote=hit.text,
                    section=hit.section, score=hit.score, start=hit.start, end=hit.end,
                    last_updated=rec.meta.last_updated, unit_id=hit.unit_id, related=related,
                    page=hit.page)


# The answer's own words, in the question's language; quotes always stay verbatim. A question in
# a language without a glossary ("other") that finds nothing gets "unread", in English: the
# assistant could not read it, which says nothing about whether the policy addresses it.
UNREAD = ("No answer found, but this question seems to be in a language policyqa does not read yet, "
          "so this does not mean {scope} silent on it. Please ask in English, 中文, 日本語, español, "
          "français or Deutsch.")
PHRASES_OTHER = {"related": "The clauses closest to it:"}
PHRASES = {
    "en": {"absent_short": "does not mention {terms}", "absent": "It does not mention {terms}.",
           "says": "The {name} privacy policy says:",
           "silent": "The {name} privacy policy does not address this.",
           "related": "The closest related clauses, which do not answer it:",
           "some": "{k} of {n} policies address this.",
           "some_1": "1 of {n} policies addresses this.", "not_by": "Not addressed by: ",
           "none": "None of the policies addresses this."},
    "zh": {"absent_short": "未提到 {terms}", "absent": "其中没有提到 {terms}。",
           "says": "{name} 的隐私政策写道：", "silent": "{name} 的隐私政策没有涉及这个问题。",
           "related": "最相关的条款（并未回答这个问题）：", "some": "{n} 项政策中有 {k} 项涉及这个问题。",
           "not_by": "未涉及：", "none": "没有任何政策涉及这个问题。"},
    "ja": {"absent_short": "{terms} の記述なし", "absent": "{terms} についての記述はありません。",
           "says": "{name} のプライバシーポリシーには次のように書かれています：",
           "silent": "{name} のプライバシーポリシーはこの質問に触れていません。",
           "related": "関連する条項（この質問への回答ではありません）：",
           "some": "{n} 件のポリシーのうち {k} 件がこの質問に触れています。",
           "not_by": "触れていないポリシー：", "none": "この質問に触れているポリシーはありません。"},
    "es": {"absent_short": "no menciona {terms}", "absent": "No menciona {terms}.",
           "says": "La política de privacidad de {name} dice:",
           "silent": "La política de privacidad de {name} no trata esta cuestión.",
           "related": "Las cláusulas relacionadas más cercanas, que no la responden:",
           "some": "{k} de {n} políticas tratan esta cuestión.",
           "some_1": "1 de {n} políticas trata esta cuestión.", "not_by": "No la tratan: ",
           "none": "Ninguna de las políticas trata esta cuestión."},
    "fr": {"absent_short": "ne mentionne pas {terms}", "absent": "Elle ne mentionne pas {terms}.",
           "says": "La politique de confidentialité de {name} dit :",
           "silent": "La politique de confidentialité de {name} ne traite pas cette question.",
           "related": "Les clauses liées les plus proches, qui n'y répondent pas :",
           "some": "{k} politiques sur {n} traitent cette question.",
           "some_1": "1 politique sur {n} traite cette question.", "not_by": "Ne la traitent pas : ",
           "none": "Aucune des politiques ne traite cette question."},
    "de": {"absent_short": "erwähnt {terms} nicht", "absent": "{terms} wird darin nicht erwähnt.",
           "says": "Die Datenschutzerklärung von {name} sagt:",
           "silent": "Die Datenschutzerklärung von {name} behandelt diese Frage nicht.",
           "related": "Die nächstliegenden Klauseln, die sie nicht beantworten:",
           "some": "{k} von {n} Richtlinien behandeln diese Frage.",
           "some_1": "1 von {n} Richtlinien behandelt diese Frage.", "not_by": "Nicht behandelt von: ",
           "none": "Keine der Richtlinien behandelt diese Frage."},
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


def quote_lines(cites: list[Citation]) -> str:
    return "\n".join(f"- “{c.quote}” [{c.n}]" for c in cites)


def compose_one(question: str, hits: list[Hit], rec: PolicyRecord, bar: float, lang: str = "en",
                absent: list[str] = ()) -> Answer:
    """The answer for one policy. `absent`: what the question names that the policy never
    mentions (qa.rank.absent), said when it is not addressed."""
    cited, related = select(hits, bar)
    cites = [citation(i, h, rec, False) for i, h in enumerate(cited, 1)]
    rel = [citation(i, h, rec, True) for i, h in enumerate(related, len(cites) + 1)]
    name = rec.meta.name
    if cites:
        text = f"{phrase(lang, 'says', name=name)}\n{quote_lines(cites)}"
    else:
        if lang == "other":
            text = UNREAD.format(scope=f"the {name} privacy policy is")
        else:
            text = phrase(lang, "silent", name=name)
            if absent:
                text += ("" if lang in ("zh", "ja") else " ") + phrase(lang, "absent", terms=quoted(absent))
        if rel:
            text += f"\n{phrase(lang, 'related')}\n{quote_lines(rel)}"
    return Answer(question=question, answer=text, answerable=bool(cites),
                  citations=tuple(cites + rel), policy=rec.meta.policy,
                  policies=(rec.meta.policy,) if cites else (), unread=not cites and lang == "other",
                  absent=tuple(absent) if not cites and lang != "other" else ())


def compose_across(question: str, per_policy: dict[str, list[Hit]], records: dict[str, PolicyRecord],
                   bar: float, lang: str = "en", absent: dict[str, list[str]] | None = None) -> Answer:
    """The answer across all policies: one paragraph for each policy that addresses it, by the
    same rule as a question asked of that policy alone; `absent` as in compose_one, per policy."""
    blocks, cites, silent = [], [], []
    ranked = sorted(per_policy.items(), key=lambda kv: -(kv[1][0].score if kv[1] else 0.0))
    for pid, hits in ranked:
        cited, _ = select(hits, bar)
        if not cited:
            why = (absent or {}).get(pid)
            silent.append(records[pid].meta.name + (f" ({phrase(lang, 'absent_short', terms=quoted(why))})"
                                                    if why and lang != "other" else ""))
            continue
        mine = [citation(len(cites) + i, h, records[pid], False) for i, h in enumerate(cited, 1)]
        cites += mine
        blocks.append(f"{records[pid].meta.name}:\n{quote_lines(mine)}")
    addressed = tuple(c.policy for c in cites if c.n == 1 or c.policy != cites[c.n - 2].policy)
    if not cites:
        best = [h for _, hits in ranked for h in hits[:1]]
        best.sort(key=lambda h: -h.score)
        rel = [citation(i, h, records[h.policy], True) for i, h in enumerate(best[:MAX_SHOWN], 1)]
        text = UNREAD.format(scope="the policies are") if lang == "other" else phrase(lang, "none")
        if rel:
            text += f"\n{phrase(lang, 'related')}\n{quote_lines(rel)}"
        return Answer(question=question, answer=text, answerable=False, citations=tuple(rel),
                      unread=lang == "other")
    text = phrase(lang, "some", k=len(addressed), n=len(per_policy)) + "\n\n" + "\n\n".join(blocks)
    if silent:
        text += "\n\n" + phrase(lang, "not_by") + ", ".join(silent) + "."
    return Answer(question=question, answer=text, answerable=True, citations=tuple(cites),
                  policies=addressed)
