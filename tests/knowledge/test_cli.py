"""``trustdesk kb`` against a real SQLite file: import the demo's articles, list them, evaluate search."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from trustdesk import cli
from trustdesk.demo.kb import ARTICLES

runner = CliRunner()


def test_import_list_and_evaluate(database: str, tmp_path: Path) -> None:
    assert runner.invoke(cli.app, ["migrate"]).exit_code == 0
    imported = runner.invoke(cli.app, ["kb", "import", str(ARTICLES)])
    assert imported.exit_code == 0 and imported.output.strip() == "27 article(s) created"
    assert runner.invoke(cli.app, ["kb", "import", str(ARTICLES)]).output.strip() == "0 article(s) created"
    listed = runner.invoke(cli.app, ["kb", "list", "--locale", "es"]).output
    assert "Devoluciones y reembolsos" in listed and "request-a-refund" in listed
    questions = tmp_path / "questions.csv"
    questions.write_text("text,article_key\n"
                         "where is my parcel? I ordered last week,track-your-order\n"
                         "I want my money back for a broken item,request-a-refund\n"
                         "I forgot my password and cannot log in,reset-your-password\n"
                         "can I pay with PayPal?,payment-methods\n", encoding="utf-8")
    keys = {line.split()[0] for line in listed.splitlines() if line.startswith("  ")}
    assert {"track-your-order", "request-a-refund", "reset-your-password", "payment-methods"} <= keys, keys
    result = runner.invoke(cli.app, ["kb", "evaluate", "--questions", str(questions), "--threshold", "0", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["n"] == 4 and figures["top3"] == 1.0 and figures["answer_rate"] == 1.0
    assert set(figures) >= {"top1", "top3", "answer_rate", "wrong_answer_rate", "p50_ms", "threshold"}
    bad = tmp_path / "bad.csv"
    bad.write_text("question,answer\nx,y\n", encoding="utf-8")
    refused = runner.invoke(cli.app, ["kb", "evaluate", "--questions", str(bad)])
    assert refused.exit_code == 2 and "text,article_key" in refused.output
