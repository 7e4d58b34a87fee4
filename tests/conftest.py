from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from council.app import create_app
from council.db import Database
from council.settings import Settings
from tests.factories import log_in, make_meeting, make_token, make_user

pytest_plugins = ["tests.fakes.x_api"]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", submission_rate_limit="1000/minute", _env_file=None)


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def db(app: FastAPI) -> Database:
    database: Database = app.state.council.db
    return database


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def meeting(db: Database) -> str:
    return make_meeting(db)


@pytest.fixture
def moderator(client: TestClient, db: Database) -> TestClient:
    """The client, logged in as a moderator, sending its CSRF token on every request."""
    make_user(db)
    client.headers["X-CSRF-Token"] = log_in(client)
    return client


@pytest.fixture
def token(db: Database) -> str:
    make_user(db, "tool")
    return make_token(db, "tool")
