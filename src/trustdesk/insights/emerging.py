"""Emerging issues (GLOSSARY): a topic x market whose daily volume is improbably high against its own recent
baseline. One alert per issue, to the topic's owner in the service catalogue, however long it lasts.

The method (every tunable is a constant below):

1. **Volume** is the ``volume`` metric (cases opened, each in the period its ``created_at`` falls in;
   ``insights.metrics``) of one topic (its exact key) in one market, per **local day** of the market
   (``Market.time_zone``): a carrier failing in Spain shows on Spanish days, not split across two UTC days.
   One SQL ``GROUP BY`` topic, market and UTC hour over ``case_facts`` reads it; the hours are laid on local
   days and hours in Python. (In a zone offset from UTC by a half hour, the hour that straddles midnight
   counts to the day it starts in.)
2. **Baseline**: the 28 local days before the day judged, without the days of an earlier issue of the same
   pair (its first to its last flagged day), so a long spike never becomes its own baseline. A pair is
   judged once at least 14 such days lie inside the market's history.
3. **Weekly season**: a multiplicative weekday index from the market's total volume over the same 28 days:
   the median of the four same-weekday totals over the mean of the seven medians (a ratio-to-mean seasonal
   index; the median keeps one spike day from moving it). A topic's own four Mondays are too few to tell its
   week (1 case or 3), its market's total is not, and a topic keeps its market's week (busy Mondays, quiet
   Saturdays). The pair's deseasonalised rate is (its baseline cases + 0.5) / (the sum of the baseline
   days' indices), the ratio estimator that stays right when days are left out (the half case keeps a
   never-seen topic's expectation above zero); **expected** = rate x the index of the day's weekday.
4. **Dispersion**: a topic's daily counts vary more than Poisson's. The negative binomial with
   Var = mu + phi mu^2 takes phi from the baseline by the method of moments,
   phi = (n/(n-1) sum (c - mu)^2 - sum mu) / sum mu^2, and falls back to Poisson when phi <= 0 (the
   variance is no more than the mean).
5. **Test**: p = P(X >= observed) under that law (``scipy.stats.nbinom.sf(observed - 1, ...)``, or
   ``poisson.sf``). A day is **flagged** when p < 1e-4 (a 1 in 10,000 chance on a normal day) and it has at
   least 8 cases and at least twice the expected. The alpha is small because every pair is judged every
   day: with P pairs, chance alone flags at most P x 1e-4 a day (Bonferroni: 1e-4 keeps the chance of any
   false flag on a day under 2% for 170 pairs, the demo's); the floors keep a thin topic (0.3 expected) from
   alerting a person about 3 cases that are improbable but not an issue.
6. **Intraday**: every hour, the day so far (whole hours) is judged against the expected scaled by the share
   of a day's cases that arrive by that local hour (the market's hourly profile over the baseline), with the
   same dispersion (a gamma-mixed Poisson thinned in time keeps its shape). Up to 24 looks a day multiply the
   chances of a false flag, so the intraday alpha is 1e-4 / 24. So a spike is found within hours of its start.

**Issues**: the first flagged check of a pair opens an issue (one active per pair: a partial unique index)
and sends ONE alert: a notification to the catalogue entry's owner, contact and escalation contact (the
entry that owns the topic in the market now; leads with insights.admin when none is named), with the
figures and example cases, and the ``insight.emerging_issue`` webhook. Later flagged checks (hourly or
daily) update it (last flagged day, peak, cases, examples) and never alert again. It ends after 2 complete
days in a row that are not flagged (``ended_on`` is the second); a lead may acknowledge it, or end it by hand,
with a note. A flagged day after an issue ended opens a new one, with a new alert. Every change appends an
``emerging_issue_events`` row.

``detect(session, now=...)`` runs all of it for every pair: the hourly job calls it, ``replay`` runs it hour
by hour over a history (the demo), from one read of the volumes.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray
from scipy.stats import nbinom, poisson
from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from trustdesk.core import webhooks
from trustdesk.core.db import is_postgres
from trustdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from trustdesk.core.events import SYSTEM, EventActor
from trustdesk.core.identity import Actor
from trustdesk.core.notifications import holders_of, notify
from trustdesk.core.permissions import Perm
from trustdesk.directory import catalogue
from trustdesk.directory.models import Market, Topic
from trustdesk.insights.models import CaseFact, EmergingCheck, EmergingIssue, EmergingIssueEvent, IssueStatus

BASELINE_DAYS = 28
MIN_BASELINE_DAYS = 14
ALPHA = 1e-4
INTRADAY_LOOKS = 24
INTRADAY_ALPHA = ALPHA / INTRADAY_LOOKS
MIN_CASES = 8
MIN_RATIO = 2.0
PSEUDO_CASES = 0.5
QUIET_DAYS = 2
EXAMPLES = 5
CATCH_UP_DAYS = 3  # complete days a run judges (again) if no run judged them after they ended
ALERT_KIND = "insights.emerging_issue"
WEBHOOK_OPENED = "insight.emerging_issue"
WEBHOOK_ENDED = "insight.emerging_issue_ended"
PAGE = "/console/insights/emerging"
NOTE_CHARS = 2000

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


# ---------------------------------------------------------------- the test


def tail_probability(observed: int, expected: float, dispersion: float = 0.0) -> float:
    """P(X >= observed) for a count X of mean ``expected``: Poisson, or the negative binomial with
    Var = mu + dispersion x mu^2 when ``dispersion`` > 0."""
    return float(tail_probabilities(np.array([observed]), np.array([expected]), np.array([dispersion]))[0])


def tail_probabilities(observed: IntArray, expected: FloatArray, dispersion: FloatArray) -> FloatArray:
    out = np.ones(len(observed), dtype=np.float64)
    mean = np.maximum(expected.astype(np.float64), 1e-12)
    below = observed.astype(np.float64) - 1.0
    some = observed > 0
    negative_binomial = some & (dispersion > 0)
    plain = some & ~(dispersion > 0)
    if negative_binomial.any():
        size = 1.0 / dispersion[negative_binomial]
        out[negative_binomial] = nbinom.sf(below[negative_binomial], size, size / (size + mean[negative_binomial]))
    if plain.any():
        out[plain] = poisson.sf(below[plain], mean[plain])
    return np.clip(out, 0.0, 1.0)


def moment_dispersion(counts: Sequence[float], means: Sequence[float]) -> float:
    """phi of Var = mu + phi mu^2 by the method of moments (0: Poisson is enough)."""
    c, mu = np.asarray(counts, dtype=np.float64), np.asarray(means, dtype=np.float64)
    return float(_dispersions(c[None, :], mu[None, :], np.ones((1, len(c)), dtype=np.bool_))[0])


def _dispersions(counts: FloatArray, means: FloatArray, valid: BoolArray) -> FloatArray:
    n = valid.sum(axis=1).astype(np.float64)
    squares = np.where(valid, (counts - means) ** 2, 0.0).sum(axis=1)
    total = np.where(valid, means, 0.0).sum(axis=1)
    power = np.where(valid, means**2, 0.0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        phi = (squares * n / np.maximum(n - 1.0, 1.0) - total) / power
    return np.where(np.isfinite(phi) & (phi > 0) & (n > 1), phi, 0.0)


def weekday_index(weekdays: Sequence[int], totals: Sequence[float]) -> tuple[float, ...]:
    """The seven weekday factors (Monday first, mean 1) from daily totals: the median of each weekday's
    totals over the mean of the medians; a weekday without data, or no volume at all, gets 1."""
    by_day: dict[int, list[float]] = defaultdict(list)
    for weekday, total in zip(weekdays, totals, strict=True):
        by_day[weekday].append(float(total))
    medians = {w: float(np.median(v)) for w, v in by_day.items()}
    level = sum(medians.values()) / len(medians) if medians else 0.0
    if level <= 0:
        return (1.0,) * 7
    return tuple(medians[w] / level if w in medians and medians[w] > 0 else 1.0 for w in range(7))


def chance_in_words(p_value: float) -> str:
    """``0.0001`` -> "1 in 10,000 chance on a normal day"."""
    if p_value >= 0.5:
        return "likely on a normal day"
    if p_value < 1e-12:
        return "less than 1 in a trillion chance on a normal day"
    odds = 1.0 / max(p_value, 1e-300)
    digits = math.floor(math.log10(odds))
    nice = round(odds, -max(0, digits - 1))  # two significant figures
    return f"1 in {int(nice):,} chance on a normal day"


@dataclass(frozen=True)
class Judgement:
    observed: int
    expected: float
    p_value: float
    flagged: bool


def judge(observed: int, expected: float, dispersion: float = 0.0, *, intraday: bool = False) -> Judgement:
    """One count against its expectation, by the flag rule (p, the floor of cases, the ratio)."""
    p = tail_probability(observed, expected, dispersion)
    return Judgement(observed, expected, p, _flag_rule(observed, expected, p, intraday=intraday))


def _flag_rule(observed: Any, expected: Any, p: Any, *, intraday: bool) -> Any:
    alpha = INTRADAY_ALPHA if intraday else ALPHA
    return (p < alpha) & (observed >= MIN_CASES) & (observed >= MIN_RATIO * expected)


# ---------------------------------------------------------------- volumes


def _hour_bucket(session: Session, column: Any) -> Any:
    if is_postgres(session):
        return func.to_char(func.date_trunc("hour", func.timezone("UTC", column)), "YYYY-MM-DD HH24")
    return func.strftime("%Y-%m-%d %H", column)


@dataclass
class MarketVolumes:
    """One market's cases by topic, local day and local hour (``cube[topic, day, hour]``)."""

    code: str
    zone: ZoneInfo
    start: date  # the local day of index 0
    days: int
    topics: list[str]
    cube: IntArray
    history_from: int  # the first day (index) with any case of the market: earlier days are not history
    rows: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rows = {topic: i for i, topic in enumerate(self.topics)}
        self.daily = self.cube.sum(axis=2)
        self.totals = self.daily.sum(axis=0)

    def index(self, day: date) -> int:
        return (day - self.start).days

    def day(self, index: int) -> date:
        return self.start + timedelta(days=index)

    def day_start(self, day: date) -> datetime:
        return datetime.combine(day, time(), tzinfo=self.zone).astimezone(UTC)

    def day_end(self, day: date) -> datetime:
        return self.day_start(day + timedelta(days=1))


