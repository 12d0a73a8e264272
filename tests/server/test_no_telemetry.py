"""psi serve sends no telemetry, even when the environment asks FastAPI's OpenTelemetry
to export to an OTLP endpoint (with its SDK and exporter installed, as the dev extra has
them: without psi switching it off, spans and metrics of every request go there)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from psi.config import load_settings
from psi.server.app import create_app
from psi.server.tokens import Tokens
from psi.store.db import open_store

CONFIG = """
default_model = "demo"
[models.demo]
backend = "scripted"
model = "demo"
replies = ["Noted."]
local = true
open_weight = true
"""


def test_an_environment_asking_for_export_changes_nothing(
    write_config: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as collector:
        collector.bind(("127.0.0.1", 0))
        collector.listen()
        collector.setblocking(False)
        endpoint = f"http://127.0.0.1:{collector.getsockname()[1]}"
        monkeypatch.setenv("FASTAPI_OTEL_AUTO_CONFIGURE", "true")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        write_config(CONFIG)
        settings = load_settings()
        store = open_store(settings.db_url)
        token = Tokens(store).issue(store.ensure_user("ada"))
        auth = {"Authorization": f"Bearer {token}"}
        with TestClient(create_app(settings, store=store)) as client:
            said = {"messages": [{"role": "user", "content": "My PIN is QZ8086."}]}
            reply = client.post("/v1/chat/completions", json=said, headers=auth)
            assert reply.status_code == 200, reply.text
            assert reply.json()["choices"][0]["message"]["content"] == "Noted."
            # A validation failure: what FastAPI's telemetry would log, message and all.
            assert client.post("/v1/chat/completions", json={}, headers=auth).status_code == 422
        store.dispose()
        with pytest.raises(BlockingIOError):
            collector.accept()  # nobody came
