"""The appeals pages over HTTP with a signed-in browser session: the queue, the appeal with its statement of
reasons and the decide form, the blind second review, market readiness, a party's Art. 23 standing, and
the help center's decisions and appeal form; who may open what."""

from __future__ import annotations

import dataclasses
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from tests.factories.appeals import OUT_OF_COURT, REASONS, AppealsWorld, decide, make_appeal, make_decision
from tests.factories.world import World
from tests.web.test_pages_auth import sign_in
from trustdesk.appeals import repository, service
from trustdesk.appeals.models import Appeal, AppealStatus, Outcome
from trustdesk.cases.models import Case
from trustdesk.core.clock import FrozenClock
from trustdesk.core.settings import Settings

HTML = {"accept": "text/html"}
XSS = "<script>alert('x')</script>"


def _appeal(db: Session, aw: AppealsWorld, clock: FrozenClock, settings: Settings, *, external_id: str = "dec-1",
            text: str = "The bag is genuine; the supplier's invoices are attached.") -> Appeal:
    decision = make_decision(db, aw, now=clock.now(), external_id=external_id)
    appeal = make_appeal(db, aw, decision, now=clock.now(), settings=settings, text=text)
    db.commit()
    return appeal


# ---------------------------------------------------------------- who may open what


def test_a_reviewer_opens_the_queue_from_the_nav_and_sees_the_open_appeal(
        client: TestClient, db: Session, aw: AppealsWorld, clock: FrozenClock, settings: Settings) -> None:
    appeal = _appeal(db, aw, clock, settings)
    sign_in(client, "reviewer")

    home = client.get("/console")
    queue = client.get("/console/appeals")

    assert 'href="/console/appeals"' in home.text and ">Appeals<" in home.text
    assert queue.status_code == 200
    assert appeal.reference is not None and appeal.reference in queue.text
    assert "Leather handbag" in queue.text and "Counterfeit goods" in queue.text
    row = queue.text.split("<tbody>")[1]
    assert '<th scope="col">SLA due</th>' in queue.text and "in 1d 0h" in row  # the appeals SLA's first reply
    assert '<th scope="row" class="ref">' in queue.text


def test_the_queue_filters_and_says_when_nothing_matches(
        client: TestClient, db: Session, aw: AppealsWorld, clock: FrozenClock, settings: Settings) -> None:
    _appeal(db, aw, clock, settings)
    sign_in(client, "reviewer")

    decided = client.get("/console/appeals", params={"status": "decided"})
    other_policy = client.get("/console/appeals", params={"market": "US"})

    assert "No appeals match these filters" in decided.text
    assert "AP-" not in decided.text.split("results-head")[1]
    assert "Leather handbag" in other_policy.text  # US takes no appeals: the filter ignores it


def test_an_empty_queue_says_so(client: TestClient, aw: AppealsWorld) -> None:
    sign_in(client, "reviewer")

    page = client.get("/console/appeals")

    assert page.status_code == 200 and "No open appeals" in page.text


@pytest.mark.parametrize("who", ["buyer", "agent_t1", "agent_t2"])
def test_people_without_appeals_read_are_refused(client: TestClient, db: Session, aw: AppealsWorld,
                                                 clock: FrozenClock, settings: Settings, who: str) -> None:
    appeal = _appeal(db, aw, clock, settings)
    sign_in(client, who)

    assert client.get("/console/appeals", headers=HTML).status_code == 403
    assert client.get(f"/console/appeals/{appeal.id}", headers=HTML).status_code == 403
    assert ">Appeals<" not in client.get("/help").text


def test_a_qa_reviewer_may_read_but_not_decide(client: TestClient, db: Session, aw: AppealsWorld,
                                               clock: FrozenClock, settings: Settings) -> None:
    appeal = _appeal(db, aw, clock, settings)
    token = sign_in(client, "qa")

    page = client.get(f"/console/appeals/{appeal.id}")
    posted = client.post(f"/console/appeals/{appeal.id}/decide", headers=HTML, follow_redirects=False, data={
        "csrf_token": token, "outcome": "overturned", "reasons": REASONS})

    assert page.status_code == 200 and "You cannot decide this appeal" in page.text
    assert posted.status_code == 403
    db.expire_all()
    assert db.get(Appeal, appeal.id).status == AppealStatus.OPEN.value  # type: ignore[union-attr]


