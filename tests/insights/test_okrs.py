"""OKRs: key results judged live through the real metric code on a seeded event history, their statuses
against the share of the period elapsed, and the rules that refuse a key result that could not be measured.

The history is ``tests.insights.history`` (seven cases in the fortnight from Monday 2 March 2026) plus six US
cases opened, solved and rated on Tuesday 10 March (5, 5, 4, 4, 1, 2; solved without a reply, so first reply
times are the history's own). So in March so far, judged on Monday 16 March 09:00:

- CSAT: good ratings 3 of 4 in the history + 4 of 6 = 7 of 10 = 0.7; in Spain 1 of 1 (C7);
- first reply median: 20, 30, 60, 180, 1080, 3900 minutes -> (60 + 180) / 2 = 120;
- volume: 13 cases opened;
- the share of March elapsed: 15 days 9 hours of 31 days = 369 / 744.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests.factories.routing import TOPICS_CSV
from tests.factories.world import World
from tests.insights.history import NOW, History, at, history
from trustdesk.core.errors import Conflict, Invalid, NotFound
from trustdesk.directory import catalogue
from trustdesk.insights import facts, metrics, okrs
from trustdesk.insights.metrics import Filters, Period
from trustdesk.insights.models import KeyResult, Objective
from trustdesk.insights.okrs import KeyResultSpec, Status

__all__ = ["history"]  # the fixture

MARCH = (date(2026, 3, 1), date(2026, 3, 31))
MARCH_ELAPSED = 369 / 744
EXTRA_RATINGS = (5, 5, 4, 4, 1, 2)


@pytest.fixture
def rated(db: Session, history: History) -> History:
    for n, score in enumerate(EXTRA_RATINGS):
        name = f"R{n}"
        history.open(name, at(8, 9))
        history.solve(name, at(8, 10))
        history.rate(name, score, at(8, 11))
    db.flush()
    assert facts.refresh_stale(db, now=NOW) == len(EXTRA_RATINGS)
    return history


def objective(db: Session, *specs: KeyResultSpec, period: tuple[date, date] = MARCH, **extra: Any) -> Objective:
    return okrs.create_objective(db, title=extra.pop("title", "Buyers are happier"), period_start=period[0],
                                 period_end=period[1], key_results=specs, now=extra.pop("now", NOW), **extra)


def kr(metric: str, target: float, *, baseline: float | None = None, direction: str | None = None,
       title: str = "A key result", **filters: Any) -> KeyResultSpec:
    return KeyResultSpec(title=title, metric=metric, target=target, baseline=baseline, direction=direction,
                         filters=filters)


def judged(db: Session, made: Objective, now: datetime = NOW) -> okrs.ObjectiveProgress:
    return okrs.progress(db, made, now)


# ------------------------------------------------------------------------------------------- progress


def test_csat_halfway_from_its_baseline_to_its_target_is_fifty_percent(db: Session, rated: History) -> None:
    made = objective(db, kr("csat", 0.8, baseline=0.6, title="CSAT reaches 80%"),
                     kr("csat", 0.8, baseline=0.6, title="CSAT in Spain", market="ES"))
    result = judged(db, made)
    overall, spain = result.key_results
    # The same figure the dashboards compute for March so far.
    same = metrics.value(db, "csat", Period(datetime(2026, 3, 1, tzinfo=UTC), NOW), Filters(), now=NOW)
    assert (same.numerator, same.denominator) == (7, 10)
    assert overall.value is not None and (overall.value.numerator, overall.value.denominator) == (7, 10)
    assert overall.current == pytest.approx(0.7)
    assert overall.progress == pytest.approx(0.5) and overall.percent == 50
    assert overall.expected == pytest.approx(MARCH_ELAPSED)
    assert overall.status is Status.ON_TRACK  # 0.5 against 0.496 elapsed
    assert overall.basis == "7 of 10" and overall.current_text == "70.0%" and overall.target_text == "80.0%"
    assert spain.current == 1.0 and spain.status is Status.MET and spain.progress == 1.0
    assert spain.filter_text == "market ES"
    # The objective: the mean of its key results' progress, judged like them.
    assert result.progress == pytest.approx(0.75) and result.status is Status.ON_TRACK
    assert result.expected_percent == 50 and result.period_text == "01 Mar to 31 Mar 2026"


def test_a_decrease_on_first_reply_median_runs_from_the_baseline_down_to_the_target(
        db: Session, history: History) -> None:
    made = objective(db, kr("first_reply_median", 60, baseline=240, direction="decrease",
                            title="Answer within an hour"))
    stored = okrs.key_results_of(db, [made.id])[made.id][0]
    assert stored.direction == "at_most"  # "decrease" is the same as at most
    result = judged(db, made).key_results[0]
    assert result.current == 120
    assert result.progress == pytest.approx((120 - 240) / (60 - 240))  # two thirds of the way down
    assert result.status is Status.ON_TRACK and result.direction_text == "at most"
    # Without a direction the metric's better one is taken: lower is better for a time.
    default = objective(db, kr("first_reply_median", 60, baseline=240))
    assert okrs.key_results_of(db, [default.id])[default.id][0].direction == "at_most"
    # Met once the median is at or under the ceiling.
    met = judged(db, objective(db, kr("first_reply_median", 120, baseline=240))).key_results[0]
    assert met.status is Status.MET and met.progress == 1.0


def test_status_against_the_share_of_the_period_elapsed(db: Session, history: History) -> None:
    # First reply median 120 all month; March is 0.496 elapsed on 16 March.
    on_track = kr("first_reply_median", 60, baseline=240)  # progress 0.667
    at_risk = kr("first_reply_median", 50, baseline=150)  # (120 - 150) / (50 - 150) = 0.3: gap -0.196
    off_track = kr("first_reply_median", 30, baseline=130)  # 0.1: gap -0.396
    made = objective(db, on_track, at_risk, off_track)
    statuses = [(r.status, round(r.progress or 0, 3)) for r in judged(db, made).key_results]
    assert statuses == [(Status.ON_TRACK, 0.667), (Status.AT_RISK, 0.3), (Status.OFF_TRACK, 0.1)]
    # The same progress late in the month is behind: two thirds of the way with 98% of March gone.
    late = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
    assert judged(db, made, late).key_results[0].status is Status.OFF_TRACK
    # Over: what was not reached is missed; not begun: not started.
    after = judged(db, made, datetime(2026, 4, 1, 0, 0, tzinfo=UTC))
    assert {r.status for r in after.key_results} == {Status.MISSED} and after.status is Status.MISSED
    april = objective(db, on_track, period=(date(2026, 4, 1), date(2026, 6, 30)))
    ahead = judged(db, april)
    assert ahead.status is Status.NOT_STARTED and ahead.key_results[0].value is None
    # The thresholds: 0.1 behind is still on track, 0.3 behind at risk, more off track.
    assert okrs.judge(0.4, 0.5) is Status.ON_TRACK
    assert okrs.judge(0.2, 0.5) is Status.AT_RISK
    assert okrs.judge(0.19, 0.5) is Status.OFF_TRACK


def test_no_data_no_baseline_and_an_objective_met_by_all_its_results(db: Session, rated: History) -> None:
    made = objective(db, kr("csat", 0.8, baseline=0.6, channel="email"),  # no rating by e-mail
                     kr("csat", 0.8), kr("csat", 0.6))
    nothing, no_baseline, reached = judged(db, made).key_results
    assert nothing.status is Status.NO_DATA and nothing.progress is None and nothing.current is None
    assert no_baseline.status is Status.NOT_MET and no_baseline.progress == 0.0
    assert reached.status is Status.MET and reached.progress == 1.0
    all_met = objective(db, kr("csat", 0.6), kr("csat", 0.9, market="ES"))
    assert judged(db, all_met).status is Status.MET


def test_volume_grows_through_the_period_so_it_is_judged_on_its_pace(db: Session, rated: History) -> None:
    # 13 cases so far, with 0.496 of March gone: at this rate March ends with 13 / 0.496 = 26.2.
    pace = 13 / MARCH_ELAPSED
    within, over_pace, passed, enough = judged(db, objective(
        db, kr("volume", 40), kr("volume", 20, baseline=30), kr("volume", 10), kr("volume", 12, direction="increase"),
    )).key_results
    assert within.current == 13 and within.status is Status.ON_TRACK  # 26 by the end, within 40
    assert within.progress is None  # no baseline: no path to measure along, and nothing settled yet
    assert over_pace.progress == pytest.approx((pace - 30) / (20 - 30)) and over_pace.status is Status.OFF_TRACK
    assert passed.status is Status.MISSED  # past the ceiling already: counts never come down
    assert enough.status is Status.MET  # at least 12, reached
    # An objective with no progress figure takes its key results' worst verdict.
    assert judged(db, objective(db, kr("volume", 40))).status is Status.ON_TRACK
    assert judged(db, objective(db, kr("volume", 40), kr("volume", 20))).status is Status.NOT_MET
    # When March is over the count itself is judged.
    over = judged(db, objective(db, kr("volume", 20)), datetime(2026, 4, 2, tzinfo=UTC)).key_results[0]
    assert over.current == 13 and over.status is Status.MET


def test_progress_of_every_objective_in_order_with_owners(db: Session, history: History, world: World) -> None:
    lead = world.users["lead"]
    march = objective(db, kr("csat", 0.8), title="March", owner_user_id=lead.id)
    april = objective(db, kr("csat", 0.8), title="April", period=(date(2026, 4, 1), date(2026, 4, 30)))
    february = objective(db, title="February", period=(date(2026, 2, 1), date(2026, 2, 28)))
    gone = objective(db, title="Gone")
    okrs.archive_objective(db, gone, now=NOW)
    listed = okrs.progress_all(db, now=NOW)
    assert [o.objective.title for o in listed] == ["April", "March", "February"]
    assert listed[1].owner_name == lead.display_name and listed[0].owner_name is None
    assert listed[2].status is Status.NO_DATA and listed[2].key_results == []  # no key result to judge
    assert [o.objective.title for o in okrs.progress_all(db, now=NOW, include_archived=True)][-1] == "Gone"
    assert {march.id, april.id, february.id} == {o.objective.id for o in listed}


# ------------------------------------------------------------------------------------------- the rules


@pytest.mark.parametrize(("spec", "field"), [
    (kr("resolution_speed", 60), "key_results[0].metric"),
    (kr("csat", 1.5), "key_results[0].target"),
    (kr("csat", -0.1), "key_results[0].target"),
    (kr("csat_mean", 6), "key_results[0].target"),
    (kr("csat", 0.8, baseline=0.9), "key_results[0].baseline"),  # at least 0.8, from above it
    (kr("first_reply_median", 60, baseline=30), "key_results[0].baseline"),  # at most 60, from below it
    (kr("csat", 0.8, direction="sideways"), "key_results[0].direction"),
    (kr("csat", 0.8, market="ZZ"), "key_results[0].filters.market"),
    (kr("csat", 0.8, team=999_999), "key_results[0].filters.team"),
    (kr("csat", 0.8, tier="t9"), "key_results[0].filters.tier"),
    (kr("csat", 0.8, channel="pigeon"), "key_results[0].filters.channel"),
    (kr("csat", 0.8, topic="no.such.topic"), "key_results[0].filters.topic"),
    (kr("csat", 0.8, agent=3), "key_results[0].filters.agent"),
    (kr("deflection_rate", 0.5, team=1), "key_results[0].filters.team"),  # deflection: market or topic only
    (kr("deflection_rate", 0.5, market="US", topic="orders"), "key_results[0].filters.topic"),  # not both
    (kr("csat", "high"), "key_results[0].target"),  # type: ignore[arg-type]
    (kr("csat", float("nan")), "key_results[0].target"),
    (kr(" ", 0.8), "key_results[0].metric"),
    (KeyResultSpec(title=" ", metric="csat", target=0.8), "key_results[0].title"),
])
def test_a_key_result_that_cannot_be_measured_is_refused_naming_its_field(
        db: Session, world: World, spec: KeyResultSpec, field: str) -> None:
    catalogue.import_topics(db, catalogue.parse_topics(TOPICS_CSV, format="csv"), now=NOW - timedelta(days=30))
    before = db.query(Objective).count()
    with pytest.raises(Invalid) as refused:
        objective(db, kr("csat", 0.8), spec)
    assert refused.value.field == field.replace("[0]", "[1]")
    assert db.query(Objective).count() == before  # nothing half-written


def test_the_objective_rules(db: Session, world: World) -> None:
    for period, field in (((date(2026, 3, 31), date(2026, 3, 1)), "period_end"),
                          ((date(2026, 1, 1), date(2027, 1, 2)), "period_end")):  # 367 days: 366 is the most
        with pytest.raises(Invalid) as refused:
            objective(db, period=period)
        assert refused.value.field == field
    assert objective(db, period=(date(2028, 1, 1), date(2028, 12, 31))).period_end == date(2028, 12, 31)  # leap
    for owner, field in ((world.users["buyer"].id, "owner_user_id"), (999_999, "owner_user_id")):
        with pytest.raises(Invalid) as refused:
            objective(db, owner_user_id=owner)
        assert refused.value.field == field
    with pytest.raises(Invalid) as refused:
        objective(db, *[kr("csat", 0.8)] * (okrs.MAX_KEY_RESULTS + 1))
    assert refused.value.field == "key_results"
    with pytest.raises(Invalid) as refused:
        objective(db, title="x" * (okrs.TITLE_CHARS + 1))
    assert refused.value.field == "title"


def test_changing_archiving_and_restoring(db: Session, world: World) -> None:
    made = objective(db, kr("csat", 0.8, title="First"))
    first = okrs.key_results_of(db, [made.id])[made.id][0]
    later = NOW + timedelta(hours=1)
    added = okrs.add_key_result(db, made, kr("first_reply_median", 60, direction="at_most", title="Second"),
                                now=later)
    assert added.position == 1 and made.updated_at == later
    okrs.update_key_result(db, made, first, {"target": 0.9, "filters": {"market": "us"}}, now=later)
    assert (first.target, first.filters) == (0.9, {"market": "US"})
    # A new metric must accept the filter kept; a bad position changes nothing.
    with pytest.raises(Invalid) as refused:
        okrs.update_key_result(db, made, first, {"metric": "deflection_rate", "filters": {"team": world.t2.id}},
                               now=later)
    assert refused.value.field == "filters.team"
    with pytest.raises(Invalid) as refused:
        okrs.update_key_result(db, made, first, {"target": 0.5, "position": -1}, now=later)
    assert refused.value.field == "position" and first.target == 0.9
    with pytest.raises(Invalid) as refused:
        okrs.update_key_result(db, made, first, {"colour": "red"}, now=later)
    assert refused.value.field == "colour"
    # Another objective's key result is not this one's.
    other = objective(db, kr("csat", 0.8, title="Elsewhere"))
    theirs = okrs.key_results_of(db, [other.id])[other.id][0]
    with pytest.raises(NotFound):
        okrs.update_key_result(db, made, theirs, {"target": 0.7}, now=later)
    with pytest.raises(NotFound):
        okrs.key_result_in(db, made, theirs.id)
    with pytest.raises(NotFound):
        okrs.delete_key_result(db, made, theirs, now=later)
    okrs.update_objective(db, made, {"title": "  Buyers   are happier  ", "period_end": date(2026, 4, 30)},
                          now=later)
    assert made.title == "Buyers are happier" and made.period_end == date(2026, 4, 30)
    with pytest.raises(Invalid) as refused:
        okrs.update_objective(db, made, {"period_start": date(2026, 5, 1)}, now=later)
    assert refused.value.field == "period_end"
    # Archived: nothing changes until it is restored.
    okrs.archive_objective(db, made, now=later)
    for change in (lambda: okrs.update_objective(db, made, {"title": "New"}, now=later),
                   lambda: okrs.add_key_result(db, made, kr("csat", 0.8), now=later),
                   lambda: okrs.delete_key_result(db, made, added, now=later)):
        with pytest.raises(Conflict):
            change()
    okrs.update_objective(db, made, {"archived": False}, now=later)
    okrs.delete_key_result(db, made, added, now=later)
    assert [k.title for k in db.query(KeyResult).filter_by(objective_id=made.id)] == ["First"]
