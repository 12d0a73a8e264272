"""A remote moderation API as the guard: only through the egress door (redacted, in the
ledger, refused under local-only), tested against a local server that speaks the API and
is declared remote (`local = false`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from psi.config import load_settings
from psi.egress.ledger import Ledger
from psi.errors import PrivacyRefusal
from psi.safety.moderation import RemoteModeration, hazards_of
from psi.safety.policy import judge
from psi.safety.registry import get_guard
from psi.safety.types import Channel
from psi.store.db import open_store
from support.fake_openai import FakeOpenAI


def config(url: str, privacy: str) -> str:
    return f"""
[routing]
privacy = "{privacy}"
[safety]
guard = "moderation"
guard_model = "mod"
[models.mod]
backend = "openai"
model = "omni-moderation-latest"
base_url = "{url}"
local = false
"""


def violent(text: str) -> dict[str, float]:
    hurt = 0.92 if "hurt" in text else 0.01
    return {"violence": hurt, "harassment": 0.2, "self-harm": 0.0, "sexual": 0.0}


def test_moderation_is_redacted_recorded_and_drives_the_policy(
    write_config: Callable[[str], Path],
) -> None:
    with FakeOpenAI() as fake:
        fake.moderate = violent
        write_config(config(fake.url, "redact"))
        settings = load_settings()
        guard = get_guard(settings)
        assert isinstance(guard, RemoteModeration)
        text = "I will hurt Margarethe Vollenweider, call her on +41 44 668 18 00"
        verdict = judge(guard.assess(text, Channel.user), settings.safety)
        assert (verdict.action, verdict.categories) == ("block", ("S1",))
        sent = fake.raw[-1].decode()
        assert "Vollenweider" not in sent and "668 18 00" not in sent
        assert "[PERSON_1]" in sent
        store = open_store(settings.db_url)
        [entry] = Ledger(store, user_id=store.ensure_user(settings.user)).recent()
        assert entry.path.endswith("/moderations") and entry.redactions.get("PERSON")
        calm = guard.assess("Lovely weather today", Channel.user)
        assert calm.unsafe == pytest.approx(0.2)  # harassment 0.2 is S10's score
        assert judge(calm, settings.safety).action == "allow"


def test_under_local_only_nothing_reaches_the_moderation_api(
    write_config: Callable[[str], Path],
) -> None:
    with FakeOpenAI() as fake:
        write_config(config(fake.url, "local-only"))
        guard = get_guard(load_settings())
        assert guard is not None
        with pytest.raises(PrivacyRefusal, match="local-only") as caught:
            guard.assess("hello", Channel.user)
        assert "safety.guard embedded" in (caught.value.hint or "")
        assert fake.raw == []


def test_categories_map_to_the_largest_score_per_code() -> None:
    scores = {"hate": 0.3, "harassment": 0.7, "self-harm/intent": 0.6, "unknown": 0.9}
    assert hazards_of(scores) == {"S10": 0.7, "S11": 0.6}