def test_signed_out_visitors_go_to_the_login_page(client: TestClient, db: Session, aw: AppealsWorld,
                                                  clock: FrozenClock, settings: Settings) -> None:
    appeal = _appeal(db, aw, clock, settings)

    for path in ("/console/appeals", f"/console/appeals/{appeal.id}", "/console/appeals/qa",
                 "/console/appeals/markets", "/help/decisions"):
        response = client.get(path, headers=HTML, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next=")


def test_admin_pages_need_appeals_admin(client: TestClient, db: Session, aw: AppealsWorld, clock: FrozenClock,
                                        settings: Settings) -> None:
    appeal = _appeal(db, aw, clock, settings)
    sign_in(client, "reviewer")

    assert client.get("/console/appeals/markets", headers=HTML).status_code == 403
    assert client.get(f"/console/appeals/parties/{appeal.party_id}", headers=HTML).status_code == 403
    assert client.get("/console/appeals/qa", headers=HTML).status_code == 403
    assert client.get("/console/appeals/nope", headers=HTML).status_code in (404, 422)


# ---------------------------------------------------------------- the appeal and the decide form


def test_the_appeal_view_shows_the_decision_and_its_statement_of_reasons_in_words(
        client: TestClient, db: Session, aw: AppealsWorld, clock: FrozenClock, settings: Settings) -> None:
    appeal = _appeal(db, aw, clock, settings, text=f"Genuine bag {XSS}")
    sign_in(client, "reviewer")

    page = client.get(f"/console/appeals/{appeal.id}").text

    assert "<h1 id=\"appeal-title\">Appeal: Leather handbag</h1>" in page
    assert aw.moderator.email in page  # staff see who decided
    assert "Brand protection moderators" in page and "Moderators" in page
    assert "Incompatible with the terms and conditions" in page and "Seller policy 4.2 (counterfeit goods)" in page
    assert "content removed" in page and "no end date" in page
    assert "Intellectual property infringements" in page and "A notice under DSA Art. 16" in page
    assert "A certified out-of-court dispute settlement body" in page
    assert XSS not in page and "&lt;script&gt;" in page  # the appellant's words are escaped
    assert f'href="/console/cases/{appeal.case_id}"' in page
    assert 'name="outcome" value="partially_overturned"' in page and 'for="f-reasons"' in page
    assert "Art. 23" in page  # what "manifestly unfounded" means


def test_deciding_through_the_form_solves_the_case_and_shows_the_letter(
        client: TestClient, db: Session, aw: AppealsWorld, clock: FrozenClock, settings: Settings) -> None:
    appeal = _appeal(db, aw, clock, settings)
    token = sign_in(client, "reviewer")

    posted = client.post(f"/console/appeals/{appeal.id}/decide", follow_redirects=False, data={
        "csrf_token": token, "outcome": "overturned", "reasons": REASONS})
    page = client.get(posted.headers["location"]).text

    assert posted.status_code == 303 and posted.headers["location"] == f"/console/appeals/{appeal.id}?notice=decided"
    assert "Decision recorded" in page
    assert "decision dec-1 is reversed" in page and OUT_OF_COURT.split(",")[0] in page.replace("&#39;", "'")
    assert "Reversal requested" in page and "msg_rev_" in page
    assert 'action="/console/appeals/' not in page  # no decide form any more
    db.expire_all()
    case = db.get(Case, appeal.case_id)
    assert case is not None and case.status == "solved"


def test_a_refused_decision_keeps_what_was_typed_and_names_the_field(
        client: TestClient, db: Session, aw: AppealsWorld, clock: FrozenClock, settings: Settings) -> None:
    appeal = _appeal(db, aw, clock, settings)
    token = sign_in(client, "reviewer")

    short = client.post(f"/console/appeals/{appeal.id}/decide", data={
        "csrf_token": token, "outcome": "upheld", "reasons": "Too short"})
    unfounded = client.post(f"/console/appeals/{appeal.id}/decide", data={
        "csrf_token": token, "outcome": "overturned", "reasons": REASONS, "manifestly_unfounded": "1"})
    none = client.post(f"/console/appeals/{appeal.id}/decide", data={"csrf_token": token, "reasons": REASONS})

    assert short.status_code == 422
    assert 'id="f-reasons-error"' in short.text and "at least 40 characters" in short.text
    assert ">Too short</textarea>" in short.text and 'value="upheld" checked' in short.text
    assert 'href="#f-reasons"' in short.text  # the summary links to the field
    assert unfounded.status_code == 422 and 'id="f-manifestly_unfounded-error"' in unfounded.text
    assert none.status_code == 422 and 'id="f-outcome-error"' in none.text
    db.expire_all()
    assert db.get(Appeal, appeal.id).status == AppealStatus.OPEN.value  # type: ignore[union-attr]


def test_the_letter_preview_sends_nothing(client: TestClient, db: Session, aw: AppealsWorld, clock: FrozenClock,
                                          settings: Settings) -> None:
    appeal = _appeal(db, aw, clock, settings)
    token = sign_in(client, "reviewer")

    page = client.post(f"/console/appeals/{appeal.id}/decide", data={
        "csrf_token": token, "outcome": "upheld", "reasons": REASONS, "action": "preview"})

    assert page.status_code == 200 and "Preview: the letter the appellant would receive" in page.text
    assert "We keep the decision" in page.text and "Nothing has been sent" in page.text
    db.expire_all()
    assert db.get(Appeal, appeal.id).status == AppealStatus.OPEN.value  # type: ignore[union-attr]


def test_the_original_decider_sees_why_they_cannot_decide(
        client: TestClient, db: Session, aw: AppealsWorld, clock: FrozenClock, settings: Settings) -> None:
    by_lead = dataclasses.replace(aw, moderator=aw.world.users["lead"])
    decision = make_decision(db, by_lead, now=clock.now(), external_id="dec-lead")
    appeal = make_appeal(db, aw, decision, now=clock.now(), settings=settings)
    db.commit()
    token = sign_in(client, "lead")

    page = client.get(f"/console/appeals/{appeal.id}")
    posted = client.post(f"/console/appeals/{appeal.id}/decide", data={
        "csrf_token": token, "outcome": "overturned", "reasons": REASONS})

    assert "You cannot decide this appeal" in page.text and "You took the original decision" in page.text
    assert 'name="reasons"' not in page.text
    assert posted.status_code == 403 and "You took the original decision" in posted.text


def test_other_appeals_of_the_decision_are_listed(client: TestClient, db: Session, aw: AppealsWorld,
                                                  clock: FrozenClock, settings: Settings) -> None:
    first = _appeal(db, aw, clock, settings)
    service.withdraw_appeal(db, first, actor=aw.seller, now=clock.now())
    decision = repository.decision_by_external(db, "dec-1")
    assert decision is not None
    second = make_appeal(db, aw, decision, now=clock.now(), settings=settings)
    db.commit()
    sign_in(client, "reviewer")

    page = client.get(f"/console/appeals/{second.id}").text

    assert f'href="/console/appeals/{first.id}"' in page and "Withdrawn" in page


# ---------------------------------------------------------------- second reviews


def test_the_second_review_is_blind_until_submitted(client: TestClient, db: Session, aw: AppealsWorld,
                                                    clock: FrozenClock, settings: Settings) -> None:
    aw.settings_row.qa_sample_percent = 100
    appeal = _appeal(db, aw, clock, settings)
    decide(db, aw, appeal, Outcome.OVERTURNED, now=clock.now(), settings=settings)
    db.commit()
    review = repository.qa_review_of(db, appeal.id)
    assert review is not None
    token = sign_in(client, "qa")

    listing = client.get("/console/appeals/qa").text
    blind = client.get(f"/console/appeals/qa/{review.id}").text
    posted = client.post(f"/console/appeals/qa/{review.id}", follow_redirects=False, data={
        "csrf_token": token, "outcome": "overturned", "notes": "Invoices check out."})
    after = client.get(posted.headers["location"]).text

    assert f'href="/console/appeals/qa/{review.id}"' in listing and "Appeal accuracy" in listing
    assert REASONS not in blind and "is reversed" not in blind and "badge outcome-" not in blind
    assert "Reversed" not in blind and "false positive" not in blind  # the decision's status would tell
    assert "Blind review" in blind and f'href="/console/cases/{appeal.case_id}"' not in blind
    assert "The bag is genuine" in blind  # the appellant's statement is there
    assert posted.status_code == 303
    assert "The reviews agree." in after and "Second review recorded." in after
    assert REASONS in after.replace("&#39;", "'")


def test_a_disagreement_is_calibrated_by_a_lead(client: TestClient, db: Session, aw: AppealsWorld,
                                                clock: FrozenClock, settings: Settings) -> None:
    aw.settings_row.qa_sample_percent = 100
    appeal = _appeal(db, aw, clock, settings)
    decide(db, aw, appeal, Outcome.OVERTURNED, now=clock.now(), settings=settings)
    db.commit()
    review = repository.qa_review_of(db, appeal.id)
    assert review is not None
    token = sign_in(client, "qa")
    client.post(f"/console/appeals/qa/{review.id}", data={"csrf_token": token, "outcome": "upheld", "notes": ""})
    token = sign_in(client, "lead")

    listing = client.get("/console/appeals/qa").text
    refused = client.post(f"/console/appeals/qa/{review.id}/calibrate", data={
        "csrf_token": token, "outcome": "overturned", "note": "short"})
    done = client.post(f"/console/appeals/qa/{review.id}/calibrate", follow_redirects=False, data={
        "csrf_token": token, "outcome": "overturned", "note": "The invoices are from the authorised distributor."})

    assert f'action="/console/appeals/qa/{review.id}/calibrate"' in listing
    assert refused.status_code == 422 and f'id="f-cal-{review.id}-note-error"' in refused.text
    assert done.status_code == 303 and done.headers["location"] == "/console/appeals/qa?notice=calibrated"


# ---------------------------------------------------------------- markets and parties


def test_the_markets_page_lists_the_gaps_of_an_unready_market(client: TestClient, aw: AppealsWorld) -> None:
    token = sign_in(client, "lead")

    page = client.get("/console/appeals/markets")
    refused = client.post("/console/appeals/markets/US/open", data={"csrf_token": token})

    assert page.status_code == 200
    assert 'id="market-ES"' in page.text and 'id="market-US"' in page.text
    assert "US has no appeals settings" in page.text and "trustdesk market configure US" in page.text
    assert "Close ES for appeals" in page.text and "Open US for appeals" in page.text
    assert refused.status_code == 409 and "US is not ready for appeals" in refused.text


def test_closing_and_opening_a_ready_market(client: TestClient, db: Session, aw: AppealsWorld) -> None:
    token = sign_in(client, "lead")

    closed = client.post("/console/appeals/markets/ES/close", follow_redirects=False, data={"csrf_token": token})
    db.expire_all()
    was_open = aw.settings_row.is_open
    opened = client.post("/console/appeals/markets/ES/open", follow_redirects=False, data={"csrf_token": token})

    assert closed.status_code == 303 and not was_open
    assert opened.status_code == 303 and "notice=market_opened" in opened.headers["location"]


def test_a_partys_misuse_standing_and_a_refused_warning(client: TestClient, db: Session, aw: AppealsWorld,
                                                        clock: FrozenClock, settings: Settings) -> None:
    appeal = _appeal(db, aw, clock, settings)
    decide(db, aw, appeal, Outcome.UPHELD, now=clock.now(), settings=settings, manifestly_unfounded=True)
    db.commit()
    token = sign_in(client, "lead")

    page = client.get(f"/console/appeals/parties/{appeal.party_id}")
    warned = client.post(f"/console/appeals/parties/{appeal.party_id}/warn", data={
        "csrf_token": token, "reasons": "Three identical appeals in a week without anything new."})

    assert page.status_code == 200 and appeal.reference is not None and appeal.reference in page.text
    assert "Not eligible: 1 of the 3" in page.text
    assert warned.status_code == 409 and "a warning needs 3" in warned.text
    for days in ("²", "-3", "ten"):  # "²".isdigit() is true, int("²") is not
        suspended = client.post(f"/console/appeals/parties/{appeal.party_id}/suspend", data={
            "csrf_token": token, "reasons": "Three more identical appeals after the warning.", "days": days})
        assert suspended.status_code == 422 and "whole days" in suspended.text


# ---------------------------------------------------------------- the help center


def test_a_seller_reads_the_decision_in_plain_words_and_appeals_it(
        client: TestClient, db: Session, aw: AppealsWorld, clock: FrozenClock) -> None:
    make_decision(db, aw, now=clock.now(), external_id="dec-help")
    db.commit()
    token = sign_in(client, "seller")

    home = client.get("/help").text
    listing = client.get("/help/decisions").text
    form = client.get("/help/decisions/dec-help/appeal").text
    refused = client.post("/help/decisions/dec-help/appeal", data={"csrf_token": token, "reason": "",
                                                                   "statement": "Mine"})
    filed = client.post("/help/decisions/dec-help/appeal", follow_redirects=False, data={
        "csrf_token": token, "reason": "not_a_violation", "statement": "The bag is genuine: invoice 2026-114."})

    assert 'href="/help/decisions"' in home
    assert "Why we did this" in listing and "Seller policy 4.2 (counterfeit goods)" in listing
    assert 'href="/help/decisions/dec-help/appeal"' in listing and "You can appeal until" in listing
    assert 'for="f-reason"' in form and "I did not break the rule" in form
    assert refused.status_code == 422 and 'href="#f-reason"' in refused.text and ">Mine</textarea>" in refused.text
    assert filed.status_code == 303
    location = filed.headers["location"]
    assert re.fullmatch(r"/help/cases/[A-Z]+-\d{4}-\d+\?notice=case_created", location)
    case_page = client.get(location).text
    assert "invoice 2026-114" in case_page
    appeal = repository.open_appeal_of(db, repository.decision_by_external(db, "dec-help").id)  # type: ignore[union-attr]
    assert appeal is not None
    case = db.get(Case, appeal.case_id)
    assert case is not None and case.language == "es"  # the market's default: the party has no locale
    again = client.get("/help/decisions").text
    assert appeal.reference is not None and appeal.reference in again and "Appeal this decision" not in again


def test_another_customer_cannot_see_or_appeal_the_decision(client: TestClient, db: Session, aw: AppealsWorld,
                                                            clock: FrozenClock) -> None:
    make_decision(db, aw, now=clock.now(), external_id="dec-private")
    db.commit()
    token = sign_in(client, "buyer")

    listing = client.get("/help/decisions")
    form = client.get("/help/decisions/dec-private/appeal", headers=HTML)
    posted = client.post("/help/decisions/dec-private/appeal", headers=HTML, data={
        "csrf_token": token, "reason": "other", "statement": "Not mine."})

    assert listing.status_code == 200 and "No decisions about you" in listing.text
    assert form.status_code == 404 and posted.status_code == 404


def test_a_second_reviewer_cannot_see_the_outcome_anywhere_before_submitting(
        client: TestClient, db: Session, aw: AppealsWorld, world: World, clock: FrozenClock,
        settings: Settings) -> None:
    aw.settings_row.qa_sample_percent = 100
    appeal = _appeal(db, aw, clock, settings)
    decide(db, aw, appeal, Outcome.OVERTURNED, now=clock.now(), settings=settings)
    db.commit()
    review = repository.qa_review_of(db, appeal.id)
    assert review is not None
    sign_in(client, "qa")
    for path in (f"/console/appeals/{appeal.id}", f"/console/cases/{appeal.case_id}"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == f"/console/appeals/qa/{review.id}"
    decided = client.get("/console/appeals?status=decided").text
    assert "Waiting for your second review" in decided and "badge outcome-overturned" not in decided
    api = client.get(f"/api/v1/appeals/{appeal.id}", headers=world.auth("qa"))
    assert api.status_code == 403 and api.json()["errors"][0]["field"] == "appeal_id"
    # The lead, who calibrates, sees it all.
    client.cookies.clear()
    sign_in(client, "lead")
    assert client.get(f"/console/appeals/{appeal.id}", follow_redirects=False).status_code == 200


def test_the_decisions_page_reads_a_fixed_number_of_queries(client: TestClient, db: Session, aw: AppealsWorld,
                                                             clock: FrozenClock, settings: Settings,
                                                             connection: Connection) -> None:
    from tests.appeals.test_api import StatementCounter

    def statements() -> int:
        counter = StatementCounter(connection)
        try:
            assert client.get("/help/decisions").status_code == 200
        finally:
            counter.close()
        return len(counter.statements)

    _appeal(db, aw, clock, settings, external_id="few-0")
    sign_in(client, "seller")
    few = statements()
    for index in range(1, 9):
        decision = make_decision(db, aw, now=clock.now(), external_id=f"many-{index}")
        if index % 2:
            make_appeal(db, aw, decision, now=clock.now(), settings=settings)
    db.commit()
    assert statements() == few
