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
ACROSS_RATIO = 0.5  # across policies, a policy addresses the question only if its best clause
#                     scores at least this share of the best policy's best clause,
ACROSS_COSINE_GAP = 0.12  # and is nearly as close in meaning: the ranker's features are mostly
#                     relative to the policy's own clauses (rank, gap to its best), so every
#                     policy's best clause looks good to it, while cosine compares across
#                     policies ("Will my photos train AI?": 0.69 for the policy that says
#                     so, 0.52 and 0.42 for ones that only mention AI or images)


def select(hits: list[Hit], bar: float, min_cosine: float = MIN_COSINE) -> tuple[list[Hit], list[Hit]]:
    """Split ranked hits into (relied on, related). Nothing is relied on below the bar, and
    nothing less close in meaning than `min_cosine` (never below MIN_COSINE)."""
    min_cosine = max(min_cosine, MIN_COSINE)
    if not hits or hits[0].score < bar or hits[0].dense < min_cosine:
        return [], hits[:MAX_SHOWN]
    top = hits[0].score
    cited = [h for h in hits[:MAX_CITED]
             if h.score >= bar and h.score >= KEEP_RATIO * top and h.dense >= min_cosine]
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
    "en": {"says": "The {name} privacy policy says:",
           "silent": "The {name} privacy policy does not address this.",
           "related": "The closest related clauses, which do not answer it:",
           "some": "{k} of {n} policies address this.", "not_by": "Not addressed by: ",
           "none": "None of the policies addresses this."},
    "zh": {"says": "{name} 的隐私政策写道：", "silent": "{name} 的隐私政策没有涉及这个问题。",
           "related": "最相关的条款（并未回答这个问题）：", "some": "{n} 项政策中有 {k} 项涉及这个问题。",
           "not_by": "未涉及：", "none": "没有任何政策涉及这个问题。"},
    "ja": {"says": "{name} のプライバシーポリシーには次のように書かれています：",
           "silent": "{name} のプライバシーポリシーはこの質問に触れていません。",
           "related": "関連する条項（この質問への回答ではありません）：",
           "some": "{n} 件のポリシーのうち {k} 件がこの質問に触れています。",
           "not_by": "触れていないポリシー：", "none": "この質問に触れているポリシーはありません。"},
    "es": {"says": "La política de privacidad de {name} dice:",
           "silent": "La política de privacidad de {name} no trata esta cuestión.",
           "related": "Las cláusulas relacionadas más cercanas, que no la responden:",
           "some": "{k} de {n} políticas tratan esta cuestión.", "not_by": "No la tratan: ",
           "none": "Ninguna de las políticas trata esta cuestión."},
    "fr": {"says": "La politique de confidentialité de {name} dit :",
           "silent": "La politique de confidentialité de {name} ne traite pas cette question.",
           "related": "Les clauses liées les plus proches, qui n'y répondent pas :",
           "some": "{k} politiques sur {n} traitent cette question.", "not_by": "Ne la traitent pas : ",
           "none": "Aucune des politiques ne traite cette question."},
    "de": {"says": "Die Datenschutzerklärung von {name} sagt:",
           "silent": "Die Datenschutzerklärung von {name} behandelt diese Frage nicht.",
           "related": "Die nächstliegenden Klauseln, die sie nicht beantworten:",
           "some": "{k} von {n} Richtlinien behandeln diese Frage.", "not_by": "Nicht behandelt von: ",
           "none": "Keine der Richtlinien behandelt diese Frage."},
}


def phrase(lang: str, key: str, **kw) -> str:
    if lang == "other" and key in PHRASES_OTHER:
        return PHRASES_OTHER[key].format(**kw)
    return PHRASES.get(lang, PHRASES["en"])[key].format(**kw)


def quote_lines(cites: list[Citation]) -> str:
    return "\n".join(f"- “{c.quote}” [{c.n}]" for c in cites)


def compose_one(question: str, hits: list[Hit], rec: PolicyRecord, bar: float, lang: str = "en",
                min_cosine: float = MIN_COSINE) -> Answer:
    """The answer for one policy (`bar` and `min_cosine` from `across_thresholds` when it is
    one row of a comparison)."""
    cited, related = select(hits, bar, min_cosine)
    cites = [citation(i, h, rec, False) for i, h in enumerate(cited, 1)]
    rel = [citation(i, h, rec, True) for i, h in enumerate(related, len(cites) + 1)]
    name = rec.meta.name
    if cites:
        text = f"{phrase(lang, 'says', name=name)}\n{quote_lines(cites)}"
    else:
        text = (UNREAD.format(scope=f"the {name} privacy policy is") if lang == "other"
                else phrase(lang, "silent", name=name))
        if rel:
            text += f"\n{phrase(lang, 'related')}\n{quote_lines(rel)}"
    return Answer(question=question, answer=text, answerable=bool(cites),
                  citations=tuple(cites + rel), policy=rec.meta.policy,
                  policies=(rec.meta.policy,) if cites else (), unread=not cites and lang == "other")


def across_thresholds(per_policy: dict[str, list[Hit]], bar: float) -> tuple[float, float]:
    """(bar, minimum cosine) a policy's clauses must clear to address a question asked of all
    policies: the bar and ACROSS_RATIO of the best policy's best score; and a cosine within
    ACROSS_COSINE_GAP of the best answering policy's best clause."""
    tops = [hits[0] for hits in per_policy.values() if hits]
    top_score = max((h.score for h in tops), default=0.0)
    floor = max((h.dense for h in tops if h.score >= bar), default=0.0) - ACROSS_COSINE_GAP
    return max(bar, ACROSS_RATIO * top_score), max(floor, MIN_COSINE)


def compose_across(question: str, per_policy: dict[str, list[Hit]],
                   records: dict[str, PolicyRecord], bar: float, lang: str = "en") -> Answer:
    """The answer across all policies: one paragraph for each policy that addresses it."""
    blocks, cites, silent = [], [], []
    ranked = sorted(per_policy.items(), key=lambda kv: -(kv[1][0].score if kv[1] else 0.0))
    policy_bar, floor = across_thresholds(per_policy, bar)
    for pid, hits in ranked:
        cited, _ = select(hits, policy_bar, min_cosine=floor)
        if not cited:
            silent.append(records[pid].meta.name)
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
