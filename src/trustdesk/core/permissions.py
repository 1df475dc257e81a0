"""Roles and the permission matrix: the one place that says who may do what.

Every API endpoint and console page declares the permission it needs (see ``web.deps``);
a test walks the app's routes and fails if one does not.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    BUYER = "buyer"
    SELLER = "seller"
    CREATOR = "creator"
    SELLER_STAFF = "seller_staff"
    AGENT_T1 = "agent_t1"
    AGENT_T2 = "agent_t2"
    ONCALL_SME = "oncall_sme"
    REVIEWER = "reviewer"
    QA = "qa"
    LEAD = "lead"
    ADMIN = "admin"
    INTERNAL_REQUESTER = "internal_requester"


CUSTOMER_ROLES = frozenset({Role.BUYER, Role.SELLER, Role.CREATOR, Role.SELLER_STAFF})
AGENT_ROLES = frozenset(
    {Role.AGENT_T1, Role.AGENT_T2, Role.ONCALL_SME, Role.REVIEWER, Role.QA, Role.LEAD, Role.ADMIN}
)


class Perm(StrEnum):
    # customers and requesters
    CASE_SUBMIT = "cases.submit"  # open a case for oneself (help center, in-app, API)
    CASE_READ_OWN = "cases.read_own"
    CASE_REPLY_OWN = "cases.reply_own"
    INTERNAL_REQUEST = "internal.request"
    # agents
    CASE_INTAKE = "cases.intake"  # open a case on behalf of any party (channel integrations)
    CASE_READ = "cases.read"
    CASE_REPLY = "cases.reply"
    CASE_NOTE = "cases.note"
    CASE_UPDATE = "cases.update"
    CASE_ASSIGN = "cases.assign"
    CASE_REROUTE = "cases.reroute"
    CASE_STATUS = "cases.status"
    CASE_LINK = "cases.link"
    QUEUE_READ = "queues.read"
    QUEUE_CLAIM = "queues.claim"
    AGENT_PRESENCE = "agents.presence"
    CASE_ESCALATE = "cases.escalate"  # start an escalation ladder by hand, with a reason
    # oncall
    ONCALL_READ = "oncall.read"  # schedules, who is on call, ladders, crises
    ONCALL_RESPOND = "oncall.respond"  # acknowledge any escalation; declare and run crises; swap own shifts
    ONCALL_ADMIN = "oncall.admin"  # schedules, overrides, ladders, feeds of others
    WEBHOOKS_ADMIN = "webhooks.admin"  # webhook endpoints and their secrets
    # knowledge base (published articles are public in the help center)
    KB_EDIT = "kb.edit"  # write drafts and send them to review
    KB_PUBLISH = "kb.publish"  # review and publish someone else's draft
    # replies: response templates (macros) and suggested replies
    TEMPLATES_EDIT = "templates.edit"  # write, translate and retire a team's response templates
    # appeals against enforcement decisions
    APPEAL_FILE = "appeals.file"  # a customer contests a decision about them
    APPEALS_READ = "appeals.read"  # decisions, statements of reasons, appeals, reports
    APPEALS_DECIDE = "appeals.decide"  # decide appeals of the policies one is qualified for
    APPEALS_QA = "appeals.qa"  # second reviews and calibration
    APPEALS_ADMIN = "appeals.admin"  # policies, qualifications, market set-up and launch, misuse measures
    ENFORCEMENT_INGEST = "enforcement.ingest"  # the enforcement systems: record decisions, confirm reversals
    # the feedback loop: dashboards, reports, OKRs, surveys, sentiment rules, QA and coaching
    INSIGHTS_READ = "insights.read"  # dashboards, metrics, emerging issues, weekly reports, OKRs
    INSIGHTS_ADMIN = "insights.admin"  # OKRs, report schedules; acknowledge and end emerging issues
    FEEDBACK_ADMIN = "feedback.admin"  # CSAT survey settings per channel, sentiment rules
    QA_REVIEW = "qa.review"  # score sampled cases on a scorecard; take part in calibration sessions
    QA_COACH = "qa.coach"  # write coaching notes to agents
    QA_ADMIN = "qa.admin"  # scorecards, sampling rules, calibration sessions
    # administration
    DIRECTORY_READ = "directory.read"
    DIRECTORY_ADMIN = "directory.admin"
    CATALOGUE_READ = "catalogue.read"  # topics and who owns them (in-house staff)
    CATALOGUE_EDIT = "catalogue.edit"  # propose catalogue changes, edit and import topics
    CATALOGUE_APPROVE = "catalogue.approve"  # approve or reject someone else's proposal
    ROUTING_READ = "routing.read"  # routing decisions, rules, models and the misroute report
    ROUTING_ADMIN = "routing.admin"  # draft, simulate and publish rules; train, activate and roll back models
    USERS_ADMIN = "users.admin"
    # every signed-in user
    SELF = "self"


_CUSTOMER = {Perm.SELF, Perm.CASE_SUBMIT, Perm.CASE_READ_OWN, Perm.CASE_REPLY_OWN, Perm.APPEAL_FILE}
_AGENT = {
    Perm.SELF, Perm.CASE_READ, Perm.CASE_REPLY, Perm.CASE_NOTE, Perm.CASE_UPDATE, Perm.CASE_STATUS,
    Perm.CASE_REROUTE, Perm.QUEUE_READ, Perm.QUEUE_CLAIM, Perm.AGENT_PRESENCE, Perm.DIRECTORY_READ,
    Perm.CASE_ESCALATE, Perm.ONCALL_READ,
}
_SENIOR_AGENT = _AGENT | {Perm.CASE_LINK, Perm.CASE_ASSIGN, Perm.CATALOGUE_READ, Perm.ROUTING_READ,
                          Perm.ONCALL_RESPOND, Perm.KB_EDIT, Perm.TEMPLATES_EDIT}

ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.BUYER: frozenset(_CUSTOMER),
    Role.SELLER: frozenset(_CUSTOMER),
    Role.CREATOR: frozenset(_CUSTOMER),
    Role.SELLER_STAFF: frozenset(_CUSTOMER),
    Role.INTERNAL_REQUESTER: frozenset(_CUSTOMER | {Perm.INTERNAL_REQUEST}),
    Role.AGENT_T1: frozenset(_AGENT),
    Role.AGENT_T2: frozenset(_SENIOR_AGENT),
    Role.ONCALL_SME: frozenset(_SENIOR_AGENT),
    Role.REVIEWER: frozenset((_AGENT - {Perm.CASE_REROUTE})
                             | {Perm.CATALOGUE_READ, Perm.APPEALS_READ, Perm.APPEALS_DECIDE}),
    Role.QA: frozenset({Perm.SELF, Perm.CASE_READ, Perm.QUEUE_READ, Perm.DIRECTORY_READ, Perm.CATALOGUE_READ,
                        Perm.ROUTING_READ, Perm.ONCALL_READ, Perm.APPEALS_READ, Perm.APPEALS_QA,
                        Perm.INSIGHTS_READ, Perm.QA_REVIEW, Perm.QA_COACH}),
    Role.LEAD: frozenset(_SENIOR_AGENT | {Perm.CASE_INTAKE, Perm.INTERNAL_REQUEST, Perm.CATALOGUE_EDIT,
                                          Perm.CATALOGUE_APPROVE, Perm.ROUTING_ADMIN, Perm.ONCALL_ADMIN,
                                          Perm.KB_PUBLISH, Perm.APPEALS_READ, Perm.APPEALS_DECIDE,
                                          Perm.APPEALS_QA, Perm.APPEALS_ADMIN, Perm.INSIGHTS_READ,
                                          Perm.INSIGHTS_ADMIN, Perm.FEEDBACK_ADMIN, Perm.QA_REVIEW, Perm.QA_COACH,
                                          Perm.QA_ADMIN}),
    Role.ADMIN: frozenset(Perm),
}


def role_has(role: Role, perm: Perm) -> bool:
    return perm in ROLE_PERMISSIONS[role]
