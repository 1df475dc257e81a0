"""The topic classifier: learning, calibrated confidence, triage thresholds, persistence."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from tests.factories.texts import corpus
from trustdesk.routing.classifier import (
    OutOfFold,
    Params,
    TopicClassifier,
    precision_threshold,
    triage_threshold,
)
from trustdesk.text import embeddings

HELD_OUT = {
    "my parcel is late, courier missed it": "delivery_late",
    "the reimbursement is missing, I returned the item": "refund",
    "my password keeps failing, access denied": "login",
    "my card was declined at checkout": "payment_failed",
}


@pytest.fixture(scope="module")
def trained() -> TopicClassifier:
    texts, labels = corpus(30)
    classifier = TopicClassifier(Params())
    classifier.fit(texts, labels)
    return classifier


def test_learns_topics_from_text(trained: TopicClassifier) -> None:
    predictions = trained.predict(list(HELD_OUT))
    assert [p.label for p in predictions] == list(HELD_OUT.values())
    assert trained.labels == sorted(HELD_OUT.values())


def test_confidence_is_a_probability_with_ranked_runners_up(trained: TopicClassifier) -> None:
    prediction = trained.predict_one("my parcel is late, courier missed it")
    assert len(prediction.top) == 3
    probabilities = [p for _, p in prediction.top]
    assert probabilities == sorted(probabilities, reverse=True)
    assert 0.0 < sum(probabilities) <= 1.0 + 1e-6
    assert prediction.top[0] == (prediction.label, round(prediction.confidence, 4))
    assert len({label for label, _ in prediction.top}) == 3


def test_mixed_text_is_less_certain_than_clear_text(trained: TopicClassifier) -> None:
    clear = trained.predict_one("my card was declined at checkout, the payment failed")
    mixed = trained.predict_one("my card was declined and my parcel is late")
    unrelated = trained.predict_one("what colours does the sofa come in")
    assert clear.confidence > mixed.confidence
    assert clear.confidence > unrelated.confidence
    assert clear.confidence > 0.5


def test_temperature_is_fitted_on_held_out_folds(trained: TopicClassifier) -> None:
    # Raw SVM margins are not probabilities; the fitted temperature differs from 1.
    assert trained.temperature != 1.0 and trained.temperature > 0


def test_out_of_fold_predictions_cover_every_training_row() -> None:
    texts, labels = corpus(12)
    oof = TopicClassifier(Params()).fit(texts, labels)
    assert oof is not None
    assert oof.labels == labels and len(oof.predicted) == len(texts) == len(oof.confidence)
    assert np.all((oof.confidence > 0) & (oof.confidence <= 1))


def test_too_little_data_skips_calibration_but_still_learns() -> None:
    texts, labels = corpus(3)
    classifier = TopicClassifier(Params())
    assert classifier.fit(texts, labels) is None
    assert classifier.temperature == 1.0
    assert classifier.predict_one("my card was declined at checkout").label == "payment_failed"


def test_needs_two_topics() -> None:
    with pytest.raises(ValueError, match="two topics"):
        TopicClassifier().fit(["a b c", "d e f"], ["only", "only"])


def test_reject_label_is_never_learnt_as_a_topic() -> None:
    texts, labels = corpus(20)
    texts += [f"do you sell garden furniture number {i}" for i in range(20)]
    labels += ["oos"] * 20
    classifier = TopicClassifier(Params())
    oof = classifier.fit(texts, labels, reject_label="oos")
    assert "oos" not in classifier.labels
    assert oof is not None and int(oof.rejected_rows.sum()) == 20
    classifier.threshold = triage_threshold(oof)
    assert classifier.predict_one("my card was declined at checkout").routed_label == "payment_failed"
    assert classifier.predict_one("do you sell garden furniture number 7").routed_label is None


def test_triage_threshold_hand_computed() -> None:
    # Thresholds and rows right: t<=0.3 -> 3; 0.4 -> 4; 0.5 -> 4; 0.6 -> 5 (both out-of-scope rows
    # and the wrong in-scope row go to triage, three right rows kept); 0.8 -> 4; 0.9 -> 3.
    oof = OutOfFold(labels=["a", "a", "b", "b", "oos", "oos"], predicted=["a", "b", "b", "b", "a", "b"],
                    confidence=np.array([0.9, 0.4, 0.8, 0.6, 0.3, 0.5]),
                    rejected_rows=np.array([False, False, False, False, True, True]))
    assert triage_threshold(oof) == pytest.approx(0.6)


def test_triage_threshold_takes_the_middle_of_a_tie() -> None:
    # No out-of-scope rows: keeping or dropping the wrong row scores the same from 0 to 0.7.
    oof = OutOfFold(labels=["a", "a", "b", "b"], predicted=["a", "b", "b", "b"],
                    confidence=np.array([0.9, 0.2, 0.7, 0.8]))
    assert triage_threshold(oof) == pytest.approx(0.35)


def test_precision_threshold_hand_computed() -> None:
    oof = OutOfFold(labels=["a", "a", "b", "b", "b"], predicted=["a", "b", "b", "b", "a"],
                    confidence=np.array([0.9, 0.2, 0.7, 0.8, 0.7]))
    # Kept at >= 0.9: 1/1; >= 0.8: 2/2; >= 0.7: 3/4 (the tie at 0.7 keeps both); >= 0.2: 3/5.
    assert precision_threshold(oof, precision=0.9) == pytest.approx(0.8)
    assert precision_threshold(oof, precision=0.75) == pytest.approx(0.7)
    assert precision_threshold(oof, precision=0.6) == pytest.approx(0.2)
    assert precision_threshold(oof, precision=1.01) == 1.0


def test_a_pickled_model_predicts_the_same(trained: TopicClassifier) -> None:
    restored = pickle.loads(pickle.dumps(trained))
    restored.attach(None)
    texts = list(HELD_OUT)
    assert [(p.label, p.top) for p in restored.predict(texts)] == [(p.label, p.top) for p in trained.predict(texts)]


@pytest.mark.skipif(not embeddings.available(), reason="the embeddings extra is not installed")
def test_with_embeddings_the_model_file_holds_no_embedding_model() -> None:
    texts, labels = corpus(10)
    embedder = embeddings.embedder()
    assert embedder is not None and embedder.dimensions == 384
    classifier = TopicClassifier(Params(), embedder)
    classifier.fit(texts, labels)
    data = pickle.dumps(classifier)
    assert len(data) < 2_000_000  # TF-IDF vocabularies and weights; the 90 MB model stays in its package
    restored = pickle.loads(data)
    with pytest.raises(RuntimeError, match="embeddings extra"):
        restored.attach(None)
    restored.attach(embedder)
    assert [p.label for p in restored.predict(list(HELD_OUT))] == list(HELD_OUT.values())