def load_volumes(session: Session, *, since: datetime, until: datetime, markets: Sequence[str] | None = None,
                 topic: str | None = None) -> dict[str, MarketVolumes]:
    """Every market's volumes by topic (or of one topic) over [since, until) (whole UTC hours), in one query."""
    zones = {m.code: ZoneInfo(m.time_zone) for m in session.scalars(select(Market))
             if markets is None or m.code in markets}
    since = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    hour = _hour_bucket(session, CaseFact.created_at)
    counts: dict[str, dict[tuple[str, datetime], int]] = defaultdict(dict)
    query = (select(CaseFact.market, CaseFact.topic, hour, func.count())
             .where(CaseFact.created_at >= since, CaseFact.created_at < until, CaseFact.topic.is_not(None),
                    CaseFact.market.in_(sorted(zones)))
             .group_by(CaseFact.market, CaseFact.topic, hour))
    if topic is not None:
        query = query.where(CaseFact.topic == topic)
    for market, topic, bucket, n in session.execute(query):
        counts[market][(topic, datetime.fromisoformat(f"{bucket}:00:00+00:00"))] = int(n)
    firsts = dict(session.execute(select(CaseFact.market, func.min(CaseFact.created_at))
                                  .where(CaseFact.market.in_(sorted(zones))).group_by(CaseFact.market)).all())
    out: dict[str, MarketVolumes] = {}
    for code, zone in sorted(zones.items()):
        start = since.astimezone(zone).date()
        days = (until.astimezone(zone).date() - start).days + 1
        topics = sorted({topic for topic, _ in counts[code]})
        rows = {topic: i for i, topic in enumerate(topics)}
        cube = np.zeros((len(topics), days, 24), dtype=np.int64)
        for (topic, bucket), n in counts[code].items():
            local = bucket.astimezone(zone)
            cube[rows[topic], (local.date() - start).days, local.hour] += n
        first = firsts.get(code)
        history_from = (first.astimezone(zone).date() - start).days if first is not None else days
        out[code] = MarketVolumes(code=code, zone=zone, start=start, days=days, topics=topics, cube=cube,
                                  history_from=history_from)
    return out


