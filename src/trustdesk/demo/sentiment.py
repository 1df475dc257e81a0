"""The demo's sentiment: the default rule, and every customer message of the history scored in bulk.

Scoring runs as the periodic job would have, on the build's "now": the open cases whose customer wrote a
very negative message are flagged (tagged, and raised to high priority), solved and closed ones are not.
Idempotent: the rule is found by its name and only messages without a score are scored.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from trustdesk.cases.models import Priority
from trustdesk.feedback import sentiment

DEFAULT_RULE = "Very negative customer"
DEFAULT_THRESHOLD = -0.6


def ensure_sentiment(session: Session, *, now: datetime) -> str:
    """Create the default rule if missing and score what is not scored; a line for the build log, or ""."""
    _rule, created = sentiment.ensure_rule(session, name=DEFAULT_RULE, threshold=DEFAULT_THRESHOLD,
                                           tag=sentiment.DEFAULT_TAG, raise_priority_to=Priority.HIGH.value,
                                           now=now)
    run = sentiment.score_all(session, now=now)
    if not run.scored and not created:
        return ""
    return (f"{run.scored:,} customer messages scored on {run.cases:,} cases, {run.flagged:,} open cases flagged"
            + (f" by the new rule \u201c{DEFAULT_RULE}\u201d" if created else ""))
