"""Suggested replies: for an agent on a case, the three best replies drawn from three kinds of
source, each with the reason it was suggested.

- **Similar resolved cases with good CSAT** (rated 4 or 5): the reply that solved a case whose
  customer asked something like this one, in the same language. Replies that solved several
  such cases are grouped (their support and mean rating are the reason). A case's reply is
  written to another person: it is made impersonal before it is shown (the other customer's and
  agent's names become this case's, their order numbers, e-mail addresses and phone numbers
  become this case's values or visible ``[[placeholders]]``, as in templates), so no other
  customer's data leaks.
- **Matching articles**: the knowledge search's best articles for the customer's words, in the
  case's language (with the market's fallback), as the answering passage plus its link.
- **Response templates** of the case's team in the case's language, ranked by how well they fit
  the customer's words, rendered for this case.

The first pass takes the best of each source (so the agent sees different kinds of help), the
rest are filled by score; near-duplicates are dropped. With ``TRUSTDESK_LLM_BASE_URL`` set, a
draft written from those sources is offered too (``drafts.py``); without it everything works
offline.

What was shown is recorded as a :class:`SuggestionSet`; using a suggestion records which one.
Acceptance rate per team = sets with a use / sets shown (``acceptance``).
"""

from __future__ import annotations

import difflib
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from trustdesk.assist.models import SuggestionSet
from trustdesk.cases.models import AuthorType, Case, Channel, Message, Party, Visibility
from trustdesk.core.errors import Invalid, NotFound
from trustdesk.core.identity import Actor
from trustdesk.core.settings import Settings
from trustdesk.directory import service as directory
from trustdesk.directory.models import Team
from trustdesk.feedback.models import CaseRating
from trustdesk.feedback.service import GOOD_SCORE
from trustdesk.knowledge import bot
from trustdesk.knowledge import index as kb_index
from trustdesk.knowledge.search import base_language, cosines, fold, tokens

SHOWN = 3
MIN_CASE_SIMILARITY = 0.25  # below this a resolved case is not "similar"
MIN_ARTICLE_CONFIDENCE = 0.2  # an agent can judge a weaker article than the bot may send alone
MIN_TEMPLATE_FIT = 0.05
NEAR_DUPLICATE = 0.9  # difflib ratio between two suggestion texts
REUSE_MINUTES = 15  # the same agent reloading the same unchanged case sees the same set
MAX_EXEMPLARS = 20_000  # newest well-rated cases indexed

WORDS = {
    "en": {"more": "You can find the details in our help center: {title} ({url})"},
    "es": {"more": "Tienes todos los detalles en nuestro centro de ayuda: {title} ({url})"},
}


class Source:
    CASE = "case"
    ARTICLE = "article"
    TEMPLATE = "template"
    DRAFT = "draft"


@dataclass(frozen=True)
class Suggestion:
    source: str
    ref: str  # case reference, article key or template key
    title: str
    why: str
    text: str
    locale: str
    score: float  # the source's own measure in [0, 1]: similarity, confidence or fit
    link: str | None = None
    missing: tuple[str, ...] = ()  # [[placeholders]] the agent must fill in
    rank: int = 0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["missing"] = list(self.missing)
        data["score"] = round(self.score, 4)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Suggestion:
        return cls(**{**data, "missing": tuple(data.get("missing", ()))})


@dataclass(frozen=True)
class Context:
    """What makes a suggestion this case's: who it is for, from whom, their own values."""

    language: str
    customer_name: str
    agent_name: str
    fields: dict[str, str]  # the case's custom fields with a text value

    @property
    def customer_first(self) -> str:
        return first_name(self.customer_name)


def first_name(name: str) -> str:
    parts = name.split()
    return parts[0] if parts else name


# ------------------------------------------------------------------ making a reply impersonal

_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_PHONE = re.compile(r"(?<![\w-])\+?\d[\d ()-]{7,}\d\b")
_ORDER_LIKE = re.compile(r"\b[A-Za-z]{1,4}-\d{5,}\b|\b\d{8,}\b")
# Any other token carrying 4 or more digits (tracking numbers, card endings, account or
# postcode-like numbers): another customer's, so never shown.
_TOKEN = re.compile(r"[\w-]+")  # linear: the digits are counted in Python, no nested quantifiers