# ---------------------------------------------------------------- judging one market's day


@dataclass(frozen=True)
class DayJudgement:
    """Every judged pair of one market on one day (the arrays are aligned; ``rows`` index the topics)."""

    day: date
    intraday: bool
    share: float  # of a day's cases expected by now (1 for a complete day)
    rows: IntArray
    observed: IntArray
    expected: FloatArray
    dispersion: FloatArray
    p_value: FloatArray
    flagged: BoolArray


def judge_day(volumes: MarketVolumes, day: date, *, excluded: BoolArray, until_hour: int | None = None,
              always: Iterable[int] = ()) -> DayJudgement | None:
    """Judge every topic of the market on ``day``: the whole day, or its hours before ``until_hour``
    (local). Topics with no case in the baseline or the day are left out, unless in ``always``."""
    d = volumes.index(day)
    if d < 0 or d >= volumes.days:
        return None
    first = max(d - BASELINE_DAYS, volumes.history_from, 0)
    window = np.arange(first, d)
    if len(window) < MIN_BASELINE_DAYS:
        return None
    weekdays = [(volumes.day(int(i))).weekday() for i in window]
    index = np.array(weekday_index(weekdays, volumes.totals[window].tolist()))
    factors = index[weekdays]
    if until_hour is None:
        share = 1.0
        observed = volumes.daily[:, d]
    else:
        profile = volumes.cube[:, window, :].sum(axis=(0, 1)).astype(np.float64)
        share = float(profile[:until_hour].sum() / profile.sum()) if profile.sum() > 0 else until_hour / 24
        observed = volumes.cube[:, d, :until_hour].sum(axis=1)
    counts = volumes.daily[:, window].astype(np.float64)
    valid = ~excluded[:, window]
    enough = valid.sum(axis=1) >= MIN_BASELINE_DAYS
    seen = (counts.sum(axis=1) + observed) > 0
    wanted = enough & seen
    for row in always:
        wanted[row] = enough[row]
    rows = np.flatnonzero(wanted)
    if share <= 0 or not len(rows):
        return DayJudgement(day, until_hour is not None, share, rows, observed[rows], np.zeros(len(rows)),
                            np.zeros(len(rows)), np.ones(len(rows)), np.zeros(len(rows), dtype=np.bool_))
    counts, valid = counts[rows], valid[rows]
    weights = np.where(valid, factors[None, :], 0.0).sum(axis=1)
    rate = (np.where(valid, counts, 0.0).sum(axis=1) + PSEUDO_CASES) / np.maximum(weights, 1e-9)
    dispersion = _dispersions(counts, rate[:, None] * factors[None, :], valid)
    expected = rate * index[day.weekday()] * share
    seen_now = observed[rows].astype(np.int64)
    p_value = tail_probabilities(seen_now, expected, dispersion)
    flagged = _flag_rule(seen_now, expected, p_value, intraday=until_hour is not None)
    return DayJudgement(day, until_hour is not None, share, rows, seen_now, expected, dispersion, p_value,
                        np.asarray(flagged, dtype=np.bool_))


