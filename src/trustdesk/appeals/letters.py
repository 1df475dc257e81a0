"""The reasoned decision an appellant receives (DSA Art. 20(5), 21): a template per outcome and locale,
filled with the decision, the reviewer's reasons and the market's out-of-court settlement options.

Templates use ``{placeholder}`` fields from a fixed list, checked when the template is saved, so a
letter never fails at the moment a decision is sent.
"""

from __future__ import annotations

import string
from datetime import datetime

from sqlalchemy.orm import Session

from trustdesk.appeals import repository
from trustdesk.appeals.models import Appeal, DecisionTemplate, EnforcementDecision, EnforcementPolicy, Outcome
from trustdesk.cases.models import Case
from trustdesk.core import i18n
from trustdesk.core.errors import Conflict, Invalid
from trustdesk.directory.models import Market

PLACEHOLDERS: dict[str, str] = {
    "appeal_reference": "the appeal's reference, e.g. AP-2026-000012",
    "decision_reference": "the enforcement system's id of the decision",
    "item": "what was restricted (the listing's title, the account, the payout)",
    "policy": "the policy the decision applied",
    "decided_on": "the day the appeal was decided (YYYY-MM-DD)",
    "reasons": "the reviewer's reasons, as written",
    "lifted": "for a partial overturn: the measures lifted, in words",
    "out_of_court": "the market's out-of-court dispute settlement options",
}
REQUIRED = ("reasons", "out_of_court")  # a letter without them is not a reasoned decision under the DSA
MAX_BODY = 10_000
MEASURE_WORDS: dict[str, str] = {
    "decision_visibility": "the restriction of the content's visibility",
    "decision_monetary": "the restriction of payments",
    "decision_provision": "the suspension of the service",
    "decision_account": "the restriction of the account",
}


def check_template(body: str) -> str:
    """``body`` if every placeholder is known and the required ones are there; else 422 naming ``body``."""
    body = body.strip()
    if not body or len(body) > MAX_BODY:
        raise Invalid(f"a template holds 1 to {MAX_BODY} characters", field="body")
    try:
        names = [name for _text, name, spec, conversion in string.Formatter().parse(body) if name is not None]
    except ValueError as exc:
        raise Invalid(f"the template does not parse: {exc}; write a literal brace as {{{{ or }}}}",
                      field="body") from exc
    for name in names:
        if name not in PLACEHOLDERS:
            raise Invalid(f"unknown placeholder {{{name}}}; known: {', '.join(PLACEHOLDERS)}", field="body")
    for name in REQUIRED:
        if name not in names:
            raise Invalid(f"a reasoned decision includes {{{name}}}", field="body")
    return body


def save_template(session: Session, *, outcome: Outcome, locale: str, body: str, user_id: int | None,
                  now: datetime) -> DecisionTemplate:
    body = check_template(body)
    locale = locale.strip()
    if not locale or len(locale) > 16:
        raise Invalid("locale is a language code such as en or es", field="locale")
    row = repository.template_for(session, outcome.value, locale)
    if row is None:
        row = DecisionTemplate(outcome=outcome.value, locale=locale, body=body, updated_by_user_id=user_id,
                               updated_at=now)
        session.add(row)
    else:
        row.body, row.updated_by_user_id, row.updated_at = body, user_id, now
    session.flush()
    return row


def out_of_court_text(market_out_of_court: dict[str, object], locale: str, default_locale: str) -> str | None:
    for candidate in i18n.fallbacks(locale, default_locale, i18n.DEFAULT_LOCALE):
        text = market_out_of_court.get(candidate)
        if isinstance(text, str) and text.strip():
            return text.strip()
    return None


def compose(session: Session, appeal: Appeal, decision: EnforcementDecision, case: Case) -> str:
    """The letter for ``appeal`` (decided already) in the case's language, falling back to the market's."""
    market = session.get(Market, appeal.market_id)
    policy = session.get(EnforcementPolicy, appeal.policy_id)
    settings = repository.market_settings(session, appeal.market_id)
    assert market is not None and policy is not None and settings is not None and appeal.outcome is not None
    template = None
    for locale in i18n.fallbacks(case.language, market.default_language, i18n.DEFAULT_LOCALE):
        template = repository.template_for(session, appeal.outcome, locale)
        if template is not None:
            break
    if template is None:
        raise Conflict(f"no decision letter for {appeal.outcome} in {case.language} or {market.default_language}",
                       field="outcome")
    out_of_court = out_of_court_text(settings.out_of_court, template.locale, market.default_language)
    if out_of_court is None:
        raise Conflict(f"{market.code} has no out-of-court settlement text: a decision cannot be sent without it",
                       field="out_of_court")
    decided = appeal.decided_at
    values = {
        "appeal_reference": appeal.reference or "", "decision_reference": decision.external_id,
        "item": decision.item_title or decision.item_ref, "policy": policy.name,
        "decided_on": f"{decided:%Y-%m-%d}" if decided else "", "reasons": appeal.decision_reasons or "",
        "lifted": "; ".join(MEASURE_WORDS.get(m, m) for m in appeal.lifted_measures),
        "out_of_court": out_of_court,
    }
    return template.body.format_map(values)
