"""The demo marketplace, "Bramble", as data: markets, vendors, teams, queues, staff, request types.

Everything here is static; ``structure.py`` writes it through the directory and identity services
and ``planner.py`` reads it to decide who handles what. Keys (market codes, team and queue keys,
e-mails) are the idempotency keys: a second run finds them and creates nothing.

Topic keys follow one scheme, ``<family>/<name>``:

- buyers: the Bitext category in lower case and the Bitext intent, e.g. ``order/track_order``,
  ``payment/payment_issue``, ``cancellation_fee/check_cancellation_fee``;
- sellers ``seller/<topic>``, creators ``creator/<topic>``, appeals ``appeal/<decision kind>``
  and internal requests ``internal/<request type key>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from trustdesk.cases.models import Channel, PartyKind
from trustdesk.core.permissions import Role
from trustdesk.directory.models import Presence, Tier

MARKETPLACE = "Bramble"
LOGIN_DOMAIN = "demo.trustdesk.dev"
DEMO_PASSWORD = "demo-password"  # noqa: S105 - the published password of the demo logins
ADMIN_EMAIL = f"admin@{LOGIN_DOMAIN}"
HISTORY_DAYS = 90
# Staff accounts "joined" this long before the build; the admin's created_at keeps the build's
# "now" so that an interrupted build resumes on the same timeline.
STAFF_TENURE_DAYS = 120


@dataclass(frozen=True)
class MarketSpec:
    code: str
    name: str
    time_zone: str
    languages: tuple[str, ...]
    default_language: str
    currency: str
    share: float  # of all contacts
    # Languages the market's customers write in, with their share of customers.
    customer_languages: tuple[tuple[str, float], ...]


MARKETS: tuple[MarketSpec, ...] = (
    MarketSpec("US", "United States", "America/Los_Angeles", ("en", "es"), "en", "USD", 0.38,
               (("en", 0.91), ("es", 0.09))),
    MarketSpec("GB", "United Kingdom", "Europe/London", ("en",), "en", "GBP", 0.20, (("en", 1.0),)),
    MarketSpec("ES", "Spain", "Europe/Madrid", ("es", "en"), "es", "EUR", 0.22, (("es", 0.86), ("en", 0.14))),
    MarketSpec("ID", "Indonesia", "Asia/Jakarta", ("id", "en"), "id", "IDR", 0.20, (("id", 0.82), ("en", 0.18))),
)
MARKET_BY_CODE = {m.code: m for m in MARKETS}


@dataclass(frozen=True)
class VendorSpec:
    code: str
    name: str


VENDORS: tuple[VendorSpec, ...] = (
    VendorSpec("blueharbor", "Blue Harbor CX"),  # vendor A: English-speaking sites, US and UK
    VendorSpec("meridian", "Meridian Contact Group"),  # vendor B: Spain, Indonesia and the US Spanish line
)


@dataclass(frozen=True)
class TeamSpec:
    key: str
    name: str
    tier: Tier
    vendor: str | None = None


TEAMS: tuple[TeamSpec, ...] = (
    TeamSpec("t1-us", "T1 US (Blue Harbor)", Tier.T1, "blueharbor"),
    TeamSpec("t1-gb", "T1 UK (Blue Harbor)", Tier.T1, "blueharbor"),
    TeamSpec("t1-us-es", "T1 US Spanish line (Meridian)", Tier.T1, "meridian"),
    TeamSpec("t1-es", "T1 Spain (Meridian)", Tier.T1, "meridian"),
    TeamSpec("t1-id", "T1 Indonesia (Meridian)", Tier.T1, "meridian"),
    TeamSpec("t2-orders", "Orders & Delivery T2", Tier.T2),
    TeamSpec("t2-payments", "Payments & Refunds T2", Tier.T2),
    TeamSpec("t2-sellers", "Seller & Creator Support T2", Tier.T2),
    TeamSpec("appeals", "Appeals Review", Tier.APPEALS),
    TeamSpec("oncall", "Oncall SMEs", Tier.ONCALL),
    TeamSpec("trust-safety", "Trust & Safety Ops", Tier.INTERNAL),
    TeamSpec("finance-ops", "Finance Ops", Tier.INTERNAL),
    TeamSpec("marketplace-policy", "Marketplace Policy", Tier.INTERNAL),
    TeamSpec("support-tooling", "Support Tooling & Access", Tier.INTERNAL),
)
T1_TEAM_OF_MARKET = {"US": "t1-us", "GB": "t1-gb", "ES": "t1-es", "ID": "t1-id"}


@dataclass(frozen=True)
class QueueSpec:
    key: str
    name: str
    team: str
    market: str | None = None
    intake_channels: tuple[str, ...] = ()
    intake_party_kinds: tuple[str, ...] = ()
    intake_order: int = 100
    auto_assign: bool = True
    is_triage: bool = False


_CUSTOMER_CHANNELS = (Channel.IN_APP_CHAT.value, Channel.WEB_FORM.value, Channel.EMAIL.value, Channel.API.value)
# Seller e-mail has no intake rule yet: it falls to the market's triage queue (a catalogue gap the
# routing engine can later close).
_SELLER_CHANNELS = (Channel.IN_APP_CHAT.value, Channel.WEB_FORM.value, Channel.API.value)


def _market_queues(code: str, label: str) -> tuple[QueueSpec, ...]:
    team, low = T1_TEAM_OF_MARKET[code], code.lower()
    return (
        QueueSpec(f"{low}-buyers", f"{label} buyers", team, code, _CUSTOMER_CHANNELS, (PartyKind.BUYER.value,), 10),
        QueueSpec(f"{low}-sellers", f"{label} sellers & creators", team, code, _SELLER_CHANNELS,
                  (PartyKind.SELLER.value, PartyKind.CREATOR.value), 20),
        QueueSpec(f"{low}-triage", f"{label} triage", team, code, intake_order=1000, auto_assign=False,
                  is_triage=True),
    )


QUEUES: tuple[QueueSpec, ...] = (
    *_market_queues("US", "US"),
    *_market_queues("GB", "UK"),
    *_market_queues("ES", "Spain"),
    *_market_queues("ID", "Indonesia"),
    # No intake rule: Spanish-speaking US buyers reach it only by a reroute (language is not an
    # intake criterion yet), which is the demo's source of wrong_language misroutes.
    QueueSpec("us-buyers-es", "US buyers (Spanish)", "t1-us-es", "US", intake_order=900),
    QueueSpec("appeals", "Appeals", "appeals", None, (Channel.APPEAL_FORM.value,), (), 5, auto_assign=False),
    QueueSpec("t2-orders", "Orders & delivery escalations", "t2-orders", auto_assign=False),
    QueueSpec("t2-payments", "Payments & refunds escalations", "t2-payments", auto_assign=False),
    QueueSpec("t2-sellers", "Seller & creator escalations", "t2-sellers", auto_assign=False),
    QueueSpec("oncall-escalations", "Oncall escalations", "oncall", auto_assign=False),
    QueueSpec("finance-requests", "Finance requests", "finance-ops", None, (Channel.INTERNAL_FORM.value,),
              (PartyKind.INTERNAL.value,), 50, auto_assign=False),
    QueueSpec("ts-reviews", "Trust & Safety reviews", "trust-safety", None, (Channel.INTERNAL_FORM.value,),
              (PartyKind.INTERNAL.value,), 51, auto_assign=False),
    QueueSpec("policy-questions", "Policy questions", "marketplace-policy", None, (Channel.INTERNAL_FORM.value,),
              (PartyKind.INTERNAL.value,), 52, auto_assign=False),
    QueueSpec("tooling-access", "Tooling access", "support-tooling", None, (Channel.INTERNAL_FORM.value,),
              (PartyKind.INTERNAL.value,), 53, auto_assign=False),
)
QUEUE_BY_KEY = {q.key: q for q in QUEUES}


def expected_intake_queue(market: str, channel: str, party_kind: str) -> QueueSpec | None:
    """What ``directory.service.intake_queue_for`` picks, computed from the specs (checked at build)."""
    candidates = sorted((q for q in QUEUES if q.market in (None, market)),
                        key=lambda q: (q.intake_order, QUEUES.index(q)))
    for queue in candidates:
        if queue.intake_channels and channel not in queue.intake_channels:
            continue
        if queue.intake_party_kinds and party_kind not in queue.intake_party_kinds:
            continue
        if not queue.intake_channels and not queue.intake_party_kinds and not queue.is_triage:
            continue
        return queue
    return None


@dataclass(frozen=True)
class StaffSpec:
    """A staff user; with ``teams`` or an agent role it also gets an agent row."""

    email: str  # local part; the domain is LOGIN_DOMAIN
    name: str
    role: Role
    vendor: str | None = None
    teams: tuple[str, ...] = ()
    languages: tuple[str, ...] = ("en",)
    skills: tuple[str, ...] = ()
    capacity: int = 10
    presence: Presence = Presence.ONLINE
    market: str = "US"  # where an internal requester works
    works_cases: bool = True  # False: never picked to handle cases (leads, admin, QA)


_T1_SKILLS = ("orders", "delivery", "refunds", "accounts")
_T1_SELLER_SKILLS = ("orders", "delivery", "refunds", "accounts", "sellers")

STAFF: tuple[StaffSpec, ...] = (
    # Vendor A, Blue Harbor CX: US and UK buyers and sellers, in English.
    StaffSpec("t1.us", "Jordan Blake", Role.AGENT_T1, "blueharbor", ("t1-us",), ("en",), _T1_SELLER_SKILLS, 12),
    StaffSpec("avery.collins", "Avery Collins", Role.AGENT_T1, "blueharbor", ("t1-us",), ("en",), _T1_SKILLS, 12),
    StaffSpec("marcus.reed", "Marcus Reed", Role.AGENT_T1, "blueharbor", ("t1-us",), ("en",), _T1_SKILLS, 10),
    StaffSpec("priya.nair", "Priya Nair", Role.AGENT_T1, "blueharbor", ("t1-us",), ("en",), _T1_SELLER_SKILLS, 14),
    StaffSpec("danielle.ortiz", "Danielle Ortiz", Role.AGENT_T1, "blueharbor", ("t1-us",), ("en", "es"),
              _T1_SKILLS, 10),
    StaffSpec("kevin.park", "Kevin Park", Role.AGENT_T1, "blueharbor", ("t1-us",), ("en",), _T1_SKILLS, 8,
              Presence.AWAY),
    StaffSpec("hannah.fletcher", "Hannah Fletcher", Role.AGENT_T1, "blueharbor", ("t1-gb",), ("en",),
              _T1_SELLER_SKILLS, 12),
    StaffSpec("oliver.grant", "Oliver Grant", Role.AGENT_T1, "blueharbor", ("t1-gb",), ("en",), _T1_SKILLS, 10),
    StaffSpec("amelia.shaw", "Amelia Shaw", Role.AGENT_T1, "blueharbor", ("t1-gb",), ("en",), _T1_SKILLS, 10,
              Presence.OFFLINE),
    StaffSpec("rachel.adams", "Rachel Adams", Role.LEAD, "blueharbor", ("t1-us", "t1-gb"), ("en",),
              ("team_lead",), 5, works_cases=False),
    # Vendor B, Meridian Contact Group: Spain, Indonesia and the US Spanish line.
    StaffSpec("t1.es", "Lucía Fernández", Role.AGENT_T1, "meridian", ("t1-es",), ("es", "en"),
              _T1_SELLER_SKILLS, 12),
    StaffSpec("javier.moreno", "Javier Moreno", Role.AGENT_T1, "meridian", ("t1-es",), ("es", "en"), _T1_SKILLS, 12),
    StaffSpec("carmen.ruiz", "Carmen Ruiz", Role.AGENT_T1, "meridian", ("t1-es",), ("es",), _T1_SKILLS, 10),
    StaffSpec("pablo.navarro", "Pablo Navarro", Role.AGENT_T1, "meridian", ("t1-es",), ("es", "en"),
              _T1_SKILLS, 10, Presence.OFFLINE),
    StaffSpec("elena.castillo", "Elena Castillo", Role.AGENT_T1, "meridian", ("t1-es", "t1-us-es"), ("es", "en"),
              _T1_SKILLS, 12),
    StaffSpec("andres.gomez", "Andrés Gómez", Role.AGENT_T1, "meridian", ("t1-us-es",), ("es", "en"),
              _T1_SKILLS, 10),
    StaffSpec("putri.lestari", "Putri Lestari", Role.AGENT_T1, "meridian", ("t1-id",), ("id", "en"),
              _T1_SELLER_SKILLS, 12),
    StaffSpec("budi.santoso", "Budi Santoso", Role.AGENT_T1, "meridian", ("t1-id",), ("id", "en"), _T1_SKILLS, 12),
    StaffSpec("siti.rahayu", "Siti Rahayu", Role.AGENT_T1, "meridian", ("t1-id",), ("id",), _T1_SKILLS, 10),
    StaffSpec("agus.wijaya", "Agus Wijaya", Role.AGENT_T1, "meridian", ("t1-id",), ("id", "en"), _T1_SKILLS, 10,
              Presence.AWAY),
    StaffSpec("camila.reyes", "Camila Reyes", Role.LEAD, "meridian", ("t1-es", "t1-id", "t1-us-es"),
              ("es", "en", "id"), ("team_lead",), 5, works_cases=False),
    # In-house Tier 2.
    StaffSpec("t2", "Sam Rivera", Role.AGENT_T2, None, ("t2-payments",), ("en", "es"), ("payments", "refunds"), 10),
    StaffSpec("nadia.hassan", "Nadia Hassan", Role.AGENT_T2, None, ("t2-payments",), ("en",),
              ("payments", "chargebacks"), 10),
    StaffSpec("rizky.pratama", "Rizky Pratama", Role.AGENT_T2, None, ("t2-payments",), ("id", "en"),
              ("payments", "refunds"), 10),
    StaffSpec("grace.liu", "Grace Liu", Role.AGENT_T2, None, ("t2-orders",), ("en",), ("orders", "carriers"), 10),
    StaffSpec("tomas.herrera", "Tomás Herrera", Role.AGENT_T2, None, ("t2-orders",), ("es", "en"),
              ("orders", "carriers"), 10),
    StaffSpec("intan.permata", "Intan Permata", Role.AGENT_T2, None, ("t2-orders",), ("id", "en"),
              ("orders", "carriers"), 10, Presence.AWAY),
    StaffSpec("ethan.brooks", "Ethan Brooks", Role.AGENT_T2, None, ("t2-sellers",), ("en",),
              ("sellers", "creators", "payouts"), 10),
    StaffSpec("marta.vidal", "Marta Vidal", Role.AGENT_T2, None, ("t2-sellers",), ("es", "en"),
              ("sellers", "creators", "payouts"), 10),
    StaffSpec("yusuf.hakim", "Yusuf Hakim", Role.AGENT_T2, None, ("t2-sellers",), ("id", "en"),
              ("sellers", "creators", "payouts"), 10),
    # Oncall SMEs back up Tier 2 between pages.
    StaffSpec("oncall", "Alex Morgan", Role.ONCALL_SME, None, ("oncall", "t2-payments"), ("en", "es"),
              ("payments", "incidents"), 8),
    StaffSpec("rina.kusuma", "Rina Kusuma", Role.ONCALL_SME, None, ("oncall", "t2-orders"), ("id", "en"),
              ("orders", "incidents"), 8, Presence.OFFLINE),
    # Appeals and quality.
    StaffSpec("reviewer", "Chris Taylor", Role.REVIEWER, None, ("appeals",), ("en", "es"), ("appeals",), 15),
    StaffSpec("ayu.setiawan", "Ayu Setiawan", Role.REVIEWER, None, ("appeals",), ("id", "en"), ("appeals",), 15),
    StaffSpec("qa", "Morgan Lee", Role.QA, None, (), ("en", "es"), ("quality",), 0, Presence.OFFLINE,
              works_cases=False),
    # Internal teams answer staff requests.
    StaffSpec("fiona.walsh", "Fiona Walsh", Role.AGENT_T2, None, ("finance-ops",), ("en",), ("finance",), 10),
    StaffSpec("diego.santos", "Diego Santos", Role.AGENT_T2, None, ("finance-ops",), ("en", "es"), ("finance",), 10),
    StaffSpec("hiro.tanaka", "Hiro Tanaka", Role.AGENT_T2, None, ("trust-safety",), ("en",), ("trust_safety",), 10),
    StaffSpec("laura.becker", "Laura Becker", Role.AGENT_T2, None, ("trust-safety",), ("en",), ("trust_safety",), 10),
    StaffSpec("noor.rahman", "Noor Rahman", Role.AGENT_T2, None, ("marketplace-policy",), ("en",), ("policy",), 10),
    StaffSpec("ben.carter", "Ben Carter", Role.AGENT_T2, None, ("support-tooling",), ("en",), ("tooling",), 10),
    # Leads and administration (not picked to work cases, but may reroute and assign).
    StaffSpec("lead", "Taylor Kim", Role.LEAD, None,
              ("t1-us", "t1-gb", "t1-es", "t1-id", "t1-us-es", "t2-orders", "t2-payments", "t2-sellers"),
              ("en", "es"), ("team_lead",), 5, works_cases=False),
    StaffSpec("admin", "Robin Novak", Role.ADMIN, None, (), ("en",), (), 0, Presence.OFFLINE, works_cases=False),
    # Staff who file internal requests (no agent row).
    StaffSpec("requester", "Jamie Fox", Role.INTERNAL_REQUESTER, market="US"),
    StaffSpec("kayla.morris", "Kayla Morris", Role.INTERNAL_REQUESTER, market="US"),
    StaffSpec("eleanor.hart", "Eleanor Hart", Role.INTERNAL_REQUESTER, market="GB"),
    StaffSpec("irene.campos", "Irene Campos", Role.INTERNAL_REQUESTER, market="ES"),
    StaffSpec("fajar.nugroho", "Fajar Nugroho", Role.INTERNAL_REQUESTER, market="ID"),
)

# The in-house workforce lead moves work between vendors (a vendor's own people may only escalate
# to in-house teams), e.g. Spanish-speaking US buyers from Blue Harbor's queue to Meridian's line.
WORKFORCE_LEAD = "lead"


def email_of(local: str) -> str:
    return f"{local}@{LOGIN_DOMAIN}"


@dataclass(frozen=True)
class CustomerLogin:
    """A customer login: a user with a password and a party linked to it (help center access)."""

    email: str
    name: str
    role: Role
    kind: PartyKind
    market: str
    language: str = "en"


CUSTOMER_LOGINS: tuple[CustomerLogin, ...] = (
    CustomerLogin("buyer", "Emma Johnson", Role.BUYER, PartyKind.BUYER, "US"),
    CustomerLogin("seller", "Willow & Thread Home", Role.SELLER, PartyKind.SELLER, "US"),
    CustomerLogin("creator", "Mia Chen (@miamakes)", Role.CREATOR, PartyKind.CREATOR, "US"),
    # A shop's staff member writes to the platform for the shop (the shop's own inbox comes later).
    CustomerLogin("shop.staff", "Noah Patel", Role.SELLER_STAFF, PartyKind.SELLER, "US"),
)


@dataclass(frozen=True)
class LoginRow:
    email: str
    role: str
    look_at: str


LOGINS: tuple[LoginRow, ...] = (
    LoginRow(email_of("admin"), "admin", "directory: markets, vendors, teams, queues, agents, users"),
    LoginRow(email_of("lead"), "lead", "all queues and backlogs, reroutes with reasons, assignment"),
    LoginRow(email_of("t1.us"), "agent_t1 (Blue Harbor)", "only Blue Harbor queues (US, UK); My cases, Get next"),
    LoginRow(email_of("t1.es"), "agent_t1 (Meridian)", "Spain queue in Spanish, US Spanish line; Get next"),
    LoginRow(email_of("t2"), "agent_t2", "Payments & Refunds T2 escalations from Tier 1"),
    LoginRow(email_of("oncall"), "oncall_sme", "oncall escalations (payments outage), T2 backup"),
    LoginRow(email_of("reviewer"), "reviewer", "Appeals queue: open seller and creator appeals to decide"),
    LoginRow(email_of("qa"), "qa", "quality reviews: review queue, agent QA scores, calibration; any case "
                                   "read-only; second reviews of appeals"),
    LoginRow(email_of("buyer"), "buyer (US)", "help center: own cases with threads, reply to a pending one"),
    LoginRow(email_of("seller"), "seller (US)", "help center: payout and listing cases, an appeal, a new decision "
                                                "to appeal"),
    LoginRow(email_of("creator"), "creator (US)", "help center: commission and content cases"),
    LoginRow(email_of("shop.staff"), "seller_staff (US)", "help center: a shop's stock-sync and shipping-label cases"),
    LoginRow(email_of("requester"), "internal_requester", "internal request form and own requests"),
)


@dataclass(frozen=True)
class FieldSpec:
    key: str
    label: str
    type: str = "text"
    required: bool = False
    options: tuple[str, ...] = ()
    help: str = ""

    def as_data(self) -> dict[str, object]:
        data: dict[str, object] = {"key": self.key, "label": self.label, "type": self.type,
                                   "required": self.required}
        if self.options:
            data["options"] = list(self.options)
        if self.help:
            data["help"] = self.help
        return data


@dataclass(frozen=True)
class RequestTypeSpec:
    key: str
    name: str
    description: str
    queue: str
    fields: tuple[FieldSpec, ...] = field(default_factory=tuple)
    share: float = 0.25


REFUND_REASONS = ("carrier lost parcel", "seller unresponsive", "goodwill", "duplicate charge", "other")
SELLER_CONCERNS = ("counterfeit items", "prohibited items", "fake reviews", "off-platform payment", "other")
POLICY_AREAS = ("listings", "payments & refunds", "creator content", "seller standards", "other")
TOOLS = ("TrustDesk console", "Payments admin", "Seller admin", "Reporting warehouse")

REQUEST_TYPES: tuple[RequestTypeSpec, ...] = (
    RequestTypeSpec(
        "refund-exception", "Refund exception approval",
        "A refund outside policy (amount over the agent limit, window expired): Finance Ops approves or declines.",
        "finance-requests", (
            FieldSpec("order_id", "Order ID", required=True, help="BR- followed by nine digits"),
            FieldSpec("amount", "Amount", "number", required=True),
            FieldSpec("currency", "Currency", "select", True, ("USD", "GBP", "EUR", "IDR")),
            FieldSpec("reason", "Reason", "select", True, REFUND_REASONS),
            FieldSpec("details", "Details", "textarea"),
        ), 0.4),
    RequestTypeSpec(
        "seller-account-review", "Seller account review",
        "Ask Trust & Safety to review a shop (counterfeits, prohibited items, fake reviews, payment abuse).",
        "ts-reviews", (
            FieldSpec("shop_id", "Shop ID", required=True),
            FieldSpec("shop_url", "Shop URL", "url"),
            FieldSpec("concern", "Concern", "select", True, SELLER_CONCERNS),
            FieldSpec("evidence", "Evidence", "textarea", True, help="Case references, screenshots, order IDs"),
        ), 0.25),
    RequestTypeSpec(
        "policy-clarification", "Policy clarification",
        "A question for Marketplace Policy when the help-center article or macro does not settle a case.",
        "policy-questions", (
            FieldSpec("policy_area", "Policy area", "select", True, POLICY_AREAS),
            FieldSpec("question", "Question", "textarea", True),
            FieldSpec("case_reference", "Related case", help="e.g. ID-2026-000123"),
            FieldSpec("needed_by", "Needed by", "date"),
        ), 0.2),
    RequestTypeSpec(
        "tooling-access", "Tooling access",
        "Access to an internal tool for a new joiner or a role change; approved by the manager named.",
        "tooling-access", (
            FieldSpec("tool", "Tool", "select", True, TOOLS),
            FieldSpec("access_level", "Access level", "select", True, ("read", "write", "admin")),
            FieldSpec("justification", "Justification", "textarea", True),
            FieldSpec("manager_email", "Manager's e-mail", "email", True),
        ), 0.15),
)
REQUEST_TYPE_BY_KEY = {r.key: r for r in REQUEST_TYPES}
