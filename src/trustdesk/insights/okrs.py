"""OKRs: objectives with measurable key results, each bound to one metric of ``insights.metrics``.

A key result names a metric (a key of ``metrics.DEFINITIONS``), the filter of the cases it counts (a market,
a team, a tier, a channel, a topic: only those the metric accepts), a target and a direction (``at_least``:
the target is a floor; ``at_most``: a ceiling) and, optionally, the baseline it started from. Its progress is
computed live, never stored, so it always agrees with the dashboards:

- **current value**: the metric over the objective's period so far, from ``period_start`` 00:00 UTC to
  ``min(now, period_end + 1 day)`` (``metrics.value``: the same figure the dashboards show for that period);
- **met**: ``current >= target`` (at least) or ``current <= target`` (at most);
- **progress** (with a baseline): ``(current - baseline) / (target - baseline)`` clamped to 0 .. 1; the same
  formula serves both directions, since an at-most target lies below its baseline (``at_most`` mirrored);
  without a baseline there is no path to measure along: progress is 1 when met, else 0;
- **expected**: the share of the period elapsed, ``(min(now, end) - start) / (end - start)``;
- **status**, in this order: ``not_started`` (the period has not begun), ``no_data`` (nothing counted yet, e.g.
  no rating), ``met``, ``missed`` (the period is over and the target was not reached), ``not_met`` (no
  baseline), then by ``gap = progress - expected``: ``on_track`` when ``gap >= -0.1``, ``at_risk`` when
  ``gap >= -0.3``, else ``off_track`` (the gap is rounded to 9 decimals, so 0.4 against 0.5 is on track).

A count that only grows as the period runs (``volume``: cases opened so far) is judged on its pace, not on
the count so far, which would meet every at-most target on the first morning: before the period ends, an
at-least target is met once reached and an at-most one is missed once passed; otherwise the figure judged is
``current / expected`` (where the period ends at this rate), its progress measured along the same path and
held against the whole way (expected 1), since the projection already allows for the time left; without a
baseline it is on track when the pace keeps within the target, and has no progress figure.

Directions are ``at_least`` and ``at_most``; ``increase`` and ``decrease`` are accepted for them on input.

An objective's progress is the mean of its key results' progress (those with a figure); its status is ``met``
when every key result is met, ``missed`` when its period is over otherwise, and else the same thresholds
applied to the mean progress (with no figure to average: the worst of its key results' verdicts).

No event log: OKRs are planning data, not case history; ``created_at`` and ``updated_at`` say when they were
set up and last changed (a key result's change touches its objective's ``updated_at``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trustdesk.core.errors import Conflict, Invalid, NotFound
from trustdesk.core.identity import User
from trustdesk.core.permissions import AGENT_ROLES
from trustdesk.insights import metrics, panels
from trustdesk.insights.metrics import Definition, Filters, Period, Unit, Value
from trustdesk.insights.models import Direction, KeyResult, Objective

TITLE_CHARS = 300
DESCRIPTION_CHARS = 2000
MAX_PERIOD_DAYS = 366  # "at most a year", inclusive of both ends (a leap year's quarter-four-times)
MAX_KEY_RESULTS = 10
ON_TRACK_SLACK = 0.1  # progress may trail the elapsed share by this much and still be on track
AT_RISK_SLACK = 0.3
CURRENT_DAYS = 28  # "use the current value": the metric over the last four weeks
CUMULATIVE = frozenset({"volume"})  # counts that only grow while the period runs: judged on their pace
DIRECTION_ALIASES: dict[str, str] = {"increase": Direction.AT_LEAST.value, "decrease": Direction.AT_MOST.value}
RANGES: dict[Unit, tuple[float, float | None]] = {
    Unit.RATIO: (0.0, 1.0), Unit.COUNT: (0.0, None), Unit.MINUTES: (0.0, None), Unit.MEAN: (0.0, None),
    Unit.SCORE: (1.0, 5.0),
}


class Status(StrEnum):
    NOT_STARTED = "not_started"
    NO_DATA = "no_data"
    MET = "met"
    MISSED = "missed"
    NOT_MET = "not_met"
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    OFF_TRACK = "off_track"


VERDICTS = (Status.OFF_TRACK, Status.AT_RISK, Status.NOT_MET, Status.ON_TRACK)  # worst first
STATUS_LABELS: dict[str, str] = {
    Status.NOT_STARTED: "Not started", Status.NO_DATA: "No data yet", Status.MET: "Met", Status.MISSED: "Missed",
    Status.NOT_MET: "Not met yet", Status.ON_TRACK: "On track", Status.AT_RISK: "At risk",
    Status.OFF_TRACK: "Off track",
}
DIRECTION_LABELS: dict[str, str] = {Direction.AT_LEAST: "at least", Direction.AT_MOST: "at most"}


# ----------------------------------------------------------------------------------------------- progress


@dataclass(frozen=True)
class KeyResultProgress:
    key_result: KeyResult
    definition: Definition
    status: Status
    value: Value | None  # the metric over the period so far (None before it starts)
    progress: float | None  # 0 .. 1
    expected: float  # the share of the period elapsed

    @property
    def current(self) -> float | None:
        return self.value.value if self.value is not None else None

    @property
    def met(self) -> bool:
        return self.status is Status.MET

    @property
    def label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def percent(self) -> int | None:
        return None if self.progress is None else round(self.progress * 100)

    @property
    def expected_percent(self) -> int:
        return round(self.expected * 100)

    @property
    def current_text(self) -> str:
        return panels.figure(self.current, self.definition.unit)

    @property
    def target_text(self) -> str:
        return panels.figure(self.key_result.target, self.definition.unit)

    @property
    def baseline_text(self) -> str:
        return panels.figure(self.key_result.baseline, self.definition.unit)

    @property
    def direction_text(self) -> str:
        return DIRECTION_LABELS.get(self.key_result.direction, self.key_result.direction)

    @property
    def filter_text(self) -> str:
        return filter_words(self.key_result.filters)

    @property
    def basis(self) -> str:
        """What the current figure was computed from ("12 of 40", "40 cases"), for checking it by hand."""
        value = self.value
        if value is None or value.value is None:
            return ""
        if value.denominator is not None and self.definition.unit is Unit.RATIO:
            return f"{value.numerator:,} of {value.denominator:,}"
        return f"{value.count:,} counted" if value.count else ""


@dataclass(frozen=True)
class ObjectiveProgress:
    objective: Objective
    key_results: list[KeyResultProgress]
    status: Status
    progress: float | None
    expected: float
    owner_name: str | None = None
    period_text: str = field(default="")

    @property
    def label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def percent(self) -> int | None:
        return None if self.progress is None else round(self.progress * 100)

    @property
    def expected_percent(self) -> int:
        return round(self.expected * 100)


def bounds(objective: Objective) -> tuple[datetime, datetime]:
    """The objective's period as UTC times: from its first day's 00:00 to the day after its last."""
    start = datetime.combine(objective.period_start, time(0), tzinfo=UTC)
    end = datetime.combine(objective.period_end + timedelta(days=1), time(0), tzinfo=UTC)
    return start, end


def elapsed_share(objective: Objective, now: datetime) -> float:
    start, end = bounds(objective)
    return min(1.0, max(0.0, (now - start) / (end - start)))


def _reached(direction: str, current: float, target: float) -> bool:
    return current >= target if direction == Direction.AT_LEAST else current <= target


def fraction(direction: str, current: float, target: float, baseline: float | None) -> float:
    """How far from the baseline to the target, 0 .. 1 (met or not when there is no baseline)."""
    if baseline is None or target == baseline:
        return 1.0 if _reached(direction, current, target) else 0.0
    return min(1.0, max(0.0, (current - baseline) / (target - baseline)))


def judge(progress: float, expected: float) -> Status:
    gap = round(progress - expected, 9)
    if gap >= -ON_TRACK_SLACK:
        return Status.ON_TRACK
    if gap >= -AT_RISK_SLACK:
        return Status.AT_RISK
    return Status.OFF_TRACK


def key_result_progress(session: Session, objective: Objective, key_result: KeyResult, *,
                        now: datetime) -> KeyResultProgress:
    definition = metrics.definition(key_result.metric)
    start, end = bounds(objective)
    expected = elapsed_share(objective, now)
    if now <= start:
        return KeyResultProgress(key_result, definition, Status.NOT_STARTED, None, None, expected)
    value = metrics.value(session, key_result.metric, Period(start, min(now, end)),
                          Filters.of(dict(key_result.filters)), now=now)
    if value.value is None:
        return KeyResultProgress(key_result, definition, Status.NO_DATA, value, None, expected)
    direction, target, baseline = key_result.direction, key_result.target, key_result.baseline
    current = value.value
    if key_result.metric in CUMULATIVE and now < end:
        reached = _reached(direction, current, target)
        if reached if direction == Direction.AT_LEAST else not reached:  # it only grows: settled already
            status = Status.MET if reached else Status.MISSED
            return KeyResultProgress(key_result, definition, status, value,
                                     fraction(direction, current, target, baseline), expected)
        pace = current / expected
        if baseline is None:  # no path to measure along, and nothing settled yet
            status = Status.ON_TRACK if _reached(direction, pace, target) else Status.NOT_MET
            return KeyResultProgress(key_result, definition, status, value, None, expected)
        progress = fraction(direction, pace, target, baseline)
        return KeyResultProgress(key_result, definition, judge(progress, 1.0), value, progress, expected)
    progress = fraction(direction, current, target, baseline)
    if _reached(direction, current, target):
        status = Status.MET
    elif now >= end:
        status = Status.MISSED
    elif baseline is None:
        status = Status.NOT_MET
    else:
        status = judge(progress, expected)
    return KeyResultProgress(key_result, definition, status, value, progress, expected)


def _objective_status(objective: Objective, results: Sequence[KeyResultProgress], progress: float | None,
                      expected: float, now: datetime) -> Status:
    start, end = bounds(objective)
    if now <= start:
        return Status.NOT_STARTED
    if progress is None:  # no key result has a progress figure: the worst of their verdicts, if any
        verdicts = [r.status for r in results if r.status in VERDICTS]
        return min(verdicts, key=VERDICTS.index) if verdicts else Status.NO_DATA
    if results and all(r.met for r in results):
        return Status.MET
    if now >= end:
        return Status.MISSED
    return judge(progress, expected)


def period_words(objective: Objective) -> str:
    start, end = objective.period_start, objective.period_end
    if start.year == end.year:
        return f"{start:%d %b} to {end:%d %b %Y}"
    return f"{start:%d %b %Y} to {end:%d %b %Y}"


def progress(session: Session, objective: Objective, now: datetime, *,
             key_results: Sequence[KeyResult] | None = None, owner_name: str | None = None) -> ObjectiveProgress:
    """The objective's key results judged now (``key_results``: already loaded, in order)."""
    rows = list(key_results) if key_results is not None else key_results_of(session, [objective.id])[objective.id]
    results = [key_result_progress(session, objective, kr, now=now) for kr in rows]
    measured = [r.progress for r in results if r.progress is not None]
    mean = sum(measured) / len(measured) if measured else None
    expected = elapsed_share(objective, now)
    if owner_name is None and objective.owner_user_id is not None:
        owner = session.get(User, objective.owner_user_id)
        owner_name = owner.display_name if owner is not None else None
    return ObjectiveProgress(objective=objective, key_results=results,
                             status=_objective_status(objective, results, mean, expected, now), progress=mean,
                             expected=expected, owner_name=owner_name, period_text=period_words(objective))


