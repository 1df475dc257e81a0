"""Topic models as versioned artifacts: train from the platform's own history, evaluate on a
held-out slice, store the file with its sha256, activate one, roll back to the one before.

The label of a case is its *final* topic (after any correction by an agent), read from closed
and solved cases only, so a case still being worked never teaches a guess. The text is the
subject and the first customer message, exactly what routing sees when a case arrives.
"""

from __future__ import annotations

import hashlib
import io
import logging
import pickle  # only files this module wrote, verified by sha256 before loading
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import f1_score
from sqlalchemy.orm import Session

from trustdesk.cases.models import Status
from trustdesk.core.errors import Conflict, Invalid, NotFound
from trustdesk.core.settings import Settings
from trustdesk.routing import repository
from trustdesk.routing.classifier import Params, TopicClassifier, precision_threshold
from trustdesk.routing.models import ModelStatus, RoutingModel
from trustdesk.text.embeddings import embedder as load_embedder

log = logging.getLogger(__name__)

# Confidence is set so that, on out-of-fold training cases, the cases routed without a human
# are right at least this often; the rest go to triage with suggestions.
ROUTED_PRECISION = 0.9
HOLDOUT_SHARE = 0.2  # the newest fifth of the history is held out to evaluate a new model
MIN_CASES = 30


def case_text(subject: str, body: str) -> str:
    return f"{subject}\n{body}"


@dataclass(frozen=True)
class TrainingSet:
    texts: list[str]
    labels: list[str]
    created: list[datetime]
    dropped_topics: dict[str, int]  # topics with too few examples to learn, and their counts
    since: datetime
    until: datetime


def training_set(session: Session, *, since: datetime, until: datetime, min_examples: int,
                 max_per_topic: int | None = None) -> TrainingSet:
    """Closed and solved cases with a topic, oldest first; each case's final topic is its label.

    With ``max_per_topic`` only each topic's newest cases are kept: frequent topics stop crowding
    out rare ones, and training time stays bounded as history grows.
    """
    rows = repository.case_texts(session, since=since, until=until, with_topic=True,
                                 statuses=(Status.SOLVED.value, Status.CLOSED.value))
    if max_per_topic is not None:
        taken: Counter[str | None] = Counter()
        newest_first = []
        for row in reversed(rows):
            if taken[row.topic] < max_per_topic:
                taken[row.topic] += 1
                newest_first.append(row)
        rows = newest_first[::-1]
    counts = Counter(row.topic for row in rows)
    kept = [row for row in rows if counts[row.topic] >= min_examples]
    dropped = {str(topic): n for topic, n in sorted(counts.items(), key=lambda kv: str(kv[0]))
               if n < min_examples}
    return TrainingSet(texts=[case_text(r.subject, r.body) for r in kept], labels=[str(r.topic) for r in kept],
                       created=[r.created_at for r in kept], dropped_topics=dropped, since=since, until=until)