# ---------------------------------------------------------------- the detector


@dataclass
class Report:
    """What a run did."""

    checks: int = 0  # check rows written
    days_completed: int = 0  # market days judged complete
    flagged: int = 0  # flagged checks
    opened: list[int] = field(default_factory=list)  # issue ids
    updated: int = 0
    ended: list[int] = field(default_factory=list)
    alerts: int = 0  # notifications written

    def add(self, other: Report) -> None:
        self.checks += other.checks
        self.days_completed += other.days_completed
        self.flagged += other.flagged
        self.opened += other.opened
        self.updated += other.updated
        self.ended += other.ended
        self.alerts += other.alerts

    def describe(self) -> str:
        return (f"{self.checks:,} checks written, {self.flagged:,} flagged; issues opened {len(self.opened)}, "
                f"updated {self.updated}, ended {len(self.ended)}; {self.alerts} alerts sent")


def record_event(session: Session, issue: EmergingIssue, type_: str, actor: EventActor, now: datetime,
                 data: dict[str, Any] | None = None) -> EmergingIssueEvent:
    row = EmergingIssueEvent(issue_id=issue.id, type=type_, actor_type=actor.actor_type,
                             actor_id=actor.user_id or None, occurred_at=now, data=data or {})
    session.add(row)
    return row


def _span(issue: EmergingIssue) -> tuple[date, date]:
    return issue.started_on, issue.last_flagged_on


