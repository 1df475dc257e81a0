"""``trustdesk routing evaluate``: the exact interface outside checks call."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.factories.texts import corpus
from trustdesk import cli

runner = CliRunner()
KEYS = {"accuracy", "macro_f1", "n_train", "n_test", "train_seconds", "p50_ms", "p99_ms"}


def _write(path: Path, rows: list[tuple[str, str]], columns: tuple[str, str] = ("text", "label")) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)
    return path


def _split(tmp_path: Path, *, extra_train: list[tuple[str, str]] = (),  # type: ignore[assignment]
           extra_test: list[tuple[str, str]] = ()) -> tuple[Path, Path]:  # type: ignore[assignment]
    train_texts, train_labels = corpus(25, seed=1)
    test_texts, test_labels = corpus(5, seed=2)
    train = _write(tmp_path / "train.csv", [*zip(train_texts, train_labels, strict=True), *extra_train])
    test = _write(tmp_path / "test.csv", [*zip(test_texts, test_labels, strict=True), *extra_test])
    return train, test


def _plain(output: str) -> str:
    """The CLI's message without the terminal box it is drawn in (which wraps long lines)."""
    return " ".join(output.replace("│", " ").replace("╭", " ").replace("╰", " ").replace("─", " ").split())


def _evaluate(*args: str) -> dict[str, Any]:
    result = runner.invoke(cli.app, ["routing", "evaluate", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_prints_one_json_object_with_the_agreed_keys(tmp_path: Path) -> None:
    train, test = _split(tmp_path)
    out = _evaluate("--train", str(train), "--test", str(test), "--no-embeddings")
    assert set(out) >= KEYS
    assert (out["n_train"], out["n_test"]) == (100, 20)
    assert out["accuracy"] >= 0.9 and out["macro_f1"] >= 0.9
    assert 0 < out["p50_ms"] <= out["p99_ms"]
    assert "in_scope_accuracy" not in out and "reject_recall" not in out
    assert out["model"]["embeddings"] is None


def test_reject_label_reports_in_scope_accuracy_and_reject_recall(tmp_path: Path) -> None:
    furniture = [f"do you sell garden furniture model {i}" for i in range(30)]
    train, test = _split(tmp_path, extra_train=[(t, "oos") for t in furniture[:24]],
                         extra_test=[(t.replace("garden", "patio"), "oos") for t in furniture[24:]])
    out = _evaluate("--train", str(train), "--test", str(test), "--reject-label", "oos", "--no-embeddings")
    assert out["n_train"] == 124 and out["n_test"] == 26
    assert out["reject_recall"] == 1.0
    assert out["in_scope_accuracy"] >= 0.9
    assert 0 < out["threshold"] < 1


def test_other_column_names(tmp_path: Path) -> None:
    texts, labels = corpus(10)
    train = _write(tmp_path / "train.csv", list(zip(texts, labels, strict=True)), ("utterance", "intent"))
    test = _write(tmp_path / "test.csv", list(zip(texts[::5], labels[::5], strict=True)), ("utterance", "intent"))
    out = _evaluate("--train", str(train), "--test", str(test), "--text-column", "utterance",
                    "--label-column", "intent", "--no-embeddings")
    assert out["n_test"] == 8


@pytest.mark.parametrize(("args", "message"), [
    (["--text-column", "body"], "no column 'body'"),
    (["--label-column", "intent"], "no column 'intent'"),
])
def test_a_missing_column_is_named(tmp_path: Path, args: list[str], message: str) -> None:
    train, test = _split(tmp_path)
    result = runner.invoke(cli.app, ["routing", "evaluate", "--train", str(train), "--test", str(test), *args])
    assert result.exit_code == 2
    assert message in _plain(result.output)


def test_a_missing_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _split(tmp_path)
    monkeypatch.chdir(tmp_path)  # short paths: the error box wraps long ones
    result = runner.invoke(cli.app, ["routing", "evaluate", "--train", "nope.csv", "--test", "test.csv"])
    assert result.exit_code == 2
    assert "nope.csv" in _plain(result.output)


def test_one_topic_is_refused(tmp_path: Path) -> None:
    rows = [(f"my parcel is late {i}", "delivery_late") for i in range(10)]
    train, test = _write(tmp_path / "a.csv", rows), _write(tmp_path / "b.csv", rows)
    result = runner.invoke(cli.app, ["routing", "evaluate", "--train", str(train), "--test", str(test)])
    assert result.exit_code == 2
    assert "two topics" in _plain(result.output)
