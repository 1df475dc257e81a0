"""The TDB statement-of-reasons validator (docs/dsa-statements-of-reasons.md, rules R1-R14)."""

from __future__ import annotations

from typing import Any

import pytest

from trustdesk.appeals import sor
from trustdesk.appeals.sor import (
    MAX_BATCH,
    SorProblem,
    batches,
    clean_statement,
    raise_if_invalid,
    validate_batch,
    validate_statement,
)
from trustdesk.core.errors import Invalid

VALID_EAN = "4006381333931"


def valid(**overrides: Any) -> dict[str, Any]:
    """The document's minimal valid v2 example, with territorial_scope ["ES"]; None deletes a key."""
    statement: dict[str, Any] = {
        "decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED"],
        "decision_ground": "DECISION_GROUND_INCOMPATIBLE_CONTENT",
        "incompatible_content_ground": "Seller policy 4.2 (counterfeit goods)",
        "incompatible_content_explanation": "Listing offers replica branded goods.",
        "incompatible_content_illegal": "Yes",
        "content_type": ["CONTENT_TYPE_PRODUCT"],
        "category": "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS",
        "category_specification": ["KEYWORD_TRADEMARK_INFRINGEMENT"],
        "territorial_scope": ["ES"],
        "content_language": "DE",
        "content_date": "2025-06-30",
        "application_date": "2025-07-01",
        "decision_facts": "Listing matched brand-owner notice; reviewed by a human.",
        "source_type": "SOURCE_ARTICLE_16",
        "automated_detection": "No",
        "automated_decision": "AUTOMATED_DECISION_NOT_AUTOMATED",
        "puid": "td-dec-000123",
    }
    for key, value in overrides.items():
        if value is None:
            statement.pop(key, None)
        else:
            statement[key] = value
    return statement


def valid_illegal(**overrides: Any) -> dict[str, Any]:
    return valid(**{
        "decision_ground": "DECISION_GROUND_ILLEGAL_CONTENT",
        "illegal_content_legal_ground": "Trade Mark Directive (EU) 2015/2436, Art. 10",
        "illegal_content_explanation": "The listing uses a registered mark without the owner's consent.",
        "incompatible_content_ground": None, "incompatible_content_explanation": None,
        "incompatible_content_illegal": None,
        **overrides,
    })


def fields(statement: dict[str, Any], *, for_tdb: bool = True) -> list[str]:
    return [problem.field for problem in validate_statement(statement, for_tdb=for_tdb)]


# --- constants -------------------------------------------------------------------------------------------------


def test_enum_lists_have_the_documented_sizes() -> None:
    assert len(sor.KEYWORD) == len(set(sor.KEYWORD)) == 69
    assert len(sor.CATEGORY) == len(set(sor.CATEGORY)) == 16
    assert len(sor.TERRITORIAL_SCOPE_EU) == len(set(sor.TERRITORIAL_SCOPE_EU)) == 27
    assert len(sor.TERRITORIAL_SCOPE_EEA) == len(set(sor.TERRITORIAL_SCOPE_EEA)) == 30
    assert "GR" in sor.TERRITORIAL_SCOPE_EU and "EL" not in sor.TERRITORIAL_SCOPE_EEA
    assert len(sor.CONTENT_LANGUAGES) == len(set(sor.CONTENT_LANGUAGES)) == 184
    assert len(sor.EU_OFFICIAL_LANGUAGES) == 24
    assert set(sor.EU_OFFICIAL_LANGUAGES) <= set(sor.CONTENT_LANGUAGES)
    assert "KEYWORD_DISINFORMATION" not in sor.KEYWORD
    assert "STATEMENT_CATEGORY_PORNOGRAPHY_OR_SEXUALIZED_CONTENT" not in sor.CATEGORY


# --- valid statements ------------------------------------------------------------------------------------------


