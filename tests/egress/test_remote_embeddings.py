"""A remote embedder goes through the door too: texts redacted under "redact", a ledger
row per request, nothing sent under "local-only"."""

from __future__ import annotations

import json

import httpx2
import pytest

from psi.config import EmbedderSettings
from psi.egress.ledger import Ledger
from psi.egress.outbound import Outbound
from psi.egress.redact import Redactor
from psi.embed.openai_embed import OpenAIEmbedder
from psi.errors import PrivacyRefusal
from psi.store.db import Store


def server(seen: list[dict[str, object]]) -> httpx2.MockTransport:
    def answer(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        seen.append(body)
        data = [
            {"object": "embedding", "index": i, "embedding": [0.6, 0.8]}
            for i, _ in enumerate(body["input"])
        ]
        return httpx2.Response(
            200, json={"object": "list", "data": data, "model": "e", "usage": {}}
        )

    return httpx2.MockTransport(answer)


def embedder(store: Store, privacy: str, seen: list[dict[str, object]]) -> OpenAIEmbedder:
    ledger = Ledger(store, user_id=store.ensure_user("local"))
    door = Outbound(
        purpose="texts to embed",
        privacy=privacy,  # type: ignore[arg-type]
        ledger=lambda: ledger,
        redactor=lambda: Redactor([("Margarethe Vollenweider", "PERSON")]),
    )
    config = EmbedderSettings(
        backend="openai", model="embed-1", base_url="https://api.example.test/v1", dim=2
    )
    return OpenAIEmbedder(config, transport=server(seen), outbound=door)


def test_remote_embeddings_are_redacted_and_recorded(store: Store) -> None:
    seen: list[dict[str, object]] = []
    vectors = embedder(store, "redact", seen).embed(
        ["Margarethe Vollenweider called from +49 30 901820", "a plain sentence"]
    )
    assert vectors.shape == (2, 2)
    sent = json.dumps(seen)
    assert "Vollenweider" not in sent and "901820" not in sent
    assert "a plain sentence" in sent
    (entry,) = Ledger(store, user_id=store.ensure_user("local")).recent()
    assert entry.host == "api.example.test" and entry.path == "/v1/embeddings"
    assert entry.redactions.get("PERSON") == 1 and sum(entry.redactions.values()) >= 2


def test_local_only_embeds_nothing_remotely(store: Store) -> None:
    seen: list[dict[str, object]] = []
    with pytest.raises(PrivacyRefusal):
        embedder(store, "local-only", seen).embed(["anything at all"])
    assert seen == []
    assert Ledger(store, user_id=store.ensure_user("local")).recent() == []
