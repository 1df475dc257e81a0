"""CSAT surveys: after a case is solved, ask its customer once how we did, by a link that needs no login.

The life of a survey (one per case):

- ``schedule_due`` plans one for each case solved on a channel whose survey is on, to go out
  ``delay_minutes`` after the solve. Cases solved longer ago than the channel's response window are
  never surveyed (nobody remembers a stale case), and neither are appeals (a decision is not a service
  to rate) nor internal requests.
- ``send_due`` sends the planned ones whose time has come while the case is still solved or closed. A
  case reopened (or merged) in the meantime gets none: its survey is *cancelled*, and planned again if
  the case is solved again. Sending makes a fresh token (only its SHA-256 is kept), e-mails the link to
  the party when SMTP is configured, and posts it on the case's public thread (which the customer reads
  in the help center and the in-app chat) for in-app chat cases and whenever no e-mail went out.
- ``answer`` records the rating through ``feedback.service.rate_case``, so CSAT keeps one source;
  answering again within the window replaces the rating (the latest counts, both events stay).
- ``expire`` closes the sent surveys whose window has passed.

Each step is safe to run twice: it acts only on rows still in the state it looks for.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from trustdesk.cases import repository as case_repository
from trustdesk.cases import service as cases
from trustdesk.cases.models import Case, Channel, Party
from trustdesk.core import mail
from trustdesk.core.db import is_postgres
from trustdesk.core.errors import Conflict, Invalid, NotFound
from trustdesk.core.events import SYSTEM, record_case_event
from trustdesk.feedback import service as ratings
from trustdesk.feedback.models import CaseRating, CsatSurvey, SurveyScale, SurveySettings, SurveyStatus

# Appeals are decided under law, not served: no CSAT. Internal requests come from staff.
UNSURVEYED = frozenset({Channel.APPEAL_FORM.value, Channel.INTERNAL_FORM.value})
SURVEYED_CHANNELS: tuple[str, ...] = tuple(c.value for c in Channel if c.value not in UNSURVEYED)

DEFAULT_DELAY_MINUTES = 60
DEFAULT_WINDOW_HOURS = 7 * 24
MAX_DELAY_MINUTES = 7 * 24 * 60  # a week: later than that the customer has moved on
MAX_WINDOW_HOURS = 30 * 24
BATCH = 500  # rows per run of each step; the job runs every minute and catches up
TOKEN_PREFIX = "cs_"  # noqa: S105 - a prefix that marks survey links, not a secret

# The 1-5 scale in words, shown on the survey and in the console.
FIVE_POINT_WORDS: dict[int, str] = {1: "Very dissatisfied", 2: "Dissatisfied", 3: "Neither satisfied nor dissatisfied",
                                    4: "Satisfied", 5: "Very satisfied"}
GOOD_BAD_SCORES: dict[str, int] = {"good": 5, "bad": 1}  # stored on the 1-5 scale, as CSAT reads it


class LinkClosed(Conflict):
    """The survey's link no longer takes answers (expired or withdrawn): 410 Gone."""

    status = 410
    slug = "gone"
    title = "Gone"


@dataclass(frozen=True)
class SurveyConfig:
    """A channel's survey settings, or the defaults when nobody saved any (``updated_at`` is then None)."""

    channel: str
    enabled: bool = True
    delay_minutes: int = DEFAULT_DELAY_MINUTES
    response_window_hours: int = DEFAULT_WINDOW_HOURS
    scale: str = SurveyScale.FIVE_POINT.value
    updated_at: datetime | None = None

    @property
    def is_default(self) -> bool:
        return self.updated_at is None

    @property
    def delay(self) -> timedelta:
        return timedelta(minutes=self.delay_minutes)

    @property
    def window(self) -> timedelta:
        return timedelta(hours=self.response_window_hours)


class Respondent:
    """The case's customer acting through the survey link: the link is their proof, not a session."""

    def __init__(self, user_id: int | None) -> None:
        self._user_id = user_id or 0

    @property
    def actor_type(self) -> str:
        return "customer"

    @property
    def user_id(self) -> int:
        return self._user_id


# ---------------------------------------------------------------- settings


def check_channel(channel: str) -> str:
    if channel in UNSURVEYED:
        raise Invalid(f"{channel} cases get no CSAT survey (appeals and internal requests are not rated)",
                      field="channel")
    if channel not in SURVEYED_CHANNELS:
        raise Invalid(f"channel must be one of {', '.join(SURVEYED_CHANNELS)}", field="channel")
    return channel


def _config(row: SurveySettings) -> SurveyConfig:
    return SurveyConfig(channel=row.channel, enabled=row.enabled, delay_minutes=row.delay_minutes,
                        response_window_hours=row.response_window_hours, scale=row.scale, updated_at=row.updated_at)


