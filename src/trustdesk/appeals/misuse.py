"""Protection against misuse (DSA Art. 23(2)-(3)): a party that frequently files manifestly unfounded
appeals is first warned, and may then be suspended from appealing for a reasonable period.

Both steps are a person's decision, taken case by case with the reasons recorded (Art. 23(3) asks
for an assessment of the facts, not an automatic trigger). TrustDesk says who is eligible: a warning
needs ``misuse_threshold`` manifestly unfounded appeals within ``misuse_window_days``; a suspension
needs a prior warning and ``misuse_threshold`` more of them decided after it (after the last suspension,
for the next one). A suspension lasts at
most ``misuse_max_suspension_days``; while it runs, new appeals from the party are refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from trustdesk.appeals import repository
from trustdesk.appeals.events import record_event
from trustdesk.appeals.models import Appeal, MarketAppealSettings, MisuseKind, MisuseMeasure
from trustdesk.cases.models import Party
from trustdesk.cases.service import clean_text
from trustdesk.core.errors import Conflict, Forbidden, Invalid
from trustdesk.core.identity import Actor
from trustdesk.core.permissions import Perm
from trustdesk.directory.models import Market

MIN_REASONS = 20


@dataclass(frozen=True)
class MisuseStatus:
    party: Party
    unfounded: Sequence[Appeal]  # in the window
    warning: MisuseMeasure | None  # the latest warning, if any
    unfounded_since_warning: Sequence[Appeal]
    suspension: MisuseMeasure | None  # running now
    threshold: int

    @property
    def may_warn(self) -> bool:
        return self.suspension is None and self.warning is None and len(self.unfounded) >= self.threshold

    @property
    def may_suspend(self) -> bool:
        return (self.suspension is None and self.warning is not None
                and len(self.unfounded_since_warning) >= self.threshold)


def _settings(session: Session, party: Party) -> MarketAppealSettings:
    settings = repository.market_settings(session, party.market_id)
    if settings is None:
        market = session.get(Market, party.market_id)
        raise Conflict(f"appeals are not set up in {market.code if market else party.market_id}", field="party")
    return settings


def status(session: Session, party: Party, *, now: datetime) -> MisuseStatus:
    settings = _settings(session, party)
    unfounded = repository.manifestly_unfounded(session, party.id,
                                                since=now - timedelta(days=settings.misuse_window_days))
    measures = repository.misuse_measures(session, party.id)
    warnings = [m for m in measures if m.kind == MisuseKind.WARNING.value]
    warning = warnings[-1] if warnings else None
    since_warning: Sequence[Appeal] = ()
    if warning is not None:
        # What a suspension rests on: the unfounded appeals decided after the latest measure (the
        # warning, or the last suspension), so the same appeals never justify two suspensions.
        latest = measures[-1].starts_at
        since_warning = [a for a in repository.manifestly_unfounded(session, party.id, since=latest)
                         if a.decided_at is not None and a.decided_at > latest]
    return MisuseStatus(party=party, unfounded=unfounded, warning=warning, unfounded_since_warning=since_warning,
                        suspension=repository.active_suspension(session, party.id, now),
                        threshold=settings.misuse_threshold)


def _reasons(reasons: str) -> str:
    text = clean_text(reasons, field="reasons", max_chars=4000)
    if len(text) < MIN_REASONS:
        raise Invalid(f"record the reasons in at least {MIN_REASONS} characters (Art. 23(3))", field="reasons")
    return text


def warn(session: Session, party: Party, *, reasons: str, actor: Actor, now: datetime) -> MisuseMeasure:
    _check_admin(actor)
    state = status(session, party, now=now)
    if not state.may_warn:
        raise Conflict(_why_not(state, MisuseKind.WARNING), field="party")
    measure = MisuseMeasure(party_id=party.id, kind=MisuseKind.WARNING.value, reasons=_reasons(reasons),
                            unfounded_appeal_ids=[a.reference or str(a.id) for a in state.unfounded],
                            starts_at=now, ends_at=None, issued_by_user_id=actor.user_id, created_at=now)
    session.add(measure)
    session.flush()
    record_event(session, "party.appeals_warned", actor, now, {
        "unfounded": measure.unfounded_appeal_ids, "reasons": measure.reasons,
    }, party_id=party.id)
    return measure


def suspend(session: Session, party: Party, *, reasons: str, days: int, actor: Actor, now: datetime) -> MisuseMeasure:
    _check_admin(actor)
    settings = _settings(session, party)
    if not 1 <= days <= settings.misuse_max_suspension_days:
        raise Invalid(f"a suspension lasts 1 to {settings.misuse_max_suspension_days} days", field="days")
    state = status(session, party, now=now)
    if not state.may_suspend:
        raise Conflict(_why_not(state, MisuseKind.SUSPENSION), field="party")
    measure = MisuseMeasure(party_id=party.id, kind=MisuseKind.SUSPENSION.value, reasons=_reasons(reasons),
                            unfounded_appeal_ids=[a.reference or str(a.id) for a in state.unfounded_since_warning],
                            starts_at=now, ends_at=now + timedelta(days=days), issued_by_user_id=actor.user_id,
                            created_at=now)
    session.add(measure)
    session.flush()
    record_event(session, "party.appeals_suspended", actor, now, {
        "unfounded": measure.unfounded_appeal_ids, "reasons": measure.reasons, "days": days,
        "warning_id": state.warning.id if state.warning else None,
    }, party_id=party.id)
    return measure


def _check_admin(actor: Actor) -> None:
    if not actor.can(Perm.APPEALS_ADMIN):
        raise Forbidden("warnings and suspensions need the appeals.admin permission")


def _why_not(state: MisuseStatus, kind: MisuseKind) -> str:
    if state.suspension is not None and state.suspension.ends_at is not None:
        return f"the party is suspended until {state.suspension.ends_at:%Y-%m-%d}"
    if kind is MisuseKind.WARNING:
        if state.warning is not None:
            return "the party has been warned already; the next step is a suspension"
        return (f"{len(state.unfounded)} manifestly unfounded appeals in the window; a warning needs "
                f"{state.threshold}")
    if state.warning is None:
        return "a suspension comes only after a warning (Art. 23(2))"
    return (f"{len(state.unfounded_since_warning)} manifestly unfounded appeals since the warning; a suspension "
            f"needs {state.threshold}")
