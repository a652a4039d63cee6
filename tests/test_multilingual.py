"""Questions in Chinese, Japanese, Spanish, French and German find the English evidence (qa/translate.py)."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from qa.translate import LANGUAGES, detect_language, lexicon, parse_lexicon, query_for_retrieval, to_english

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "eval"


def _english_questions() -> list[str]:
    qs = [json.loads(line)["question"] for line in (SHARED / "dev.jsonl").read_text().splitlines()
          if line.strip()]
    qs = [q for q in qs if not q.startswith("¿")]
    pqa = SHARED / "policyqa" / "dev.json"
    if pqa.exists():
        data = json.loads(pqa.read_text())
        all_q = [q["question"] for a in data["data"] for p in a["paragraphs"] for q in p["qas"]]
        qs += random.Random(0).sample(all_q, min(1000, len(all_q)))
    return qs


@pytest.mark.parametrize("text, lang", [
    ("我的数据会被发送到中国吗？", "zh"),
    ("我的資料會被傳送到中國嗎？", "zh"),  # Traditional
    ("Stripe会保存我的信用卡吗？", "zh"),
    ("私のデータは中国に送られますか？", "ja"),
    ("写真はAIの学習に使われますか", "ja"),
    ("¿Mis datos se envían a China?", "es"),
    ("mis datos se envian a china", "es"),  # no accents, no ¿
    ("¿Puedo borrar mi cuenta?", "es"),
    ("Is my data sent to China?", "en"),
    ("What does 火山引擎 receive?", "en"),  # a Chinese name inside an English question
    ("Do you use cookies?", "en"),
    ("Data retention period?", "en"),
    ("José and María: do you sell my data?", "en"),
    ("내 데이터가 중국으로 전송되나요?", "other"),
    ("Meus dados são enviados para a China?", "other"),
    ("Mes données sont-elles envoyées en Chine ?", "fr"),
    ("mes donnees sont envoyees en chine", "fr"),  # no accents
    ("Utilisez-vous mes photos pour entraîner l'IA ?", "fr"),
    ("Werden meine Daten nach China gesendet?", "de"),
    ("Wie lösche ich mein Konto?", "de"),
    ("I miei dati vengono inviati in Cina?", "other"),  # Italian: no glossary
    ("", "en"),
])
def test_detect_language(text, lang):
    assert detect_language(text) == lang


@pytest.mark.skipif(not (SHARED / "dev.jsonl").exists(), reason="the seed dev set not found next to the project")
def test_no_english_question_is_taken_for_another_language():
    questions = _english_questions()
    assert len(questions) > 10
    wrong = [q for q in questions if detect_language(q) != "en"]
    assert wrong == []


@pytest.mark.parametrize("text, lang, english", [
    ("我的数据会被发送到中国吗？", "zh", "my data will sent to China"),
    ("我的資料會被傳送到中國嗎？", "zh", "my data will sent to China"),
    ("Stripe会保存我的信用卡吗？", "zh", "Stripe will store my credit card"),
    ("你们会把我的图片保存多久？", "zh", "you will my images store how long"),
    ("私のデータは中国に送られますか？", "ja", "my data China to sent"),
    ("画像はどのくらい保存されますか？", "ja", "images how long store"),
    ("¿Mis datos se envían a China?", "es", "my data sent China"),
    ("¿Venden mis datos personales a terceros?", "es", "sell my personal data third parties"),
    ("¿Cuánto tiempo guardan mis imágenes?", "es", "how long store my images"),
    ("¿Usan mis fotos para entrenar la IA?", "es", "use my photos training AI"),
    ("¿Quién procesa los pagos, PayPal?", "es", "who process payments PayPal"),
    ("Mes données sont-elles envoyées en Chine ?", "fr", "my data sent China"),
    ("Utilisez-vous mes photos pour entraîner l'IA ?", "fr", "use you my photos training AI"),
    ("Combien de temps gardez-vous mes images ?", "fr", "how long store you my images"),
    ("Werden meine Daten nach China gesendet?", "de", "my data China sent"),
    ("Wie lange speichert ihr meine Bilder?", "de", "how long store you my images"),
    ("Werden meine Fotos für KI-Training verwendet?", "de", "my photos AI training use"),
])
def test_to_english(text, lang, english):
    assert to_english(text, lang) == english


def test_english_passes_through_unchanged():
    q = "Is my data sent to China?"
    assert query_for_retrieval(q) == (q, "en")


def test_a_question_the_glossary_cannot_read_is_kept():
    assert query_for_retrieval("嗯嗯嗯？") == ("嗯嗯嗯？", "zh")


def test_glossaries_load_and_are_broad():
    for lang in LANGUAGES:
        assert len(lexicon(lang)) >= 300, lang


def test_every_glossary_phrase_can_match():
    """Phrases are matched on the words the splitter makes: a phrase written with an elision or
    a hyphen ("y a-t-il") would never match."""
    for lang in ("es", "fr", "de"):
        unmatchable = [p for p in lexicon(lang).phrases if any("'" in w or "-" in w for w in p)]
        assert unmatchable == [], lang


def test_a_malformed_glossary_line_names_file_and_line():
    with pytest.raises(ValueError, match=r"x\.tsv:2: expected 'term<TAB>english'"):
        parse_lexicon("# ok\nno tab here\n", "x.tsv")


CHINA = ["processed in China"]


@pytest.mark.parametrize("question, policy, evidence", [
    ("我的数据会被发送到中国吗？", "product-image-gen", CHINA),
    ("私のデータは中国に送られますか？", "product-image-gen", CHINA),
    ("¿Mis datos se envían a China?", "product-image-gen", CHINA),
    ("Mes données sont-elles envoyées en Chine ?", "product-image-gen", CHINA),
    ("Quelle entreprise traite les paiements par carte ?", "antiai-pics", ["Stripe"]),
    ("Werden meine Daten verschlüsselt?", "figure-gen", ["Encryption of data in transit and at rest"]),
    ("Wie lange werden hochgeladene Bilder gespeichert?", "figure-gen", ["automatically deleted after generation"]),
    ("你们会把我的个人数据卖给广告商吗？", "product-image-gen", ["do not sell or share your personal data"]),
    ("カード決済はどの会社が処理していますか？", "antiai-pics", ["Stripe"]),
    ("¿Cuándo se activa la cookie de analítica?", "cloudflare-image-gen",
     ["set only after you accept analytics", "Only activated after you grant cookie consent"]),
    ("13歳未満の子どもはこのサービスを使えますか？", "antiai-pics", ["under 13"]),
    ("我的数据有加密吗？", "figure-gen", ["Encryption of data in transit and at rest"]),
])
def test_questions_in_other_languages_find_the_english_evidence(assistant, question, policy, evidence):
    text, lang = query_for_retrieval(question)
    assert lang != "en"
    hits = assistant.ranked(text, policy, assistant.embedder.embed_query(text))[:3]
    quotes = [" ".join(h.text.split()).lower() for h in hits]
    assert any(e.lower() in q for q in quotes for e in evidence), (text, quotes)


@pytest.mark.parametrize("question", ["Meus dados são enviados para a China?",
                                      "I miei dati vengono inviati in Cina?",
                                      "내 데이터가 중국으로 전송되나요?"])
def test_a_language_without_a_glossary_is_not_called_silence(assistant, question):
    """The policy does say where data goes; a question policyqa cannot read must not be told
    the policy is silent, scoped or across all policies. Read well enough anyway (the gate finds
    the policy addresses it: "China" is "China" in Portuguese), it is answered from the clause
    that says so."""
    for ans in (assistant.answer(question, "product-image-gen"), assistant.answer(question)):
        assert ans.language == "other"
        assert "does not address" not in ans.answer and "None of the policies" not in ans.answer
        if ans.answerable:
            assert "processed in China" in ans.citations[0].quote
            continue
        assert ans.status == "language_not_supported" and ans.to_dict()["status"] == ans.status
        assert "does not mean" in ans.answer and "español" in ans.answer
        assert all(c.related for c in ans.citations)


def test_status_of_answered_and_silent_questions(assistant):
    assert assistant.answer("Do you use cookies?", "cloudflare-image-gen").status == "answered"
    silent = assistant.answer("Is my data sent to China?", "figure-gen")
    assert silent.status == "not_addressed" and "does not address" in silent.answer
