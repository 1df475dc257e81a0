"""Topic models as versioned artifacts: train from history, evaluate, activate, roll back, retrain."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories.api import assert_problem, intake_case
from tests.factories.routing import HISTORY, catalogue_entry, import_topics, seed_history, train
from tests.factories.world import World
from trustdesk.core.clock import FrozenClock
from trustdesk.core.settings import Settings
from trustdesk.routing import registry


def _models(client: TestClient, world: World) -> dict[int, str]:
    return {m["version"]: m["status"] for m in client.get("/api/v1/routing/models",
                                                          headers=world.auth("qa")).json()}


def test_train_registers_a_verified_artifact_with_its_evaluation(client: TestClient, world: World, db: Session,
                                                                 clock: FrozenClock, settings: Settings) -> None:
    import_topics(client, world)
    seed_history(db, world, queue=world.queue_a, now=clock.now())
    model = train(client, world, activate=False)
    assert model["version"] == 1 and model["status"] == "trained"
    assert model["labels"] == sorted(HISTORY)
    assert model["n_train"] == 45 and model["algorithm"] == "linear-svc/tfidf"
    assert model["metrics"]["holdout_cases"] == 9  # the newest fifth, every topic seen before it
    assert model["metrics"]["holdout_accuracy"] >= 0.8
    assert model["metrics"]["topics"] == {topic: 15 for topic in HISTORY}
    assert 0 < model["threshold"] < 1
    stored = registry.model_by_version(db, 1)
    assert (settings.data_dir / stored.path).is_file() and len(stored.sha256) == 64
    assert stored.data_to == clock.now() and stored.data_from == clock.now() - timedelta(days=180)


def test_too_little_history_is_refused_naming_days(client: TestClient, world: World) -> None:
    assert_problem(client.post("/api/v1/routing/models", headers=world.auth("lead"), json={"embeddings": False}),
                   409, "days")
    assert_problem(client.post("/api/v1/routing/models", headers=world.auth("lead"), json={"days": 0}), 422, "days")


def test_activate_and_roll_back(client: TestClient, world: World, db: Session, clock: FrozenClock) -> None:
    import_topics(client, world)
    seed_history(db, world, queue=world.queue_a, now=clock.now())
    catalogue_entry(client, world, topic="payments", market_scope="*", team_id=world.t2.id, tier="t2")
    assert_problem(client.post("/api/v1/routing/models/rollback", headers=world.auth("lead")), 409, "version")
    train(client, world)
    clock.advance(hours=1)
    train(client, world)  # v2, activated: v1 retires
    assert _models(client, world) == {1: "retired", 2: "active"}
    case = intake_case(client, world, subject="Charged twice", body="My card was charged twice for order 77")
    assert client.get(f"/api/v1/cases/{case['id']}/routing", headers=world.auth("lead")).json()["model_version"] == 2
    clock.advance(hours=1)
    rolled = client.post("/api/v1/routing/models/rollback", headers=world.auth("lead"))
    assert rolled.status_code == 200 and rolled.json()["version"] == 1
    assert _models(client, world) == {1: "active", 2: "retired"}
    case = intake_case(client, world, subject="Charged twice", body="My card was charged twice for order 78",
                       external_id="cust-2")
    assert client.get(f"/api/v1/cases/{case['id']}/routing", headers=world.auth("lead")).json()["model_version"] == 1
    assert_problem(client.post("/api/v1/routing/models/1/activate", headers=world.auth("lead")), 409, "version")
    assert_problem(client.post("/api/v1/routing/models/9/activate", headers=world.auth("lead")), 404, "version")


def test_an_altered_artifact_is_never_activated(client: TestClient, world: World, db: Session, clock: FrozenClock,
                                               settings: Settings) -> None:
    import_topics(client, world)
    seed_history(db, world, queue=world.queue_a, now=clock.now())
    train(client, world, activate=False)
    path = Path(settings.data_dir / registry.model_by_version(db, 1).path)
    path.write_bytes(path.read_bytes() + b"tampered")
    problem = assert_problem(client.post("/api/v1/routing/models/1/activate", headers=world.auth("lead")), 409,
                             "version")
    assert "sha256" in problem["detail"]
    assert _models(client, world) == {1: "trained"}


def test_corrected_topics_are_the_labels_of_the_next_model(client: TestClient, world: World, db: Session,
                                                          clock: FrozenClock, settings: Settings) -> None:
    import_topics(client, world)
    seed_history(db, world, queue=world.queue_a, now=clock.now())
    case = intake_case(client, world, topic="account.login", subject="Card charged twice",
                       body="My card was charged twice")
    # An agent corrects the topic, the case closes: its final topic is the label.
    assert client.patch(f"/api/v1/cases/{case['id']}", headers=world.auth("lead") | {"If-Match": "*"},
                        json={"topic": "payments.double_charge"}).status_code == 200
    assert client.post(f"/api/v1/cases/{case['id']}/status", headers=world.auth("lead"),
                       json={"status": "solved"}).status_code == 200
    clock.advance(minutes=5)
    data = registry.training_set(db, since=clock.now() - timedelta(days=180), until=clock.now(), min_examples=5)
    assert data.labels[-1] == "payments.double_charge" and data.texts[-1].startswith("Card charged twice")
    assert len(data.labels) == 46


def test_the_retrain_job_trains_when_due_and_activates_when_not_worse(client: TestClient, world: World,
                                                                     db: Session, clock: FrozenClock,
                                                                     settings: Settings) -> None:
    import_topics(client, world)
    seed_history(db, world, queue=world.queue_a, now=clock.now())
    fast = settings.model_copy(update={"routing_retrain_hours": 24.0})
    registry.train(db, settings=fast, now=clock.now(), trained_by="test", use_embeddings=False)
    db.commit()
    assert registry.retrain(db, settings=fast, now=clock.now() + timedelta(hours=23)) is None  # not due
    retrained = registry.retrain(db, settings=fast, now=clock.now() + timedelta(hours=25))
    assert retrained is not None and retrained.version == 2 and retrained.trained_by == "job"
    assert retrained.status == "active"
    off = fast.model_copy(update={"routing_retrain_hours": 0.0})
    assert registry.retrain(db, settings=off, now=clock.now() + timedelta(days=30)) is None


def test_rolling_back_twice_goes_two_models_back(client: TestClient, world: World, db: Session,
                                                 clock: FrozenClock) -> None:
    import_topics(client, world)
    seed_history(db, world, queue=world.queue_a, now=clock.now())
    for _ in range(3):
        train(client, world)
        clock.advance(hours=1)
    assert _models(client, world) == {1: "retired", 2: "retired", 3: "active"}
    assert client.post("/api/v1/routing/models/rollback", headers=world.auth("lead")).json()["version"] == 2
    clock.advance(minutes=1)
    assert client.post("/api/v1/routing/models/rollback", headers=world.auth("lead")).json()["version"] == 1
    assert_problem(client.post("/api/v1/routing/models/rollback", headers=world.auth("lead")), 409, "version")
    assert _models(client, world) == {1: "active", 2: "retired", 3: "retired"}


def test_the_database_holds_one_active_model_at_most(db: Session, world: World, clock: FrozenClock) -> None:
    import pytest
    from sqlalchemy.exc import IntegrityError

    from trustdesk.routing.models import RoutingModel

    def row(version: int) -> RoutingModel:
        return RoutingModel(version=version, status="active", algorithm="x", path="x", sha256="0" * 64, labels=[],
                            threshold=0.5, metrics={}, n_train=0, data_from=None, data_to=None, trained_by="t",
                            trained_at=clock.now(), activated_at=clock.now(), retired_at=None)

    db.add(row(1))
    db.flush()
    db.add(row(2))
    with pytest.raises(IntegrityError):
        db.flush()
    db.rollback()