def impersonal(text: str, *, names: dict[str, str], values: dict[str, str], context: Context
               ) -> tuple[str, tuple[str, ...]]:
    """``text`` written for another case, made this case's: ``names`` maps the other people's
    names to this case's, ``values`` the other case's field values to their field names; what
    this case lacks becomes a visible ``[[field]]`` (the templates' placeholder). Returns the text
    and its placeholders."""
    missing: list[str] = []

    def placeholder(name: str) -> str:
        if name not in missing:
            missing.append(name)
        return f"[[{name}]]"

    for value, name in sorted(values.items(), key=lambda kv: -len(kv[0])):
        if value in text:
            mine = context.fields.get(name)
            text = text.replace(value, mine if mine else placeholder(name))
    for theirs, mine in sorted(names.items(), key=lambda kv: -len(kv[0])):
        if theirs and theirs != mine:
            text = re.sub(rf"\b{re.escape(theirs)}\b", _literal(mine), text)
    own = set(context.fields.values())
    text = _EMAIL.sub(lambda _m: placeholder("email"), text)
    order = context.fields.get("order_id")
    text = _ORDER_LIKE.sub(lambda m: m.group(0) if m.group(0) in own else order if order else placeholder("order_id"),
                           text)
    text = _PHONE.sub(lambda m: m.group(0) if m.group(0) in own else placeholder("phone"), text)
    text = _TOKEN.sub(lambda m: m.group(0) if m.group(0) in own or sum(c.isdigit() for c in m.group(0)) < 4
                      else placeholder("number"), text)
    return text, tuple(missing)


def _literal(replacement: str) -> Callable[[re.Match[str]], str]:
    """A replacement taken as it is (a customer's name may hold backslashes)."""
    return lambda _match: replacement


def name_map(theirs: str, mine: str) -> dict[str, str]:
    """Every part of another person's name (full, first, each further part of two letters or more)
    mapped to this person's: "Maria Lopez" -> "Jordan Reyes", "Maria" -> "Jordan", "Lopez" -> "Reyes"."""
    parts, own = theirs.split(), mine.split()
    if not parts:
        return {}
    mapping = {theirs: mine, parts[0]: own[0] if own else mine}
    last = own[-1] if len(own) > 1 else (own[0] if own else mine)
    for part in parts[1:]:
        if len(part.strip(".")) >= 2:
            mapping.setdefault(part, last)
    return mapping


# ------------------------------------------------------------------ similar resolved cases

@dataclass(frozen=True)
class Exemplar:
    """A well-rated resolved case: what the customer asked and the reply that solved it."""

    case_id: int
    reference: str
    market_id: int
    team_id: int | None
    language: str  # base language
    topic: str | None
    question: str
    reply: str
    rating: int
    customer_name: str
    agent_name: str
    values: dict[str, str]  # its custom field values (text) -> field name


class ExemplarIndex:
    """TF-IDF over the exemplars' questions: stemmed words of their own language, plus character
    n-grams (typos, inflections); similarity is the mean of the two cosines."""

    def __init__(self, exemplars: list[Exemplar]) -> None:
        self.exemplars = exemplars
        self.languages = np.array([e.language for e in exemplars])
        self.markets = np.array([e.market_id for e in exemplars])
        self.teams = np.array([e.team_id if e.team_id is not None else -1 for e in exemplars])
        self._words = TfidfVectorizer(analyzer=_identity, sublinear_tf=True, min_df=1)
        self._chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=1)
        if exemplars:
            self._word_rows = self._words.fit_transform([tokens(e.question, e.language) for e in exemplars])
            self._char_rows = self._chars.fit_transform([fold(e.question) for e in exemplars])

    def similar(self, question: str, language: str, *, market_id: int, teams: Sequence[int] | None = None,
                limit: int = 50) -> list[tuple[Exemplar, float]]:
        """The most similar exemplars in ``language`` and the same market (policies differ between
        markets), among ``teams``' cases when given (a vendor's staff see their vendor's only)."""
        language = base_language(language)
        mask = (self.languages == language) & (self.markets == market_id)
        if teams is not None and len(self.exemplars):
            mask &= np.isin(self.teams, np.array(list(teams), dtype=self.teams.dtype))
        if not self.exemplars or not mask.any():
            return []
        word_query = self._words.transform([tokens(question, language)])
        char_query = self._chars.transform([fold(question)])
        similarity = 0.5 * cosines(self._word_rows, word_query) + 0.5 * cosines(self._char_rows, char_query)
        similarity[~mask] = -1.0
        order = np.argsort(-similarity)[:limit]
        return [(self.exemplars[i], float(similarity[i])) for i in order if similarity[i] >= MIN_CASE_SIMILARITY]


