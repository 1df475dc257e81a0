"""Knowledge-base search on small hand-written articles: ranking, locales, matching, passages,
confidence; the evaluation figures on hand-made answers; the Bitext split."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from trustdesk.knowledge.evaluation import (
    Answer,
    bitext_split,
    choose_threshold,
    evaluate,
    heldout_texts,
    lowest_threshold,
    metrics,
)
from trustdesk.knowledge.search import AUTO, Document, Example, Index, fold, split_passages, tokens
from trustdesk.text import embeddings

ARTICLES = [
    Document("track_order", "en", "Track your order",
             "Open Orders and choose the order to see where your parcel is right now.\n\n"
             "The tracking number appears once the seller ships the package.\n\n"
             "If the tracking has not moved for five days, contact the seller from the order page."),
    Document("get_refund", "en", "Get a refund",
             "Open the order and choose Request a refund; the seller answers within two days.\n\n"
             "Refunds go back to the original payment method within five business days."),
    Document("recover_password", "en", "Reset your password",
             "Choose Forgot password on the sign-in page and follow the link we email you.\n\n"
             "The link expires after one hour; ask for a new one if it has."),
    Document("delete_account", "en", "Close your account",
             "Go to Settings, Privacy and choose Delete account.\n\n"
             "Open orders must be finished before the account can be closed."),
    Document("get_refund", "es", "Obtener un reembolso",
             "Abre el pedido y elige Solicitar una devolución; el vendedor responde en dos días.\n\n"
             "Los reembolsos vuelven al método de pago original en cinco días hábiles."),
    Document("track_order", "es", "Seguir tu pedido",
             "Abre Pedidos y elige el pedido para ver dónde está tu paquete.\n\n"
             "El número de seguimiento aparece cuando el vendedor envía el paquete."),
]


@pytest.fixture(scope="module")
def index() -> Index:
    return Index.build(ARTICLES, embedder=None)


def keys(index: Index, query: str, **kwargs: str) -> list[str]:
    return [hit.key for hit in index.search(query, **kwargs)]  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- ranking and locales


@pytest.mark.parametrize(("query", "expected"), [
    ("where is my parcel, I want to track my order", "track_order"),
    ("I would like a refund for my order", "get_refund"),
    ("forgot my password, cannot sign in", "recover_password"),
    ("how do I delete my account", "delete_account"),
])
def test_the_article_that_answers_ranks_first(index: Index, query: str, expected: str) -> None:
    hits = index.search(query, locale="en")
    assert hits[0].key == expected
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert len(hits) == 3


def test_k_limits_the_hits(index: Index) -> None:
    assert len(index.search("refund", locale="en", k=1)) == 1
    assert len(index.search("refund", locale="en", k=10)) == 4  # every English article, no more


def test_a_spanish_question_finds_the_spanish_article(index: Index) -> None:
    hits = index.search("Quiero un reembolso de mi pedido", locale="es")
    assert (hits[0].key, hits[0].locale) == ("get_refund", "es")
    assert "reembolso" in hits[0].passage.text.lower() or "devolución" in hits[0].passage.text.lower()
    assert {h.locale for h in hits} == {"es"}


def test_a_regional_locale_finds_its_language(index: Index) -> None:
    assert index.search("reembolso", locale="es-MX")[0].locale == "es"


def test_a_locale_without_articles_falls_back(index: Index) -> None:
    hits = index.search("password", locale="de", fallback_locale="en")
    assert (hits[0].key, hits[0].locale) == ("recover_password", "en")
    assert index.search("password", locale="de") == []


def test_a_locale_with_articles_does_not_fall_back(index: Index) -> None:
    # Spanish has no password article: the answer stays in Spanish rather than mixing languages.
    assert {h.locale for h in index.search("contraseña", locale="es", fallback_locale="en")} == {"es"}


def test_matching_ignores_case_and_accents(index: Index) -> None:
    assert fold("DEVOLUCIÓN Canción Ñandú") == "devolucion cancion nandu"
    plain = index.search("devolucion", locale="es")
    accented = index.search("DEVOLUCIÓN", locale="es")
    assert plain[0].key == accented[0].key == "get_refund"
    assert plain[0].score == accented[0].score


def test_tokens_drop_stopwords_and_plurals() -> None:
    assert tokens("How can I track my Orders?", "en") == ["track", "order"]
    assert tokens("¿Dónde están mis pedidos y direcciones?", "es") == ["pedido", "direccion"]


def test_an_empty_question_finds_nothing(index: Index) -> None:
    assert index.search("   ", locale="en") == []


def test_duplicate_documents_are_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        Index.build([ARTICLES[0], ARTICLES[0]], embedder=None)


# ---------------------------------------------------------------------------- example questions


def test_example_questions_teach_the_words_customers_use() -> None:
    examples = [Example("get_refund", "en", "I want my money back"),
                Example("get_refund", "en", "give me my money back"),
                Example("track_order", "en", "where is my stuff")]
    without = Index.build(ARTICLES, embedder=None).search("money back please", locale="en")
    with_examples = Index.build(ARTICLES, examples=examples, embedder=None).search("money back please", locale="en")
    assert without[0].key != "get_refund"  # no article says "money"
    assert with_examples[0].key == "get_refund"
    assert with_examples[0].confidence > 0.5


def test_examples_count_only_in_their_locale() -> None:
    examples = [Example("get_refund", "en", "reembolso reembolso reembolso")]
    index = Index.build(ARTICLES, examples=examples, embedder=None)
    plain = Index.build(ARTICLES, embedder=None)
    assert index.search("reembolso", locale="es")[0].score == plain.search("reembolso", locale="es")[0].score


def test_an_example_must_name_a_document_of_its_locale() -> None:
    with pytest.raises(ValueError, match="no such document"):
        Index.build(ARTICLES, examples=[Example("recover_password", "es", "olvidé mi contraseña")], embedder=None)


# ---------------------------------------------------------------------------- passages


def test_the_first_paragraph_is_the_direct_answer(index: Index) -> None:
    passage = index.search("track my order", locale="en")[0].passage
    assert passage.index == 0 and passage.is_direct_answer
    assert passage.text.startswith("Open Orders")


def test_a_detailed_question_gets_the_paragraph_about_it(index: Index) -> None:
    hit = index.search("the tracking has not moved for five days", locale="en")[0]
    assert hit.key == "track_order"
    assert hit.passage.index == 2
    assert "contact the seller" in hit.passage.text


def test_headings_and_lead_ins_join_the_next_paragraph() -> None:
    text = ("Short answer first.\n\nSteps\n\nTo do this:\n\n- open Settings\n- choose Privacy\n\n"
            "Still need help?\n\nChat with us.\n\nA last short line")
    assert split_passages(text) == ["Short answer first.", "Steps\nTo do this:\n- open Settings\n- choose Privacy",
                                    "Still need help?\nChat with us.", "A last short line"]


# ---------------------------------------------------------------------------- confidence


def test_an_off_topic_question_gets_a_lower_confidence(index: Index) -> None:
    on_topic = index.search("I forgot my password and cannot sign in", locale="en")[0]
    off_topic = index.search("what will the weather be like in Paris tomorrow", locale="en")[0]
    assert 0.0 <= off_topic.confidence < on_topic.confidence <= 1.0
    assert off_topic.confidence < 0.5 < on_topic.confidence


def test_the_runners_up_are_less_confident_than_the_first(index: Index) -> None:
    hits = index.search("refund of my order", locale="en")
    assert hits[0].confidence > hits[1].confidence >= hits[2].confidence


def test_calibration_fits_the_confidence_on_known_answers() -> None:
    index = Index.build(ARTICLES, embedder=None)
    questions = [("track my order", "track_order"), ("where is my parcel", "track_order"),
                 ("refund please", "get_refund"), ("money back for my order", "get_refund"),
                 ("reset password", "recover_password"), ("close my account", "delete_account"),
                 ("the seller ships", "get_refund"), ("order", "delete_account")]  # the last two are wrong
    before = index.confidence("en")
    fitted = index.calibrate(questions, locale="en")
    assert fitted != before and index.confidence("en") == fitted
    assert index.confidence("es") == before  # each locale is calibrated on its own questions
    assert index.search("reset password", locale="en")[0].confidence > index.search("order", locale="en")[0].confidence

    all_right = [(text, index.search(text, locale="en")[0].key) for text, _ in questions]
    with pytest.raises(ValueError, match="both right and wrong"):
        index.calibrate(all_right, locale="en")


@pytest.mark.skipif(not embeddings.available(), reason="needs the embeddings extra")
def test_embeddings_find_a_paraphrase_with_no_word_in_common() -> None:
    index = Index.build(ARTICLES, embedder=AUTO)
    assert index.embedder is not None
    assert index.search("I want my money back", locale="en")[0].key == "get_refund"
    # Spanish is scored without them (the model is English-only) and still works.
    assert index.search("reembolso", locale="es")[0].key == "get_refund"


# ---------------------------------------------------------------------------- evaluation


def answer(expected: str, ranked: str, confidence: float, milliseconds: float = 1.0) -> Answer:
    return Answer(expected=expected, ranked=tuple(ranked.split()), confidence=confidence, milliseconds=milliseconds)


HAND_MADE = [
    answer("a", "a b c", 0.9, 1.0),  # right, answered
    answer("a", "b a c", 0.8, 2.0),  # wrong (top 3), answered
    answer("b", "b c a", 0.7, 3.0),  # right, answered
    answer("c", "a b d", 0.3, 4.0),  # wrong (not in top 3), not answered at 0.5
    answer("d", "d a b", 0.2, 9.0),  # right, not answered at 0.5
]


def test_metrics_on_hand_made_answers() -> None:
    figures = metrics(HAND_MADE, threshold=0.5)
    assert figures == {"n": 5, "top1": 3 / 5, "top3": 4 / 5, "threshold": 0.5, "answer_rate": 3 / 5,
                       "wrong_answer_rate": 1 / 3, "p50_ms": 3.0}
    assert metrics(HAND_MADE, threshold=0.95)["wrong_answer_rate"] == 0.0  # nothing answered
    assert metrics(HAND_MADE, threshold=0.0)["answer_rate"] == 1.0


def test_the_lowest_threshold_that_keeps_wrong_answers_rare() -> None:
    assert lowest_threshold(HAND_MADE, target=0.0) == 0.9  # only the first answer is safe
    assert lowest_threshold(HAND_MADE, target=0.5) == 0.2  # 2 wrong of 5 answered
    assert lowest_threshold(HAND_MADE, target=0.4) == 0.2  # 2/5 = 0.4 still meets it
    assert lowest_threshold(HAND_MADE, target=0.34) == 0.7  # 1/3; at 0.3 it would be 2/4
    assert lowest_threshold([answer("a", "b", 0.9)], target=0.05) == 1.0  # nothing safe


def test_ties_are_answered_together() -> None:
    tied = [answer("a", "a", 0.8), answer("a", "b", 0.8), answer("a", "a", 0.9)]
    assert lowest_threshold(tied, target=0.0) == 0.9


def test_evaluate_searches_every_question(index: Index) -> None:
    questions = [("track my order", "track_order"), ("reset my password", "recover_password"),
                 ("refund", "delete_account")]
    figures = evaluate(index, questions, locale="en", threshold=0.0)
    assert (figures["n"], figures["top1"], figures["answer_rate"]) == (3, 2 / 3, 1.0)
    assert figures["wrong_answer_rate"] == 1 / 3
    assert figures["p50_ms"] > 0
    wrong_confidence = index.search("refund", locale="en")[0].confidence
    assert choose_threshold(index, questions, locale="en", target=0.0) > wrong_confidence


# ---------------------------------------------------------------------------- the Bitext split


def write_utterances(path: Path, count: int) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "intent", "category", "flags"])
        for i in range(count):
            writer.writerow([f"question  number {i}", f"intent_{i % 3}", "CAT", "BL"])
        writer.writerow(["Question number 1", "intent_1", "CAT", "BQ"])  # the same text in other case
        writer.writerow(["an offensive question", "intent_0", "CAT", "BW"])
    return path


def test_the_split_is_deterministic_disjoint_and_leaves_out_offensive_utterances(tmp_path: Path) -> None:
    path = write_utterances(tmp_path / "utterances.csv", 40)
    held, rest = bitext_split(path, seed=3, heldout=10)
    assert (held, rest) == bitext_split(path, seed=3, heldout=10)
    assert len(held) == 10 and len(rest) == 30
    held_texts = {text.casefold() for text, _ in held}
    assert not held_texts & {text.casefold() for text, _ in rest}
    assert all("offensive" not in text for text, _ in held + rest)
    assert held != bitext_split(path, seed=4, heldout=10)[0]
    # Whitespace is collapsed as the demo reads it.
    assert ("question number 0", "intent_0") in held + rest


def test_heldout_texts_name_every_spelling_of_a_held_out_utterance(tmp_path: Path) -> None:
    path = write_utterances(tmp_path / "utterances.csv", 40)
    for seed in range(20):
        held, _ = bitext_split(path, seed=seed, heldout=10)
        if ("question number 1", "intent_1") in held:
            break
    excluded = heldout_texts(path, seed=seed, heldout=10)
    assert {"question number 1", "Question number 1"} <= excluded
    assert len(excluded) == 11


def test_the_split_refuses_to_hold_out_more_than_there_is(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="fewer than"):
        bitext_split(write_utterances(tmp_path / "utterances.csv", 5), heldout=10)
