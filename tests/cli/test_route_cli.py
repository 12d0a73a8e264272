"""`psi models list` policy column, `psi route explain`, and /why and /privacy in chat."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from psi.cli.main import app
from psi.config import load_settings

runner = CliRunner()

CONFIG = """
default_model = "demo"
[models.demo]
backend = "scripted"
model = "demo"
replies = ["Hello from psi.", "Second answer."]
[models.gpt]
backend = "openai"
model = "gpt-x"
tier = 4
price_in = 2.5
price_out = 10
[models.claude]
backend = "anthropic"
model = "c"
tier = 5
[routing]
privacy = "redact"
monthly_budget_usd = 5
providers = ["openai"]
levels = {sensitive = "local-only"}
tasks = {planning = "strongest"}
"""


@pytest.fixture
def configured(write_config: Callable[[str], Path]) -> Path:
    return write_config(CONFIG)


def psi(*args: str, input: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, list(args), input=input, env={"COLUMNS": "200"})
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_models_list_shows_tier_prices_and_policy_status(configured: Path) -> None:
    code, out = psi("models", "list")
    assert code == 0
    rows = {name: next(line for line in out.splitlines() if f" {name} " in line)
            for name in ("demo", "gpt", "claude")}  # fmt: skip
    assert "allowed" in rows["demo"] and "local" in rows["demo"]
    assert "remote: openai" in rows["gpt"] and "2.5/10" in rows["gpt"]
    assert "allowed, redacted" in rows["gpt"]
    assert "blocked: provider not allowed" in rows["claude"]
    assert "$0.00 of $5.00 spent this month" in out


def test_models_list_under_the_defaults_blocks_remote(write_config: Callable[[str], Path]) -> None:
    write_config('[models.gpt]\nbackend = "openai"\nmodel = "m"\n')
    code, out = psi("models", "list")
    assert code == 0 and "blocked: local-only" in out


def test_route_explain_gives_chain_and_reasons(configured: Path) -> None:
    code, out = psi("route", "explain", "--task", "planning", "plan", "my", "week")
    assert code == 0
    assert "level: personal (a user message)" in out
    assert "route: gpt (remote) -> local -> demo" in out
    assert "privacy: redact, redacted" in out
    assert "skipped claude: provider 'anthropic' not allowed" in out
    code, out = psi("route", "explain", "--task", "planning", "my mortgage is due")
    assert "level: sensitive" in out and "route: local -> demo\n" in out
    code, out = psi("route", "explain", "--level", "public", "anything")
    assert "level: public (--level)" in out


def test_route_explain_refuses_an_unknown_level(configured: Path) -> None:
    code, out = psi("route", "explain", "--level", "secret", "hi")
    assert code == 2
    assert "No sensitivity level 'secret'" in out and "Traceback" not in out


def test_a_bad_routing_config_is_a_clean_error(write_config: Callable[[str], Path]) -> None:
    path = write_config('[routing]\nprivacy = "open"\n')
    code, out = psi("route", "explain", "hi")
    assert code == 2
    assert f"{path}, line 2: routing.privacy" in out and "Traceback" not in out


def test_why_and_privacy_in_chat(configured: Path) -> None:
    code, out = psi("chat", input="/why\nhello there\n/why\n/privacy\n/privacy allow\n")
    assert code == 0
    assert "Nothing answered yet" in out
    assert "demo answered (demo)" in out
    assert "route: demo" in out and "chose demo: the local default" in out
    assert "Privacy is redact." in out
    assert "Privacy is now allow (routing.privacy, saved)." in out
    assert load_settings().routing.privacy == "allow"
    assert 'privacy = "allow"' in configured.read_text()


def test_privacy_refuses_an_unknown_value(configured: Path) -> None:
    code, out = psi("chat", input="/privacy open\n")
    assert code == 2 and "No privacy setting 'open'" in out
    assert load_settings().routing.privacy == "redact"


def test_why_after_a_reply_psi_gave_itself(configured: Path) -> None:
    code, out = psi("chat", input="remember that I like tea\n/why\n")
    assert code == 0 and "psi answered that itself" in out