def _identity(tokens_: list[str]) -> list[str]:
    return tokens_


_lock = threading.Lock()
_cached: dict[str, tuple[tuple[object, ...], ExemplarIndex]] = {}


_building = threading.Lock()  # one build at a time: concurrent requests wait for it, not redo it


def _stamp(session: Session) -> tuple[object, ...]:
    """Changes when a good rating is given or replaced, or a rated case changes (a message, a
    move to another team, a merge)."""
    good = CaseRating.score >= GOOD_SCORE
    return tuple(session.execute(select(func.count(CaseRating.id), func.max(CaseRating.rated_at),
                                        func.sum(CaseRating.case_id), func.max(Case.updated_at))
                                 .join(Case, Case.id == CaseRating.case_id).where(good)).one())


def exemplar_index(session: Session) -> ExemplarIndex:
    """The index of well-rated resolved cases, rebuilt once after a rating changes (per process and
    database)."""
    stamp = _stamp(session)
    bind = session.get_bind()
    key = str((bind.engine if isinstance(bind, Connection) else bind).url)
    with _lock:
        cached = _cached.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1]
    with _building:
        with _lock:
            cached = _cached.get(key)
            if cached is not None and cached[0] == stamp:  # another request built it meanwhile
                return cached[1]
        built = ExemplarIndex(load_exemplars(session))
        with _lock:
            _cached[key] = (stamp, built)
    return built


def load_exemplars(session: Session, *, limit: int = MAX_EXEMPLARS) -> list[Exemplar]:
    """Cases rated 4 or 5, newest rating first: subject + first customer message, and the last
    public agent reply before the case was solved."""
    wanted = (CaseRating.score >= GOOD_SCORE, Case.channel != Channel.INTERNAL_FORM.value,
              Case.merged_into_id.is_(None))
    rated = session.execute(
        select(Case.id, Case.reference, Case.market_id, Case.team_id, Case.language, Case.topic, Case.subject,
               Case.custom_fields, Case.solved_at, CaseRating.score, Party.display_name)
        .join(CaseRating, CaseRating.case_id == Case.id).join(Party, Party.id == Case.party_id)
        .where(*wanted).order_by(CaseRating.rated_at.desc(), Case.id.desc()).limit(limit)).all()
    if not rated:
        return []
    good = (select(Case.id).join(CaseRating, CaseRating.case_id == Case.id).where(*wanted)
            .order_by(CaseRating.rated_at.desc(), Case.id.desc()).limit(limit).scalar_subquery())
    first_question: dict[int, str] = {}
    last_reply: dict[int, tuple[str, str, datetime]] = {}
    solved = {row.id: row.solved_at for row in rated}
    messages = session.execute(
        select(Message.case_id, Message.author_type, Message.author_name, Message.body, Message.created_at)
        .where(Message.case_id.in_(good), Message.visibility == Visibility.PUBLIC.value,
               Message.author_type.in_([AuthorType.CUSTOMER.value, AuthorType.AGENT.value]))
        .order_by(Message.case_id, Message.id))
    for case_id, author_type, author_name, body, created_at in messages:
        if case_id not in solved:
            continue
        if author_type == AuthorType.CUSTOMER.value:
            first_question.setdefault(case_id, body)
        elif solved[case_id] is None or created_at <= solved[case_id]:
            last_reply[case_id] = (body, author_name, created_at)
    out = []
    for row in rated:
        if row.id not in last_reply or row.id not in first_question:
            continue
        reply, agent_name, _ = last_reply[row.id]
        values = {str(v): k for k, v in (row.custom_fields or {}).items()
                  if isinstance(v, str | int) and not isinstance(v, bool) and len(str(v)) >= 3}
        out.append(Exemplar(case_id=row.id, reference=row.reference or f"#{row.id}", market_id=row.market_id,
                            team_id=row.team_id, language=base_language(row.language), topic=row.topic,
                            question=f"{row.subject}\n{first_question[row.id]}", reply=reply, rating=row.score,
                            customer_name=row.display_name, agent_name=agent_name, values=values))
    return out


