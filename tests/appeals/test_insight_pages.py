"""The appeals report pages over HTTP with a signed-in browser session: where appeals come from (insights) and
the DSA transparency figures; their downloads are the report modules' own CSV and JSON; who may open them.

The seeded day, Monday 2 March 2026 (UTC), counted by hand. Policy counterfeit (owner Lead); sources: the
counterfeit model (owner Oncall_Sme) and the moderators (no owner). Filed 09:00, decided 13:00 (4 h):

  M1 model  listing  not_a_violation  overturned
  M2 model  listing  wrong_item       partially overturned
  M3 model  listing  not_a_violation  upheld, manifestly unfounded (then a warning, Art. 23)
  H1 human  listing  disproportionate upheld (then an out-of-court dispute, pending)
  H2 human  listing  -
  H3 human  content  other            still open

Decisions 6, appeals 5 (83.3%), decided 4, overturned 2 (50.0%). Model: 3, 3, 3 decided, 2 overturned
(66.7%); moderators: 3, 2, 1 decided, 0 overturned (0.0%).
"""

from __future__ import annotations

import html
import itertools
import json
import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories.appeals import AppealsWorld, decide, make_appeal, make_decision
from tests.web.test_pages_auth import sign_in
from trustdesk.appeals import disputes, insights, misuse, transparency
from trustdesk.appeals.models import Appeal, AppealReason, ItemKind, Outcome
from trustdesk.cases.models import Party
from trustdesk.core.clock import FrozenClock
from trustdesk.core.events import SYSTEM
from trustdesk.core.settings import Settings

HTML = {"accept": "text/html"}
INSIGHTS = "/console/appeals/insights"
TRANSPARENCY = "/console/appeals/transparency"
# The default period: the last 28 days, today (2 March) included.
SINCE, UNTIL = datetime(2026, 2, 3, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC)
DAY = {"from": "2026-03-01", "to": "2026-03-02"}


def seed(db: Session, aw: AppealsWorld, clock: FrozenClock, settings: Settings) -> dict[str, Appeal]:
    now = clock.now()
    model = [make_decision(db, aw, now=now, external_id=f"M{i}", source=aw.model,
                           decision_monetary="DECISION_MONETARY_SUSPENSION",
                           automated_decision="AUTOMATED_DECISION_FULLY") for i in (1, 2, 3)]
    human = [make_decision(db, aw, now=now, external_id=f"H{i}", item_kind=kind)
             for i, kind in ((1, ItemKind.LISTING), (2, ItemKind.LISTING), (3, ItemKind.CONTENT))]
    filed = {name: make_appeal(db, aw, decision, now=now, settings=settings, reason=reason)
             for name, decision, reason in (
                 ("M1", model[0], AppealReason.NOT_A_VIOLATION), ("M2", model[1], AppealReason.WRONG_ITEM),
                 ("M3", model[2], AppealReason.NOT_A_VIOLATION), ("H1", human[0], AppealReason.DISPROPORTIONATE),
                 ("H3", human[2], AppealReason.OTHER))}
    clock.advance(hours=4)
    decide(db, aw, filed["M1"], Outcome.OVERTURNED, now=clock.now(), settings=settings)
    decide(db, aw, filed["M2"], Outcome.PARTIALLY_OVERTURNED, now=clock.now(), settings=settings,
           lifted=("decision_monetary",))
    decide(db, aw, filed["M3"], Outcome.UPHELD, now=clock.now(), settings=settings, manifestly_unfounded=True)
    decide(db, aw, filed["H1"], Outcome.UPHELD, now=clock.now(), settings=settings)
    clock.advance(hours=1)
    disputes.record_dispute(db, filed["H1"], body_name="Appeals Centre Europe", opened_at=clock.now(), actor=SYSTEM,
                            now=clock.now())
    aw.settings_row.misuse_threshold = 1
    party = db.get(Party, filed["M3"].party_id)
    assert party is not None
    misuse.warn(db, party, reasons="Repeated appeals against a correct counterfeit removal.",
                actor=aw.actor("admin"), now=clock.now())
    db.commit()
    return filed


def stat(page: str, label: str) -> str:
    found = re.search(rf"<dt>{re.escape(label)}</dt><dd>([^<]*)</dd>", page)
    assert found, label
    return found.group(1)