def test_the_minimal_example_is_valid() -> None:
    assert validate_statement(valid()) == []
    assert validate_statement(valid(), for_tdb=False) == []


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"decision_visibility": None, "decision_account": "DECISION_ACCOUNT_SUSPENDED"},
        {"decision_visibility": None, "decision_provision": "DECISION_PROVISION_TOTAL_SUSPENSION"},
        {"decision_visibility": None, "decision_monetary": "DECISION_MONETARY_SUSPENSION"},
        {"decision_visibility": ["DECISION_VISIBILITY_OTHER"], "decision_visibility_other": "Shadow-limited"},
        {"decision_monetary": "DECISION_MONETARY_OTHER", "decision_monetary_other": "Payout held"},
        {"content_type": ["CONTENT_TYPE_OTHER"], "content_type_other": "Live stream"},
        {"category_specification": ["KEYWORD_OTHER"]},
        {"category_specification": ["KEYWORD_OTHER"], "category_specification_other": "Fake warranty"},
        {"category_addition": ["STATEMENT_CATEGORY_SCAMS_AND_FRAUD"]},
        {"incompatible_content_illegal": None, "content_language": None, "category_specification": None},
        {"account_type": "ACCOUNT_TYPE_BUSINESS", "content_language": "EL"},
        {"territorial_scope": list(sor.TERRITORIAL_SCOPE_EEA)},
        {"content_date": "2000-01-01", "application_date": "2020-01-01"},
        {"content_date": "2038-01-01", "application_date": "2038-01-01"},
        {"application_date": "2024-02-29"},
        {"end_date_visibility_restriction": "2025-07-01"},
        {"end_date_visibility_restriction": "2038-01-01"},
        {"puid": "344ndbd_3338383-11aST"},
        {"puid": "x" * 500},
        {"decision_facts": "x" * 5000},
        {"decision_facts": "é" * 5000},
        {"decision_facts": "😀" * 5000},
        {"decision_ground_reference_url": "https://example.com/policy?section=4.2#counterfeit"},
        {"decision_ground_reference_url": "http://example.com"},
        {"content_id": {"EAN-13": VALID_EAN}},
        {"source_type": "SOURCE_VOLUNTARY"},
        {"source_type": "SOURCE_TRUSTED_FLAGGER", "source_identity": "Brand Protection Association"},
    ],
)
def test_valid_variants_pass(overrides: dict[str, Any]) -> None:
    assert validate_statement(valid(**overrides)) == []


def test_an_illegal_content_statement_is_valid() -> None:
    assert validate_statement(valid_illegal()) == []


@pytest.mark.parametrize(
    ("measure", "value", "end_date"),
    [
        ("decision_visibility", ["DECISION_VISIBILITY_CONTENT_DEMOTED"], "end_date_visibility_restriction"),
        ("decision_monetary", "DECISION_MONETARY_SUSPENSION", "end_date_monetary_restriction"),
        ("decision_provision", "DECISION_PROVISION_PARTIAL_SUSPENSION", "end_date_service_restriction"),
        ("decision_account", "DECISION_ACCOUNT_SUSPENDED", "end_date_account_restriction"),
    ],
)
def test_an_end_date_with_its_measure_is_valid(measure: str, value: Any, end_date: str) -> None:
    assert fields(valid(**{measure: value, end_date: "2025-08-01"})) == []


# --- R1 measures -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("absent", [None, [], ""])
def test_r1_a_statement_without_any_measure_is_rejected(absent: Any) -> None:
    statement = valid(decision_visibility=None)
    if absent is not None:
        statement["decision_visibility"] = absent
    problems = validate_statement(statement)
    assert [p.field for p in problems] == ["decision_visibility"]
    assert "decision_account" in problems[0].message


# --- R2 enums --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(sor.SINGLE_ENUMS))
def test_r2_every_single_enum_rejects_an_unknown_value(name: str) -> None:
    assert fields(valid(**{name: "BOGUS"})) == [name]


@pytest.mark.parametrize("name", list(sor.SINGLE_ENUMS))
def test_r2_every_single_enum_must_be_a_string(name: str) -> None:
    assert fields(valid(**{name: ["BOGUS"]})) == [name]


