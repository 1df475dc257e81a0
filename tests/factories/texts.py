"""Small labelled corpora for classifier tests: four topics with their own words, seeded."""

from __future__ import annotations

import random

TOPIC_WORDS = {
    "delivery_late": (["my parcel", "the package", "my order", "the delivery"],
                      ["has not arrived", "is late", "is still in transit", "never came"],
                      ["tracking shows nothing", "courier missed it", "it was due monday", "where is it"]),
    "refund": (["my refund", "the money back", "the reimbursement", "my return credit"],
               ["has not been paid", "is missing", "was not credited", "is pending for weeks"],
               ["I returned the item", "the seller accepted the return", "please pay me back", "refund status"]),
    "login": (["my account", "the login", "my password", "two factor code"],
              ["does not work", "is locked", "was reset", "keeps failing"],
              ["I cannot sign in", "verification email never came", "reset link expired", "access denied"]),
    "payment_failed": (["my card", "the payment", "checkout", "the transaction"],
                       ["was declined", "failed", "was charged twice", "did not go through"],
                       ["bank says fine", "error at checkout", "card is valid", "tried three times"]),
}


def corpus(per_topic: int, *, seed: int = 1) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    texts, labels = [], []
    for topic, (subjects, verbs, details) in TOPIC_WORDS.items():
        for _ in range(per_topic):
            texts.append(f"{rng.choice(subjects)} {rng.choice(verbs)}, {rng.choice(details)}")
            labels.append(topic)
    return texts, labels