class Detector:
    """The detector over preloaded volumes; keeps the issues and checks it reads and writes, so a replay
    of many hours reads each once. Only one detector may write at a time (the job runs in one worker)."""

    def __init__(self, session: Session, volumes: dict[str, MarketVolumes], *, base_url: str = "") -> None:
        self.session = session
        self.volumes = volumes
        self.base_url = base_url.rstrip("/")
        self.markets = {m.code: m for m in session.scalars(select(Market).where(Market.code.in_(sorted(volumes))))}
        self.excluded = {code: np.zeros((len(v.topics), v.days), dtype=np.bool_) for code, v in volumes.items()}
        self.active: dict[tuple[str, str], EmergingIssue] = {}
        self.blocked_through: dict[tuple[str, str], date] = {}  # the last ended issue's end (no new one before)
        self.checks: dict[tuple[str, date], dict[str, EmergingCheck]] = {}
        self.complete: set[tuple[str, date]] = set()
        self.topic_names: dict[str, str] | None = None
        for issue in session.scalars(select(EmergingIssue).where(EmergingIssue.market.in_(sorted(volumes)))
                                     .order_by(EmergingIssue.id)):
            self._exclude(issue)
            key = (issue.market, issue.topic)
            if issue.status == IssueStatus.ACTIVE.value:
                self.active[key] = issue
            elif issue.ended_on is not None:
                self.blocked_through[key] = max(issue.ended_on, self.blocked_through.get(key, issue.ended_on))

    # ---- state

    def _exclude(self, issue: EmergingIssue) -> None:
        volumes = self.volumes.get(issue.market)
        if volumes is None or issue.topic not in volumes.rows:
            return
        first, last = (volumes.index(d) for d in _span(issue))
        if last < 0 or first >= volumes.days:
            return
        self.excluded[issue.market][volumes.rows[issue.topic], max(first, 0):min(last + 1, volumes.days)] = True

    def _checks_of(self, market: str, day: date) -> dict[str, EmergingCheck]:
        key = (market, day)
        if key not in self.checks:
            rows = self.session.scalars(select(EmergingCheck).where(EmergingCheck.market == market,
                                                                    EmergingCheck.day == day)).all()
            self.checks[key] = {row.topic: row for row in rows}
            day_end = self.volumes[market].day_end(day)
            if any(row.checked_at >= day_end for row in rows):
                self.complete.add(key)
        return self.checks[key]

    # ---- a run

    def run(self, now: datetime, *, catch_up_days: int = CATCH_UP_DAYS) -> Report:
        """Judge, for every market: the complete days not yet judged complete (at most ``catch_up_days``
        back), end the issues that went quiet, then judge today so far."""
        report = Report()
        cutoff = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        for code, volumes in self.volumes.items():
            today = now.astimezone(volumes.zone).date()
            for back in range(catch_up_days, 0, -1):
                day = today - timedelta(days=back)
                self._checks_of(code, day)
                if (code, day) not in self.complete:
                    self._judge(volumes, day, now, until_hour=None, report=report)
            self._end_quiet(volumes, today, now, report)
            local = cutoff.astimezone(volumes.zone)
            if local.date() == today and local.hour > 0:
                self._judge(volumes, today, now, until_hour=local.hour, report=report)
        self.session.flush()
        return report

    def _judge(self, volumes: MarketVolumes, day: date, now: datetime, *, until_hour: int | None,
               report: Report) -> None:
        code = volumes.code
        always = [volumes.rows[topic] for (market, topic) in self.active if market == code and topic in volumes.rows]
        result = judge_day(volumes, day, excluded=self.excluded[code], until_hour=until_hour, always=always)
        complete = until_hour is None
        if complete:
            self.complete.add((code, day))
            report.days_completed += 1
        if result is None:
            return
        existing = self._checks_of(code, day)
        for i, row in enumerate(result.rows.tolist()):
            topic = volumes.topics[row]
            observed, expected = int(result.observed[i]), float(result.expected[i])
            p_value, flagged = float(result.p_value[i]), bool(result.flagged[i])
            check = existing.get(topic)
            # The day so far is kept only when it matters; every pair gets its row once the day is over.
            if complete or flagged or check is not None or (code, topic) in self.active:
                if check is None:
                    check = EmergingCheck(topic=topic, market=code, day=day, observed=observed, expected=expected,
                                          p_value=p_value, flagged=flagged, checked_at=now)
                    self.session.add(check)
                    existing[topic] = check
                else:
                    check.observed, check.expected, check.p_value = observed, expected, p_value
                    check.flagged, check.checked_at = flagged, now
                report.checks += 1
            if flagged:
                report.flagged += 1
                self._flagged(volumes, topic, day, result, i, now, report)

    # ---- issues

    def _flagged(self, volumes: MarketVolumes, topic: str, day: date, result: DayJudgement, i: int, now: datetime,
                 report: Report) -> None:
        key = (volumes.code, topic)
        issue = self.active.get(key)
        observed = int(result.observed[i])
        if issue is None:
            blocked = self.blocked_through.get(key)
            if blocked is not None and day <= blocked:
                return  # the day belongs to an issue that has ended (by hand, today)
            issue = self._open(volumes, topic, day, result, i, now)
            report.opened.append(issue.id)
            report.alerts += self._alert(issue, volumes, result, i, now)
            return
        new_day = day > issue.last_flagged_on
        if day <= issue.started_on:  # the first day's figures, as its later checks (and its end) tell them
            issue.expected, issue.p_value = float(result.expected[i]), float(result.p_value[i])
        issue.started_on = min(issue.started_on, day)
        issue.last_flagged_on = max(issue.last_flagged_on, day)
        issue.peak_observed = max(issue.peak_observed, observed)
        issue.total_cases = self._cases_between(volumes, topic, issue.started_on, issue.last_flagged_on)
        if len(issue.example_case_ids) < EXAMPLES:
            known = list(issue.example_case_ids)
            more = [str(c.case_id) for c in self._examples(volumes, topic, day, now) if str(c.case_id) not in known]
            issue.example_case_ids = (known + more)[:EXAMPLES]
        self._exclude(issue)
        report.updated += 1
        if new_day:
            record_event(self.session, issue, "emerging_issue.flagged", SYSTEM, now, {
                "day": day.isoformat(), "observed": observed, "expected": round(float(result.expected[i]), 4),
                "p_value": float(result.p_value[i]), "intraday": result.intraday})

    def _cases_between(self, volumes: MarketVolumes, topic: str, first: date, last: date) -> int:
        row = volumes.rows[topic]
        a, b = max(0, volumes.index(first)), min(volumes.days, volumes.index(last) + 1)
        return int(volumes.daily[row, a:b].sum())

    def _examples(self, volumes: MarketVolumes, topic: str, day: date, now: datetime) -> list[Any]:
        until = min(volumes.day_end(day), now)
        return list(self.session.execute(
            select(CaseFact.case_id, CaseFact.reference, CaseFact.channel, CaseFact.party_kind)
            .where(CaseFact.topic == topic, CaseFact.market == volumes.code,
                   CaseFact.created_at >= volumes.day_start(day), CaseFact.created_at < until)
            .order_by(CaseFact.created_at.desc(), CaseFact.case_id.desc()).limit(EXAMPLES)))

    def _open(self, volumes: MarketVolumes, topic: str, day: date, result: DayJudgement, i: int,
              now: datetime) -> EmergingIssue:
        examples = self._examples(volumes, topic, day, now)
        team_id, user_ids = owners(self.session, topic, self.markets[volumes.code], examples, now=now)
        observed = int(result.observed[i])
        issue = EmergingIssue(topic=topic, market=volumes.code, status=IssueStatus.ACTIVE.value, started_on=day,
                              last_flagged_on=day, ended_on=None, peak_observed=observed,
                              expected=float(result.expected[i]), p_value=float(result.p_value[i]),
                              total_cases=observed, owner_team_id=team_id,
                              owner_user_ids=[str(u) for u in user_ids],
                              example_case_ids=[str(c.case_id) for c in examples], alerted_at=None,
                              acknowledged_by_user_id=None, acknowledged_at=None, note="", created_at=now)
        self.session.add(issue)
        self.session.flush()
        self.active[(volumes.code, topic)] = issue
        self._exclude(issue)
        return issue

    def _topic_name(self, topic: str) -> str:
        if self.topic_names is None:
            self.topic_names = {t.key: catalogue.topic_name(t, "en") for t in self.session.scalars(select(Topic))}
        return self.topic_names.get(topic, topic)

    def _alert(self, issue: EmergingIssue, volumes: MarketVolumes, result: DayJudgement, i: int,
               now: datetime) -> int:
        """The one alert of an issue: a notification to its owners and the webhook event."""
        refs = references(self.session, issue.example_case_ids)
        name = self._topic_name(issue.topic)
        what = f"{name} ({issue.topic})" if name != issue.topic else issue.topic
        observed, expected = issue.peak_observed, issue.expected
        so_far = f"by {result.share:.0%} of a usual day, " if result.intraday else ""
        chance = chance_in_words(issue.p_value)
        lines = [f"{observed} cases about {what} in {issue.market} on {issue.started_on.isoformat()} "
                 f"({so_far}{expected:.1f} expected from the last {BASELINE_DAYS} days): p = {issue.p_value:.2g}, "
                 f"a {chance}.", "", "Example cases:"]
        lines += [f"- {refs.get(int(c)) or c}: /console/cases/{c}" for c in issue.example_case_ids]
        lines += ["", f"Acknowledge it, or end it when it is over, on {PAGE}. You are told once while it lasts."]
        title = f"Emerging issue: {what} in {issue.market}, {observed} cases against {expected:.1f} expected"
        user_ids = [int(u) for u in issue.owner_user_ids]
        written = notify(self.session, user_ids, kind=ALERT_KIND, title=title, body="\n".join(lines), now=now,
                         link=f"{PAGE}#issue-{issue.id}", dedupe_key=f"emerging:{issue.id}", once=True)
        link = f"{self.base_url}{PAGE}#issue-{issue.id}"
        data = {**issue_data(issue), "intraday": result.intraday, "url": link,
                "examples": [{"case_id": int(c), "reference": refs.get(int(c)),
                              "url": f"{self.base_url}/console/cases/{c}"} for c in issue.example_case_ids]}
        text = (f":rotating_light: Emerging issue: *{what}* in {issue.market}: {observed} cases against "
                f"{expected:.1f} expected ({chance}). <{link}|Open it>")
        webhook_ids = webhooks.emit(self.session, WEBHOOK_OPENED, data, now=now, text=text)
        issue.alerted_at = now
        record_event(self.session, issue, "emerging_issue.opened", SYSTEM, now, {
            "topic": issue.topic, "market": issue.market, "day": issue.started_on.isoformat(),
            "observed": observed, "expected": round(expected, 4), "p_value": issue.p_value,
            "intraday": result.intraday, "share": round(result.share, 4),
            "dispersion": round(float(result.dispersion[i]), 6), "owner_team_id": issue.owner_team_id,
            "alerted_user_ids": user_ids, "webhook_ids": webhook_ids, "examples": list(issue.example_case_ids)})
        return written

    def _end_quiet(self, volumes: MarketVolumes, today: date, now: datetime, report: Report) -> None:
        """End the market's issues whose last QUIET_DAYS complete days were judged and not flagged."""
        for (code, topic), issue in list(self.active.items()):
            if code != volumes.code:
                continue
            quiet = [issue.last_flagged_on + timedelta(days=k) for k in range(1, QUIET_DAYS + 1)]
            if quiet[-1] >= today:
                continue
            for day in quiet:  # complete days: judge any no run has judged complete (after a pause)
                self._checks_of(code, day)
                if (code, day) not in self.complete:
                    self._judge(volumes, day, now, until_hour=None, report=report)
            if issue.last_flagged_on >= quiet[0]:  # one of them was flagged after all
                continue
            if any((c := self._checks_of(code, day).get(topic)) is not None and c.flagged for day in quiet):
                continue
            end(self.session, issue, on=quiet[-1], actor=SYSTEM, now=now, reason="quiet", base_url=self.base_url)
            del self.active[(code, topic)]
            self.blocked_through[(code, topic)] = quiet[-1]
            report.ended.append(issue.id)


