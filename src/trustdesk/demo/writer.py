"""Plays planned cases through the case services, so every row and event is what TrustDesk itself
would have written: ``open_case`` (or ``file_internal_request``), ``assign_case``,
``add_agent_reply``, ``add_customer_message``, ``add_internal_note``, ``change_status``,
``reroute_case``, ``update_case`` and ``link_cases``, each with the step's own time.

Only the steps up to "now" are played. Agents' capacity is respected for the work they still hold
at the end: when a recent case would push every fitting agent over capacity, it stays unassigned
in its queue, which is exactly the backlog "Get next" and the queue pages show.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from trustdesk.cases import service as cases
from trustdesk.cases.models import Case, LinkKind, Party, PartyKind, Status
from trustdesk.core.events import SYSTEM
from trustdesk.core.identity import Actor
from trustdesk.core.notifications import Notification
from trustdesk.core.outbox import OutboxMessage
from trustdesk.core.settings import Settings
from trustdesk.demo import texts
from trustdesk.demo.planner import HOLDING, STAFF_BY_KEY, Action, CasePlan, Step
from trustdesk.demo.structure import Directory, customer_actor
from trustdesk.feedback import service as feedback

# A case assigned this recently may be left waiting in its queue when every fitting agent is full.
RECENT = timedelta(hours=12)


@contextmanager
def history_without_side_effects(session: Session) -> Iterator[None]:
    """Drop the outbox messages the services enqueue, and the notifications they write, while
    writing history (a catalogue gap months ago is not news to anyone today).

    ``open_case`` and ``reroute_case`` enqueue ``cases.assign`` (and later domains will enqueue
    notifications). For demo history those are not live work: the writer assigns cases itself,
    and letting the embedded worker replay twenty thousand old messages at startup would
    re-examine every case (and, once notifications exist, mail fake customers). The messages are
    expunged before each flush, so they never reach the table. Live cases left unassigned in an
    auto-assign queue are still picked up by the ``assign_waiting`` sweep of ``trustdesk serve``.
    """

    def drop(flushing: Session, _context: Any, _instances: Any) -> None:
        for obj in list(flushing.new):
            if isinstance(obj, OutboxMessage | Notification):
                flushing.expunge(obj)

    event.listen(session, "before_flush", drop)
    try:
        yield
        drop(session, None, None)
        session.info.pop("outbox_pending", None)
    finally:
        event.remove(session, "before_flush", drop)


class CaseWriter:
    def __init__(self, session: Session, directory: Directory, parties: dict[str, Party], *, settings: Settings,
                 now: datetime, loads: dict[int, int]) -> None:
        self.session = session
        self.directory = directory
        self.parties = parties
        self.settings = settings
        self.now = now
        self.loads = loads
        self.agent_keys = directory.agent_keys
        self.members: dict[int, list[str]] = {}
        for key, spec in STAFF_BY_KEY.items():
            for team in spec.teams:
                if spec.works_cases and key in directory.agents:
                    self.members.setdefault(directory.teams[team].id, []).append(key)

    def write(self, plans: list[CasePlan]) -> list[Case]:
        written: list[Case] = []
        primary: Case | None = None
        for plan in plans:
            # The services' queries (intake queues, team memberships, attachment counts) read rows
            # committed before the batch; autoflushing before each of them would only cost time.
            with self.session.no_autoflush:
                case = self._write_one(plan, primary)
            if not plan.duplicate_of_primary:
                primary = case
            written.append(case)
        return written

    # ---------------------------------------------------------------- one case

    def _write_one(self, plan: CasePlan, primary: Case | None) -> Case:
        case = self._open(plan)
        expected = self.directory.queues[plan.queue]
        if case.queue_id != expected.id:
            raise RuntimeError(f"intake put a demo case in queue {case.queue_id}, not {plan.queue}: the database "
                               "has queues the demo does not know; load the demo into an empty database")
        steps = [s for s in plan.steps if s.at <= self.now]
        capacity_step = self._capacity_step(steps)
        for index, step in enumerate(steps):
            if step.action is Action.ASSIGN and index == capacity_step:
                if not self._assign_within_capacity(case, plan, step):
                    break  # everyone who could take it is full: it waits in the queue
                continue
            self._play(case, plan, step, primary)
        if Status(case.status) in HOLDING and case.assignee_id is not None:
            self.loads[case.assignee_id] = self.loads.get(case.assignee_id, 0) + 1
        return case

    def _open(self, plan: CasePlan) -> Case:
        party = self.parties[plan.party]
        if plan.kind is PartyKind.INTERNAL:
            assert plan.request_type is not None and plan.requester is not None
            return cases.file_internal_request(
                self.session, self.directory.actors[plan.requester], plan.request_type, plan.market, plan.subject,
                plan.body, dict(plan.custom_fields), plan.priority, settings=self.settings, now=plan.at).case
        new = cases.NewCase(channel=plan.channel, market=self.directory.markets[plan.market], party=party,
                            subject=plan.subject, body=plan.body, language=plan.language, priority=plan.priority,
                            topic=plan.topic, tags=list(plan.tags), custom_fields=dict(plan.custom_fields))
        return cases.open_case(self.session, new, actor=customer_actor(party), settings=self.settings,
                               now=plan.at).case

    def _capacity_step(self, steps: list[Step]) -> int | None:
        """The index of the assignment that leaves an agent holding the case at the end, if recent."""
        if not steps or steps[-1].status_after not in HOLDING or steps[-1].assignee_after is None:
            return None
        last = max((i for i, s in enumerate(steps) if s.action is Action.ASSIGN), default=None)
        if last is None or steps[last].at < self.now - RECENT:
            return None
        return last

    def _assign_within_capacity(self, case: Case, plan: CasePlan, step: Step) -> bool:
        assert step.agent is not None and case.team_id is not None
        colleagues = sorted(
            key for key in self.members.get(case.team_id, [])
            if key != step.agent and plan.language in STAFF_BY_KEY[key].languages
        )
        candidates = [step.agent, *colleagues]
        for key in candidates:
            agent = self.directory.agents[key]
            if self.loads.get(agent.id, 0) < agent.capacity:
                self._assign(case, key, step)
                return True
        return False

    def _assign(self, case: Case, key: str, step: Step) -> None:
        agent = self.directory.agents[key]
        actor = self.directory.actors[key] if step.claimed else SYSTEM
        cases.assign_case(self.session, case, agent, actor=actor, now=step.at,
                          reason="claimed" if step.claimed else "auto")

    def _actor(self, case: Case, who: str) -> Actor:
        if who == "assignee":
            if case.assignee_id is None:
                raise RuntimeError(f"demo case {case.reference}: a step needs an assignee and there is none")
            return self.directory.actors[self.agent_keys[case.assignee_id]]
        return self.directory.actors[who]

    def _text(self, plan: CasePlan, template: str, actor: Actor | None = None) -> str:
        values = dict(plan.values)
        values["agent"] = actor.display_name.split()[0] if actor else ""
        return template.format_map(values)

    def _agent_reply(self, case: Case, plan: CasePlan, body: str, actor: Actor) -> str:
        values = {"first": plan.values["first"], "agent": actor.display_name}
        language = plan.language if plan.language in texts.GREETING else "en"
        if plan.channel.value == "in_app_chat":
            if case.first_agent_reply_at is None:
                return texts.CHAT_GREETING[language].format_map(values) + body
            return body
        greeting = texts.GREETING[language].format_map(values)
        if plan.kind is PartyKind.INTERNAL:
            return f"{greeting}\n\n{body}\n\n{actor.display_name}"
        return f"{greeting}\n\n{body}\n\n{texts.SIGN_OFF[language].format_map(values)}"

    def _play(self, case: Case, plan: CasePlan, step: Step, primary: Case | None) -> None:
        session, settings, at = self.session, self.settings, step.at
        if step.action is Action.ASSIGN:
            assert step.agent is not None
            self._assign(case, step.agent, step)
        elif step.action is Action.REPLY:
            actor = self._actor(case, step.actor)
            body = self._agent_reply(case, plan, self._text(plan, step.text, actor), actor)
            cases.add_agent_reply(session, case, body=body, actor=actor, settings=settings, now=at,
                                  then_status=step.status)
        elif step.action is Action.CUSTOMER:
            party = self.parties[plan.party]
            actor = (self.directory.actors[plan.requester] if plan.requester else customer_actor(party))
            cases.add_customer_message(session, case, body=self._text(plan, step.text), actor=actor,
                                       settings=settings, now=at)
        elif step.action is Action.NOTE:
            actor = self._actor(case, step.actor)
            cases.add_internal_note(session, case, body=self._text(plan, step.text, actor), actor=actor,
                                    settings=settings, now=at)
        elif step.action is Action.STATUS:
            assert step.status is not None
            cases.change_status(session, case, step.status, actor=self._actor(case, step.actor), now=at,
                                reason=step.reason)
        elif step.action is Action.REROUTE:
            assert step.queue is not None
            actor = self._actor(case, step.actor)
            cases.reroute_case(session, case, to_queue=self.directory.queues[step.queue], reason=step.reason,
                               actor=actor, settings=settings, now=at, note=self._text(plan, step.text, actor))
        elif step.action is Action.UPDATE:
            cases.update_case(session, case, dict(step.changes), actor=self._actor(case, step.actor), now=at)
        elif step.action is Action.LINK:
            assert primary is not None
            plan.values["ref"] = primary.reference or ""
            cases.link_cases(session, case, primary, LinkKind.DUPLICATE_OF, actor=self._actor(case, step.actor),
                             now=at)
        elif step.action is Action.RATE:
            assert step.score is not None
            party = self.parties[plan.party]
            feedback.rate_case(session, case, score=step.score, channel=plan.channel.value,
                               actor=customer_actor(party), now=at)
        elif step.action is Action.CLOSE:
            cases.change_status(session, case, Status.CLOSED, actor=SYSTEM, now=at, reason=step.reason)