def settings_for(session: Session, channel: str) -> SurveyConfig:
    check_channel(channel)
    row = session.scalar(select(SurveySettings).where(SurveySettings.channel == channel))
    return _config(row) if row is not None else SurveyConfig(channel=channel)


def all_settings(session: Session) -> list[SurveyConfig]:
    """Every surveyed channel's settings, in the channels' order."""
    rows = {row.channel: row for row in session.scalars(select(SurveySettings))}
    return [_config(rows[c]) if c in rows else SurveyConfig(channel=c) for c in SURVEYED_CHANNELS]


def save_settings(session: Session, channel: str, *, enabled: bool, delay_minutes: int, response_window_hours: int,
                  scale: str, now: datetime) -> SurveyConfig:
    """Save a channel's settings. They apply to surveys planned from now on; a planned survey keeps the
    time and scale it was planned with, except that switching the channel off stops it going out."""
    check_channel(channel)
    if not isinstance(enabled, bool):
        raise Invalid("enabled must be true or false", field="enabled")
    if isinstance(delay_minutes, bool) or not isinstance(delay_minutes, int) or not (
            0 <= delay_minutes <= MAX_DELAY_MINUTES):
        raise Invalid(f"delay_minutes must be a whole number from 0 to {MAX_DELAY_MINUTES}", field="delay_minutes")
    if isinstance(response_window_hours, bool) or not isinstance(response_window_hours, int) or not (
            1 <= response_window_hours <= MAX_WINDOW_HOURS):
        raise Invalid(f"response_window_hours must be a whole number from 1 to {MAX_WINDOW_HOURS}",
                      field="response_window_hours")
    if scale not in {s.value for s in SurveyScale}:
        raise Invalid(f"scale must be one of {', '.join(s.value for s in SurveyScale)}", field="scale")
    row = session.scalar(select(SurveySettings).where(SurveySettings.channel == channel))
    if row is None:
        row = SurveySettings(channel=channel)
        session.add(row)
    row.enabled, row.delay_minutes, row.response_window_hours = enabled, delay_minutes, response_window_hours
    row.scale, row.updated_at = scale, now
    session.flush()
    return _config(row)


# ---------------------------------------------------------------- the token


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def survey_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/survey/{token}"


