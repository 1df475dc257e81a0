"""Example questions and calibration: customers' words teach the search what an article answers,
and a locale's calibration says how far to trust a hit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from trustdesk import cli
from trustdesk.core.clock import FrozenClock
from trustdesk.core.errors import Invalid, NotFound
from trustdesk.demo.kb import ARTICLES, ensure_kb
from trustdesk.knowledge import index, tuning
from trustdesk.knowledge.models import KbCalibration

runner = CliRunner()
SLANG = "yo where my stuff at"  # shares no word with "Track your order"


def test_example_questions_teach_the_search_and_rebuild_the_index(db: Session, clock: FrozenClock) -> None:
    ensure_kb(db, now=clock.now())
    before = index.current(db)
    assert before.search(SLANG, locale="en", k=1)[0].key != "track-your-order"
    added = tuning.add_examples(db, "track-your-order", "en", [" yo  where my stuff at ", SLANG, "", "parcel??"],
                                source="editor", now=clock.now())
    assert added == 2  # whitespace collapsed, the repeat and the blank skipped
    after = index.current(db)
    assert after is not before
    assert after.search(SLANG, locale="en", k=1)[0].key == "track-your-order"
    assert index.current(db) is after  # nothing changed: the same index
    with pytest.raises(NotFound):
        tuning.add_examples(db, "no-such-article", "en", ["x"], source="editor", now=clock.now())
    with pytest.raises(Invalid) as refused:
        tuning.add_examples(db, "track-your-order", "en", ["x" * 501], source="editor", now=clock.now())
    assert refused.value.field == "text"


def test_calibration_is_stored_and_used(db: Session, clock: FrozenClock) -> None:
    ensure_kb(db, now=clock.now())
    built = index.current(db)
    titles = [(text, key) for key in built.keys("en") for text in (
        f"help with {key.replace('-', ' ')}", f"question about {key.replace('-', ' ')} please",
        f"{key.replace('-', ' ')}?", f"how do I {key.replace('-', ' ')}")]
    noisy = titles + [("hello there", "track-your-order"), ("thanks bye", "request-a-refund")] * 3
    with pytest.raises(Invalid) as few:
        tuning.calibrate(db, built, noisy[:50], locale="en", now=clock.now())
    assert few.value.field == "questions"
    done = tuning.calibrate(db, built, noisy, locale="en", now=clock.now())
    row = db.get(KbCalibration, "en")
    assert row is not None and row.questions == len(noisy) and row.threshold == done.threshold
    assert 0 < done.answer_rate <= 1 and done.wrong_answer_rate <= 0.05
    rebuilt = index.current(db)
    assert rebuilt is not built and rebuilt.confidence("en") == done.confidence
    assert rebuilt.confidence("es") == rebuilt.params.confidence  # Spanish keeps the defaults


def test_cli_imports_examples(database: str, tmp_path: Path) -> None:
    assert runner.invoke(cli.app, ["migrate"]).exit_code == 0
    assert runner.invoke(cli.app, ["kb", "import", str(ARTICLES)]).exit_code == 0
    examples = tmp_path / "examples.csv"
    examples.write_text(f"text,article_key,locale\n{SLANG},track-your-order,\n"
                        "¿y mi paquete?,track-your-order,es\n", encoding="utf-8")
    added = runner.invoke(cli.app, ["kb", "examples", str(examples)])
    assert added.exit_code == 0 and added.output.strip() == "2 example question(s) added"
    questions = tmp_path / "questions.csv"
    questions.write_text(f"text,article_key\n{SLANG},track-your-order\n", encoding="utf-8")
    result = runner.invoke(cli.app, ["kb", "evaluate", "--questions", str(questions), "--threshold", "0", "--json"])
    assert json.loads(result.output)["top1"] == 1.0
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("text,article_key\nhi,no-such-article\n", encoding="utf-8")
    refused = runner.invoke(cli.app, ["kb", "examples", str(wrong)])
    assert refused.exit_code == 2 and "nothing was added" in refused.output
    few = runner.invoke(cli.app, ["kb", "calibrate", "--questions", str(questions)])
    assert few.exit_code == 2 and "at least 100 questions" in few.output


def test_questions_no_article_answers_teach_the_confidence_to_stay_quiet(db: Session, clock: FrozenClock) -> None:
    ensure_kb(db, now=clock.now())
    built = index.current(db)
    answerable = [(text, key) for key in built.keys("en") for text in (
        f"help with {key.replace('-', ' ')}", f"question about {key.replace('-', ' ')} please",
        f"{key.replace('-', ' ')}?", f"how do I {key.replace('-', ' ')}")]
    banking = ["how do I activate my new debit card", "what is the exchange rate for euros",
               "my top up did not go through", "can I get a virtual card", "why was my atm withdrawal declined",
               "how do I verify my identity for the bank", "what are the fees for international transfers",
               "my pin is blocked", "can I change my card limit", "is apple pay supported for my card"]
    outside = [(f"{text}{tail}", tuning.NO_ARTICLE) for text in banking for tail in ("", " please", "?", " today")]
    probe = "I want to open a savings account with a good interest rate"
    tuning.calibrate(db, built, answerable, locale="en", now=clock.now())
    naive = index.current(db).search(probe, locale="en", k=1)[0].confidence
    done = tuning.calibrate(db, index.current(db), answerable + outside, locale="en", now=clock.now())
    assert done.questions == len(answerable) + len(outside)
    taught = index.current(db).search(probe, locale="en", k=1)[0].confidence
    assert taught < naive  # the same question no article answers is trusted less once calibration saw such
