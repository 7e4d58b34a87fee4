"""What a load balancer and Prometheus see: liveness, readiness, and the figures."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from council.app import create_app
from council.db import Database
from council.settings import Settings
from tests.factories import free_port, make_question


def metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name) + (r"\{" + re.escape(wanted) + r"\}" if labels else "") + r" (\S+)"
    found = re.search(r"^" + pattern + "$", text, re.MULTILINE)
    assert found, f"{name} {labels} not in the metrics"
    return float(found.group(1))


def test_healthz_answers_while_the_process_runs(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_checks_the_database(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["collectors"] == {"ok": True, "failing": []}
    assert "redis" not in body["checks"], "no Redis configured, none checked"


def test_readyz_is_503_when_redis_does_not_answer(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", redis_url=f"redis://127.0.0.1:{free_port()}/0", _env_file=None
    )
    with TestClient(create_app(settings)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"]["ok"] is False


def test_metrics_count_questions_clients_and_fan_outs(
    client: TestClient, db: Database, meeting: str, token: str
) -> None:
    make_question(db)
    approved = make_question(db, text="¿Y la piscina?")
    with client.websocket_connect(f"/ws/meetings/{meeting}") as ws:
        ws.receive_json()
        text = client.get("/metrics").text
        assert metric(text, "council_submissions", source="web", status="pending") == 2
        assert metric(text, "council_websocket_clients", audience="public") == 1
        before = metric(text, "council_fanout_seconds_count")
        response = client.post(
            f"/api/meetings/{meeting}/submissions/{approved.id}/approve",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200
        ws.receive_json()
    text = client.get("/metrics").text
    assert metric(text, "council_submissions", source="web", status="approved") == 1
    assert metric(text, "council_fanout_seconds_count") > before