def survey_by_token(session: Session, token: str, *, for_update: bool = False) -> CsatSurvey:
    """The survey a link points to; an unknown (or never sent) link is NotFound."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        raise NotFound("this survey link is not known", field="token")
    query = select(CsatSurvey).where(CsatSurvey.token_hash == hash_token(token))
    if for_update and is_postgres(session):
        query = query.with_for_update()
    survey = session.scalar(query)
    if survey is None or survey.sent_at is None:
        raise NotFound("this survey link is not known", field="token")
    return survey


# ---------------------------------------------------------------- schedule, send, expire


def schedule_due(session: Session, *, now: datetime, limit: int = BATCH) -> int:
    """Plan a survey for each case solved on a channel whose survey is on, within its response window,
    that has none; plan again the cancelled ones whose case was solved again since. Returns how many."""
    planned = 0
    for config in all_settings(session):
        if not config.enabled:
            continue
        fresh = now - config.window  # solved before that: stale, never surveyed
        rows = session.execute(
            select(Case.id, Case.solved_at)
            .outerjoin(CsatSurvey, CsatSurvey.case_id == Case.id)
            .where(Case.channel == config.channel, Case.status.in_(ratings.RATEABLE), Case.solved_at >= fresh,
                   Case.solved_at <= now, Case.merged_into_id.is_(None), CsatSurvey.id.is_(None))
            .order_by(Case.solved_at, Case.id).limit(limit)).all()
        if rows:
            dialect = postgresql if is_postgres(session) else sqlite
            values = [{"case_id": case_id, "token_hash": hash_token(_new_token()), "channel": config.channel,
                       "scale": config.scale, "status": SurveyStatus.SCHEDULED.value,
                       "send_after": solved_at + config.delay, "sent_at": None, "expires_at": None,
                       "answered_at": None, "created_at": now} for case_id, solved_at in rows
                      if solved_at is not None]
            # A twin run that planned the same case first wins; this one skips it.
            inserted = session.execute(dialect.insert(CsatSurvey).values(values)
                                       .on_conflict_do_nothing(index_elements=["case_id"])
                                       .returning(CsatSurvey.id)).all()
            planned += len(inserted)
        resolved = session.scalars(
            select(CsatSurvey).join(Case, Case.id == CsatSurvey.case_id)
            .where(CsatSurvey.status == SurveyStatus.CANCELLED.value, CsatSurvey.channel == config.channel,
                   Case.status.in_(ratings.RATEABLE), Case.solved_at > CsatSurvey.send_after,
                   Case.solved_at >= fresh, Case.solved_at <= now, Case.merged_into_id.is_(None))
            .order_by(CsatSurvey.id).limit(limit)).all()
        if resolved:
            solved: dict[int, datetime | None] = {case_id: at for case_id, at in session.execute(
                select(Case.id, Case.solved_at).where(Case.id.in_([s.case_id for s in resolved])))}
            for survey in resolved:
                solved_at = solved[survey.case_id]
                assert solved_at is not None  # the query asked for solved cases
                survey.status, survey.scale = SurveyStatus.SCHEDULED.value, config.scale
                survey.send_after = solved_at + config.delay
            planned += len(resolved)
    if planned:
        session.flush()
    return planned


def _why_not(case: Case, config: SurveyConfig, now: datetime) -> str | None:
    """Why a planned survey must not go out now, or None when it may."""
    if case.merged_into_id is not None:
        return "merged"
    if case.status not in ratings.RATEABLE or case.solved_at is None:
        return "reopened"
    if not config.enabled:
        return "channel_disabled"
    if case.solved_at < now - config.window:
        return "stale"  # the job was down for longer than the window: too late to ask
    return None


def send_due(session: Session, *, now: datetime, base_url: str, limit: int = BATCH) -> int:
    """Send the planned surveys whose time has come (or cancel those whose case moved on); returns how
    many were sent."""
    query = (select(CsatSurvey).where(CsatSurvey.status == SurveyStatus.SCHEDULED.value,
                                      CsatSurvey.send_after <= now)
             .order_by(CsatSurvey.send_after, CsatSurvey.id).limit(limit))
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True)  # a second worker sends the others, never the same
    due = list(session.scalars(query))
    if not due:
        return 0
    case_rows = {c.id: c for c in session.scalars(select(Case).where(Case.id.in_([s.case_id for s in due])))}
    parties = case_repository.parties_by_ids(session, {c.party_id for c in case_rows.values()})
    configs = {c.channel: c for c in all_settings(session)}
    sent = 0
    for survey in due:
        case = case_rows[survey.case_id]
        config = configs.get(survey.channel) or SurveyConfig(channel=survey.channel)
        why = _why_not(case, config, now)
        if why is not None:
            survey.status = SurveyStatus.CANCELLED.value
            record_case_event(session, case.id, "csat.survey_cancelled", SYSTEM, now,
                              {"survey_id": survey.id, "reason": why})
            continue
        _send(session, survey, case, parties[case.party_id], config, now=now, base_url=base_url)
        sent += 1
    session.flush()
    return sent


def _send(session: Session, survey: CsatSurvey, case: Case, party: Party, config: SurveyConfig, *, now: datetime,
          base_url: str) -> None:
    token = _new_token()
    survey.token_hash, survey.status = hash_token(token), SurveyStatus.SENT.value
    survey.sent_at, survey.expires_at = now, now + config.window
    link = survey_url(base_url, token)
    until = f"{survey.expires_at:%Y-%m-%d %H:%M} UTC"
    reference = case.reference or f"#{case.id}"
    via: list[str] = []
    if party.email and mail.send(session, to=party.email, subject=f"How did we do? Your case {reference}", now=now,
                                 text=(f"Hello {party.display_name},\n\nYour case {reference} ({case.subject}) is "
                                       f"solved. Would you tell us how we did? It takes one click:\n\n{link}\n\n"
                                       f"The link works until {until}. Thank you!\n")):
        via.append("email")
    if case.channel == Channel.IN_APP_CHAT.value or not via:
        # The thread is where an in-app (or unreachable by e-mail) customer reads us: the link goes there.
        cases.add_system_message(session, case, now=now, body=(
            f"How did we do? Please rate the help you got with this case: {link} "
            f"(the link works until {until})."))
        via.append("in_app")
    record_case_event(session, case.id, "csat.survey_sent", SYSTEM, now, {
        "survey_id": survey.id, "channel": survey.channel, "scale": survey.scale, "via": via,
        "expires_at": survey.expires_at.isoformat()})


def expire(session: Session, *, now: datetime, limit: int = BATCH) -> int:
    """Close the sent surveys nobody answered within their window; returns how many."""
    due = list(session.scalars(select(CsatSurvey).where(CsatSurvey.status == SurveyStatus.SENT.value,
                                                        CsatSurvey.expires_at <= now)
                               .order_by(CsatSurvey.expires_at, CsatSurvey.id).limit(limit)))
    for survey in due:
        survey.status = SurveyStatus.EXPIRED.value
        record_case_event(session, survey.case_id, "csat.survey_expired", SYSTEM, now,
                          {"survey_id": survey.id, "sent_at": survey.sent_at.isoformat() if survey.sent_at else None})
    if due:
        session.flush()
    return len(due)


# ---------------------------------------------------------------- answering


def link_state(survey: CsatSurvey, now: datetime) -> str:
    """What the link may do: ``open`` (not answered yet), ``answered`` (may be answered again until it
    expires), ``expired`` or ``cancelled``."""
    if survey.status == SurveyStatus.CANCELLED.value:
        return "cancelled"
    if survey.status == SurveyStatus.EXPIRED.value or survey.expires_at is None or now >= survey.expires_at:
        return "expired"
    return "answered" if survey.status == SurveyStatus.ANSWERED.value else "open"


def score_of(scale: str, rating: int | str | None) -> int:
    """The 1-5 score of an answer on the survey's scale: 1-5 as given, good -> 5, bad -> 1."""
    if scale == SurveyScale.GOOD_BAD.value:
        if isinstance(rating, str) and rating in GOOD_BAD_SCORES:
            return GOOD_BAD_SCORES[rating]
        raise Invalid("choose good or bad", field="rating")
    if isinstance(rating, str) and rating.isdigit():
        rating = int(rating)
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= ratings.SCALE:
        raise Invalid(f"choose a rating from 1 to {ratings.SCALE}", field="rating")
    return rating