def owners(session: Session, topic: str, market: Market, cases: Sequence[Any], *,
           now: datetime) -> tuple[int | None, list[int]]:
    """Who owns the topic in the market now (the catalogue entry's team, and its owner, contact and escalation
    contact); when an entry names nobody, or none covers it, the holders of insights.admin."""
    asks: list[tuple[str | None, str | None]] = [(None, None)]
    asks += [pair for pair, _ in Counter((c.channel, c.party_kind) for c in cases).most_common()]
    for channel, party_kind in asks:
        try:
            ownership = catalogue.who_owns(session, topic=topic, market=market, channel=channel,
                                           party_kind=party_kind or None, at=now)
        except Invalid:  # a topic the taxonomy does not know: only entries for any topic can own it
            ownership = catalogue.who_owns(session, topic=None, market=market, channel=channel,
                                           party_kind=party_kind or None, at=now)
        entry = ownership.entry
        if entry is not None:
            people = sorted({u for u in (entry.owner_user_id, entry.contact_user_id, entry.escalation_user_id)
                             if u is not None})
            return entry.team_id, people or holders_of(session, Perm.INSIGHTS_ADMIN)
    return None, holders_of(session, Perm.INSIGHTS_ADMIN)


def issue_data(issue: EmergingIssue) -> dict[str, Any]:
    """The issue as the webhook and the API tell it."""
    return {"issue_id": issue.id, "topic": issue.topic, "market": issue.market, "status": issue.status,
            "started_on": issue.started_on.isoformat(), "last_flagged_on": issue.last_flagged_on.isoformat(),
            "ended_on": issue.ended_on.isoformat() if issue.ended_on else None,
            "observed": issue.peak_observed, "expected": round(issue.expected, 4), "p_value": issue.p_value,
            "chance": chance_in_words(issue.p_value), "total_cases": issue.total_cases,
            "owner_team_id": issue.owner_team_id, "owner_user_ids": [int(u) for u in issue.owner_user_ids]}