@pytest.mark.parametrize(
    ("name", "value", "field"),
    [
        ("decision_visibility", ["DECISION_VISIBILITY_CONTENT_REMOVED", "REMOVED"], "decision_visibility[1]"),
        ("content_type", ["CONTENT_TYPE_PRODUCT", "CONTENT_TYPE_PHOTO"], "content_type[1]"),
        ("category_addition", ["STATEMENT_CATEGORY_UNSAFE_AND_ILLEGAL_PRODUCTS"], "category_addition[0]"),
        ("category_specification", ["KEYWORD_DISINFORMATION"], "category_specification[0]"),
        ("category_specification", ["KEYWORD_TRADEMARK_INFRINGEMENT", 7], "category_specification[1]"),
        ("category", "STATEMENT_CATEGORY_PORNOGRAPHY_OR_SEXUALIZED_CONTENT", "category"),
        ("category", "statement_category_violence", "category"),
        ("automated_detection", "yes", "automated_detection"),
        ("automated_detection", True, "automated_detection"),
        ("automated_decision", "No", "automated_decision"),
        ("content_language", "de", "content_language"),
        ("content_language", "XX", "content_language"),
        ("content_language", "DEU", "content_language"),
        ("content_language", 49, "content_language"),
    ],
)
def test_r2_enum_values_are_checked_case_sensitively(name: str, value: Any, field: str) -> None:
    assert fields(valid(**{name: value})) == [field]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("decision_visibility", "DECISION_VISIBILITY_CONTENT_REMOVED"),
        ("content_type", "CONTENT_TYPE_PRODUCT"),
        ("category_specification", "KEYWORD_TRADEMARK_INFRINGEMENT"),
        ("category_addition", {"0": "STATEMENT_CATEGORY_VIOLENCE"}),
        ("territorial_scope", "ES"),
    ],
)
def test_r2_an_array_given_as_a_string_is_rejected(name: str, value: Any) -> None:
    assert fields(valid(**{name: value})) == [name]


# --- R3 required -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sor.REQUIRED)
@pytest.mark.parametrize("absent", ["missing", None, ""])
def test_r3_each_required_field_must_be_present(name: str, absent: Any) -> None:
    statement = valid(**{name: None})
    if absent != "missing":
        statement[name] = absent
    assert fields(statement) == [name]


@pytest.mark.parametrize("name", sor.REQUIRED)
def test_r3_a_blank_string_does_not_count_as_present(name: str) -> None:
    problems = validate_statement(valid(**{name: "   "}))
    assert SorProblem(name, "is required") in problems
    assert {p.field for p in problems} == {name}


def test_r3_content_type_needs_at_least_one_element() -> None:
    assert fields(valid(content_type=[])) == ["content_type"]


# --- R4 grounds ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["illegal_content_legal_ground", "illegal_content_explanation"])
def test_r4_illegal_ground_requires_its_fields(name: str) -> None:
    assert fields(valid_illegal(**{name: None})) == [name]


@pytest.mark.parametrize("name", ["incompatible_content_ground", "incompatible_content_explanation"])
def test_r4_incompatible_ground_requires_its_fields(name: str) -> None:
    assert fields(valid(**{name: None})) == [name]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("incompatible_content_ground", "Policy 4.2"),
        ("incompatible_content_explanation", "Replica goods."),
        ("incompatible_content_illegal", "No"),
    ],
)
def test_r4_incompatible_fields_are_refused_under_the_illegal_ground(name: str, value: str) -> None:
    assert fields(valid_illegal(**{name: value})) == [name]


@pytest.mark.parametrize("name", ["illegal_content_legal_ground", "illegal_content_explanation"])
def test_r4_illegal_fields_are_refused_under_the_incompatible_ground(name: str) -> None:
    assert fields(valid(**{name: "Art. 10"})) == [name]


def test_r4_switching_ground_reports_every_field_in_order() -> None:
    assert fields(valid(decision_ground="DECISION_GROUND_ILLEGAL_CONTENT")) == [
        "illegal_content_legal_ground", "illegal_content_explanation",
        "incompatible_content_ground", "incompatible_content_explanation", "incompatible_content_illegal",
    ]


# --- R5 *_OTHER ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trigger", "value", "text"),
    [
        ("decision_visibility", ["DECISION_VISIBILITY_CONTENT_REMOVED", "DECISION_VISIBILITY_OTHER"],
         "decision_visibility_other"),
        ("decision_monetary", "DECISION_MONETARY_OTHER", "decision_monetary_other"),
        ("content_type", ["CONTENT_TYPE_OTHER"], "content_type_other"),
    ],
)
def test_r5_other_needs_its_text(trigger: str, value: Any, text: str) -> None:
    assert fields(valid(**{trigger: value})) == [text]
    assert fields(valid(**{trigger: value, text: " "})) == [text]


