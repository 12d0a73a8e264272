"""The egress door with a closed model played by a recording server on 127.0.0.1: the
ledger has every request, local-only sends nothing, payloads are kept only when asked."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from psi.cli.main import app
from psi.config import load_settings
from psi.egress.door import stays_here
from psi.egress.ledger import Ledger
from psi.errors import PrivacyRefusal
from psi.llm.registry import get_model
from psi.llm.types import Message
from psi.store.db import Store
from support.fake_openai import FakeOpenAI

runner = CliRunner()


def cloud_config(fake: FakeOpenAI, privacy: str, *, keep: bool = False) -> str:
    return f"""
default_model = "cloud"

[routing]
privacy = "{privacy}"

[egress]
keep_payloads = {"true" if keep else "false"}

[models.cloud]
backend = "openai"
model = "cloud-1"
base_url = "{fake.url}"
local = false
"""


def ledger(store: Store) -> Ledger:
    return Ledger(store, user_id=store.ensure_user("local"))


def test_a_remote_call_is_in_the_ledger(write_config: Callable[[str], Path], store: Store) -> None:
    with FakeOpenAI(lambda request: "Fine, thanks.") as fake:
        write_config(cloud_config(fake, "allow"))
        settings = load_settings()
        model = get_model(settings.profile("cloud"), settings)
        reply = model.chat([Message.user("How are you?")])
    assert reply.text == "Fine, thanks."
    (entry,) = ledger(store).recent()
    assert entry.host == fake.url.split("//")[1].removesuffix("/v1")
    assert entry.path == "/v1/chat/completions" and entry.model == "cloud-1"
    assert entry.tokens_in == 3 and entry.tokens_out is not None
    assert entry.payload is None  # not kept unless asked
    assert entry.payload_sha256 == hashlib.sha256(fake.raw[0]).hexdigest()
    assert entry.payload_bytes == len(fake.raw[0])


def test_kept_payloads_are_what_the_server_received(
    write_config: Callable[[str], Path], store: Store
) -> None:
    with FakeOpenAI() as fake:
        write_config(cloud_config(fake, "allow", keep=True))
        settings = load_settings()
        get_model(settings.profile("cloud"), settings).chat([Message.user("hello")])
    (entry,) = ledger(store).recent()
    assert entry.payload is not None
    assert entry.payload.encode() == fake.raw[0]


def test_local_only_sends_nothing_and_says_why(
    write_config: Callable[[str], Path], store: Store
) -> None:
    with FakeOpenAI() as fake:
        write_config(cloud_config(fake, "local-only"))
        settings = load_settings()
        model = get_model(settings.profile("cloud"), settings)
        with pytest.raises(PrivacyRefusal) as caught:
            model.chat([Message.user("Send my address to the cloud, please.")])
        result = runner.invoke(app, ["ask", "Tell the cloud model my bank details"])
    assert fake.requests == []
    assert "local-only" in caught.value.message
    assert result.exit_code == 4
    assert "local-only" in result.output
    assert ledger(store).recent() == []
    # The question itself is kept, as for any failed model call.
    listed = runner.invoke(app, ["history", "show"])
    assert "Tell the cloud model my bank details" in listed.output


def test_egress_commands_show_the_ledger(write_config: Callable[[str], Path], store: Store) -> None:
    with FakeOpenAI(lambda request: "ok") as fake:
        write_config(cloud_config(fake, "allow", keep=True))
        assert runner.invoke(app, ["ask", "first"]).exit_code == 0
        assert runner.invoke(app, ["ask", "second"]).exit_code == 0
    log = runner.invoke(app, ["egress", "log"])
    assert log.exit_code == 0
    assert log.output.count("/v1") == 0 and log.output.count("cloud-1") == 2
    newest = ledger(store).recent()[0]
    shown = runner.invoke(app, ["egress", "show", str(newest.id)])
    assert shown.exit_code == 0
    assert newest.payload_sha256 in shown.output and "second" in shown.output
    stats = runner.invoke(app, ["egress", "stats"])
    assert stats.exit_code == 0 and "2 requests" in stats.output
    missing = runner.invoke(app, ["egress", "show", "999"])
    assert missing.exit_code != 0 and "No egress record 999" in missing.output


def test_which_profiles_stay_on_the_machine() -> None:
    settings = load_settings()
    assert stays_here(settings.profile("local"))
    from psi.config import ModelProfile

    at_loopback = ModelProfile(backend="openai", model="m", base_url="http://127.0.0.1:8080/v1")
    declared = ModelProfile(
        backend="openai", model="m", base_url="http://127.0.0.1:8080/v1", local=False
    )
    vendor = ModelProfile(backend="openai", model="gpt-x")
    assert stays_here(at_loopback)
    assert not stays_here(declared)  # a tunnel, or a stand-in for a cloud
    assert not stays_here(vendor)
