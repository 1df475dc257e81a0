"""Statements of reasons (SoR) for the EU DSA Transparency Database (TDB), API schema v2.

A pure validator: no database, no HTTP. The rules R1-R14 and the enum lists follow
``docs/dsa-statements-of-reasons.md``; where that document leaves a choice to us, the choice is
named "our policy" below and in the docstrings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar
from urllib.parse import urlsplit

from trustdesk.core.errors import Invalid

T = TypeVar("T")

MAX_BATCH = 100

DECISION_VISIBILITY = (
    "DECISION_VISIBILITY_CONTENT_REMOVED", "DECISION_VISIBILITY_CONTENT_DISABLED",
    "DECISION_VISIBILITY_CONTENT_DEMOTED", "DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED",
    "DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED", "DECISION_VISIBILITY_CONTENT_LABELLED",
    "DECISION_VISIBILITY_OTHER",
)
DECISION_MONETARY = ("DECISION_MONETARY_SUSPENSION", "DECISION_MONETARY_TERMINATION", "DECISION_MONETARY_OTHER")
DECISION_PROVISION = (
    "DECISION_PROVISION_PARTIAL_SUSPENSION", "DECISION_PROVISION_TOTAL_SUSPENSION",
    "DECISION_PROVISION_PARTIAL_TERMINATION", "DECISION_PROVISION_TOTAL_TERMINATION",
)
DECISION_ACCOUNT = ("DECISION_ACCOUNT_SUSPENDED", "DECISION_ACCOUNT_TERMINATED")
ACCOUNT_TYPE = ("ACCOUNT_TYPE_BUSINESS", "ACCOUNT_TYPE_PRIVATE")
GROUND_ILLEGAL = "DECISION_GROUND_ILLEGAL_CONTENT"
GROUND_INCOMPATIBLE = "DECISION_GROUND_INCOMPATIBLE_CONTENT"
DECISION_GROUND = (GROUND_ILLEGAL, GROUND_INCOMPATIBLE)
CONTENT_TYPE = (
    "CONTENT_TYPE_APP", "CONTENT_TYPE_AUDIO", "CONTENT_TYPE_IMAGE", "CONTENT_TYPE_PRODUCT",
    "CONTENT_TYPE_SYNTHETIC_MEDIA", "CONTENT_TYPE_TEXT", "CONTENT_TYPE_VIDEO", "CONTENT_TYPE_OTHER",
)
SOURCE_TYPE = ("SOURCE_ARTICLE_16", "SOURCE_TRUSTED_FLAGGER", "SOURCE_TYPE_OTHER_NOTIFICATION", "SOURCE_VOLUNTARY")
AUTOMATED_DECISION = ("AUTOMATED_DECISION_FULLY", "AUTOMATED_DECISION_PARTIALLY", "AUTOMATED_DECISION_NOT_AUTOMATED")
YES_NO = ("Yes", "No")
CATEGORY = (
    "STATEMENT_CATEGORY_ANIMAL_WELFARE", "STATEMENT_CATEGORY_CONSUMER_INFORMATION", "STATEMENT_CATEGORY_CYBER_VIOLENCE",
    "STATEMENT_CATEGORY_CYBER_VIOLENCE_AGAINST_WOMEN", "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS",
    "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH", "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS",
    "STATEMENT_CATEGORY_NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS", "STATEMENT_CATEGORY_NOT_SPECIFIED_NOTICE",
    "STATEMENT_CATEGORY_OTHER_VIOLATION_TC", "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
    "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY", "STATEMENT_CATEGORY_SCAMS_AND_FRAUD", "STATEMENT_CATEGORY_SELF_HARM",
    "STATEMENT_CATEGORY_UNSAFE_AND_PROHIBITED_PRODUCTS", "STATEMENT_CATEGORY_VIOLENCE",
)
KEYWORD = (
    "KEYWORD_ADULT_SEXUAL_MATERIAL", "KEYWORD_AGE_SPECIFIC_RESTRICTIONS", "KEYWORD_AGE_SPECIFIC_RESTRICTIONS_MINORS",
    "KEYWORD_ANIMAL_HARM", "KEYWORD_BIOMETRIC_DATA_BREACH", "KEYWORD_BULLYING_AGAINST_GIRLS",
    "KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL", "KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL_DEEPFAKE",
    "KEYWORD_CONTENT_PROMOTING_EATING_DISORDERS", "KEYWORD_COORDINATED_HARM", "KEYWORD_COPYRIGHT_INFRINGEMENT",
    "KEYWORD_CYBER_BULLYING_INTIMIDATION", "KEYWORD_CYBER_HARASSMENT", "KEYWORD_CYBER_HARASSMENT_AGAINST_WOMEN",
    "KEYWORD_CYBER_INCITEMENT", "KEYWORD_CYBER_STALKING", "KEYWORD_CYBER_STALKING_AGAINST_WOMEN",
    "KEYWORD_DATA_FALSIFICATION", "KEYWORD_DEFAMATION", "KEYWORD_DESIGN_INFRINGEMENT", "KEYWORD_DISCRIMINATION",
    "KEYWORD_FEMALE_GENDERED_DISINFORMATION", "KEYWORD_GEOGRAPHIC_INDICATIONS_INFRINGEMENT",
    "KEYWORD_GEOGRAPHICAL_REQUIREMENTS", "KEYWORD_GOODS_SERVICES_NOT_PERMITTED",
    "KEYWORD_GROOMING_SEXUAL_ENTICEMENT_MINORS", "KEYWORD_HATE_SPEECH", "KEYWORD_HIDDEN_ADVERTISEMENT",
    "KEYWORD_HUMAN_EXPLOITATION", "KEYWORD_HUMAN_TRAFFICKING", "KEYWORD_ILLEGAL_ORGANIZATIONS",
    "KEYWORD_IMPERSONATION_ACCOUNT_HIJACKING", "KEYWORD_INAUTHENTIC_ACCOUNTS", "KEYWORD_INAUTHENTIC_LISTINGS",
    "KEYWORD_INAUTHENTIC_USER_REVIEWS", "KEYWORD_INCITEMENT_AGAINST_WOMEN", "KEYWORD_INCITEMENT_VIOLENCE_HATRED",
    "KEYWORD_INSUFFICIENT_INFORMATION_ON_TRADERS", "KEYWORD_LANGUAGE_REQUIREMENTS",
    "KEYWORD_MISINFORMATION_DISINFORMATION", "KEYWORD_MISLEADING_INFO_CONSUMER_RIGHTS",
    "KEYWORD_MISLEADING_INFO_GOODS_SERVICES", "KEYWORD_MISSING_PROCESSING_GROUND",
    "KEYWORD_NON_CONSENSUAL_IMAGE_SHARING", "KEYWORD_NON_CONSENSUAL_IMAGE_SHARING_AGAINST_WOMEN",
    "KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE", "KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE_AGAINST_WOMEN",
    "KEYWORD_NONCOMPLIANCE_PRICING", "KEYWORD_NUDITY", "KEYWORD_OTHER", "KEYWORD_PATENT_INFRINGEMENT",
    "KEYWORD_PHISHING", "KEYWORD_PROHIBITED_PRODUCTS", "KEYWORD_PYRAMID_SCHEMES", "KEYWORD_RIGHT_TO_BE_FORGOTTEN",
    "KEYWORD_RISK_ENVIRONMENTAL_DAMAGE", "KEYWORD_RISK_PUBLIC_HEALTH", "KEYWORD_SELF_MUTILATION", "KEYWORD_STALKING",
    "KEYWORD_SUICIDE", "KEYWORD_TERRORIST_CONTENT", "KEYWORD_TRADE_SECRET_INFRINGEMENT",
    "KEYWORD_TRADEMARK_INFRINGEMENT", "KEYWORD_TRAFFICKING_WOMEN_GIRLS", "KEYWORD_UNLAWFUL_SALE_ANIMALS",
    "KEYWORD_UNSAFE_CHALLENGES", "KEYWORD_UNSAFE_PRODUCTS", "KEYWORD_VIOLATION_EU_LAW",
    "KEYWORD_VIOLATION_NATIONAL_LAW",
)
# Greece is GR here (a country code); EL is the Greek language.
TERRITORIAL_SCOPE_EU = (
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT", "LT", "LU", "LV",
    "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
)
TERRITORIAL_SCOPE_EEA = (*TERRITORIAL_SCOPE_EU, "IS", "LI", "NO")
# The server's EuropeanLanguagesService::ALL_LANGUAGES holds 184 codes: the 183 ISO 639-1 codes plus
# the withdrawn BH (Bihari). We accept exactly those, as uppercase two-letter codes.
EU_OFFICIAL_LANGUAGES = (
    "BG", "CS", "DA", "DE", "EL", "EN", "ES", "ET", "FI", "FR", "GA", "HR", "HU", "IT", "LT", "LV", "MT", "NL", "PL",
    "PT", "RO", "SK", "SL", "SV",
)
CONTENT_LANGUAGES = (
    "AA", "AB", "AE", "AF", "AK", "AM", "AN", "AR", "AS", "AV", "AY", "AZ", "BA", "BE", "BG", "BH", "BI", "BM", "BN",
    "BO", "BR", "BS", "CA", "CE", "CH", "CO", "CR", "CS", "CU", "CV", "CY", "DA", "DE", "DV", "DZ", "EE", "EL", "EN",
    "EO", "ES", "ET", "EU", "FA", "FF", "FI", "FJ", "FO", "FR", "FY", "GA", "GD", "GL", "GN", "GU", "GV", "HA", "HE",
    "HI", "HO", "HR", "HT", "HU", "HY", "HZ", "IA", "ID", "IE", "IG", "II", "IK", "IO", "IS", "IT", "IU", "JA", "JV",
    "KA", "KG", "KI", "KJ", "KK", "KL", "KM", "KN", "KO", "KR", "KS", "KU", "KV", "KW", "KY", "LA", "LB", "LG", "LI",
    "LN", "LO", "LT", "LU", "LV", "MG", "MH", "MI", "MK", "ML", "MN", "MR", "MS", "MT", "MY", "NA", "NB", "ND", "NE",
    "NG", "NL", "NN", "NO", "NR", "NV", "NY", "OC", "OJ", "OM", "OR", "OS", "PA", "PI", "PL", "PS", "PT", "QU", "RM",
    "RN", "RO", "RU", "RW", "SA", "SC", "SD", "SE", "SG", "SI", "SK", "SL", "SM", "SN", "SO", "SQ", "SR", "SS", "ST",
    "SU", "SV", "SW", "TA", "TE", "TG", "TH", "TI", "TK", "TL", "TN", "TO", "TR", "TS", "TT", "TW", "TY", "UG", "UK",
    "UR", "UZ", "VE", "VI", "VO", "WA", "WO", "XH", "YI", "YO", "ZA", "ZH", "ZU",
)

SINGLE_ENUMS: dict[str, tuple[str, ...]] = {
    "decision_monetary": DECISION_MONETARY, "decision_provision": DECISION_PROVISION,
    "decision_account": DECISION_ACCOUNT, "account_type": ACCOUNT_TYPE, "decision_ground": DECISION_GROUND,
    "incompatible_content_illegal": YES_NO, "category": CATEGORY, "source_type": SOURCE_TYPE,
    "automated_detection": YES_NO, "automated_decision": AUTOMATED_DECISION,
}
ARRAY_ENUMS: dict[str, tuple[str, ...]] = {
    "decision_visibility": DECISION_VISIBILITY, "content_type": CONTENT_TYPE,
    "category_addition": CATEGORY, "category_specification": KEYWORD,
}
MEASURES = ("decision_visibility", "decision_monetary", "decision_provision", "decision_account")
REQUIRED = (
    "decision_ground", "content_type", "category", "content_date", "application_date", "decision_facts",
    "source_type", "automated_detection", "automated_decision", "puid",
)
GROUND_FIELDS: dict[str, tuple[str, ...]] = {
    GROUND_ILLEGAL: ("illegal_content_legal_ground", "illegal_content_explanation"),
    GROUND_INCOMPATIBLE: ("incompatible_content_ground", "incompatible_content_explanation"),
}
# Fields of each ground that must not appear under the other ground (our policy, see validate_statement).
GROUND_ONLY: dict[str, tuple[str, ...]] = {
    GROUND_ILLEGAL: GROUND_FIELDS[GROUND_ILLEGAL],
    GROUND_INCOMPATIBLE: (*GROUND_FIELDS[GROUND_INCOMPATIBLE], "incompatible_content_illegal"),
}
# text field -> (trigger field, trigger value, text required when triggered)
OTHER_TEXTS: dict[str, tuple[str, str, bool]] = {
    "decision_visibility_other": ("decision_visibility", "DECISION_VISIBILITY_OTHER", True),
    "decision_monetary_other": ("decision_monetary", "DECISION_MONETARY_OTHER", True),
    "content_type_other": ("content_type", "CONTENT_TYPE_OTHER", True),
    "category_specification_other": ("category_specification", "KEYWORD_OTHER", False),
}
END_DATES: dict[str, str] = {
    "end_date_visibility_restriction": "decision_visibility",
    "end_date_monetary_restriction": "decision_monetary",
    "end_date_service_restriction": "decision_provision",
    "end_date_account_restriction": "decision_account",
}
DATE_BOUNDS: dict[str, tuple[date | None, date]] = {
    "content_date": (date(2000, 1, 1), date(2038, 1, 1)),
    "application_date": (date(2020, 1, 1), date(2038, 1, 1)),
    **{name: (None, date(2038, 1, 1)) for name in END_DATES},
}
TEXT_LIMITS: dict[str, int] = {
    "decision_facts": 5000, "illegal_content_explanation": 2000, "incompatible_content_explanation": 2000,
    **dict.fromkeys(OTHER_TEXTS, 500), "illegal_content_legal_ground": 500, "incompatible_content_ground": 500,
    "source_identity": 500, "decision_ground_reference_url": 500,
}
PUID_MAX = 500
SERVER_FIELDS = ("uuid", "id", "created_at", "platform_name", "permalink", "self", "platform_id", "user_id", "method")
OBSOLETE_FIELDS = ("url", "source", "end_date", "decision_taken", "countries_list")
KNOWN_FIELDS = frozenset(
    {*SINGLE_ENUMS, *ARRAY_ENUMS, *DATE_BOUNDS, *TEXT_LIMITS, "puid", "territorial_scope", "content_id",
     "content_language"}
)

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_PUID = re.compile(r"[a-zA-Z0-9_-]+")
_TWO_LETTERS = re.compile(r"[A-Z]{2}")
_EAN13 = re.compile(r"[0-9]{13}")
_NULL = "null"


@dataclass(frozen=True)
class SorProblem:
    field: str
    message: str


def _present(value: Any) -> bool:
    """Absent means None, a blank string, or an empty array/object (Laravel's `required`)."""
    if value is None:
        return False
    if isinstance(value, str):
        return value.strip() != ""
    if isinstance(value, list | dict):
        return len(value) > 0
    return True


def _blank(value: Any) -> bool:
    """None or "" (Laravel turns "" into null): nothing to type-check."""
    return value is None or value == ""


def _contains(statement: Mapping[str, Any], field: str, value: str) -> bool:
    current = statement.get(field)
    return current == value or (isinstance(current, list) and value in current)


def _check_fields(s: Mapping[str, Any]) -> list[SorProblem]:
    problems = []
    for key in sorted(s):
        if key in SERVER_FIELDS:
            problems.append(SorProblem(key, "is filled in by the server and must not be sent"))
        elif key in OBSOLETE_FIELDS:
            problems.append(SorProblem(key, "is obsolete (an older API version) and must not be sent"))
        elif key not in KNOWN_FIELDS:
            problems.append(SorProblem(key, f"unknown field {key!r}"))
    return problems


def _check_null_strings(s: Mapping[str, Any]) -> list[SorProblem]:
    problems = []
    for key in sorted(s):
        value = s[key]
        if value == _NULL:
            problems.append(SorProblem(key, 'the string "null" is not allowed; omit the field instead'))
        elif isinstance(value, list):
            problems += [SorProblem(f"{key}[{i}]", 'the string "null" is not allowed')
                         for i, item in enumerate(value) if item == _NULL]
    return problems


def _check_measures(s: Mapping[str, Any]) -> list[SorProblem]:  # R1
    if any(_present(s.get(name)) for name in MEASURES):
        return []
    return [SorProblem("decision_visibility", "at least one of " + ", ".join(MEASURES) + " is required")]


def _check_enums(s: Mapping[str, Any]) -> list[SorProblem]:  # R2
    problems = []
    for name, allowed in SINGLE_ENUMS.items():
        value = s.get(name)
        if _blank(value):
            continue
        if not isinstance(value, str):
            problems.append(SorProblem(name, "must be a string"))
        elif value and value not in allowed:
            problems.append(SorProblem(name, f"{value!r} is not an allowed value"))
    for name, allowed in ARRAY_ENUMS.items():
        problems += _check_string_array(s, name, allowed.__contains__)
    language = s.get("content_language")
    if not _blank(language):
        if not isinstance(language, str) or not _TWO_LETTERS.fullmatch(language):
            problems.append(SorProblem("content_language", "must be an uppercase ISO 639-1 two-letter code"))
        elif language not in CONTENT_LANGUAGES:
            problems.append(SorProblem("content_language", f"{language!r} is not an ISO 639-1 language code"))
    return problems


def _check_string_array(s: Mapping[str, Any], name: str, allowed: Callable[[str], bool]) -> list[SorProblem]:
    value = s.get(name)
    if _blank(value):
        return []
    if not isinstance(value, list):
        return [SorProblem(name, "must be an array of strings")]
    problems = []
    for i, item in enumerate(value):
        if not isinstance(item, str):
            problems.append(SorProblem(f"{name}[{i}]", "must be a string"))
        elif item != _NULL and not allowed(item):
            problems.append(SorProblem(f"{name}[{i}]", f"{item!r} is not an allowed value"))
    return problems


def _check_required(s: Mapping[str, Any]) -> list[SorProblem]:  # R3
    return [SorProblem(name, "is required") for name in REQUIRED if not _present(s.get(name))]


def _check_ground(s: Mapping[str, Any]) -> list[SorProblem]:  # R4
    ground = s.get("decision_ground")
    if not isinstance(ground, str) or ground not in GROUND_FIELDS:
        return []
    problems = [SorProblem(name, f"is required when decision_ground is {ground}")
                for name in GROUND_FIELDS[ground] if not _present(s.get(name))]
    for other, fields in GROUND_ONLY.items():
        if other != ground:
            problems += [SorProblem(name, f"is not allowed when decision_ground is {ground}")
                         for name in fields if _present(s.get(name))]
    return problems


def _check_other_texts(s: Mapping[str, Any]) -> list[SorProblem]:  # R5
    problems = []
    for text, (trigger, value, required) in OTHER_TEXTS.items():
        triggered = _contains(s, trigger, value)
        if triggered and required and not _present(s.get(text)):
            problems.append(SorProblem(text, f"is required when {trigger} is {value}"))
        elif not triggered and _present(s.get(text)):
            problems.append(SorProblem(text, f"is only allowed when {trigger} includes {value}"))
    return problems


def _parse_date(value: Any) -> date | None:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _check_dates(s: Mapping[str, Any]) -> list[SorProblem]:  # R6
    problems = []
    for name, (lowest, highest) in DATE_BOUNDS.items():
        value = s.get(name)
        if not _present(value):
            continue
        parsed = _parse_date(value)
        if parsed is None:
            problems.append(SorProblem(name, "must be a real calendar date written YYYY-MM-DD"))
        elif lowest is not None and parsed < lowest:
            problems.append(SorProblem(name, f"must be on or after {lowest.isoformat()}"))
        elif parsed > highest:
            problems.append(SorProblem(name, f"must be on or before {highest.isoformat()}"))
    return problems


def _check_end_dates(s: Mapping[str, Any]) -> list[SorProblem]:  # R7
    problems = []
    applied = _parse_date(s.get("application_date"))
    for name, measure in END_DATES.items():
        if not _present(s.get(name)):
            continue
        if not _present(s.get(measure)):
            problems.append(SorProblem(name, f"is only allowed when {measure} is set"))
        ends = _parse_date(s.get(name))
        if ends is not None and applied is not None and ends < applied:
            problems.append(SorProblem(name, "must be on or after application_date"))
    return problems


def _check_puid(s: Mapping[str, Any]) -> list[SorProblem]:  # R8 (format; uniqueness is per batch)
    puid = s.get("puid")
    if not _present(puid):
        return []
    if not isinstance(puid, str):
        return [SorProblem("puid", "must be a string")]
    problems = []
    if len(puid) > PUID_MAX:
        problems.append(SorProblem("puid", f"must be at most {PUID_MAX} characters"))
    if not _PUID.fullmatch(puid):
        problems.append(SorProblem("puid", "may contain only letters a-z A-Z, digits, '-' and '_'"))
    return problems


def _check_territorial_scope(s: Mapping[str, Any], *, for_tdb: bool) -> list[SorProblem]:  # R9
    if not _present(s.get("territorial_scope")):
        return [SorProblem("territorial_scope", "is required: a non-empty array of country codes")]
    if for_tdb:
        return _check_string_array(s, "territorial_scope", lambda code: code in TERRITORIAL_SCOPE_EEA)
    return _check_string_array(s, "territorial_scope", lambda code: bool(_TWO_LETTERS.fullmatch(code)))


def _check_lengths(s: Mapping[str, Any]) -> list[SorProblem]:  # R10
    problems = []
    for name, limit in TEXT_LIMITS.items():
        value = s.get(name)
        if _blank(value):
            continue
        if not isinstance(value, str):
            problems.append(SorProblem(name, "must be a string"))
        elif len(value) > limit:  # len() counts code points, like PHP's mb_strlen behind Laravel's max:N
            problems.append(SorProblem(name, f"must be at most {limit} characters"))
    return problems


def _check_url(s: Mapping[str, Any]) -> list[SorProblem]:  # R11
    url = s.get("decision_ground_reference_url")
    if not isinstance(url, str) or not _present(url):
        return []
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or re.search(r"\s", url):
        return [SorProblem("decision_ground_reference_url", "must be an absolute http(s) URL")]
    return []


def _ean13_checksum_ok(code: str) -> bool:
    total = sum(int(digit) * (3 if i % 2 else 1) for i, digit in enumerate(code[:12]))
    return (10 - total % 10) % 10 == int(code[12])


def _check_content_id(s: Mapping[str, Any]) -> list[SorProblem]:  # R12
    content_id = s.get("content_id")
    if _blank(content_id):
        return []
    if not isinstance(content_id, dict):
        return [SorProblem("content_id", 'must be an object such as {"EAN-13": "4006381333931"}')]
    problems = [SorProblem("content_id", f'unknown key {key!r}; only "EAN-13" is accepted')
                for key in content_id if key != "EAN-13"]
    if "EAN-13" not in content_id:
        problems.append(SorProblem("content_id.EAN-13", "is required"))
        return problems
    code = content_id["EAN-13"]
    if not isinstance(code, str) or not _EAN13.fullmatch(code):
        problems.append(SorProblem("content_id.EAN-13", "must be a string of 13 digits"))
    elif not _ean13_checksum_ok(code):
        problems.append(SorProblem("content_id.EAN-13", "has a wrong EAN-13 check digit"))
    return problems


def _check_source_identity(s: Mapping[str, Any]) -> list[SorProblem]:  # R13
    if s.get("source_type") == "SOURCE_VOLUNTARY" and _present(s.get("source_identity")):
        return [SorProblem("source_identity", "is not allowed when source_type is SOURCE_VOLUNTARY")]
    return []


def validate_statement(statement: Mapping[str, Any], *, for_tdb: bool = True) -> list[SorProblem]:
    """Every problem (R1-R13 of the document) with one statement of reasons, in the order of the checks.

    ``field`` is the TDB field name (``content_type[1]`` for an array element). Beyond the TDB:
    our policy rejects the other ground's fields (R4: the server drops them silently), an ``*_other``
    text without its trigger (R5; ``category_specification_other`` is allowed, not required, with
    ``KEYWORD_OTHER``), an end date without its measure (R7), unknown, server-filled and obsolete
    fields, and the string "null" anywhere. ``for_tdb=False`` accepts any ISO 3166-1 alpha-2 shaped
    territorial_scope code, for statements kept for markets outside the EEA.
    """
    problems = _check_fields(statement) + _check_null_strings(statement)
    # A "null" string is reported once above, then treated as absent so checks do not repeat it.
    s = {key: value for key, value in statement.items() if value != _NULL}
    checks: list[Callable[[Mapping[str, Any]], list[SorProblem]]] = [
        _check_measures, _check_enums, _check_required, _check_ground, _check_other_texts, _check_dates,
        _check_end_dates, _check_puid, lambda st: _check_territorial_scope(st, for_tdb=for_tdb), _check_lengths,
        _check_url, _check_content_id, _check_source_identity,
    ]
    for check in checks:
        problems += check(s)
    return problems


def validate_batch(statements: Sequence[Mapping[str, Any]]) -> list[SorProblem]:
    """R14 (1 to MAX_BATCH statements) and R8's in-batch puid uniqueness, plus every statement's problems."""
    problems = []
    if not 1 <= len(statements) <= MAX_BATCH:
        problems.append(SorProblem("statements", f"must hold 1 to {MAX_BATCH} statements, not {len(statements)}"))
    first_seen: dict[str, int] = {}
    for i, statement in enumerate(statements):
        problems += [SorProblem(f"statements[{i}].{p.field}", p.message) for p in validate_statement(statement)]
        puid = statement.get("puid")
        if isinstance(puid, str) and _present(puid):
            if puid in first_seen:
                problems.append(SorProblem(f"statements[{i}].puid",
                                           f"duplicates the puid of statements[{first_seen[puid]}]"))
            else:
                first_seen[puid] = i
    return problems


def batches(statements: Sequence[T], size: int = MAX_BATCH) -> list[list[T]]:
    """Split statements into chunks of at most ``size`` (1..MAX_BATCH), keeping their order."""
    if not 1 <= size <= MAX_BATCH:
        raise ValueError(f"batch size must be between 1 and {MAX_BATCH}, not {size}")
    return [list(statements[start:start + size]) for start in range(0, len(statements), size)]


def clean_statement(statement: Mapping[str, Any]) -> dict[str, Any]:
    """The statement without None, "", "null", [] or {} values, keys sorted, ready to emit as JSON."""
    return {key: statement[key] for key in sorted(statement)
            if not (statement[key] is None or statement[key] in ("", _NULL) or statement[key] in ([], {}))}


def raise_if_invalid(statement: Mapping[str, Any], *, for_tdb: bool, prefix: str = "statement") -> None:
    """Raise ``Invalid`` (422) naming the first problem and listing all of them, fields prefixed."""
    problems = validate_statement(statement, for_tdb=for_tdb)
    if not problems:
        return
    first = problems[0]
    raise Invalid(
        f"the statement of reasons has {len(problems)} problem(s); first: {first.field} {first.message}",
        field=f"{prefix}.{first.field}",
        problems=[{"field": f"{prefix}.{p.field}", "message": p.message} for p in problems],
    )