# ---------------------------------------------------------------- running it


def window_start(now: datetime, catch_up_days: int = CATCH_UP_DAYS) -> datetime:
    """Far enough back for every market's baseline of the oldest day a run may judge."""
    return now.astimezone(UTC) - timedelta(days=catch_up_days + BASELINE_DAYS + 2)


def detect(session: Session, *, now: datetime, base_url: str = "", catch_up_days: int = CATCH_UP_DAYS) -> Report:
    """Judge every topic x market now (see the module docstring); open, update and end issues, alert once."""
    volumes = load_volumes(session, since=window_start(now, catch_up_days), until=now)
    return Detector(session, volumes, base_url=base_url).run(now, catch_up_days=catch_up_days)


def replay(session: Session, *, since: datetime, until: datetime, step: timedelta = timedelta(hours=1),
           base_url: str = "") -> Report:
    """Run the detector at every ``step`` from ``since`` to ``until`` as if it had run then (each run sees only
    the hours before its time), from one read of the volumes."""
    volumes = load_volumes(session, since=window_start(since), until=until)
    detector = Detector(session, volumes, base_url=base_url)
    report = Report()
    at = since
    while at <= until:
        report.add(detector.run(at))
        at += step
    return report


# ---------------------------------------------------------------- by hand


def issue_by_id(session: Session, issue_id: int, *, for_update: bool = False) -> EmergingIssue:
    query = select(EmergingIssue).where(EmergingIssue.id == issue_id)
    issue = session.scalar(query.with_for_update() if for_update else query)
    if issue is None:
        raise NotFound(f"emerging issue {issue_id} does not exist", field="issue_id")
    return issue


def _require_admin(actor: Actor) -> None:
    if not actor.can(Perm.INSIGHTS_ADMIN):
        raise Forbidden("acknowledging or ending an emerging issue needs the insights.admin permission")


def _note(text: str, *, required: bool) -> str:
    note = (text or "").strip()
    if required and not note:
        raise Invalid("say why it is over (what was found, what was done)", field="note")
    if len(note) > NOTE_CHARS:
        raise Invalid(f"at most {NOTE_CHARS:,} characters", field="note")
    return note


def acknowledge(session: Session, issue: EmergingIssue, *, actor: Actor, note: str = "",
                now: datetime) -> EmergingIssue:
    """Someone has it in hand: the issue stays active (and keeps updating) but shows who took it."""
    _require_admin(actor)
    text = _note(note, required=False)
    if issue.status != IssueStatus.ACTIVE.value:
        raise Conflict("the issue has ended", field="status")
    if issue.acknowledged_at is not None:
        raise Conflict("the issue is already acknowledged", field="status")
    issue.acknowledged_by_user_id, issue.acknowledged_at = actor.user_id, now
    if text:
        issue.note = text
    record_event(session, issue, "emerging_issue.acknowledged", actor, now, {"note": text})
    return issue


def end(session: Session, issue: EmergingIssue, *, on: date, actor: EventActor, now: datetime, reason: str,
        note: str = "", base_url: str = "") -> EmergingIssue:
    if issue.status != IssueStatus.ACTIVE.value:
        raise Conflict("the issue has ended already", field="status")
    issue.status, issue.ended_on = IssueStatus.ENDED.value, on
    if note:
        issue.note = note
    record_event(session, issue, "emerging_issue.ended", actor, now,
                 {"reason": reason, "ended_on": on.isoformat(), "note": note, "total_cases": issue.total_cases})
    webhooks.emit(session, WEBHOOK_ENDED, {**issue_data(issue), "reason": reason,
                                           "url": f"{base_url.rstrip('/')}{PAGE}#issue-{issue.id}"}, now=now)
    session.flush()
    return issue


