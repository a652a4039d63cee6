"""The direct answer to a yes/no question: "Yes", "No", or nothing, read from the relied-on quotes.

Extractive and cautious: a wrong "No" is worse than no verdict, so a reply is given only when a
relied-on clause speaks to everything the question asks about (its content words, or their
close synonyms) and says it plainly:

- affirmative ("The Service uses cookies for session management.") -> Yes;
- negated ("Images will not be used for AI training", "We never store your credit card
  details", "No personal browsing history is tracked") -> No, unless the negation is hedged
  by something the question does not ask about ("except", "unless", "without your consent",
  "for marketing purposes", "intentionally", "permanently": a qualified no is not a no);
- conditional ("If you ...") or a question itself -> nothing.

Relied-on clauses that disagree give nothing. A question that is itself negated, or offers
alternatives ("... or ...?"), gets nothing. Which clauses are relied on is `qa.compose.select`'s
decision, not this module's; "the policy does not say" is `qa.compose`'s, for a policy that
never mentions what the question asks about. Measured by benchmarks/verdicts.py."""
from __future__ import annotations

import re
import threading
from functools import lru_cache

from qa.types import Hit, Reply

# --------------------------------------------------------------------------- yes/no questions
_AUX = frozenset("do does did is are was were will would can could should shall may might must has have had "
                 "am".split())
_WH = {
    "zh": re.compile(r"什么|谁|哪|怎么|怎样|为什么|为何|多久|多少|几|何时|如何"),
    "ja": re.compile(r"何|誰|どこ|いつ|どの|どう|なぜ|どれ|どんな|いくら|どちら"),
    "es": re.compile(r"\b(?:qué|quién|quiénes|dónde|cuándo|cómo|cuánto|cuántos|cuántas|cuál|cuáles|por qué|para qué)\b", re.I),
    "fr": re.compile(r"\b(?:que|qu['’]|quoi|quel|quelle|quels|quelles|où|quand|comment|combien|pourquoi|qui)\b", re.I),
    "de": re.compile(r"\b(?:was|wer|wem|wen|wessen|wie|wo|wohin|woher|wann|warum|weshalb|wieso|welche[nrms]?|"
                     r"wozu|womit|worüber|wodurch)\b", re.I),
}
_YES_NO = {
    "zh": re.compile(r"吗\s*[？?]?\s*$|是否|会不会|有没有|是不是|能不能|可不可以|可否"),
    "ja": re.compile(r"か\s*[？?]?\s*$"),
    "es": re.compile(r"\?\s*$"),
    "fr": re.compile(r"\?\s*$"),
    "de": re.compile(r"\?\s*$"),
}
_NEGATED_QUESTION = re.compile(r"\b(?:not|never|no)\b|n't\b|不是|没|没有|ない|\bno\b|\bnicht\b|\bkein|\bne\b|\bpas\b", re.I)


def is_yes_no(question: str, lang: str) -> bool:
    """A question answered by yes or no ("Do you sell my data?", "你们会出售我的数据吗？"), not
    one asking what, who, how, or which of two things; not one that is itself negated."""
    q = question.strip()
    last = re.split(r"(?<=[.!?。！？])\s+", q)[-1] if lang in ("en", "es", "fr", "de") else q
    if lang == "zh":  # "A-not-A" asks yes or no: 会不会, 有没有, 是不是
        last = re.sub(r"(\w)[不没]\1", "是否", last)
    if _NEGATED_QUESTION.search(last) or re.search(r"\bor\b|还是|それとも|\bo\b|\bou\b|\boder\b", last, re.I):
        return False
    if lang == "en":
        words = re.findall(r"[a-z']+", last.lower())
        return bool(words) and words[0] in _AUX and last.endswith("?")
    if lang in _WH:
        return bool(_YES_NO[lang].search(last)) and not _WH[lang].search(last)
    return False


# --------------------------------------------------------------------------- what it asks about
_STOP = frozenset("""
a an the of to in on for with by from at about into after before under over as than then so if or and
do does did is are was were be been being will would can could should shall may might must has have had am
i me my mine you your yours we us our ours they them their it its this that these those there here
any anyone anybody anything all some someone something ever also still even just yet
what which who whom how when where why
data information info personal details detail use used using uses get got give given let make made tell
service services site sites website websites app apps company policy privacy please
""".split())
# Words a policy may use for what the question says (Snowball stems; each group is one meaning).
_SYNONYMS = (
    ("send", "sent", "transfer", "transmit", "process", "receiv"),
    ("share", "disclos", "provid", "transfer"),
    ("store", "keep", "kept", "retain", "save", "hold", "held"),
    ("delet", "remov", "eras", "destroy"),
    ("photo", "imag", "pictur", "pic", "upload"),
    ("sell", "sold", "rent", "monet"),
    ("encrypt", "bcrypt", "ssl", "tls", "https", "cryptograph"),
    ("train", "learn"),
    ("child", "children", "kid", "minor"),
    ("advertis", "ad", "ads"),
    ("email", "mail"),
    ("cooki",),
    ("locat", "gps", "geoloc"),
)
_HEDGES = ("except", "unless", "other than", "without", "only", "solely", "before", "until", "permanent",
           "intentional", "knowing", "direct", "general", "typical", "usual", "certain", "limited",
           "necessarily", "purpose", "marketing", "advertising", "some")