def case_suggestions(index: ExemplarIndex, question: str, context: Context, *, market_id: int,
                     teams: Sequence[int] | None, topic: str | None, exclude_case: int | None,
                     limit: int = SHOWN) -> list[Suggestion]:
    """Replies that solved similar, well-rated cases of the same market that the reader may see
    (``teams``: a vendor's teams; None: every team); one suggestion per distinct reply."""
    groups: dict[str, dict[str, Any]] = {}
    for exemplar, similarity in index.similar(question, context.language, market_id=market_id, teams=teams):
        if exemplar.case_id == exclude_case:
            continue
        names = name_map(exemplar.customer_name, context.customer_name) | name_map(exemplar.agent_name,
                                                                                    context.agent_name)
        text, missing = impersonal(exemplar.reply, names=names, values=exemplar.values, context=context)
        same_topic = topic is not None and exemplar.topic == topic
        key = _normalised(text)
        group = groups.get(key)
        if group is None:
            groups[key] = {"best": exemplar, "similarity": similarity, "text": text, "missing": missing,
                           "ratings": [exemplar.rating], "same_topic": same_topic}
        else:
            group["ratings"].append(exemplar.rating)
            group["same_topic"] = group["same_topic"] or same_topic
    out = []
    for group in groups.values():
        best: Exemplar = group["best"]
        ratings: list[int] = group["ratings"]
        support = len(ratings)
        mean = sum(ratings) / support
        why = (f"Solved {best.reference} (rated {best.rating}/5), whose customer asked much the same "
               f"(similarity {group['similarity']:.2f})")
        if support > 1:
            why += f"; the same reply solved {support} similar cases, mean rating {mean:.1f}/5"
        if group["same_topic"]:
            why += "; same topic"
        # Support lifts a reply a little: a reply that solved many similar cases is a safer bet.
        score = min(1.0, group["similarity"] * (1 + 0.05 * min(support - 1, 4)))
        out.append(Suggestion(source=Source.CASE, ref=best.reference, title=f"Reply that solved {best.reference}",
                              why=why, text=group["text"], locale=context.language, score=score,
                              link=f"/console/cases/{best.case_id}", missing=group["missing"]))
    out.sort(key=lambda s: -s.score)
    return out[:limit]


def _normalised(text: str) -> str:
    return " ".join(fold(text).split())


# ------------------------------------------------------------------ articles

def article_suggestions(session: Session, question: str, *, locale: str, market: str, market_default: str,
                        settings: Settings, tried: frozenset[str] = frozenset(), limit: int = 2) -> list[Suggestion]:
    """The best articles for the question, but not those the assistant already offered the customer
    (``tried``): they did not solve it."""
    out = []
    for found in kb_index.search(session, question, locale=locale, market=market, market_default=market_default,
                                 k=limit + len(tried)):
        hit, version = found.hit, found.shown.version
        if hit.confidence < MIN_ARTICLE_CONFIDENCE or hit.key in tried:
            continue
        link = f"{settings.base_url.rstrip('/')}/help/articles/{hit.key}?lang={version.locale}"
        words = WORDS.get(base_language(version.locale), WORDS["en"])
        text = f"{hit.passage.text}\n\n" + words["more"].format(title=version.title, url=link)
        why = f"Help-center article “{version.title}” answers this with confidence {hit.confidence:.2f}"
        if found.shown.fell_back:
            why += f" (shown in {version.locale}: the article has no {locale} version)"
        out.append(Suggestion(source=Source.ARTICLE, ref=hit.key, title=version.title, why=why, text=text,
                              locale=version.locale, score=hit.confidence, link=f"/help/articles/{hit.key}"))
    return out[:limit]


def tried_articles(session: Session, case: Case) -> frozenset[str]:
    """The articles the assistant offered in the conversation the case was handed off from."""
    conversation_id = (case.custom_fields or {}).get("bot_conversation_id")
    if not isinstance(conversation_id, int):
        return frozenset()
    return frozenset(t.article_key for t in bot.turns(session, conversation_id)
                     if t.kind == "answer" and t.article_key)


# ------------------------------------------------------------------ templates