def section(page: str, heading_id: str) -> str:
    """The HTML from a heading to the next heading of its level or above."""
    start = page.index(f'id="{heading_id}"')
    level = page[page.rindex("<h", 0, start) + 2]
    end = re.compile(rf"<h[1-{level}][ >]").search(page, start)
    return page[start:end.start() if end else len(page)]


def links(page: str) -> dict[str, str]:
    """Each "Download" link's address, by the table it names."""
    hrefs = [html.unescape(h) for h in re.findall(r'<a class="btn btn-small" href="([^"]+)" download>', page)]
    named = {href: re.search(r"[?&]table=(\w+)", href) for href in hrefs}
    return {match.group(1) if match else href: href for href, match in named.items()}


# ---------------------------------------------------------------- insights


@pytest.mark.parametrize("who", ["reviewer", "lead", "qa"])
def test_insights_show_the_period_figures_and_the_pair_to_fix_first(
        client: TestClient, db: Session, aw: AppealsWorld, clock: FrozenClock, settings: Settings, who: str) -> None:
    filed = seed(db, aw, clock, settings)
    sign_in(client, who)

    page = client.get(INSIGHTS).text

    assert "2026-02-03 to 2026-03-02" in page and "28 days" in page
    assert (stat(page, "Decisions recorded"), stat(page, "Appeals filed"), stat(page, "Appeal rate")) == (
        "6", "5", "83.3%")
    assert (stat(page, "Appeals decided"), stat(page, "Overturned"), stat(page, "Overturn rate")) == (
        "4", "2", "50.0%")
    worst = section(page, "offenders-title")
    row = worst.split("<tbody>")[1].split("</tr>")[0]
    assert "Counterfeit goods" in row and "Counterfeit image model v3" in row
    assert "owner: Lead" in row and "owner: Oncall_Sme" in row
    assert [cell for cell in re.findall(r'<td class="num[^"]*">([^<]*)</td>', row)] == [
        "1", "3", "3", "3", "2", "66.7%"]
    for name in ("M1", "M2"):
        assert f'<a class="mono" href="/console/appeals/{filed[name].id}">{filed[name].reference}</a>' in row
    assert worst.count("<tr>") == 2  # the header and the one pair with an overturn
    sources = section(page, "by-source-title")
    assert sources.index("Counterfeit image model v3") < sources.index("Brand protection moderators")
    assert "66.7%" in sources and "0.0%" in sources
    owners = section(page, "owners-title")
    assert owners.index("Lead") < owners.index("Oncall_Sme")
    lead = owners.split("Oncall_Sme")[0]
    assert ("<strong>Look at first:</strong> Counterfeit goods decided by Counterfeit image model v3. "
            "2 of 3 decided appeals overturned them (66.7%)") in lead
    assert f'<a class="mono" href="/console/appeals/{filed["M2"].id}">{filed["M2"].reference}</a> to see' in lead
    assert 'aria-current="page">Insights</a>' in page and 'href="/console/appeals/transparency"' in page


def test_the_dimension_tables_put_the_most_overturned_first(
        client: TestClient, db: Session, aw: AppealsWorld, clock: FrozenClock, settings: Settings) -> None:
    seed(db, aw, clock, settings)
    sign_in(client, "reviewer")

    reasons = section(client.get(INSIGHTS).text, "by-reason-title")

    # wrong_item (1 of 1 overturned) before not_a_violation (1 of 2), then the others by name; the report
    # itself lists the most appealed first.
    order = [reasons.index(label) for label in (
        "You acted on the wrong item or account", "I did not break the rule",
        "The measure is too harsh for what happened", "Another reason (explain below)")]
    assert order == sorted(order)
    assert "<caption>" in reasons and '<th scope="col">Appellant&#39;s reason</th>' in reasons
    assert re.search(r'<tfoot><tr><th scope="row">All</th>\s*<td class="num">—</td>\s*<td class="num">5</td>', reasons)