@pytest.mark.parametrize(
    "text",
    ["decision_visibility_other", "decision_monetary_other", "content_type_other", "category_specification_other"],
)
def test_r5_a_text_without_its_trigger_is_rejected(text: str) -> None:
    assert fields(valid(**{text: "Something else"})) == [text]


# --- R6 dates --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["2025-7-1", "2025-07-1", "2025-02-30", "2025-13-01", "2025-06-30T00:00:00", "2025-06-30 10:00:00",
     "2025-06-30Z", "20250630", "30/06/2025", "2025-06-30\n", "\uff12\uff10\uff12\uff15-06-30", 1751241600],
)
def test_r6_dates_must_be_exact_calendar_dates(value: Any) -> None:
    assert fields(valid(content_date=value)) == ["content_date"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("content_date", "1999-12-31"),
        ("application_date", "2019-12-31"),
        ("application_date", "2038-01-02"),
        ("end_date_visibility_restriction", "2038-01-02"),
    ],
)
def test_r6_dates_outside_their_bounds_are_rejected(name: str, value: str) -> None:
    assert fields(valid(**{name: value})) == [name]


# --- R7 end dates ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("measure", "value", "end_date"),
    [
        ("decision_visibility", ["DECISION_VISIBILITY_CONTENT_DEMOTED"], "end_date_visibility_restriction"),
        ("decision_monetary", "DECISION_MONETARY_SUSPENSION", "end_date_monetary_restriction"),
        ("decision_provision", "DECISION_PROVISION_PARTIAL_SUSPENSION", "end_date_service_restriction"),
        ("decision_account", "DECISION_ACCOUNT_SUSPENDED", "end_date_account_restriction"),
    ],
)
def test_r7_an_end_date_before_the_application_date_is_rejected(measure: str, value: Any, end_date: str) -> None:
    problems = validate_statement(valid(**{measure: value, end_date: "2025-06-30"}))
    assert [(p.field, p.message) for p in problems] == [(end_date, "must be on or after application_date")]


@pytest.mark.parametrize(
    ("measure", "end_date"),
    [
        ("decision_monetary", "end_date_monetary_restriction"),
        ("decision_provision", "end_date_service_restriction"),
        ("decision_account", "end_date_account_restriction"),
    ],
)
def test_r7_an_end_date_without_its_measure_is_rejected(measure: str, end_date: str) -> None:
    problems = validate_statement(valid(**{end_date: "2025-08-01"}))
    assert [p.field for p in problems] == [end_date]
    assert measure in problems[0].message


def test_r7_visibility_end_date_without_visibility_is_rejected() -> None:
    statement = valid(decision_visibility=None, decision_account="DECISION_ACCOUNT_SUSPENDED",
                      end_date_visibility_restriction="2025-08-01")
    assert fields(statement) == ["end_date_visibility_restriction"]


# --- R8 puid ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "puid", ["td dec", "td.dec", "td/dec", "td-dec\n", "\ntd-dec", "123.STATE sor/category", "tdé", "x" * 501, 123]
)
def test_r8_a_malformed_puid_is_rejected(puid: Any) -> None:
    assert fields(valid(puid=puid)) == ["puid"]


# --- R9 territorial scope --------------------------------------------------------------------------------------


@pytest.mark.parametrize("scope", [["EL"], ["US"], ["es"], ["ES", "UK"]])
def test_r9_only_eea_codes_reach_the_tdb(scope: list[str]) -> None:
    assert fields(valid(territorial_scope=scope)) == [f"territorial_scope[{len(scope) - 1}]"]


def test_r9_other_markets_are_accepted_when_not_for_the_tdb() -> None:
    assert fields(valid(territorial_scope=["US", "CH"]), for_tdb=False) == []
    assert fields(valid(territorial_scope=["us"]), for_tdb=False) == ["territorial_scope[0]"]
    assert fields(valid(territorial_scope=["USA"]), for_tdb=False) == ["territorial_scope[0]"]


@pytest.mark.parametrize("for_tdb", [True, False])
@pytest.mark.parametrize("scope", [None, []])
def test_r9_territorial_scope_is_required(scope: Any, for_tdb: bool) -> None:
    statement = valid(territorial_scope=None)
    if scope is not None:
        statement["territorial_scope"] = scope
    assert fields(statement, for_tdb=for_tdb) == ["territorial_scope"]


