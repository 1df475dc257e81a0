"""The demo's CSAT surveys: each channel's survey settings, and one survey for every solved demo case, as the
survey job would have left them.

``ensure_surveys`` (idempotent: the settings are found by channel, and only solved cases with no survey
get one, so a second run writes nothing):

- settings: in-app chat asks 30 minutes after the solve, the web form after two hours and the API after
  an hour, all on the 1-5 scale; e-mail was switched to good/bad today (its past surveys were 1-5, as a
  planned survey keeps its scale). Every link takes answers for a week.
- surveys: a case the demo's history rated has an answered survey, sent after the channel's delay (or
  just before the rating, for the quick raters) and answered when it was rated; the bad ratings (1-2) get
  a low-rating reason and, most of them, a comment in the case's language (English, Spanish or
  Indonesian), drawn from the seed and the case's reference, so the same seed gives the same words. An
  unrated case's survey is waiting, sent or expired by its dates. Each sent survey has its
  ``csat.survey_sent`` event and each expired one its ``csat.survey_expired``.

Rows are written in bulk (no per-case service call), so twenty thousand cases take seconds. The demo
writes no link on the threads: its tokens are random and never shown (the hashes are what is stored).
"""

from __future__ import annotations

import hashlib
import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from trustdesk.cases.models import Case, Channel, Party, Status
from trustdesk.core.events import CaseEvent
from trustdesk.feedback.models import CaseRating, CsatSurvey, LowRatingReason, SurveyScale, SurveySettings, SurveyStatus
from trustdesk.feedback.service import BAD_SCORE
from trustdesk.feedback.surveys import SURVEYED_CHANNELS, TOKEN_PREFIX

WINDOW_HOURS = 7 * 24
# channel -> (delay minutes, scale)
SETTINGS: dict[str, tuple[int, str]] = {
    Channel.IN_APP_CHAT.value: (30, SurveyScale.FIVE_POINT.value),
    Channel.WEB_FORM.value: (120, SurveyScale.FIVE_POINT.value),
    Channel.API.value: (60, SurveyScale.FIVE_POINT.value),
    Channel.EMAIL.value: (60, SurveyScale.GOOD_BAD.value),
}
HISTORY_SCALE = SurveyScale.FIVE_POINT.value  # what every past survey was asked on
COMMENT_SHARE = 0.7  # of the bad ratings, how many say more than the reason
# How often each reason is picked for a bad rating, and for one whose case was passed between teams.
REASON_WEIGHTS: dict[str, float] = {"slow": 30, "not_resolved": 26, "unhelpful": 16, "policy": 12,
                                    "transferred": 6, "rude": 4, "other": 6}
REROUTED_WEIGHTS = REASON_WEIGHTS | {"transferred": 45}

COMMENTS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "slow": ("It took four days to get a real answer.", "Far too slow, I had to chase you twice.",
                 "Every reply took a day and said nothing new."),
        "not_resolved": ("The case was closed but I still don't have my refund.",
                         "Nothing was fixed, I was just told to wait.", "My parcel is still missing."),
        "unhelpful": ("The answer was a copy of the help article I had already read.",
                      "The reply did not address my question at all."),
        "rude": ("The agent was dismissive and didn't read my message.", "Felt like I was being blamed."),
        "policy": ("I understand the rule, but it is unfair to buyers.", "Your return policy makes no sense here."),
        "transferred": ("I was passed between three teams and had to explain everything again.",
                        "Nobody seemed to know who should handle this."),
        "other": ("Hard to find where to reply.", "I would have preferred a phone call."),
    },
    "es": {
        "slow": ("Tardaron cuatro días en darme una respuesta real.", "Demasiado lento, tuve que insistir dos veces."),
        "not_resolved": ("Cerraron el caso y sigo sin mi reembolso.", "No se solucionó nada, solo me dijeron que "
                                                                      "esperara."),
        "unhelpful": ("La respuesta era el mismo artículo de ayuda que ya había leído.",
                      "No respondieron a mi pregunta."),
        "rude": ("El agente fue cortante y no leyó mi mensaje.",),
        "policy": ("Entiendo la norma, pero es injusta con los compradores.",),
        "transferred": ("Me pasaron por tres equipos y tuve que explicarlo todo otra vez.",),
        "other": ("Me costó encontrar dónde responder.",),
    },
    "id": {
        "slow": ("Butuh empat hari untuk mendapat jawaban yang jelas.", "Terlalu lambat, saya harus menanyakan dua "
                                                                       "kali."),
        "not_resolved": ("Kasus ditutup tapi dana saya belum kembali.", "Masalahnya belum selesai, saya hanya "
                                                                       "disuruh menunggu."),
        "unhelpful": ("Jawabannya hanya salinan artikel bantuan yang sudah saya baca.",),
        "rude": ("Agennya kurang sopan dan tidak membaca pesan saya.",),
        "policy": ("Saya paham aturannya, tapi tidak adil bagi pembeli.",),
        "transferred": ("Saya dilempar ke tiga tim dan harus menjelaskan ulang.",),
        "other": ("Sulit menemukan tempat untuk membalas.",),
    },
}


@dataclass(frozen=True)
class _Row:
    case_id: int
    reference: str
    channel: str
    language: str
    solved_at: datetime
    email: str | None
    rating_id: int | None
    score: int | None
    rated_at: datetime | None


def ensure_survey_settings(session: Session, *, now: datetime) -> int:
    """The demo's per-channel survey settings (a channel someone already set is left as it is)."""
    existing = set(session.scalars(select(SurveySettings.channel)))
    rows = [SurveySettings(channel=channel, enabled=True, delay_minutes=delay, response_window_hours=WINDOW_HOURS,
                           scale=scale, updated_at=now)
            for channel, (delay, scale) in SETTINGS.items() if channel not in existing]
    session.add_all(rows)
    session.flush()
    return len(rows)


