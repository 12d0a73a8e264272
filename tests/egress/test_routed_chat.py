"""Chat routed by the policy, with a closed model played by a recording server on
127.0.0.1: it answers when allowed, a failure falls back to the local model with a note,
and a spent budget keeps the next message local."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from psi.agent.chat import ChatService
from psi.config import load_settings
from psi.egress.ledger import Ledger
from support.fake_openai import FakeOpenAI

runner = CliRunner()


def config(
    fake: FakeOpenAI, *, privacy: str = "allow", budget: float = 5.0, price: float = 1.0
) -> str:
    return f"""
default_model = "cloud"

[routing]
privacy = "{privacy}"
monthly_budget_usd = {budget}

[models.local]
backend = "scripted"
model = "stand-in for the embedded model"
local = true
replies = ["Local answer."]

[models.cloud]
backend = "openai"
model = "cloud-1"
base_url = "{fake.url}"
local = false
tier = 4
price_in = {price}
price_out = {price}
"""


def ask(text: str) -> tuple[str, list[str], ChatService]:
    service = ChatService.open(load_settings(), embed=False)
    turn = service.send(text)
    reply = "".join(turn)
    return reply, turn.notes, service


def test_the_route_picks_the_cloud_model_when_allowed(
    write_config: Callable[[str], Path],
) -> None:
    with FakeOpenAI(lambda request: "Cloud answer.") as fake:
        write_config(config(fake))
        reply, notes, service = ask("What should I cook tonight?")
        route = service.last_turn.route() if service.last_turn else None
    assert reply == "Cloud answer." and notes == []
    assert route is not None and route.chain[0] == "cloud"
    assert len(fake.requests) == 1


def test_a_failing_cloud_model_falls_back_to_the_local_one_with_a_note(
    write_config: Callable[[str], Path],
) -> None:
    with FakeOpenAI(status=500) as fake:
        write_config(config(fake))
        reply, notes, service = ask("What should I cook tonight?")
        stored = [m.content for m in service.history()]
    assert reply == "Local answer."
    assert len(notes) == 1 and "cloud failed" in notes[0] and "answered by local" in notes[0]
    # The question and the answer that came are both kept.
    assert stored == ["What should I cook tonight?", "Local answer."]
    assert fake.requests  # it was tried (and retried) before falling back


def test_a_spent_budget_keeps_the_next_message_local(
    write_config: Callable[[str], Path],
) -> None:
    # A call is estimated at about 600 tokens (the reply budget, mostly), so it fits a
    # 1-cent budget at $10 per million; the server then reports 5,000 prompt tokens.
    with FakeOpenAI(lambda request: "Cloud answer.", prompt_tokens=5000) as fake:
        write_config(config(fake, budget=0.01, price=10.0))
        first, _, service = ask("Plan my week, please.")
        spent = Ledger(service.store, user_id=service.user_id).spent(
            since=service.clock().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        )
        second, _, later = ask("And what about next week?")
        route = later.last_turn.route() if later.last_turn else None
    assert first == "Cloud answer."
    assert spent > 0.01  # the ledger priced the first call from its usage
    assert second == "Local answer."
    assert route is not None and route.chain[0] == "local"
    assert any("budget" in reason for reason in route.reasons)
    assert len(fake.requests) == 1


def test_local_only_never_reaches_the_cloud_even_as_the_default(
    write_config: Callable[[str], Path],
) -> None:
    with FakeOpenAI() as fake:
        write_config(config(fake, privacy="local-only"))
        result = runner.invoke(_app(), ["ask", "My card number is 4111 1111 1111 1111"])
    assert fake.requests == []
    assert result.exit_code == 4 and "local-only" in result.output


def _app():  # type: ignore[no-untyped-def]
    from psi.cli.main import app

    return app


def test_sensitive_data_stays_local_when_the_policy_says_so(
    write_config: Callable[[str], Path],
) -> None:
    """Remote models are allowed, but not for sensitive data: a card number in the
    message (found by the PII detector) keeps that turn on the local model."""
    with FakeOpenAI(lambda request: "Cloud answer.") as fake:
        write_config(config(fake) + '\n[routing.levels]\nsensitive = "local-only"\n')
        plain, _, _ = ask("What should I cook tonight?")
        card, _, service = ask("Is 4111 1111 1111 1111 the card I used for the flight?")
        route = service.last_turn.route() if service.last_turn else None
    assert plain == "Cloud answer."
    assert card == "Local answer."
    assert route is not None and route.level.name == "sensitive" and route.chain == ("local",)
    assert len(fake.requests) == 1
    assert all("4111" not in raw.decode() for raw in fake.raw)


def test_planning_goes_to_the_strongest_allowed_model(
    write_config: Callable[[str], Path],
) -> None:
    """Task rules: with remote models allowed and `planning = "strongest"`, `psi goal add`
    asks the tier-4 cloud model (which here answers nonsense, so psi's own rules plan)."""
    with FakeOpenAI(lambda request: "not a plan") as fake:
        write_config(
            config(fake).replace('default_model = "cloud"', 'default_model = "local"')
            + '\n[routing.tasks]\nplanning = "strongest"\n'
        )
        result = runner.invoke(
            _app(), ["goal", "add", "Read 24 books by December 2027", "--baseline", "0", "-y"]
        )
    assert result.exit_code == 0, result.output
    assert fake.requests, "the planning model was asked"
    assert "Read 24 books" in runner.invoke(_app(), ["goal", "list"]).output
