"""The Bitext customer-support utterances (``shared/data/bitext-customer-support``), by intent.

Columns ``text,intent,category,flags``: 27 intents in 11 categories; the flags mark linguistic
variation (typos, colloquial, ...). Utterances flagged ``W`` (offensive language) are left out of
the demo, which is meant to be shown to people. The 2,000 utterances that
``knowledge.evaluation.bitext_split`` holds out are left out too: they test the knowledge search
(``bench/kb.py``), so nothing the demo builds (case texts, the routing model trained on them) may
have seen them. (A sample smaller than the held-out set, like the test suite's, is used whole:
the split is defined on the full data set.)
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

UTTERANCES = Path("bitext-customer-support") / "utterances.csv"
DATA_ENV = "TRUSTDESK_DEMO_DATA"


@dataclass(frozen=True)
class Utterances:
    by_intent: dict[str, tuple[str, ...]]
    category_of: dict[str, str]


def find_data_dir(start: Path | None = None) -> Path:
    """``$TRUSTDESK_DEMO_DATA``, else the first ``shared/data`` (or ``data``) found walking up from
    this file or ``start`` (the repository lives beside ``shared/``)."""
    configured = os.environ.get(DATA_ENV)
    if configured:
        return Path(configured)
    origins = [start] if start else []
    origins += [Path.cwd(), Path(__file__).resolve()]
    for origin in origins:
        for folder in (origin, *origin.parents):
            for candidate in (folder / "shared" / "data", folder / "data"):
                if (candidate / UTTERANCES).is_file():
                    return candidate
    raise FileNotFoundError(
        f"the demo needs {UTTERANCES} under shared/data beside the repository; "
        f"set {DATA_ENV} to the data folder")


def load_utterances(data_dir: Path) -> Utterances:
    from trustdesk.knowledge.evaluation import heldout_texts  # the benchmark's test set

    path = data_dir / UTTERANCES
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found (set {DATA_ENV} to the data folder)")
    try:
        held_out = heldout_texts(path)
    except ValueError:  # fewer usable utterances than HELDOUT: a sample, not the data set
        held_out = frozenset()
    by_intent: dict[str, list[str]] = {}
    category_of: dict[str, str] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if "W" in row["flags"]:
                continue
            text = " ".join(row["text"].split())
            if not text or text in held_out:
                continue
            by_intent.setdefault(row["intent"], []).append(text)
            category_of[row["intent"]] = row["category"]
    return Utterances({k: tuple(v) for k, v in by_intent.items()}, category_of)