def test_every_insights_csv_is_the_modules_output(
        client: TestClient, db: Session, aw: AppealsWorld, clock: FrozenClock, settings: Settings) -> None:
    seed(db, aw, clock, settings)
    sign_in(client, "lead")
    report = insights.volume(db, since=SINCE, until=UNTIL)
    expected = {
        "volume": insights.to_csv(report), "offenders": insights.offenders_to_csv(report),
        "owners": insights.owners_to_csv(insights.policy_owner_report(db, since=SINCE, until=UNTIL)),
        **{dim: insights.to_csv(replace(report, by={dim: report.by[dim]})) for dim in insights.DIMENSIONS},
    }

    hrefs = links(client.get(INSIGHTS).text)

    assert set(hrefs) == set(expected)
    for table, text in expected.items():
        response = client.get(hrefs[table])
        assert response.status_code == 200, table
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        assert response.headers["content-disposition"] == (
            f'attachment; filename="appeals-{table}-2026-02-03-to-2026-03-02.csv"')
        assert response.content == text.encode(), table
    policy = client.get(INSIGHTS, params={"period": "90", "format": "csv", "table": "policy"}).text
    assert policy.splitlines() == [",".join(insights.VOLUME_HEADER), "policy,counterfeit,6,5,0.8333,4,2,0.5",
                                   "total,,6,5,0.8333,4,2,0.5"]


def test_insights_for_one_market_and_for_an_empty_period(
        client: TestClient, db: Session, aw: AppealsWorld, clock: FrozenClock, settings: Settings) -> None:
    seed(db, aw, clock, settings)
    sign_in(client, "reviewer")

    spain = client.get(INSIGHTS, params={"market": "es"}).text
    us = client.get(INSIGHTS, params={"market": "US"}).text
    january = client.get(INSIGHTS, params={"period": "custom", "from": "2026-01-01", "to": "2026-01-31"})
    csv = client.get(INSIGHTS, params={"market": "ES", "format": "csv", "table": "market"})

    assert "ES only" in spain and stat(spain, "Appeals filed") == "5"
    assert '<option value="ES" selected>' in spain
    assert "US only" in us and stat(us, "Decisions recorded") == "0" and "No appeals in this period" in us
    assert january.status_code == 200 and "2026-01-01 to 2026-01-31" in january.text
    assert "No appeals in this period" in january.text and "Stop wrong decisions first" not in january.text
    assert csv.headers["content-disposition"].endswith('-2026-02-03-to-2026-03-02-ES.csv"')
    assert csv.text.splitlines()[1] == "market,ES,6,5,0.8333,4,2,0.5"


@pytest.mark.parametrize(("params", "field", "message"), [
    ({"period": "custom", "from": "2026-02-30", "to": "2026-03-02"}, "from", "'2026-02-30' is not a day"),
    ({"period": "custom", "from": "2026-03-02", "to": "yesterday"}, "to", "'yesterday' is not a day"),
    ({"period": "custom", "from": "2026-03-02", "to": "2026-03-01"}, "to", "the last day comes on or after"),
    ({"period": "custom", "from": "", "to": "2026-03-01"}, "from", "enter the first day"),
    ({"period": "custom", "from": "2026-01-01", "to": "9999-12-31"}, "to", "choose a day from 2000-01-01"),
    ({"market": "XX"}, "market", "there is no market"),
])
def test_insights_show_a_bad_period_or_market_next_to_its_field(
        client: TestClient, aw: AppealsWorld, params: dict[str, str], field: str, message: str) -> None:
    sign_in(client, "reviewer")

    page = client.get(INSIGHTS, params=params)
    download = client.get(INSIGHTS, params={**params, "format": "csv", "table": "policy"})

    assert page.status_code == 422 and download.status_code == 422
    error = re.search(rf'<p class="field-error" id="f-{field}-error">([^<]*)</p>', page.text)
    assert error and html.unescape(error.group(1)).startswith(message[:1].upper() + message[1:])
    assert re.search(rf'id="f-{field}"[^>]*aria-describedby="[^"]*f-{field}-error" aria-invalid="true"', page.text)
    assert f'<a href="#f-{field}">' in page.text  # the summary links to the field
    if field == "from" and params["from"]:
        assert 'value="2026-02-30"' in page.text  # what was typed stays
    assert "Decisions recorded" not in page.text


# ---------------------------------------------------------------- transparency