def end_by_hand(session: Session, issue: EmergingIssue, *, actor: Actor, note: str, now: datetime) -> EmergingIssue:
    """A lead says it is over (today, in the market's time). A flagged check later today opens nothing;
    a flagged day after today opens a new issue, with a new alert."""
    _require_admin(actor)
    text = _note(note, required=True)
    market = session.scalar(select(Market).where(Market.code == issue.market))
    zone = ZoneInfo(market.time_zone) if market is not None else UTC
    return end(session, issue, on=max(issue.last_flagged_on, now.astimezone(zone).date()), actor=actor, now=now,
               reason="by_hand", note=text)


# ---------------------------------------------------------------- reading


def issues(session: Session, *, now: datetime, days: int = 30, status: str | None = None,
           limit: int = 200) -> list[EmergingIssue]:
    """Active issues, and those that ended within ``days`` (most recent first)."""
    if days < 1 or days > 400:
        raise Invalid("from 1 to 400 days", field="days")
    if status not in (None, IssueStatus.ACTIVE.value, IssueStatus.ENDED.value):
        raise Invalid("active or ended", field="status")
    since = now.date() - timedelta(days=days)
    query = select(EmergingIssue).where(
        (EmergingIssue.status == IssueStatus.ACTIVE.value) | (EmergingIssue.ended_on >= since))
    if status is not None:
        query = query.where(EmergingIssue.status == status)
    return list(session.scalars(query.order_by((EmergingIssue.status == IssueStatus.ACTIVE.value).desc(),
                                               EmergingIssue.started_on.desc(), EmergingIssue.id.desc())
                                .limit(limit)))


def references(session: Session, case_ids: Iterable[str]) -> dict[int, str | None]:
    ids = sorted({int(c) for c in case_ids if str(c).isdigit()})
    if not ids:
        return {}
    return {int(k): v for k, v in session.execute(select(CaseFact.case_id, CaseFact.reference)
                                                  .where(CaseFact.case_id.in_(ids))).all()}


@dataclass(frozen=True)
class DayFigure:
    day: date
    observed: int
    expected: float | None  # None: the day was not judged (too little history)
    flagged: bool


def daily_figures(session: Session, issue: EmergingIssue, *, days: int = BASELINE_DAYS,
                  now: datetime) -> list[DayFigure]:
    """The pair's cases a day (from the facts) and the detector's expected (from its checks; None on a day it did
    not judge) over the ``days`` up to the issue's last day: its end, or today so far."""
    market = session.scalar(select(Market).where(Market.code == issue.market))
    zone = ZoneInfo(market.time_zone) if market is not None else UTC
    last = issue.ended_on or now.astimezone(zone).date()
    first = last - timedelta(days=days - 1)
    since = datetime.combine(first, time(), tzinfo=zone).astimezone(UTC)
    until = min(now, datetime.combine(last + timedelta(days=1), time(), tzinfo=zone).astimezone(UTC))
    volumes = load_volumes(session, since=since, until=until, markets=[issue.market], topic=issue.topic)
    counted = volumes.get(issue.market)
    rows = {c.day: c for c in session.scalars(select(EmergingCheck).where(
        EmergingCheck.topic == issue.topic, EmergingCheck.market == issue.market,
        EmergingCheck.day >= first, EmergingCheck.day <= last))}
    out = []
    for k in range(days):
        day = first + timedelta(days=k)
        observed = 0
        if counted is not None and issue.topic in counted.rows and 0 <= counted.index(day) < counted.days:
            observed = int(counted.daily[counted.rows[issue.topic], counted.index(day)])
        check = rows.get(day)
        out.append(DayFigure(day, observed, check.expected if check else None, bool(check and check.flagged)))
    return out


def events_of(session: Session, issue_id: int) -> list[EmergingIssueEvent]:
    return list(session.scalars(select(EmergingIssueEvent).where(EmergingIssueEvent.issue_id == issue_id)
                                .order_by(EmergingIssueEvent.id)))


def count_active(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(EmergingIssue)
                              .where(EmergingIssue.status == IssueStatus.ACTIVE.value)) or 0)


def first_day_checks(session: Session, found: Sequence[EmergingIssue]) -> dict[int, EmergingCheck]:
    """Each issue's first day as its check tells it (one query for a list)."""
    keys = {(i.topic, i.market, i.started_on): i.id for i in found}
    if not keys:
        return {}
    rows = session.scalars(select(EmergingCheck).where(
        tuple_(EmergingCheck.topic, EmergingCheck.market, EmergingCheck.day).in_(list(keys))))
    return {keys[(c.topic, c.market, c.day)]: c for c in rows}
