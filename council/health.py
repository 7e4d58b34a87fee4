"""Health and metrics for whoever runs Council: a load balancer, Prometheus, a person.

- ``/healthz``: the process answers (liveness; restart it when this fails).
- ``/readyz``: what it depends on. 503 when the database or Redis (if configured) does not
  answer, because then this worker cannot take questions; collectors and recorders that
  report failures are listed but leave it ready, since the web form and the screen still work.
- ``/metrics``: Prometheus text. Submission, collector and recording figures come from the
  database, so every worker reports the whole cluster's; websocket clients and fan-out times
  are this worker's own (scrape each worker).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from council.live.hub import Hub
from council.models import CollectorState, Recording, Submission
from council.services import Council

router = APIRouter(include_in_schema=False)

FANOUT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


def _database_figures(session: Session) -> dict[str, Any]:
    submissions = session.execute(
        select(Submission.source, Submission.status, func.count()).group_by(
            Submission.source, Submission.status
        )
    ).all()
    collectors = session.execute(
        select(CollectorState.source, CollectorState.status, func.count()).group_by(
            CollectorState.source, CollectorState.status
        )
    ).all()
    recordings = session.execute(
        select(Recording.status, func.count()).group_by(Recording.status)
    ).all()
    return {"submissions": submissions, "collectors": collectors, "recordings": recordings}


class _Figures(Collector):
    """Turns one scrape's figures into metric families."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.figures: dict[str, Any] = {}

    def collect(self) -> Iterable[Metric]:
        submissions = GaugeMetricFamily(
            "council_submissions", "Questions by source and status.", labels=["source", "status"]
        )
        for source, status, count in self.figures.get("submissions", []):
            submissions.add_metric([source, status], count)
        yield submissions
        collectors = GaugeMetricFamily(
            "council_collectors",
            "Collectors (one per meeting and source) by state; 'failed' ones need a moderator.",
            labels=["source", "status"],
        )
        for source, status, count in self.figures.get("collectors", []):
            collectors.add_metric([source, status], count)
        yield collectors
        recordings = GaugeMetricFamily(
            "council_recordings", "Recordings by state.", labels=["status"]
        )
        for status, count in self.figures.get("recordings", []):
            recordings.add_metric([status], count)
        yield recordings
        clients = GaugeMetricFamily(
            "council_websocket_clients",
            "Websocket clients of this worker by audience.",
            labels=["audience"],
        )
        for audience, count in self.hub.audience_counts().items():
            clients.add_metric([audience], count)
        yield clients
        yield CounterMetricFamily(
            "council_websocket_dropped",
            "Clients this worker dropped for falling too far behind.",
            value=self.hub.dropped_total,
        )


class Metrics:
    """One registry per app (never the global one: each test builds its own app)."""

    def __init__(self, hub: Hub) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.figures = _Figures(hub)
        self.registry.register(self.figures)
        self.fanout = Histogram(
            "council_fanout_seconds",
            "Time to hand one batch of committed events to every client of this worker.",
            buckets=FANOUT_BUCKETS,
            registry=self.registry,
        )
        hub.on_fanout = self.fanout.observe


def _council(request: Request) -> Council:
    council: Council = request.app.state.council
    return council


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _select_one(session: Session) -> None:
    session.execute(text("SELECT 1"))


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    council = _council(request)
    checks: dict[str, Any] = {}
    ready = True
    started = time.perf_counter()
    try:
        await council.read(_select_one)
        checks["database"] = {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}
    except Exception as exc:
        ready = False
        checks["database"] = {"ok": False, "error": str(exc) or type(exc).__name__}
    relay = request.app.state.relay
    if relay is not None:
        ok = await relay.ping()
        checks["redis"] = {"ok": ok, "subscribed": relay.connected}
        ready = ready and ok
    if checks["database"]["ok"]:
        figures = await council.read(_database_figures)
        failing = sorted(
            {source for source, status, _ in figures["collectors"] if status == "failed"}
        )
        checks["collectors"] = {"ok": not failing, "failing": failing}
        broken = sum(n for status, n in figures["recordings"] if status == "failed")
        checks["recorder"] = {"ok": broken == 0, "failed_recordings": broken}
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    council = _council(request)
    collected: Metrics = request.app.state.metrics
    collected.figures.figures = await council.read(_database_figures)
    return Response(
        generate_latest(collected.registry), media_type="text/plain; version=0.0.4; charset=utf-8"
    )
