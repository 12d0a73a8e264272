"""What one client may ask of psi serve (body size, rate per token), and property-based
fuzzing of every route in /openapi.json: no input makes the server fail (5xx)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient

from psi.config import load_settings
from psi.server.app import create_app
from psi.server.tokens import Tokens
from psi.store.db import open_store

pytestmark = pytest.mark.databases  # on SQLite and PostgreSQL

CONFIG = """
default_model = "demo"
[server]
rate_limit = "{rate}"
max_body_bytes = 2000
[models.demo]
backend = "scripted"
model = "demo"
local = true
"""


def app_and_token(write_config: Callable[[str], Path], rate: str) -> tuple[TestClient, str]:
    write_config(CONFIG.format(rate=rate))
    settings = load_settings()
    store = open_store(settings.db_url)
    token = Tokens(store).issue(store.ensure_user("ada"))
    return TestClient(create_app(settings, store=store)), token


def test_too_many_requests_get_429_with_retry_after(write_config: Callable[[str], Path]) -> None:
    client, token = app_and_token(write_config, "3/minute")
    headers = {"Authorization": f"Bearer {token}"}
    codes = [client.get("/v1/models", headers=headers).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    late = client.get("/v1/models", headers=headers)
    assert late.status_code == 429 and 1 <= int(late.headers["retry-after"]) <= 60
    assert "server.rate_limit" in late.json()["error"]["hint"]


def test_a_body_over_the_limit_is_413_and_nothing_is_stored(
    write_config: Callable[[str], Path],
) -> None:
    client, token = app_and_token(write_config, "100/minute")
    headers = {"Authorization": f"Bearer {token}"}
    big = {"messages": [{"role": "user", "content": "x" * 5000}]}
    response = client.post("/v1/chat/completions", json=big, headers=headers)
    assert response.status_code == 413 and "max_body_bytes" in response.json()["error"]["hint"]
    assert client.get("/api/conversations", headers=headers).json()["data"] == []


@pytest.fixture
def fuzzed(write_config: Callable[[str], Path]) -> tuple[object, str]:
    from psi.store.models import User

    client, token = app_and_token(write_config, "100000/minute")
    store = client.app.state.store  # type: ignore[attr-defined]
    with store.session() as session:  # an admin, so that admin routes are fuzzed too
        user = session.get(User, store.ensure_user("ada"))
        user.is_admin = True
    return client.app, token


def test_no_route_fails_on_any_input(fuzzed: tuple[object, str]) -> None:
    app, token = fuzzed
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    seen: list[int] = []
    from hypothesis import HealthCheck, given, settings

    def fuzz(op: Any) -> None:
        where = f"{op.method.upper()} {op.path}"

        # PSI_TEST_FUZZ_EXAMPLES=200 for a longer hunt than the suite's.
        examples = int(os.environ.get("PSI_TEST_FUZZ_EXAMPLES", "15"))

        @settings(max_examples=examples, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(case=op.as_strategy())
        def check(case: schemathesis.Case) -> None:
            response = case.call(headers={"Authorization": f"Bearer {token}"})
            seen.append(response.status_code)
            if response.status_code >= 500:
                failures.append(f"{where}: {response.status_code} {response.text[:200]}")

        check()

    for operation in schema.get_all_operations():
        fuzz(operation.ok())
    assert failures == []
    assert seen.count(200) > 50  # the fuzzing reached the routes, not only the auth wall