# --- R10 lengths -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("builder", "name", "limit"),
    [
        (valid, "decision_facts", 5000),
        (valid, "incompatible_content_explanation", 2000),
        (valid, "incompatible_content_ground", 500),
        (valid_illegal, "illegal_content_explanation", 2000),
        (valid_illegal, "illegal_content_legal_ground", 500),
        (valid, "source_identity", 500),
    ],
)
def test_r10_texts_longer_than_their_limit_are_rejected(builder: Any, name: str, limit: int) -> None:
    assert fields(builder(**{name: "é" * limit})) == []
    assert fields(builder(**{name: "é" * (limit + 1)})) == [name]


def test_r10_other_texts_are_limited_to_500() -> None:
    statement = valid(content_type=["CONTENT_TYPE_OTHER"], content_type_other="x" * 501)
    assert fields(statement) == ["content_type_other"]


def test_r10_a_text_field_must_be_a_string() -> None:
    assert fields(valid(decision_facts=42)) == ["decision_facts"]


# --- R11 URL ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["not a url", "example.com/policy", "/policy/4.2", "ftp://example.com/policy", "https://",
     "https://exa mple.com/", "javascript:alert(1)", "mailto:legal@example.com", "http://[::1/"],
)
def test_r11_the_reference_url_must_be_absolute_http(url: str) -> None:
    assert fields(valid(decision_ground_reference_url=url)) == ["decision_ground_reference_url"]


def test_r11_the_reference_url_is_limited_to_500() -> None:
    url = "https://example.com/" + "p" * 481
    assert fields(valid(decision_ground_reference_url=url)) == ["decision_ground_reference_url"]


# --- R12 content_id --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_id", "field"),
    [
        ({"EAN-13": "4006381333932"}, "content_id.EAN-13"),  # wrong check digit
        ({"EAN-13": "0123456789123"}, "content_id.EAN-13"),  # the document's example: check digit should be 8
        ({"EAN-13": "400638133393"}, "content_id.EAN-13"),  # 12 digits
        ({"EAN-13": 4006381333931}, "content_id.EAN-13"),
        ({"EAN-13": "40063813339\uff131"}, "content_id.EAN-13"),
        ({}, "content_id.EAN-13"),
        ({"EAN-13": VALID_EAN, "GTIN": "x"}, "content_id"),
        ("4006381333931", "content_id"),
        ([VALID_EAN], "content_id"),
    ],
)
def test_r12_content_id_is_one_valid_ean13(content_id: Any, field: str) -> None:
    assert fields(valid(content_id=content_id)) == [field]


# --- R13 source identity ---------------------------------------------------------------------------------------


def test_r13_source_identity_is_refused_for_voluntary_action() -> None:
    assert fields(valid(source_type="SOURCE_VOLUNTARY", source_identity="Internal review team")) == ["source_identity"]


# --- fields that must not be sent ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["account_type", "content_language", "decision_account", "incompatible_content_illegal"]
)
def test_the_string_null_is_rejected(name: str) -> None:
    problems = validate_statement(valid(**{name: "null"}))
    assert [p.field for p in problems] == [name]
    assert '"null"' in problems[0].message


def test_the_string_null_in_an_array_is_rejected_once() -> None:
    assert fields(valid(category_specification=["null"])) == ["category_specification[0]"]


def test_the_string_null_for_a_required_field_is_also_missing() -> None:
    assert fields(valid(category="null")) == ["category", "category"]


def test_unknown_keys_are_named() -> None:
    problems = validate_statement(valid(colour="red", Puid="x"))
    assert [p.field for p in problems] == ["Puid", "colour"]
    assert "'colour'" in problems[1].message


@pytest.mark.parametrize("name", sor.SERVER_FIELDS)
def test_server_filled_fields_are_rejected(name: str) -> None:
    problems = validate_statement(valid(**{name: "x"}))
    assert [p.field for p in problems] == [name]
    assert "server" in problems[0].message