def train(session: Session, *, settings: Settings, now: datetime, trained_by: str, days: int | None = None,
          use_embeddings: bool = True, params: Params | None = None,
          max_per_topic: int | None = None) -> RoutingModel:
    """Train a new version on the last ``days`` of history and register it (not active yet)."""
    days = days if days is not None else settings.routing_training_days
    if days <= 0:
        raise Invalid("must be a positive number of days", field="days")
    data = training_set(session, since=now - timedelta(days=days), until=now,
                        min_examples=settings.routing_min_examples,
                        max_per_topic=max_per_topic or settings.routing_max_per_topic)
    topics = set(data.labels)
    if len(data.texts) < MIN_CASES or len(topics) < 2:
        raise Conflict(f"{len(data.texts)} closed cases with {len(topics)} topics in the last {days} days; a model "
                       f"needs at least {MIN_CASES} cases and two topics with {settings.routing_min_examples} "
                       "examples each", field="days")
    embedder = load_embedder() if use_embeddings else None
    started = time.perf_counter()
    case_texts = data.texts
    vectors = embedder.encode(case_texts).astype(np.float64) if embedder else None
    # Evaluate on the newest cases, as the model will meet cases newer than anything it saw.
    split = int(len(case_texts) * (1 - HOLDOUT_SHARE))
    holdout = list(range(split, len(case_texts)))
    metrics: dict[str, Any] = {}
    learnt_before = {data.labels[i] for i in range(split)}
    scored = [i for i in holdout if data.labels[i] in learnt_before]
    if split >= MIN_CASES and len(learnt_before) >= 2 and scored:
        probe = TopicClassifier(params, embedder)
        probe.fit(case_texts[:split], data.labels[:split], embeddings=vectors[:split] if vectors is not None else None)
        predicted = probe.predict([case_texts[i] for i in scored])
        truth = [data.labels[i] for i in scored]
        labels = [p.label for p in predicted]
        metrics = {
            "holdout_cases": len(scored),
            "holdout_accuracy": round(float(np.mean([a == b for a, b in zip(labels, truth, strict=True)])), 4),
            "holdout_macro_f1": round(float(f1_score(truth, labels, average="macro", zero_division=0)), 4),
        }
        metrics |= _against_active(session, scored, labels, data, settings=settings)
    classifier = TopicClassifier(params, embedder)
    oof = classifier.fit(case_texts, data.labels, embeddings=vectors)
    classifier.threshold = precision_threshold(oof, precision=ROUTED_PRECISION) if oof is not None else 0.0
    if oof is not None:
        right = [p == t for p, t in zip(oof.predicted, oof.labels, strict=True)]
        kept = oof.confidence >= classifier.threshold
        metrics |= {"oof_accuracy": round(float(np.mean(right)), 4),
                    "routed_share": round(float(np.mean(kept)), 4),
                    "routed_precision": round(float(np.mean(np.array(right)[kept])), 4) if kept.any() else None}
    metrics |= {"train_seconds": round(time.perf_counter() - started, 2),
                "topics": dict(sorted(Counter(data.labels).items())), "dropped_topics": data.dropped_topics,
                "max_per_topic": max_per_topic or settings.routing_max_per_topic}
    version = repository.next_model_version(session)
    path, digest = _save(classifier, settings=settings, version=version)
    model = RoutingModel(
        version=version, status=ModelStatus.TRAINED.value,
        algorithm="linear-svc/tfidf" + (f"+{embedder.name}" if embedder else ""), path=path, sha256=digest,
        labels=list(classifier.labels), threshold=round(classifier.threshold, 4), metrics=metrics,
        n_train=len(case_texts), data_from=data.since, data_to=data.until, trained_by=trained_by, trained_at=now,
        activated_at=None, retired_at=None,
    )
    session.add(model)
    session.flush()
    return model


def _save(classifier: TopicClassifier, *, settings: Settings, version: int) -> tuple[str, str]:
    buffer = io.BytesIO()
    pickle.dump(classifier, buffer, protocol=pickle.HIGHEST_PROTOCOL)
    blob = buffer.getvalue()
    digest = hashlib.sha256(blob).hexdigest()
    relative = Path("models") / "routing" / f"topic-v{version}-{digest[:12]}.pkl"
    target = settings.data_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".tmp")
    temporary.write_bytes(blob)
    temporary.replace(target)
    return relative.as_posix(), digest


# ---------------------------------------------------------------- activation


def models(session: Session) -> Sequence[RoutingModel]:
    return repository.models(session)


def model_by_version(session: Session, version: int) -> RoutingModel:
    model = repository.model_by_version(session, version)
    if model is None:
        raise NotFound(f"model version {version} does not exist", field="version")
    return model


def activate(session: Session, model: RoutingModel, *, settings: Settings, now: datetime,
             rolling_back: bool = False) -> RoutingModel:
    """Route with ``model`` from now on; the model in use before is retired (and can come back)."""
    if model.status == ModelStatus.ACTIVE.value:
        raise Conflict(f"model v{model.version} is active already", field="version")
    try:  # refuse a missing or altered file before anything changes (read again, not from the cache)
        load(model, settings=settings, fresh=True)
    except ModelUnavailable as exc:
        raise Conflict(str(exc), field="version") from exc
    current = repository.active_model(session, for_update=True)
    if current is not None:
        current.status = ModelStatus.RETIRED.value
        current.retired_at = now
        session.flush()
    if not rolling_back:  # a rollback keeps the history of what replaced what, so the next goes further back
        model.replaced_model_id = current.id if current is not None else None
    model.status = ModelStatus.ACTIVE.value
    model.activated_at = now
    model.retired_at = None
    session.flush()
    return model


def rollback(session: Session, *, settings: Settings, now: datetime) -> RoutingModel:
    """Re-activate the model the current one replaced (again: the one before that, and so on)."""
    current = repository.active_model(session)
    if current is None:
        raise Conflict("no model is active, so there is nothing to roll back", field="version")
    previous = session.get(RoutingModel, current.replaced_model_id) if current.replaced_model_id else None
    if previous is None:
        raise Conflict(f"model v{current.version} replaced no model", field="version")
    return activate(session, previous, settings=settings, now=now, rolling_back=True)