def _unsurveyed(session: Session) -> list[_Row]:
    query = (select(Case.id, Case.reference, Case.channel, Case.language, Case.solved_at, Party.email,
                    CaseRating.id, CaseRating.score, CaseRating.rated_at)
             .join(Party, Party.id == Case.party_id)
             .outerjoin(CaseRating, CaseRating.case_id == Case.id)
             .outerjoin(CsatSurvey, CsatSurvey.case_id == Case.id)
             .where(CsatSurvey.id.is_(None), Case.status.in_((Status.SOLVED.value, Status.CLOSED.value)),
                    Case.solved_at.is_not(None), Case.merged_into_id.is_(None),
                    Case.channel.in_(SURVEYED_CHANNELS), Party.external_id.like("demo-%"))
             .order_by(Case.id))
    return [_Row(case_id, reference or f"#{case_id}", channel, language, solved_at, email, rating_id, score, rated_at)
            for case_id, reference, channel, language, solved_at, email, rating_id, score, rated_at
            in session.execute(query) if solved_at is not None]


def _rerouted(session: Session, case_ids: list[int]) -> set[int]:
    found: set[int] = set()
    for start in range(0, len(case_ids), 900):  # SQLite's bound-parameter limit
        chunk = case_ids[start:start + 900]
        found.update(session.scalars(select(CaseEvent.case_id).where(CaseEvent.type == "case.rerouted",
                                                                     CaseEvent.case_id.in_(chunk)).distinct()))
    return found


def _token_hash() -> str:
    return hashlib.sha256((TOKEN_PREFIX + secrets.token_urlsafe(32)).encode()).hexdigest()


def ensure_surveys(session: Session, *, now: datetime, seed: int) -> int:
    """Write the demo's survey settings and its cases' surveys (see the module's doc); returns how many
    surveys were written (0 the second time)."""
    ensure_survey_settings(session, now=now)
    delays = {channel: timedelta(minutes=delay) for channel, (delay, _scale) in SETTINGS.items()}
    window = timedelta(hours=WINDOW_HOURS)
    rows = _unsurveyed(session)
    if not rows:
        return 0
    surveys: list[dict[str, Any]] = []
    for row in rows:
        send_after = row.solved_at + delays.get(row.channel, timedelta(hours=1))
        sent_at: datetime | None = send_after
        status = SurveyStatus.SENT.value
        answered_at: datetime | None = None
        if row.rated_at is not None:  # rated in the history: the survey went out first and was answered
            if sent_at is not None and sent_at > row.rated_at:
                sent_at = max(row.solved_at, row.rated_at - timedelta(minutes=3))
            status, answered_at = SurveyStatus.ANSWERED.value, row.rated_at
        elif send_after > now:
            status, sent_at = SurveyStatus.SCHEDULED.value, None
        elif send_after + window <= now:
            status = SurveyStatus.EXPIRED.value
        surveys.append({"case_id": row.case_id, "token_hash": _token_hash(), "channel": row.channel,
                        "scale": HISTORY_SCALE, "status": status, "send_after": send_after, "sent_at": sent_at,
                        "expires_at": sent_at + window if sent_at is not None else None,
                        "answered_at": answered_at, "created_at": row.solved_at})
    ids: dict[int, int] = {case_id: survey_id for case_id, survey_id in session.execute(
        insert(CsatSurvey).returning(CsatSurvey.case_id, CsatSurvey.id), surveys)}
    events: list[dict[str, Any]] = []
    for row, survey in zip(rows, surveys, strict=True):
        sent_at = survey["sent_at"]
        if sent_at is None:
            continue
        via = ["in_app"] if row.channel == Channel.IN_APP_CHAT.value or not row.email else ["email"]
        events.append({"case_id": row.case_id, "type": "csat.survey_sent", "actor_type": "system", "actor_id": None,
                       "occurred_at": sent_at, "data": {
                           "survey_id": ids[row.case_id], "channel": row.channel, "scale": HISTORY_SCALE,
                           "via": via, "expires_at": survey["expires_at"].isoformat()}})
        if survey["status"] == SurveyStatus.EXPIRED.value:
            events.append({"case_id": row.case_id, "type": "csat.survey_expired", "actor_type": "system",
                           "actor_id": None, "occurred_at": survey["expires_at"],
                           "data": {"survey_id": ids[row.case_id], "sent_at": sent_at.isoformat()}})
    if events:
        session.execute(insert(CaseEvent), events)
    _explain_bad_ratings(session, rows, seed=seed)
    session.flush()
    return len(surveys)


def _explain_bad_ratings(session: Session, rows: list[_Row], *, seed: int) -> None:
    """A reason (and mostly a comment) for each bad rating the history gave, deterministic from the seed."""
    bad = [row for row in rows if row.rating_id is not None and row.score is not None and row.score <= BAD_SCORE]
    if not bad:
        return
    rerouted = _rerouted(session, [row.case_id for row in bad])
    reasons = [r.value for r in LowRatingReason]
    changes: list[dict[str, Any]] = []
    for row in bad:
        rng = random.Random(f"csat-reason:{seed}:{row.reference}")
        weights = REROUTED_WEIGHTS if row.case_id in rerouted else REASON_WEIGHTS
        reason = rng.choices(reasons, weights=[weights[r] for r in reasons])[0]
        comment = ""
        if rng.random() < COMMENT_SHARE:
            texts = COMMENTS.get(row.language.split("-")[0], COMMENTS["en"])
            comment = rng.choice(texts.get(reason) or COMMENTS["en"][reason])
        changes.append({"id": row.rating_id, "reason": reason, "comment": comment})
    session.execute(update(CaseRating), changes)