@pytest.mark.parametrize("name", sor.OBSOLETE_FIELDS)
def test_obsolete_fields_are_rejected(name: str) -> None:
    problems = validate_statement(valid(**{name: "x"}))
    assert [p.field for p in problems] == [name]
    assert "obsolete" in problems[0].message


def test_all_problems_are_reported_in_the_order_of_the_checks() -> None:
    statement = valid(uuid="u", decision_visibility=None, category="BOGUS", puid="a b", content_date="2025-7-1")
    assert fields(statement) == ["uuid", "decision_visibility", "category", "content_date", "puid"]
    assert validate_statement(statement) == validate_statement(dict(reversed(list(statement.items()))))


# --- R14 batches -----------------------------------------------------------------------------------------------


def numbered(count: int) -> list[dict[str, Any]]:
    return [valid(puid=f"td-dec-{i:06d}") for i in range(count)]


@pytest.mark.parametrize("count", [0, MAX_BATCH + 1])
def test_r14_a_batch_holds_1_to_100_statements(count: int) -> None:
    assert [p.field for p in validate_batch(numbered(count))] == ["statements"]


@pytest.mark.parametrize("count", [1, MAX_BATCH])
def test_r14_a_full_batch_is_accepted(count: int) -> None:
    assert validate_batch(numbered(count)) == []


def test_r8_duplicate_puids_in_a_batch_are_named() -> None:
    statements = [valid(puid="a"), valid(puid="b"), valid(puid="a"), valid(puid="b")]
    assert validate_batch(statements) == [
        SorProblem("statements[2].puid", "duplicates the puid of statements[0]"),
        SorProblem("statements[3].puid", "duplicates the puid of statements[1]"),
    ]


def test_batch_problems_are_prefixed_with_the_statement_index() -> None:
    statements = [*numbered(2), valid(puid="td-x", category=None)]
    assert [p.field for p in validate_batch(statements)] == ["statements[2].category"]


def test_batches_splits_into_chunks_of_at_most_100() -> None:
    items = list(range(250))
    chunks = batches(items)
    assert [len(chunk) for chunk in chunks] == [100, 100, 50]
    assert [item for chunk in chunks for item in chunk] == items
    assert batches([]) == []
    assert [len(chunk) for chunk in batches(items[:7], size=3)] == [3, 3, 1]


@pytest.mark.parametrize("size", [0, MAX_BATCH + 1])
def test_batches_refuses_a_size_the_tdb_would_refuse(size: int) -> None:
    with pytest.raises(ValueError, match="batch size"):
        batches([1, 2], size=size)


# --- clean_statement -------------------------------------------------------------------------------------------


def test_clean_statement_drops_empty_values_and_sorts_keys() -> None:
    raw = {**valid(), "account_type": None, "category_addition": [], "source_identity": "",
           "decision_account": "null", "content_id": {}}
    cleaned = clean_statement(raw)
    assert list(cleaned) == sorted(valid())
    assert cleaned == valid()
    assert validate_statement(cleaned) == []


def test_clean_statement_keeps_meaningful_values() -> None:
    cleaned = clean_statement({"automated_detection": "No", "b": 0, "a": False})
    assert cleaned == {"a": False, "automated_detection": "No", "b": 0}
    assert list(cleaned) == ["a", "automated_detection", "b"]


# --- raise_if_invalid ------------------------------------------------------------------------------------------


def test_raise_if_invalid_passes_a_valid_statement() -> None:
    raise_if_invalid(valid(), for_tdb=True)
    raise_if_invalid(valid(territorial_scope=["US"]), for_tdb=False)


def test_raise_if_invalid_raises_a_422_naming_every_problem() -> None:
    with pytest.raises(Invalid) as caught:
        raise_if_invalid(valid(category="BOGUS", puid="a b"), for_tdb=True)
    error = caught.value
    assert error.status == 422
    assert error.field == "statement.category"
    body = error.problem()
    assert body["status"] == 422
    assert body["errors"][0]["field"] == "statement.category"
    assert [p["field"] for p in body["problems"]] == ["statement.category", "statement.puid"]


def test_raise_if_invalid_uses_the_prefix_and_for_tdb() -> None:
    with pytest.raises(Invalid) as caught:
        raise_if_invalid(valid(territorial_scope=["US"]), for_tdb=True, prefix="statements[3]")
    assert caught.value.field == "statements[3].territorial_scope[0]"