def progress_all(session: Session, *, now: datetime, include_archived: bool = False) -> list[ObjectiveProgress]:
    """Every objective (current and upcoming first, then past ones), each with its key results judged now."""
    objectives = list_objectives(session, include_archived=include_archived)
    krs = key_results_of(session, [o.id for o in objectives])
    owner_ids = sorted({o.owner_user_id for o in objectives if o.owner_user_id is not None})
    owners: dict[int, str] = {}
    if owner_ids:
        owners = {u.id: u.display_name for u in session.scalars(select(User).where(User.id.in_(owner_ids)))}
    return [progress(session, o, now, key_results=krs[o.id],
                     owner_name=owners.get(o.owner_user_id) if o.owner_user_id is not None else None)
            for o in objectives]


# ----------------------------------------------------------------------------------------------- reading


def list_objectives(session: Session, *, include_archived: bool = False) -> list[Objective]:
    query = select(Objective)
    if not include_archived:
        query = query.where(Objective.archived.is_(False))
    rows = list(session.scalars(query.order_by(Objective.archived, Objective.period_end.desc(),
                                               Objective.period_start.desc(), Objective.id)))
    return rows


def key_results_of(session: Session, objective_ids: Sequence[int]) -> dict[int, list[KeyResult]]:
    found: dict[int, list[KeyResult]] = defaultdict(list)
    if objective_ids:
        for kr in session.scalars(select(KeyResult).where(KeyResult.objective_id.in_(list(objective_ids)))
                                  .order_by(KeyResult.objective_id, KeyResult.position, KeyResult.id)):
            found[kr.objective_id].append(kr)
    return found