_NEGATION = re.compile(r"\b(?:not|never|no|none|nor|neither|cannot)\b|n't\b", re.I)
_NOT_NEGATION = re.compile(r"\bno (?:longer|more|later|less)\b|\bnot only\b", re.I)
_PURPOSE = re.compile(r"\bfor\s[^.;:]*?\bpurposes?\b")
_CONDITION = re.compile(r"(?:^|[\s(,;:])(?:if|whether|in case|in the event)\b", re.I)
_SENTENCES = re.compile(r"(?<=[.!?;])\s+")
# where one sentence joins two statements: "... is not stored on our servers and is managed by Stripe"
_COORDINATED = re.compile(r",?\s+(?:and|but|while|whereas)\s+(?=(?:is|are|was|were|will|may|might|can|could|"
                          r"we|they|it|you|do|does|not|never|no)\b)|;\s*|,\s+but\s+|\s+however,?\s+", re.I)
_WORD = re.compile(r"\w+")


_local = threading.local()


def _stemmer():
    """Snowball English, one per thread (a PyStemmer stemmer is not safe to share between threads)."""
    if not hasattr(_local, "stemmer"):
        import Stemmer

        _local.stemmer = Stemmer.Stemmer("english")
    return _local.stemmer


def stems(text: str) -> list[str]:
    return _stemmer().stemWords([w.lower() for w in _WORD.findall(text)])


@lru_cache(maxsize=1)
def _synonyms() -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for group in _SYNONYMS:
        for s in group:
            out.setdefault(s, {s}).update(group)
    return {k: frozenset(v) for k, v in out.items()}


def focus(query: str) -> list[str]:
    """The question's content words (stems) that a clause must speak to: the English question,
    or the English keywords a question in another language was searched with."""
    words = [w.lower() for w in _WORD.findall(query)]
    kept = [w for w in words if w not in _STOP]
    return list(dict.fromkeys(s for s in _stemmer().stemWords(kept) if s not in _STOP))


def _covered(stem: str, clause: set[str]) -> bool:
    if any(s in clause for s in _synonyms().get(stem, (stem,))):
        return True
    if len(stem) >= 5:  # 'analyz' and 'analysi' are one word to a reader
        return any(len(s) >= 5 and s[:5] == stem[:5] for s in clause)
    return False


# --------------------------------------------------------------------------- what a clause says
def reading(sentence: str, asked: list[str], question: str, context: str = "") -> int:
    """+1 if the sentence affirms what is asked, -1 if it plainly denies it, 0 if it does not
    speak to all of it, or not plainly (hedged, conditional, a question, yes and no at once).
    `context`: a list item's heading and lead-in, which say what the item is ("Data We Collect":
    "IP address"); it counts for what the item speaks to, and a negated lead-in reads as nothing."""
    words = set(stems(sentence)) | set(stems(context))
    if not asked or not all(_covered(s, words) for s in asked):
        return 0
    text = sentence.strip()
    if text.endswith("?") or _CONDITION.search(text) or _negated(context):
        return 0
    parts = [c for c in _COORDINATED.split(text) if c and c.strip()]
    about = [c for c, words in ((c, set(stems(c))) for c in parts) if any(_covered(s, words) for s in asked)] or parts
    signs = {-1 if _negated(c) else 1 for c in about}  # the parts that speak of what is asked
    if len(signs) > 1 or (signs == {-1} and any(_hedged(c, asked, question) for c in about)):
        return 0
    return signs.pop()


def _negated(text: str) -> bool:
    return bool(_NEGATION.search(_NOT_NEGATION.sub(" ", text)))


def _hedged(clause: str, asked: list[str], question: str) -> bool:
    """A negation qualified by what the question does not ask about: "except ...", "without your
    consent", "for marketing purposes" (unless that purpose is what is asked), "intentionally"."""
    low = clause.lower()
    for span in _PURPOSE.findall(low):  # "for AI training or marketing purposes": the purpose asked about
        words = set(stems(span))
        if any(_covered(s, words) for s in asked):
            low = low.replace(span, " ")
    q = question.lower()
    return any(re.search(rf"\b{h}", low) and not re.search(rf"\b{h}", q) for h in _HEDGES)


def sentences(text: str) -> list[str]:
    return [c for c in _SENTENCES.split(text) if c and c.strip()]


def reply(question: str, query: str, lang: str, relied_on: list[Hit] | tuple[Hit, ...],
          context: dict[str, str] | None = None) -> tuple[Reply, Hit] | None:
    """(Yes or No, the relied-on clause it rests on), or None: not a yes/no question, no clause
    speaks to it plainly, or the clauses disagree. `query`: the English the question was
    searched with (the question itself when it is English); `context`: a list item's heading
    and lead-in by unit id (see `reading`)."""
    if not relied_on or not is_yes_no(question, lang):
        return None
    asked, said = focus(query), query if lang != "en" else question
    found: list[tuple[int, Hit]] = []
    for h in relied_on:
        readings = {reading(s, asked, said, (context or {}).get(h.unit_id, "")) for s in sentences(h.text)} - {0}
        if len(readings) > 1:
            return None  # one sentence says yes, another no
        if readings:
            found.append((readings.pop(), h))
    if not found or len({r for r, _ in found}) > 1:
        return None
    r, h = found[0]
    return (Reply.YES if r > 0 else Reply.NO), h