@pytest.mark.parametrize("who", ["reviewer", "lead", "qa"])
def test_the_transparency_report_shows_the_dsa_figures(
        client: TestClient, db: Session, aw: AppealsWorld, clock: FrozenClock, settings: Settings, who: str) -> None:
    seed(db, aw, clock, settings)
    sign_in(client, who)

    page = client.get(TRANSPARENCY, params=DAY).text

    assert "2026-03-01 to 2026-03-02" in page and "2 days" in page
    assert (stat(page, "Complaints received"), stat(page, "Withdrawn")) == ("5", "0")
    basis = section(page, "complaints-title")
    assert re.search(r"I did not break the rule</th><td[^>]*>not_a_violation</td><td class=\"num\">2</td>", basis)
    assert re.search(r"Fully or partly automated</th><td[^>]*>automated</td><td class=\"num\">3</td>", basis)
    assert re.search(r"Not automated: a person decided</th><td[^>]*>not_automated</td><td class=\"num\">2</td>",
                     basis)
    assert '<th scope="row" rowspan="4">The appellant&#39;s reason</th>' in basis
    assert (stat(page, "Decided"), stat(page, "Upheld"), stat(page, "Overturned"),
            stat(page, "Partially overturned")) == ("4", "2", "1", "1")
    assert stat(page, "Median decision time") == "4.0 h" and "0.17 days, filed to decided" in page
    assert (stat(page, "A person"), stat(page, "Automation")) == ("4", "0")
    assert (stat(page, "Decisions reversed"), stat(page, "Confirmed undone")) == ("2", "0")
    assert (stat(page, "Opened"), stat(page, "Closed"), stat(page, "Pending at the end")) == ("1", "0", "1")
    assert (stat(page, "Warnings"), stat(page, "Suspensions")) == ("1", "0")
    headings = re.findall(r"<h([1-6])", page.split('<main', 1)[1])
    assert headings[0] == "1" and all(int(b) - int(a) <= 1 for a, b in itertools.pairwise(headings))
    assert 'aria-current="page">Transparency report</a>' in page


def test_the_transparency_downloads_are_the_modules_csv_and_json(
        client: TestClient, db: Session, aw: AppealsWorld, clock: FrozenClock, settings: Settings) -> None:
    seed(db, aw, clock, settings)
    sign_in(client, "lead")
    report = transparency.report(db, since=datetime(2026, 3, 1, tzinfo=UTC), until=UNTIL, market_codes=["ES"])

    hrefs = links(client.get(TRANSPARENCY, params={**DAY, "market": "ES"}).text)
    csv, as_json = (client.get(href) for href in sorted(hrefs.values()))  # format=csv sorts before format=json

    assert csv.content == transparency.to_csv(report).encode()
    assert csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert csv.headers["content-disposition"] == 'attachment; filename="transparency-2026-03-01-to-2026-03-02-ES.csv"'
    assert as_json.content == (json.dumps(transparency.to_json(report), indent=2) + "\n").encode()
    assert as_json.headers["content-type"] == "application/json"
    assert json.loads(as_json.content)["complaints"]["received"] == 5
    assert as_json.headers["content-disposition"].endswith('-ES.json"')


def test_the_transparency_report_defaults_to_the_last_28_days_and_refuses_bad_days(
        client: TestClient, db: Session, aw: AppealsWorld, clock: FrozenClock, settings: Settings) -> None:
    seed(db, aw, clock, settings)
    sign_in(client, "reviewer")

    default = client.get(TRANSPARENCY).text
    bad = client.get(TRANSPARENCY, params={"from": "2026-13-01", "to": "2026-03-02"})
    reversed_days = client.get(TRANSPARENCY, params={"from": "2026-03-02", "to": "2026-02-01", "format": "json"})

    assert "2026-02-03 to 2026-03-02" in default and stat(default, "Complaints received") == "5"
    assert bad.status_code == 422
    assert 'id="f-from-error">&#39;2026-13-01&#39; is not a day: write it as YYYY-MM-DD' in bad.text
    assert 'value="2026-13-01"' in bad.text and "Complaints received" not in bad.text
    assert reversed_days.status_code == 422
    assert 'id="f-to-error">The last day comes on or after the first' in reversed_days.text


# ---------------------------------------------------------------- who may open them


@pytest.mark.parametrize("who", ["buyer", "seller", "agent_t1"])
def test_people_without_in_house_appeals_read_are_refused(client: TestClient, aw: AppealsWorld, who: str) -> None:
    sign_in(client, who)

    for path in (INSIGHTS, f"{INSIGHTS}?format=csv&table=volume", TRANSPARENCY, f"{TRANSPARENCY}?format=json"):
        response = client.get(path, headers=HTML, follow_redirects=False)
        assert response.status_code == 403, path
        assert "text/csv" not in response.headers["content-type"]


def test_signed_out_visitors_go_to_the_login_page(client: TestClient, aw: AppealsWorld) -> None:
    for path in (INSIGHTS, f"{INSIGHTS}?format=csv&table=owners", TRANSPARENCY, f"{TRANSPARENCY}?format=csv"):
        response = client.get(path, headers=HTML, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next=")