def objective_by_id(session: Session, objective_id: int, *, for_update: bool = False) -> Objective:
    query = select(Objective).where(Objective.id == objective_id)
    found = session.scalar(query.with_for_update() if for_update else query)
    if found is None:
        raise NotFound(f"objective {objective_id} does not exist", field="objective_id")
    return found


def key_result_by_id(session: Session, key_result_id: int, *, for_update: bool = False) -> KeyResult:
    query = select(KeyResult).where(KeyResult.id == key_result_id)
    found = session.scalar(query.with_for_update() if for_update else query)
    if found is None:
        raise NotFound(f"key result {key_result_id} does not exist", field="key_result_id")
    return found


def key_result_in(session: Session, objective: Objective, key_result_id: int, *,
                  for_update: bool = False) -> KeyResult:
    """One of the objective's key results (another objective's is not found here)."""
    found = key_result_by_id(session, key_result_id, for_update=for_update)
    if found.objective_id != objective.id:
        raise NotFound(f"objective {objective.id} has no key result {key_result_id}", field="key_result_id")
    return found


def filter_words(filters: Mapping[str, Any], labels: Mapping[str, Mapping[str, str]] | None = None) -> str:
    """A key result's filter in words: "market US, topic orders.refunds" (or "all cases"); ``labels`` names
    the values (a team's name for its id), per filter."""
    given = [(name, filters[name]) for name in metrics.FILTERS if filters.get(name) not in (None, "")]
    named = labels or {}
    return ", ".join(f"{name} {named.get(name, {}).get(str(value), value)}" for name, value in given) or "all cases"