def template_suggestions(session: Session, case: Case, question: str, *, actor: Actor, settings: Settings,
                         limit: int = 2) -> list[Suggestion]:
    """The case team's templates written in the case's language, rendered for the case (one query for
    their texts; a template that cannot be rendered is left out), ranked by how well their name,
    description and text fit the customer's words (TF-IDF cosine)."""
    from trustdesk.assist import macros

    offers = [o for o in macros.offers_for_case(session, actor, case) if not o.fallback]
    results = macros.render_many_for_case(session, [o.template for o in offers], case, actor=actor,
                                          settings=settings) if offers else {}
    pairs = [(o, r) for o in offers if isinstance(r := results.get(o.template.id), macros.Rendered)]
    if not pairs:
        return []
    offers, rendered = [o for o, _ in pairs], [r for _, r in pairs]
    language = base_language(case.language)
    described = [f"{o.template.name} {o.template.description} {r.text}" for o, r in zip(offers, rendered, strict=True)]
    words = TfidfVectorizer(analyzer=_identity, sublinear_tf=True)
    rows = words.fit_transform([tokens(text, language) for text in [*described, question]])
    fit = cosines(rows[:-1], rows[-1])
    out = []
    for offer, shown, score in zip(offers, rendered, fit, strict=True):
        if score < MIN_TEMPLATE_FIT:
            continue
        template = offer.template
        why = (f"Template “{template.name}” of {offer.team or 'every team'}, used {template.usage_count} "
               f"time{'s' if template.usage_count != 1 else ''}; it fits the customer's words ({score:.2f})")
        out.append(Suggestion(source=Source.TEMPLATE, ref=template.key, title=template.name, why=why, text=shown.text,
                              locale=shown.locale, score=float(score), link=f"/console/templates/{template.id}",
                              missing=tuple(shown.missing)))
    out.sort(key=lambda s: -s.score)
    return out[:limit]


# ------------------------------------------------------------------ choosing three

def choose(by_source: Sequence[Sequence[Suggestion]], *, k: int = SHOWN) -> list[Suggestion]:
    """The best of each source first (best first), then the rest by score; no near-duplicates."""
    picked: list[Suggestion] = []

    def fresh(candidate: Suggestion) -> bool:
        return all(difflib.SequenceMatcher(None, candidate.text, p.text).ratio() < NEAR_DUPLICATE for p in picked)

    firsts = sorted((c[0] for c in by_source if c), key=lambda s: -s.score)
    rest = sorted((s for c in by_source for s in c[1:]), key=lambda s: -s.score)
    for candidate in [*firsts, *rest]:
        if len(picked) == k:
            break
        if fresh(candidate):
            picked.append(candidate)
    return [Suggestion(**{**asdict(s), "rank": rank}) for rank, s in enumerate(picked, start=1)]


# ------------------------------------------------------------------ a case's suggestions

@dataclass
class Shown:
    """A recorded set of suggestions (``row`` is None when nothing fitted: nothing is recorded)."""

    row: SuggestionSet | None
    suggestions: list[Suggestion] = field(default_factory=list)
    question: str = ""  # what the customer asked, for a draft

    @property
    def drafted(self) -> bool:
        return self.row is not None and bool(self.row.items.get("drafted"))


def question_of(session: Session, case: Case) -> str:
    """What the customer asked: the subject, the customer's first message and their latest one
    (the customer's own words only: never the assistant's summary of a hand-off)."""
    bodies = session.scalars(select(Message.body).where(
        Message.case_id == case.id, Message.visibility == Visibility.PUBLIC.value,
        Message.author_type == AuthorType.CUSTOMER.value).order_by(Message.id)).all()
    customer = [b for b in bodies if b]
    parts = [case.subject, *customer[:1], *(customer[-1:] if len(customer) > 1 else [])]
    return "\n".join(parts)


def context_of(session: Session, case: Case, actor: Actor) -> Context:
    party = session.get(Party, case.party_id)
    fields = {k: str(v) for k, v in (case.custom_fields or {}).items()
              if isinstance(v, str | int) and not isinstance(v, bool) and str(v).strip()}
    return Context(language=base_language(case.language), customer_name=party.display_name if party else "",
                   agent_name=actor.display_name, fields=fields)


def visible_teams(session: Session, actor: Actor) -> list[int] | None:
    """The teams whose cases ``actor`` may see (a vendor's staff: their vendor's); None: every team."""
    if actor.vendor_id is None:
        return None
    return list(session.scalars(select(Team.id).where(Team.vendor_id == actor.vendor_id)))