def deactivate(session: Session, *, now: datetime) -> RoutingModel:
    """Stop routing by model (cases are routed by rules and the catalogue, or go to triage)."""
    current = repository.active_model(session)
    if current is None:
        raise Conflict("no model is active", field="version")
    current.status = ModelStatus.RETIRED.value
    current.retired_at = now
    return current


# ---------------------------------------------------------------- loading


_cache: dict[str, TopicClassifier] = {}
_cache_lock = threading.Lock()


class ModelUnavailable(RuntimeError):
    """The artifact is missing, altered, or needs the embeddings extra that is not installed."""


def load(model: RoutingModel, *, settings: Settings, fresh: bool = False) -> TopicClassifier:
    """The classifier of ``model``, read once per process (again with ``fresh``) and checked
    against its sha256."""
    path = settings.data_dir / model.path
    key = f"{path.resolve()}:{model.sha256}"
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None and not fresh:
            return cached
        try:
            blob = path.read_bytes()
        except OSError as exc:
            raise ModelUnavailable(f"model v{model.version}: cannot read {path}: {exc.strerror}") from exc
        if hashlib.sha256(blob).hexdigest() != model.sha256:
            raise ModelUnavailable(f"model v{model.version}: {path} does not match its recorded sha256")
        classifier = pickle.loads(blob)  # noqa: S301 - our own artifact, verified above
        if not isinstance(classifier, TopicClassifier):
            raise ModelUnavailable(f"model v{model.version}: {path} does not hold a topic classifier")
        embedding_model = classifier.embedding_model
        try:
            classifier.attach(load_embedder() if embedding_model else None)
        except RuntimeError as exc:
            raise ModelUnavailable(f"model v{model.version}: {exc}") from exc
        _cache[key] = classifier
        return classifier


def active_classifier(session: Session, *, settings: Settings) -> tuple[RoutingModel | None, TopicClassifier | None,
                                                                       str | None]:
    """(model, classifier, problem): the model routing uses now; a problem when it cannot be used."""
    model = repository.active_model(session)
    if model is None:
        return None, None, None
    try:
        return model, load(model, settings=settings), None
    except ModelUnavailable as exc:
        log.warning("routing without a classifier: %s", exc)
        return model, None, str(exc)


# ---------------------------------------------------------------- the retrain job


def retrain_due(session: Session, *, settings: Settings, now: datetime) -> bool:
    if settings.routing_retrain_hours <= 0:
        return False
    newest = max((m.trained_at for m in repository.models(session)), default=None)
    return newest is None or now - newest >= timedelta(hours=settings.routing_retrain_hours)


def retrain(session: Session, *, settings: Settings, now: datetime) -> RoutingModel | None:
    """The scheduled retrain: a new version from recent history, activated when it is at least as
    accurate on its held-out cases as the active model is on the same cases."""
    if not retrain_due(session, settings=settings, now=now):
        return None
    try:
        model = train(session, settings=settings, now=now, trained_by="job")
    except Conflict as exc:
        log.info("routing retrain skipped: %s", exc.detail)
        return None
    if not settings.routing_auto_activate:
        return model
    ours, theirs = model.metrics.get("compared_accuracy"), model.metrics.get("active_model_accuracy")
    if repository.active_model(session) is not None and (ours is None or (theirs is not None and ours < theirs)):
        model.metrics = model.metrics | {"not_activated": f"accuracy {ours} on the compared cases, below the "
                                                          f"active model's {theirs}"}
        return model
    activate(session, model, settings=settings, now=now)
    return model


def _against_active(session: Session, scored: list[int], predicted: list[str], data: TrainingSet, *,
                    settings: Settings) -> dict[str, Any]:
    """The new model's held-out reading against the active model's on the same cases, preferring
    cases newer than anything the active model learnt from (it has seen the older ones)."""
    current = repository.active_model(session)
    if current is None:
        return {}
    try:
        classifier = load(current, settings=settings)
    except ModelUnavailable:
        return {}
    ours = dict(zip(scored, predicted, strict=True))
    newer = [i for i in scored if current.data_to is None or data.created[i] >= current.data_to]
    compare = newer if len(newer) >= MIN_CASES else scored
    theirs = classifier.predict([data.texts[i] for i in compare])
    return {
        "compared_on": len(compare), "compared_newer_than_active": compare is newer,
        "compared_accuracy": round(float(np.mean([ours[i] == data.labels[i] for i in compare])), 4),
        "active_model_accuracy": round(float(np.mean([p.label == data.labels[i]
                                                      for p, i in zip(theirs, compare, strict=True)])), 4),
        "active_model_version": current.version,
    }