def current_value(session: Session, metric: str, filters: Mapping[str, Any], *, now: datetime,
                  days: int = CURRENT_DAYS) -> Value:
    """The metric over the last ``days`` days with the filter (the form's "use the current value")."""
    definition = metrics.definition(metric)
    checked = check_filters(session, definition, filters)
    return metrics.value(session, metric, Period(now - timedelta(days=days), now), Filters.of(checked), now=now)


# ----------------------------------------------------------------------------------------------- validation


def _title(value: str, *, field: str = "title") -> str:
    text = " ".join(str(value).split())
    if not text:
        raise Invalid("give it a title", field=field)
    if len(text) > TITLE_CHARS:
        raise Invalid(f"at most {TITLE_CHARS} characters", field=field)
    return text


def _description(value: str) -> str:
    text = str(value).strip()
    if len(text) > DESCRIPTION_CHARS:
        raise Invalid(f"at most {DESCRIPTION_CHARS} characters", field="description")
    return text


def check_period(start: date, end: date) -> None:
    if end < start:
        raise Invalid("the period ends on or after the day it starts", field="period_end")
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise Invalid(f"a period of at most a year ({MAX_PERIOD_DAYS} days)", field="period_end")


def _owner(session: Session, owner_user_id: int | None) -> int | None:
    if owner_user_id is None:
        return None
    user = session.get(User, owner_user_id)
    if user is None or not user.is_active:
        raise Invalid(f"there is no active user {owner_user_id}", field="owner_user_id")
    if user.role not in AGENT_ROLES:
        raise Invalid("an objective is owned by a member of staff (an agent, lead or admin)", field="owner_user_id")
    return owner_user_id


def possible_owners(session: Session) -> list[User]:
    """The active staff an objective may be given to, by name."""
    return list(session.scalars(select(User).where(User.is_active.is_(True),
                                                   User.role.in_(sorted(r.value for r in AGENT_ROLES)))
                                .order_by(User.display_name, User.id)))


def check_filters(session: Session, definition: Definition, filters: Mapping[str, Any], *,
                  prefix: str = "filters.") -> dict[str, Any]:
    """The filter, checked: only names the metric accepts, values that exist in the directory."""
    checked: dict[str, Any] = {}
    for name, raw in filters.items():
        where = f"{prefix}{name}"
        if name not in metrics.FILTERS:
            raise Invalid(f"filter by {', '.join(metrics.FILTERS)}", field=where)
        if raw is None or raw == "":
            continue
        if name not in definition.filters:
            raise Invalid(f"{definition.label} cannot be filtered by {name}; only by "
                          f"{', '.join(definition.filters)}", field=where)
        if isinstance(raw, bool) or not isinstance(raw, str | int) or (name != "team" and not isinstance(raw, str)):
            raise Invalid("a team's id" if name == "team" else "a text value", field=where)
        try:
            value = panels.check_filter(session, name, str(raw))
        except Invalid as error:
            raise Invalid(error.detail, field=where) from None
        if value is not None:
            checked[name] = value
    if definition.key == "deflection_rate" and "market" in checked and "topic" in checked:
        # The self-service funnel counts sessions by one dimension at a time (metrics.deflection_rate).
        raise Invalid(f"{definition.label} is filtered by a market or by a topic, not both", field=f"{prefix}topic")
    return checked