def answer(session: Session, token: str, *, rating: int | str | None, reason: str | None = None, comment: str = "",
           now: datetime) -> CaseRating:
    """The customer's answer through the link: their rating of the case (again, within the window)."""
    survey = survey_by_token(session, token, for_update=True)
    state = link_state(survey, now)
    if state == "cancelled":
        raise LinkClosed("this survey was withdrawn: the case was reopened after it was planned", field="token")
    if state == "expired":
        raise LinkClosed("this survey link has expired", field="token")
    score = score_of(survey.scale, rating)
    case = cases.case_by_id(session, survey.case_id)
    if case.status not in ratings.RATEABLE:
        raise Conflict("your case is open again: you can rate it with this link once it is solved", field="case")
    party = case_repository.parties_by_ids(session, {case.party_id})[case.party_id]
    rated = ratings.rate_case(session, case, score=score, comment=comment, channel=survey.channel,
                              reason=reason or None, actor=Respondent(party.user_id), now=now)
    survey.status, survey.answered_at = SurveyStatus.ANSWERED.value, now
    session.flush()
    return rated


@dataclass(frozen=True)
class SurveyView:
    """What the survey page shows about its case (never more than the customer already knows)."""

    survey: CsatSurvey
    state: str
    reference: str
    subject: str
    solved_at: datetime | None
    case_open: bool  # reopened since the survey went out: it cannot be answered now
    rating: CaseRating | None  # the answer given, when there is one


def view(session: Session, token: str, *, now: datetime) -> SurveyView:
    survey = survey_by_token(session, token)
    case = cases.case_by_id(session, survey.case_id)
    rating = ratings.rating_of(session, case.id) if survey.status == SurveyStatus.ANSWERED.value else None
    return SurveyView(survey=survey, state=link_state(survey, now), reference=case.reference or f"#{case.id}",
                      subject=case.subject, solved_at=case.solved_at, case_open=case.status not in ratings.RATEABLE,
                      rating=rating)


# ---------------------------------------------------------------- figures for the console


@dataclass(frozen=True)
class ChannelStats:
    """Survey counts (not CSAT: that is ``insights.metrics``) for the surveys planned in a period."""

    channel: str
    scheduled: int = 0
    sent: int = 0  # went out and still open
    answered: int = 0
    expired: int = 0
    cancelled: int = 0

    @property
    def delivered(self) -> int:
        """Surveys that reached the customer: answered, expired or still open."""
        return self.sent + self.answered + self.expired

    @property
    def response_rate(self) -> float | None:
        """Answered / delivered; None when none went out."""
        return self.answered / self.delivered if self.delivered else None


def stats(session: Session, *, since: datetime, until: datetime) -> list[ChannelStats]:
    """Per surveyed channel, the surveys planned in [since, until) by where they are now."""
    counts: dict[str, dict[str, int]] = {c: {} for c in SURVEYED_CHANNELS}
    for channel, status, n in session.execute(
            select(CsatSurvey.channel, CsatSurvey.status, func.count(CsatSurvey.id))
            .where(CsatSurvey.created_at >= since, CsatSurvey.created_at < until)
            .group_by(CsatSurvey.channel, CsatSurvey.status)):
        counts.setdefault(channel, {})[status] = int(n)
    return [ChannelStats(channel=channel, **{k: v for k, v in by_status.items() if k in _STATUS_FIELDS})
            for channel, by_status in counts.items()]


_STATUS_FIELDS = frozenset(s.value for s in SurveyStatus)


def total(rows: Sequence[ChannelStats]) -> ChannelStats:
    sums: dict[str, Any] = {name: sum(getattr(r, name) for r in rows) for name in _STATUS_FIELDS}
    return ChannelStats(channel="all", **sums)
