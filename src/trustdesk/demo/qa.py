"""The demo's quality reviews: scorecards, sampling rules, six weeks of weekly samples and their reviews, two
calibration sessions and coaching notes, so the QA pages and each agent's "My coaching" page have a history.

- **Scorecards** (set up by the lead, who holds ``qa.admin``): "Tier 1 conversation", revised half-way
  through the six weeks (version 2 adds "Set expectations for next steps"), and "Tier 2 escalation"; each
  with two auto-fail criteria.
- **Sampling rules** for every Tier 1 team (5 % per agent, at least 2) and Tier 2 team (10 %, at least 1),
  both with every low-CSAT and escalated case.
- **Samples**: ``feedback.qa.sample_week`` for each of the six full weeks before the build, run as the
  weekly job would have on the Monday morning after each week (its injected "now").
- **Reviews** of most samples by the QA reviewer (``qa@``) and some by the lead, on the scorecard version
  in use when each was submitted, in the days after the sample; the newest week is only started. Criterion
  answers are drawn from the seed with a skill per agent (so agents' QA scores differ), lower on low-CSAT
  cases, and a few auto-fails. Written in bulk (a per-review service call is too slow for thousands) with
  exactly the rows ``qa.evaluate`` writes: the review, its sample marked reviewed, the ``qa.evaluated``
  event and the case's stale mark for the read models.
- **Calibration**: one closed session (QA and the lead disagree on two criteria) and one open one the lead
  has scored and QA has not; **coaching notes** to a few agents, some acknowledged, and two waiting for
  Jordan Blake (``t1.us@``) on his "My coaching" page. These go through the domain functions.

It reads the case facts (``insights.facts``), so it runs after they are folded. Deterministic from the seed
(draws are keyed by case reference and agent e-mail); idempotent: once the demo's Tier 1 scorecard exists
it writes nothing.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from trustdesk.cases.models import Case
from trustdesk.core.events import CaseEvent, StaleCase
from trustdesk.core.identity import Actor
from trustdesk.demo.structure import load_directory
from trustdesk.directory.models import Tier
from trustdesk.feedback import qa
from trustdesk.feedback.models import QaEvaluation, QaSample, QaScorecard
from trustdesk.insights.models import CaseFact

WEEKS = 6
T1_KEY = "tier1-conversation"
T2_KEY = "tier2-escalation"
QA_REVIEWER = "qa"  # staff keys: e-mail local parts (catalog.STAFF)
LEAD = "lead"
NOTED_AGENTS = ("t1.us", "t1.es")  # the Tier 1 logins get notes to read
SAMPLED_AT = timedelta(hours=6)  # the weekly job runs on Monday at 06:00 UTC for the week before
LEAD_SHARE = 0.2  # of the reviews, the lead's
REVIEWED_SHARE = 0.9  # of the random picks reviewed; low CSAT and escalations come first
FORCED_REVIEWED_SHARE = 0.96
AUTO_FAIL_SHARE = 0.02  # of the reviews, and at least MIN_AUTO_FAILS
MIN_AUTO_FAILS = 2
COMMENT_SHARE = 0.6  # of the criteria not met, how many carry a comment

_DATA = {"key": "other_data", "label": "No other customer's data shared", "weight": 0, "auto_fail": True,
         "guidance": "Not met if a reply shows another customer's name, address, order or payment details."}
_REFUND = {"key": "refund_policy", "label": "No refund promised outside policy", "weight": 0, "auto_fail": True,
           "guidance": "Not met if the agent promised a refund or credit beyond their limit or outside the return "
                       "window without an approved refund exception."}
_T1_COMMON: dict[str, dict[str, Any]] = {
    "greeting": {"key": "greeting", "label": "Greeting and identity check", "weight": 10,
                 "guidance": "Greets the customer by name and checks the account (e-mail or order number) before "
                             "discussing an order or a payout."},
    "understood": {"key": "understood", "label": "Understood the issue", "weight": 20,
                   "guidance": "Answers the question asked; reads the whole thread and does not ask again for what "
                               "the customer already gave."},
    "tags": {"key": "tags", "label": "Correct tags and topic", "weight": 10,
             "guidance": "The topic matches what the case was about, so reports and routing learn from it."},
}
T1_V1: list[dict[str, Any]] = [
    _T1_COMMON["greeting"], _T1_COMMON["understood"],
    {"key": "resolution", "label": "Correct resolution per policy", "weight": 35,
     "guidance": "The outcome follows the help-center policy for the topic (returns window, carrier claims, "
                 "seller response time); escalates when the policy says so."},
    {"key": "writing", "label": "Clear and empathetic writing", "weight": 25,
     "guidance": "Short paragraphs, plain words, acknowledges how the customer feels; no internal jargon."},
    _T1_COMMON["tags"], _DATA, _REFUND,
]
T1_V2: list[dict[str, Any]] = [
    _T1_COMMON["greeting"], _T1_COMMON["understood"],
    {**T1_V1[2], "weight": 30},
    {**T1_V1[3], "weight": 20},
    {"key": "expectations", "label": "Set expectations for next steps", "weight": 10,
     "guidance": "Says what happens next and when (a date, not \"soon\"), and what the customer has to do."},
    _T1_COMMON["tags"], _DATA, _REFUND,
]
T2: list[dict[str, Any]] = [
    {"key": "history", "label": "Read the history before replying", "weight": 15,
     "guidance": "Builds on what Tier 1 gathered; the customer is not asked to explain again."},
    {"key": "investigation", "label": "Investigated in the right tools", "weight": 20,
     "guidance": "Checked the payments admin, the carrier's tracking or the seller admin before deciding."},
    {"key": "resolution", "label": "Correct resolution per policy", "weight": 30,
     "guidance": "The outcome follows policy; exceptions go through Finance Ops or Marketplace Policy."},
    {"key": "ownership", "label": "Owned the case to the end", "weight": 15,
     "guidance": "Followed up when promised; no bounce back to Tier 1 without a reason."},
    {"key": "writing", "label": "Clear and empathetic writing", "weight": 10,
     "guidance": "Explains the decision and the reason for it in plain words."},
    {"key": "learning_note", "label": "Internal note for Tier 1", "weight": 10,
     "guidance": "Leaves an internal note saying what Tier 1 could have done, when something could."},
    _DATA,
    {"key": "verified", "label": "Verified identity before account changes", "weight": 0, "auto_fail": True,
     "guidance": "Not met if payout details, the e-mail or the password were changed without the account check."},
]
# How much more often than the agent's general miss rate each criterion is missed.
DIFFICULTY: dict[str, float] = {"greeting": 0.6, "understood": 0.9, "resolution": 1.2, "writing": 1.3,
                                "expectations": 1.8, "tags": 1.5, "history": 1.0, "investigation": 1.1,
                                "ownership": 1.2, "learning_note": 2.2}
LOW_CSAT_MISSES = 1.8  # a low-rated case misses criteria this much more often

MISS_COMMENTS: dict[str, tuple[str, ...]] = {
    "greeting": ("Went straight into the order without checking the account e-mail.",
                 "No greeting by name; the first line was the macro's."),
    "understood": ("The customer asked about the second parcel; the reply covered the first.",
                   "Asked for the order number the customer had already given."),
    "resolution": ("The carrier claim should have been opened before the refund went out.",
                   "Closed without waiting the 48 hours the seller has to respond.",
                   "This needed an escalation to Payments T2 under the chargeback policy."),
    "writing": ("Three macros pasted one after the other; hard to follow.",
                "Correct, but reads as cold for a customer who waited a week."),
    "expectations": ("No date given for the refund to arrive.", "Did not say what the customer had to do next."),
    "tags": ("Tagged as delivery; it was a refund question.", "Topic left as triage's guess."),
    "history": ("Asked for the tracking number Tier 1 had already noted.",),
    "investigation": ("The payments admin showed the duplicate charge; it was not checked.",
                      "Decided before looking at the carrier's scan history."),
    "ownership": ("Promised a follow-up on Friday that never came.", "Sent back to Tier 1 without a reason."),
    "learning_note": ("No note for Tier 1, though the macro they used is out of date.",),
    "other_data": ("The reply quoted another buyer's address from a similar case.",),
    "refund_policy": ("Promised a full refund outside the 30-day window without an exception request.",),
    "verified": ("Changed the payout account without the identity check.",),
}
REVIEW_COMMENTS = ("Good case overall.", "Solid handling; see the notes on the criteria.",
                   "Policy right, tone can be warmer.", "Quick and correct.")
AUTO_FAIL_COMMENT = "Auto-fail: see the criterion. We will go through it in your next one-to-one."
COACHING: dict[str, str] = {
    "greeting": "Check the account before anything else: the e-mail on the order or the order number. It is what "
                "keeps other customers' orders out of the conversation.",
    "understood": "Before replying, read the whole thread once more and answer every question in it; the customer "
                  "should never have to repeat themselves.",
    "resolution": "Walk through the policy article for the topic before deciding; when it says escalate, escalate "
                  "even if the customer is in a hurry.",
    "writing": "Lead with the answer, then the why, in short paragraphs. One macro, adapted, reads better than "
               "three pasted together.",
    "expectations": "End each reply with what happens next and when: a date, not \"soon\", and what the customer "
                    "has to do, if anything.",
    "tags": "Set the topic to what the case turned out to be about, not what triage guessed: the reports and the "
            "router learn from it.",
    "history": "Start from Tier 1's notes: the customer has already explained once.",
    "investigation": "Check the payments admin and the carrier's scan history before deciding; note what you found.",
    "ownership": "When you promise a follow-up, set a reminder and keep it, even if only to say there is no news.",
    "learning_note": "Leave Tier 1 a short internal note when they could have solved it: that is how the "
                     "escalations go down.",
    "other_data": "Never copy text from another case into a reply: start from the macro and this customer's "
                  "order only. This one counts as an auto-fail.",
    "refund_policy": "Refunds outside the window or above your limit go through a refund exception request to "
                     "Finance Ops before you promise anything. This one counts as an auto-fail.",
    "verified": "Account changes need the identity check first, every time, however sure you are. This one "
                "counts as an auto-fail.",
}
PRAISE = ("Lovely handling of a difficult case: clear, kind and exactly per policy. I am sharing it with the team "
          "as an example.")
GENERAL_NOTE = ("Your scores are steady; the one thing to work on this month is setting expectations: end each "
                "reply with what happens next and by when.")


@dataclass(frozen=True)
class _Sample:
    id: int
    case_id: int
    reference: str
    agent_id: int | None
    week: date
    reason: str
    scorecard_key: str
    sampled_at: datetime
    status: str
    csat: int | None


@dataclass
class _Review:
    sample: _Sample
    reviewer: Actor
    card: QaScorecard
    answers: dict[str, dict[str, Any]]
    comment: str
    submitted_at: datetime
    score: float = 0.0
    auto_failed: bool = False
    id: int = 0


def ensure_qa(session: Session, *, now: datetime, seed: int) -> str:
    """Seed the demo's quality reviews (see the module docstring); "" when there was nothing to do."""
    if session.scalar(select(QaScorecard.id).where(QaScorecard.key == T1_KEY).limit(1)) is not None:
        return ""
    directory = load_directory(session)
    if QA_REVIEWER not in directory.actors or LEAD not in directory.actors:
        return ""
    lead, reviewer = directory.actors[LEAD], directory.actors[QA_REVIEWER]
    this_week = qa.week_of(now)
    weeks = [this_week - timedelta(days=7 * back) for back in range(WEEKS, 0, -1)]
    set_up = datetime.combine(weeks[0], time(10), tzinfo=now.tzinfo) - timedelta(days=3)
    revised = datetime.combine(weeks[WEEKS // 2], time(10), tzinfo=now.tzinfo) + timedelta(days=1)

    tier1 = qa.create_scorecard(session, key=T1_KEY, name="Tier 1 conversation", criteria=T1_V1, pass_mark=80,
                                actor=lead, now=set_up)
    tier2 = qa.create_scorecard(session, key=T2_KEY, name="Tier 2 escalation", criteria=T2, pass_mark=80,
                                actor=lead, now=set_up)
    rules = 0
    for team in sorted(directory.teams.values(), key=lambda t: t.key):
        if team.tier not in (Tier.T1.value, Tier.T2.value):
            continue
        is_t1 = team.tier == Tier.T1.value
        qa.save_sampling_rule(session, team_id=team.id, scorecard_key=T1_KEY if is_t1 else T2_KEY,
                              percent_per_agent=5 if is_t1 else 10, min_per_agent=2 if is_t1 else 1,
                              include_low_csat=True, include_escalated=True, actor=lead,
                              now=set_up + timedelta(hours=1))
        rules += 1
    for week in weeks:
        qa.sample_week(session, week, now=min(now, qa.week_bounds(week)[1] + SAMPLED_AT), seed=seed)
    tier1_v2 = qa.revise_scorecard(session, T1_KEY, name="Tier 1 conversation", criteria=T1_V2, pass_mark=80,
                                   actor=lead, now=revised)

    samples = _samples(session)
    if not samples:
        return ""
    cards = {T1_KEY: [tier1, tier1_v2], T2_KEY: [tier2]}
    reviews = _draw_reviews(samples, cards, reviewer=reviewer, lead=lead, agent_keys=directory.agent_keys,
                            now=now, seed=seed)
    _write_reviews(session, reviews)
    session.expire_all()  # the samples' status was written in bulk
    calibrations, agreement = _calibrate(session, samples, reviewer=reviewer, lead=lead, now=now, seed=seed)
    notes, waiting = _coach(session, reviews, directory.actors, directory.agent_keys, reviewer=reviewer, lead=lead,
                            now=now)
    session.flush()
    auto_fails = sum(1 for r in reviews if r.auto_failed)
    return (f"2 scorecards ({tier1.name} v{tier1_v2.version}, {tier2.name} v{tier2.version}), {rules} sampling "
            f"rules, {len(samples):,} samples over {WEEKS} weeks, {len(reviews):,} reviews ({auto_fails} "
            f"auto-fails), {calibrations} calibration sessions (closed at {agreement:.0%} agreement), "
            f"{notes} coaching notes ({waiting} to acknowledge)")


def _samples(session: Session) -> list[_Sample]:
    rows = session.execute(
        select(QaSample.id, QaSample.case_id, Case.reference, QaSample.agent_id, QaSample.week, QaSample.reason,
               QaSample.scorecard_key, QaSample.created_at, QaSample.status, Case.status.label("case_status"),
               CaseFact.csat_score)
        .join(Case, Case.id == QaSample.case_id)
        .outerjoin(CaseFact, CaseFact.case_id == QaSample.case_id)
        .order_by(QaSample.week, QaSample.case_id))
    return [_Sample(id=row.id, case_id=row.case_id, reference=row.reference or f"#{row.case_id}",
                    agent_id=row.agent_id, week=row.week, reason=row.reason, scorecard_key=row.scorecard_key,
                    sampled_at=row.created_at, status=row.status, csat=row.csat_score)
            for row in rows if row.case_status in qa.REVIEWABLE]


def _skill(agent_key: str | None, seed: int) -> float:
    """How reliably an agent meets the criteria (the share of criteria met, roughly)."""
    if agent_key is None:
        return 0.85
    return random.Random(f"qa-skill:{seed}:{agent_key}").uniform(0.78, 0.97)


def _submitted_at(sample: _Sample, rng: random.Random) -> datetime:
    """In the working days after the sample: the forced reasons first, the random share through the week."""
    forced = sample.reason != qa.SampleReason.RANDOM.value
    day = rng.choice((0, 0, 1, 1, 2) if forced else (0, 1, 2, 3, 4))
    start = datetime.combine(sample.sampled_at.date() + timedelta(days=day), time(8), tzinfo=sample.sampled_at.tzinfo)
    return max(sample.sampled_at + timedelta(minutes=30), start + timedelta(minutes=rng.randrange(9 * 60)))


def _draw_reviews(samples: list[_Sample], cards: dict[str, list[QaScorecard]], *, reviewer: Actor, lead: Actor,
                  agent_keys: dict[int, str], now: datetime, seed: int) -> list[_Review]:
    reviews: list[_Review] = []
    for sample in samples:
        rng = random.Random(f"qa-review:{seed}:{sample.reference}")
        forced = sample.reason != qa.SampleReason.RANDOM.value
        at = _submitted_at(sample, rng)
        if rng.random() >= (FORCED_REVIEWED_SHARE if forced else REVIEWED_SHARE) or at >= now:
            continue
        card = max((c for c in cards[sample.scorecard_key] if c.created_at <= at), key=lambda c: c.version)
        agent_key = agent_keys.get(sample.agent_id) if sample.agent_id is not None else None
        miss = 1 - _skill(agent_key, seed)
        if sample.csat in qa.LOW_CSAT_SCORES:
            miss *= LOW_CSAT_MISSES
        answers: dict[str, dict[str, Any]] = {}
        for criterion in card.criteria:
            key = criterion["key"]
            met = criterion["auto_fail"] or rng.random() >= miss * DIFFICULTY.get(key, 1.0)
            comment = rng.choice(MISS_COMMENTS[key]) if not met and rng.random() < COMMENT_SHARE else ""
            answers[key] = {"met": met, "comment": comment}
        comment = rng.choice(REVIEW_COMMENTS) if rng.random() < 0.35 else ""
        reviews.append(_Review(sample=sample, reviewer=lead if rng.random() < LEAD_SHARE else reviewer, card=card,
                               answers=answers, comment=comment, submitted_at=at))
    _auto_fail(reviews, agent_keys, seed=seed)
    for review in reviews:
        review.answers = qa.validate_answers(review.card.criteria, review.answers)
        review.score, review.auto_failed = qa.qa_score(review.card.criteria, review.answers)
    return reviews


def _auto_fail(reviews: list[_Review], agent_keys: dict[int, str], *, seed: int) -> None:
    """A few reviews fail an auto-fail criterion: the likeliest are low-rated cases of the least careful agents."""
    if not reviews:
        return
    wanted = max(MIN_AUTO_FAILS, round(AUTO_FAIL_SHARE * len(reviews)))

    def draw(review: _Review) -> float:
        sample = review.sample
        agent_key = agent_keys.get(sample.agent_id) if sample.agent_id is not None else None
        odds = (1 - _skill(agent_key, seed)) * (2 if sample.csat in qa.LOW_CSAT_SCORES else 1)
        return random.Random(f"qa-auto-fail:{seed}:{sample.reference}").random() / odds

    for review in sorted(reviews, key=lambda r: (draw(r), r.sample.reference))[:wanted]:
        gates = [c["key"] for c in review.card.criteria if c["auto_fail"]]
        key = random.Random(f"qa-gate:{seed}:{review.sample.reference}").choice(gates)
        review.answers[key] = {"met": False, "comment": MISS_COMMENTS[key][0]}
        review.comment = AUTO_FAIL_COMMENT


def _write_reviews(session: Session, reviews: list[_Review]) -> None:
    """The rows ``qa.evaluate`` writes for each review, in bulk."""
    if not reviews:
        return
    rows = [{"case_id": r.sample.case_id, "agent_id": r.sample.agent_id, "reviewer_user_id": r.reviewer.user_id,
             "scorecard_id": r.card.id, "sample_id": r.sample.id, "calibration_id": None, "answers": r.answers,
             "score": r.score, "auto_failed": r.auto_failed, "comment": r.comment, "submitted_at": r.submitted_at}
            for r in reviews]
    ids = {case_id: evaluation_id for case_id, evaluation_id in session.execute(
        insert(QaEvaluation).returning(QaEvaluation.case_id, QaEvaluation.id), rows)}
    for review in reviews:
        review.id = ids[review.sample.case_id]
    session.execute(update(QaSample), [{"id": r.sample.id, "status": qa.SampleStatus.REVIEWED.value}
                                       for r in reviews])
    session.execute(insert(CaseEvent), [
        {"case_id": r.sample.case_id, "type": "qa.evaluated", "actor_type": r.reviewer.actor_type,
         "actor_id": r.reviewer.user_id, "occurred_at": r.submitted_at,
         "data": {"evaluation_id": r.id, "scorecard_key": r.card.key, "scorecard_version": r.card.version,
                  "score": round(r.score, 4), "auto_failed": r.auto_failed, "agent_id": r.sample.agent_id,
                  "sample_reason": r.sample.reason}}
        for r in reviews])
    # As the event log's flush hook marks every case it writes events for (the read models fold them).
    session.execute(insert(StaleCase), [{"case_id": case_id} for case_id in sorted({r.sample.case_id
                                                                                     for r in reviews})])


def _pick(samples: list[_Sample], *, key: str, seed: int, label: str) -> _Sample | None:
    """The seed's choice of a sampled case on the scorecard ``key`` (with an agent to calibrate on)."""
    ranked = sorted((s for s in samples if s.scorecard_key == key and s.agent_id is not None),
                    key=lambda s: (random.Random(f"qa-{label}:{seed}:{s.reference}").random(), s.reference))
    return ranked[0] if ranked else None


def _calibration_answers(card: QaScorecard, disagree: set[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    first = {c["key"]: {"met": True, "comment": ""} for c in card.criteria}
    second = {c["key"]: {"met": True, "comment": ""} for c in card.criteria}
    for key in sorted(disagree):
        second[key] = {"met": False, "comment": MISS_COMMENTS[key][0]}
    return first, second


def _calibrate(session: Session, samples: list[_Sample], *, reviewer: Actor, lead: Actor, now: datetime,
               seed: int) -> tuple[int, float]:
    """One closed session about ten days ago (two criteria in dispute) and one open since yesterday."""
    opened = 0
    agreement = 0.0
    closed_at = now - timedelta(days=10)
    older = [s for s in samples if s.sampled_at < closed_at - timedelta(days=2)]
    case = _pick(older, key=T1_KEY, seed=seed, label="closed")
    if case is not None:
        target = session.get(Case, case.case_id)
        assert target is not None
        calibration = qa.open_calibration(session, target, scorecard_key=T1_KEY,
                                          reviewer_user_ids=[reviewer.user_id, lead.user_id],
                                          title=f"Monthly calibration: {case.reference}", actor=lead,
                                          now=closed_at - timedelta(days=2))
        card = session.get(QaScorecard, calibration.scorecard_id)
        assert card is not None
        weighted = [c["key"] for c in card.criteria if not c["auto_fail"]]
        disagree = set(random.Random(f"qa-calibration:{seed}").sample(weighted, 2))
        mine, theirs = _calibration_answers(card, disagree)
        qa.submit_calibration(session, calibration, reviewer=reviewer, answers=mine, now=closed_at - timedelta(days=1),
                              comment="Clear case for me; the tone was fine given the delay.")
        qa.submit_calibration(session, calibration, reviewer=lead, answers=theirs,
                              now=closed_at - timedelta(hours=20))
        agreement = qa.close_calibration(session, calibration, actor=lead, now=closed_at).overall
        opened += 1
    recent = [s for s in samples if s.sampled_at < now - timedelta(days=1)]
    case = _pick(recent, key=T2_KEY, seed=seed, label="open") or _pick(recent, key=T1_KEY, seed=seed, label="open")
    if case is not None:
        target = session.get(Case, case.case_id)
        assert target is not None
        calibration = qa.open_calibration(session, target, scorecard_key=case.scorecard_key,
                                          reviewer_user_ids=[reviewer.user_id, lead.user_id],
                                          title=f"Escalation calibration: {case.reference}", actor=lead,
                                          now=now - timedelta(days=1))
        card = session.get(QaScorecard, calibration.scorecard_id)
        assert card is not None
        _mine, theirs = _calibration_answers(card, {card.criteria[0]["key"]})
        qa.submit_calibration(session, calibration, reviewer=lead, answers=theirs, now=now - timedelta(hours=20))
        opened += 1
    return opened, agreement


def _note_body(review: _Review) -> str:
    missed = [c["key"] for c in review.card.criteria if not review.answers[c["key"]]["met"]]
    gates = [k for k in missed if any(c["key"] == k and c["auto_fail"] for c in review.card.criteria)]
    first = (gates or missed or [""])[0]
    if not first:
        return PRAISE
    return f"On the review of {review.sample.reference}: {COACHING[first]}"


def _coach(session: Session, reviews: list[_Review], actors: dict[str, Actor], agent_keys: dict[int, str], *,
           reviewer: Actor, lead: Actor, now: datetime) -> tuple[int, int]:
    """Notes on the reviews of the Tier 1 logins and of the agents who score lowest; the older ones are
    acknowledged, and the logins have recent ones waiting."""
    by_agent: dict[int, list[_Review]] = defaultdict(list)
    for review in sorted(reviews, key=lambda r: (r.submitted_at, r.id)):
        if review.sample.agent_id is not None:
            by_agent[review.sample.agent_id].append(review)
    means = {agent: sum(r.score for r in done) / len(done) for agent, done in by_agent.items() if len(done) >= 2}
    login_agents = [a for a, key in agent_keys.items() if key in NOTED_AGENTS and a in by_agent]
    others = sorted((a for a in means if a not in login_agents), key=lambda a: (means[a], agent_keys.get(a, "")))
    plan: list[tuple[int, _Review | None, Actor, bool]] = []  # agent, review, author, acknowledged
    for agent in login_agents:
        done = by_agent[agent]
        worst_old = min(done[: max(1, len(done) // 2)], key=lambda r: (r.score, r.id))
        latest_miss = next((r for r in reversed(done) if r.score < 100 and r is not worst_old), None)
        plan.append((agent, worst_old, reviewer, True))
        if latest_miss is not None:
            plan.append((agent, latest_miss, reviewer, False))
        if agent_keys[agent] == NOTED_AGENTS[0]:
            plan.append((agent, None, lead, False))
    for index, agent in enumerate(others[:3]):
        worst = min(by_agent[agent], key=lambda r: (r.score, r.id))
        plan.append((agent, worst, reviewer if index % 2 == 0 else lead, index != 1))
    if others:
        best = max(others, key=lambda a: (means[a], -a))
        top = max(by_agent[best], key=lambda r: (r.score, r.id))
        plan.append((best, top, lead, True))
    notes = waiting = 0
    latest = now - timedelta(hours=2)
    for agent, about, author, acknowledged in plan:
        written_at = min(about.submitted_at + timedelta(hours=3), latest) if about else now - timedelta(hours=26)
        note = qa.write_note(session, agent_id=agent, body=_note_body(about) if about else GENERAL_NOTE,
                             evaluation_id=about.id if about else None, author=author, now=written_at)
        notes += 1
        agent_actor = actors.get(agent_keys.get(agent, ""))
        read_at = written_at + timedelta(hours=18)
        if acknowledged and agent_actor is not None and read_at < now:
            qa.acknowledge_note(session, note, actor=agent_actor, now=read_at)
        else:
            waiting += 1
    return notes, waiting