def _number(value: Any, *, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Invalid("a number", field=field)
    return float(value)


def check_in_range(definition: Definition, value: float, *, field: str) -> float:
    low, high = RANGES[definition.unit]
    words = {Unit.RATIO: "a share between 0 and 1 (0.9 is 90%)", Unit.SCORE: "a rating between 1 and 5",
             Unit.COUNT: "zero or more", Unit.MINUTES: "zero or more minutes", Unit.MEAN: "zero or more"}
    if value < low or (high is not None and value > high):
        raise Invalid(f"{definition.label} is {words[definition.unit]}", field=field)
    return value


@dataclass(frozen=True)
class KeyResultSpec:
    """What a key result is asked to be (the API's and the form's input)."""

    title: str
    metric: str
    target: float
    filters: Mapping[str, Any] = field(default_factory=dict)
    direction: str | None = None  # None: the metric's better direction
    baseline: float | None = None


@dataclass(frozen=True)
class _Checked:
    title: str
    metric: str
    filters: dict[str, Any]
    direction: str
    target: float
    baseline: float | None


def _check_key_result(session: Session, spec: KeyResultSpec, *, prefix: str = "") -> _Checked:
    title = _title(spec.title, field=f"{prefix}title")
    definition = metrics.definition(str(spec.metric), field=f"{prefix}metric")
    filters = check_filters(session, definition, spec.filters, prefix=f"{prefix}filters.")
    direction = spec.direction or (Direction.AT_LEAST.value if definition.better == metrics.Better.HIGHER
                                   else Direction.AT_MOST.value)
    direction = DIRECTION_ALIASES.get(direction, direction) if isinstance(direction, str) else direction
    if direction not in (Direction.AT_LEAST.value, Direction.AT_MOST.value):
        raise Invalid("at_least (the target is a floor) or at_most (a ceiling); or increase or decrease",
                      field=f"{prefix}direction")
    target = check_in_range(definition, _number(spec.target, field=f"{prefix}target"), field=f"{prefix}target")
    baseline = None
    if spec.baseline is not None:
        baseline = check_in_range(definition, _number(spec.baseline, field=f"{prefix}baseline"),
                                  field=f"{prefix}baseline")
        if (direction == Direction.AT_LEAST and baseline >= target) or (
                direction == Direction.AT_MOST and baseline <= target):
            side = "below" if direction == Direction.AT_LEAST else "above"
            raise Invalid(f"the baseline is where it starts: {side} a target of {direction.replace('_', ' ')} "
                          f"{panels.figure(target, definition.unit)}", field=f"{prefix}baseline")
    return _Checked(title, definition.key, filters, direction, target, baseline)


# ----------------------------------------------------------------------------------------------- changes


def create_objective(session: Session, *, title: str, period_start: date, period_end: date, description: str = "",
                     owner_user_id: int | None = None, key_results: Sequence[KeyResultSpec] = (),
                     now: datetime) -> Objective:
    check_period(period_start, period_end)
    if len(key_results) > MAX_KEY_RESULTS:
        raise Invalid(f"at most {MAX_KEY_RESULTS} key results", field="key_results")
    objective = Objective(title=_title(title), description=_description(description),
                          owner_user_id=_owner(session, owner_user_id), period_start=period_start,
                          period_end=period_end, archived=False, created_at=now, updated_at=now)
    checked = [_check_key_result(session, spec, prefix=f"key_results[{i}].") for i, spec in enumerate(key_results)]
    session.add(objective)
    session.flush()
    for position, item in enumerate(checked):
        session.add(_row(objective, item, position=position, now=now))
    session.flush()
    return objective


def _row(objective: Objective, item: _Checked, *, position: int, now: datetime) -> KeyResult:
    return KeyResult(objective_id=objective.id, title=item.title, metric=item.metric, filters=item.filters,
                     baseline=item.baseline, target=item.target, direction=item.direction, position=position,
                     created_at=now)


OBJECTIVE_FIELDS = frozenset({"title", "description", "owner_user_id", "period_start", "period_end", "archived"})


def update_objective(session: Session, objective: Objective, changes: Mapping[str, Any], *,
                     now: datetime) -> Objective:
    """Change the given fields (``archived`` False restores an archived objective; nothing else may change an
    archived one)."""
    unknown = set(changes) - OBJECTIVE_FIELDS
    if unknown:
        raise Invalid("not a field of an objective", field=sorted(unknown)[0])
    if objective.archived and changes.get("archived") is not False:
        raise Conflict("the objective is archived: restore it before changing it", field="archived")
    start = changes.get("period_start", objective.period_start)
    end = changes.get("period_end", objective.period_end)
    if start is None:
        raise Invalid("the first day of the period", field="period_start")
    if end is None:
        raise Invalid("the last day of the period", field="period_end")
    check_period(start, end)
    if "title" in changes:
        objective.title = _title(changes["title"] or "")
    if "description" in changes:
        objective.description = _description(changes["description"] or "")
    if "owner_user_id" in changes:
        objective.owner_user_id = _owner(session, changes["owner_user_id"])
    objective.period_start, objective.period_end = start, end
    if "archived" in changes:
        objective.archived = bool(changes["archived"])
    objective.updated_at = now
    session.flush()
    return objective


def archive_objective(session: Session, objective: Objective, *, now: datetime) -> Objective:
    if objective.archived:
        return objective
    objective.archived, objective.updated_at = True, now
    session.flush()
    return objective


def _editable(objective: Objective, key_result: KeyResult | None = None) -> None:
    if key_result is not None and key_result.objective_id != objective.id:
        raise NotFound(f"objective {objective.id} has no key result {key_result.id}", field="key_result_id")
    if objective.archived:
        raise Conflict("the objective is archived: restore it before changing its key results", field="archived")


def add_key_result(session: Session, objective: Objective, spec: KeyResultSpec, *, now: datetime) -> KeyResult:
    _editable(objective)
    count, last = session.execute(select(func.count(KeyResult.id), func.max(KeyResult.position))
                                  .where(KeyResult.objective_id == objective.id)).one()
    if int(count) >= MAX_KEY_RESULTS:
        raise Invalid(f"an objective has at most {MAX_KEY_RESULTS} key results", field="key_results")
    row = _row(objective, _check_key_result(session, spec), position=(last + 1) if last is not None else 0, now=now)
    session.add(row)
    objective.updated_at = now
    session.flush()
    return row


KEY_RESULT_FIELDS = frozenset({"title", "metric", "filters", "direction", "target", "baseline", "position"})


def update_key_result(session: Session, objective: Objective, key_result: KeyResult, changes: Mapping[str, Any], *,
                      now: datetime) -> KeyResult:
    """Change the given fields; the result is checked whole (a new metric must accept the filter kept)."""
    _editable(objective, key_result)
    unknown = set(changes) - KEY_RESULT_FIELDS
    if unknown:
        raise Invalid("not a field of a key result", field=sorted(unknown)[0])
    if "target" in changes and changes["target"] is None:
        raise Invalid("a key result needs a target", field="target")
    position = changes.get("position")
    if position is not None and (isinstance(position, bool) or not isinstance(position, int)
                                 or not 0 <= position <= 1000):
        raise Invalid("a position from 0 to 1000", field="position")
    spec = KeyResultSpec(
        title=changes.get("title", key_result.title) or "", metric=changes.get("metric", key_result.metric) or "",
        target=changes.get("target", key_result.target),
        filters=changes["filters"] if changes.get("filters") is not None else key_result.filters,
        direction=changes.get("direction", key_result.direction),
        baseline=changes.get("baseline", key_result.baseline))
    checked = _check_key_result(session, spec)
    key_result.title, key_result.metric, key_result.filters = checked.title, checked.metric, checked.filters
    key_result.direction, key_result.target, key_result.baseline = checked.direction, checked.target, checked.baseline
    if position is not None:
        key_result.position = position
    objective.updated_at = now
    session.flush()
    return key_result


def delete_key_result(session: Session, objective: Objective, key_result: KeyResult, *, now: datetime) -> None:
    _editable(objective, key_result)
    session.delete(key_result)
    objective.updated_at = now
    session.flush()