def suggest(session: Session, case: Case, *, actor: Actor, settings: Settings, now: datetime) -> Shown:
    """The suggestions for ``actor`` on ``case``, recorded (or the same set again when the agent
    reloads an unchanged case within a few minutes). A draft from a language model is added
    afterwards, outside this transaction (``add_draft``)."""
    recent = session.scalar(select(SuggestionSet).where(
        SuggestionSet.case_id == case.id, SuggestionSet.user_id == actor.user_id,
        SuggestionSet.created_at >= now - timedelta(minutes=REUSE_MINUTES)).order_by(SuggestionSet.id.desc())
        .limit(1))
    if recent is not None and recent.items.get("case_version") == case.version:
        return Shown(recent, [Suggestion.from_dict(item) for item in recent.items["items"]])
    question = question_of(session, case)
    context = context_of(session, case, actor)
    market = directory.market_by_id(session, case.market_id)
    by_source = [
        case_suggestions(exemplar_index(session), question, context, market_id=case.market_id,
                         teams=visible_teams(session, actor), topic=case.topic, exclude_case=case.id),
        article_suggestions(session, question, locale=case.language, market=market.code,
                            market_default=market.default_language, settings=settings,
                            tried=tried_articles(session, case)),
        template_suggestions(session, case, question, actor=actor, settings=settings),
    ]
    chosen = choose(by_source)
    if not chosen:
        return Shown(None, [], question)
    row = SuggestionSet(case_id=case.id, team_id=case.team_id, user_id=actor.user_id, locale=case.language,
                        items={"items": [s.as_dict() for s in chosen], "case_version": case.version,
                               "drafted": False},
                        created_at=now)
    session.add(row)
    session.flush()
    return Shown(row, chosen, question)


def add_draft(session: Session, set_id: int, draft: str) -> Suggestion:
    """Add a language model's draft (written from the set's suggestions) to the set, last."""
    row = session.get(SuggestionSet, set_id)
    if row is None:
        raise NotFound(f"no suggestion set {set_id}", field="set_id")
    items = list(row.items["items"])
    suggestion = Suggestion(source=Source.DRAFT, ref="draft", title="Draft from these sources",
                            why="Written by the configured language model from the suggestions above; check it "
                                "before you send it",
                            text=draft, locale=row.locale, score=0.0, rank=len(items) + 1)
    row.items = {**row.items, "items": [*items, suggestion.as_dict()], "drafted": True}
    session.flush()
    return suggestion


def use(session: Session, case: Case, set_id: int, rank: int, *, actor: Actor, now: datetime) -> Suggestion:
    """Record that ``actor`` used suggestion ``rank`` of the set they were shown on ``case``."""
    row = session.scalar(select(SuggestionSet).where(SuggestionSet.id == set_id, SuggestionSet.case_id == case.id,
                                                     SuggestionSet.user_id == actor.user_id))
    if row is None:
        raise NotFound(f"you were shown no suggestion set {set_id} on case {case.id}", field="set_id")
    items = [Suggestion.from_dict(item) for item in row.items["items"]]
    chosen = next((s for s in items if s.rank == rank), None)
    if chosen is None:
        raise Invalid(f"rank must be one of {', '.join(str(s.rank) for s in items) or 'none (no suggestions)'}",
                      field="rank")
    row.used_rank, row.used_source, row.used_at = rank, chosen.source, now
    session.flush()
    return chosen


# ------------------------------------------------------------------ acceptance

@dataclass(frozen=True)
class Acceptance:
    team_id: int | None
    team: str
    shown: int  # sets shown
    used: int  # sets with a suggestion used
    by_source: dict[str, int]  # uses per source

    @property
    def rate(self) -> float | None:
        return self.used / self.shown if self.shown else None


def acceptance(session: Session, *, since: datetime, until: datetime,
               teams: Sequence[int] | None = None) -> list[Acceptance]:
    """Per team (``teams`` only, when given): suggestion sets shown in (since, until], how many led
    to a use, uses per source. A set is recorded only when it had suggestions."""
    window = (SuggestionSet.created_at > since, SuggestionSet.created_at <= until,
              *([SuggestionSet.team_id.in_(list(teams))] if teams is not None else []))
    shown = session.execute(select(SuggestionSet.team_id, func.count(), func.count(SuggestionSet.used_at))
                            .where(*window).group_by(SuggestionSet.team_id)).all()
    by_source: dict[int | None, dict[str, int]] = {}
    for team_id, source, count in session.execute(
            select(SuggestionSet.team_id, SuggestionSet.used_source, func.count())
            .where(*window, SuggestionSet.used_source.is_not(None))
            .group_by(SuggestionSet.team_id, SuggestionSet.used_source)):
        by_source.setdefault(team_id, {})[str(source)] = int(count)
    names = {t.id: t.name for t in session.scalars(select(Team).where(
        Team.id.in_([team_id for team_id, _, _ in shown if team_id is not None])))}
    out = [Acceptance(team_id=team_id, team=names.get(team_id, "No team") if team_id else "No team",
                      shown=int(count), used=int(used), by_source=dict(sorted(by_source.get(team_id, {}).items())))
           for team_id, count, used in shown]
    return sorted(out, key=lambda a: (-a.shown, a.team))
