"""psi.routing.decide: every rule, and how they combine, on plain data."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from psi.config import Backend, ModelProfile, RoutingSettings, TaskRule, builtin_profiles
from psi.errors import ConfigError
from psi.routing import (
    Route,
    decide,
    estimate_cost,
    is_remote,
    local_default,
    provider_of,
    status,
)
from psi.sensitivity import Level


def profiles(**extra: ModelProfile) -> dict[str, ModelProfile]:
    found = builtin_profiles()
    found.update(
        ollama=ModelProfile(
            name="ollama",
            backend=Backend.openai,
            model="qwen",
            base_url="http://127.0.0.1:11434/v1",
            tier=3,
        ),
        gpt=ModelProfile(
            name="gpt", backend=Backend.openai, model="gpt", tier=4, price_in=2.5, price_out=10
        ),
        claude=ModelProfile(
            name="claude", backend=Backend.anthropic, model="c", tier=5, price_in=3, price_out=15
        ),
        free=ModelProfile(
            name="free",
            backend=Backend.openai,
            model="f",
            base_url="https://openrouter.ai/api/v1",
            tier=2,
        ),
    )
    found.update(extra)
    return found


PROFILES = profiles()


def route(
    policy: dict[str, Any] | None = None,
    *,
    level: Level = Level.personal,
    task: str | None = None,
    spent: float = 0.0,
    default: str = "local",
    tokens: tuple[int, int] = (1000, 500),
    tools: bool = False,
    found: dict[str, ModelProfile] = PROFILES,
) -> Route:
    return decide(
        task=task,
        level=level,
        policy=RoutingSettings(**(policy or {})),
        profiles=found,
        spent_usd=spent,
        default_model=default,
        tokens_in=tokens[0],
        tokens_out=tokens[1],
        needs_tools=tools,
    )


ALLOW = {"privacy": "allow", "monthly_budget_usd": 10}
STRONGEST = {"planning": "strongest"}


@pytest.mark.parametrize(
    ("case", "kwargs", "chain", "redact", "says"),
    [
        # privacy
        ("default is the local model", {}, ("local",), False, "chose local: the local default"),
        (
            "local-only skips a remote default",
            {"policy": {}, "default": "gpt"},
            ("local",),
            False,
            "skipped gpt: remote, and personal data stays local (routing.privacy = local-only)",
        ),
        (
            "a loopback server is local under local-only",
            {"default": "ollama"},
            ("ollama",),
            False,
            "chose ollama: the local default",
        ),
        (
            "allow sends the default as it is",
            {"policy": ALLOW, "default": "gpt"},
            ("gpt", "local"),
            False,
            "last local: the local default",
        ),
        (
            "redact marks the route",
            {"policy": {**ALLOW, "privacy": "redact"}, "default": "gpt"},
            ("gpt", "local"),
            True,
            "remote calls redacted: privacy for personal data is redact",
        ),
        (
            "routing.default wins over default_model",
            {"policy": {**ALLOW, "default": "claude"}, "default": "gpt"},
            ("claude", "local"),
            False,
            "chose claude: the default",
        ),
        # per-level overrides
        (
            "sensitive data stays home under a level override",
            {
                "policy": {**ALLOW, "levels": {"sensitive": "local-only"}},
                "level": Level.sensitive,
                "default": "gpt",
            },
            ("local",),
            False,
            "sensitive data stays local (routing.levels.sensitive = local-only)",
        ),
        (
            "the override leaves other levels alone",
            {
                "policy": {**ALLOW, "levels": {"sensitive": "local-only"}},
                "level": Level.personal,
                "default": "gpt",
            },
            ("gpt", "local"),
            False,
            "chose gpt",
        ),
        (
            "public data may leave while the rest stays",
            {
                "policy": {"levels": {"public": "redact"}, "monthly_budget_usd": 1},
                "level": Level.public,
                "default": "gpt",
            },
            ("gpt", "local"),
            True,
            "chose gpt",
        ),
        # providers
        (
            "a provider not allowed is skipped",
            {"policy": {**ALLOW, "providers": ["anthropic"]}, "default": "gpt"},
            ("local",),
            False,
            "skipped gpt: provider 'openai' not allowed (allowed: anthropic)",
        ),
        (
            "a provider from a known host",
            {"policy": {**ALLOW, "providers": ["openrouter"]}, "default": "free"},
            ("free", "local"),
            False,
            "chose free",
        ),
        # budget
        (
            "a zero budget allows no paid call",
            {"policy": {"privacy": "allow"}, "default": "gpt"},
            ("local",),
            False,
            "over budget: $0.00 spent",
        ),
        (
            "a zero budget still allows a free remote model",
            {"policy": {"privacy": "allow"}, "default": "free"},
            ("free", "local"),
            False,
            "chose free",
        ),
        (
            "spend plus this call over the cap",
            {"policy": ALLOW, "default": "gpt", "spent": 9.99, "tokens": (10_000, 1000)},
            ("local",),
            False,
            "cap $10.00 a month",
        ),
        (
            "spend plus this call under the cap",
            {"policy": ALLOW, "default": "gpt", "spent": 9.9, "tokens": (10_000, 1000)},
            ("gpt", "local"),
            False,
            "chose gpt",
        ),
        # tasks
        (
            "strongest orders every allowed profile by tier",
            {"policy": {**ALLOW, "tasks": STRONGEST}, "task": "planning"},
            ("claude", "gpt", "ollama", "free", "local"),
            False,
            "chose claude: the strongest allowed",
        ),
        (
            "strongest under local-only stays on the machine",
            {"policy": {"tasks": STRONGEST}, "task": "planning"},
            ("ollama", "local"),
            False,
            "skipped claude: remote",
        ),
        (
            "a task named after a profile, then the default",
            {"policy": {**ALLOW, "tasks": {"review": "gpt"}}, "task": "review", "default": "free"},
            ("gpt", "free", "local"),
            False,
            "chose gpt: named by the task's rule",
        ),
        (
            "a local task keeps a remote default out",
            {
                "policy": {**ALLOW, "tasks": {"small_talk": "local"}},
                "task": "small_talk",
                "default": "gpt",
            },
            ("local",),
            False,
            "chose local: the local default",
        ),
        (
            "a task without a rule takes the default",
            {"policy": ALLOW, "task": "chat", "default": "gpt"},
            ("gpt", "local"),
            False,
            "no rule for task 'chat': the default, gpt",
        ),
        (
            "tier too low is skipped, the local default kept last",
            {
                "policy": {**ALLOW, "tasks": {"planning": {"use": "strongest", "min_tier": 4}}},
                "task": "planning",
            },
            ("claude", "gpt", "local"),
            False,
            "skipped ollama: tier 3 is below the 4 needed for planning",
        ),
        (
            "tools needed skip a model without them",
            {"policy": {**ALLOW, "tasks": STRONGEST}, "task": "planning", "tools": True},
            ("claude", "gpt", "ollama", "free", "local"),
            False,
            "last local: the local default (cannot call tools, needed for planning, but psi",
        ),
        (
            "a rule may ask for tools itself",
            {
                "policy": {**ALLOW, "tasks": {"act": {"use": "default", "tools": True}}},
                "task": "act",
                "default": "free",
                "found": profiles(
                    free=PROFILES["free"].model_copy(update={"supports_tools": False})
                ),
            },
            ("local",),
            False,
            "skipped free: cannot call tools, needed for act",
        ),
        # interplay
        (
            "budget and provider both skip, in order",
            {
                "policy": {**ALLOW, "providers": ["openai"], "tasks": STRONGEST},
                "task": "planning",
                "spent": 10,
            },
            ("ollama", "local"),
            False,
            "skipped claude: provider 'anthropic' not allowed",
        ),
        (
            "local-only beats every other reason",
            {"policy": {"providers": ["openai"], "tasks": STRONGEST}, "task": "planning"},
            ("ollama", "local"),
            False,
            "skipped gpt: remote, and personal data stays local",
        ),
    ],
)
def test_decide(
    case: str, kwargs: dict[str, Any], chain: tuple[str, ...], redact: bool, says: str
) -> None:
    decided = route(**kwargs)
    assert decided.chain == chain, decided.reasons
    assert decided.redact is redact
    assert any(says in reason for reason in decided.reasons), decided.reasons
    assert decided.chain[-1] in ("local", "ollama")


def test_route_names_what_is_remote_and_its_privacy() -> None:
    decided = route({**ALLOW, "privacy": "redact", "tasks": STRONGEST}, task="planning")
    assert decided.remote == {"claude", "gpt", "free"}
    assert decided.privacy == "redact" and decided.first == "claude"
    assert decided.level is Level.personal and decided.task == "planning"


def test_a_route_with_no_model_says_how_to_fix_it() -> None:
    only_remote = {"local": PROFILES["gpt"].model_copy(update={"name": "local"})}
    decided = route(found=only_remote)
    assert decided.chain == ()
    assert "none runs on this machine" in decided.reasons[-1]
    with pytest.raises(ConfigError) as caught:
        _ = decided.first
    assert "routing.privacy" in (caught.value.hint or "")


def test_unknown_profile_in_a_rule_is_skipped_not_fatal() -> None:
    # Settings refuse such a rule (test_config); decide takes any data and still answers.
    policy = RoutingSettings(privacy="allow").model_copy(
        update={"tasks": {"x": TaskRule(use="gone")}}
    )
    decided = decide(task="x", level=Level.public, policy=policy, profiles=PROFILES, spent_usd=0)
    assert decided.chain == ("local",)
    assert "skipped gone: no such profile" in decided.reasons


def test_locality_and_providers() -> None:
    assert not is_remote(PROFILES["local"]) and not is_remote(PROFILES["ollama"])
    assert is_remote(PROFILES["gpt"]) and is_remote(PROFILES["claude"])
    tunnel = ModelProfile.model_validate({**PROFILES["ollama"].model_dump(), "local": False})
    assert is_remote(tunnel)
    assert [provider_of(PROFILES[n]) for n in ("local", "ollama", "gpt", "claude", "free")] == [
        "local",
        "local",
        "openai",
        "anthropic",
        "openrouter",
    ]
    own = ModelProfile(backend=Backend.openai, model="m", base_url="https://llm.example.org/v1")
    assert provider_of(own) == "llm.example.org"
    assert provider_of(own.model_copy(update={"provider": "work"})) == "work"


def test_local_default_prefers_the_default_then_builtin_then_strongest() -> None:
    assert local_default(PROFILES, "ollama") == "ollama"
    assert local_default(PROFILES, "gpt") == "local"
    without_builtin = {k: v for k, v in PROFILES.items() if k != "local"}
    assert local_default(without_builtin, "gpt") == "ollama"
    assert local_default({"gpt": PROFILES["gpt"]}, "gpt") is None


def test_estimate_cost_uses_prices_per_million_tokens() -> None:
    assert estimate_cost(PROFILES["gpt"], 1_000_000, 0) == 2.5
    assert estimate_cost(PROFILES["gpt"], 2000, 1000) == pytest.approx(0.015)
    assert estimate_cost(PROFILES["local"], 10**9, 10**9) == 0


@pytest.mark.parametrize(
    ("policy", "name", "spent", "expected"),
    [
        ({}, "local", 0, "allowed"),
        ({}, "gpt", 0, "blocked: local-only"),
        ({"privacy": "redact", "monthly_budget_usd": 5}, "gpt", 0, "allowed, redacted"),
        ({"privacy": "allow", "monthly_budget_usd": 5}, "gpt", 0, "allowed"),
        ({"privacy": "allow", "monthly_budget_usd": 5}, "gpt", 5, "blocked: over budget"),
        (
            {"privacy": "allow", "providers": ["openai"]},
            "claude",
            0,
            "blocked: provider not allowed",
        ),
        ({"privacy": "allow"}, "free", 0, "allowed"),
    ],
)
def test_status(policy: dict[str, Any], name: str, spent: float, expected: str) -> None:
    decided = status(
        PROFILES[name], level=Level.personal, policy=RoutingSettings(**policy), spent_usd=spent
    )
    assert decided == expected


PRIVACY = st.sampled_from(["local-only", "redact", "allow"])
LEVEL = st.sampled_from(list(Level))


@st.composite
def any_profile(draw: st.DrawFn) -> ModelProfile:
    backend = draw(st.sampled_from(list(Backend)))
    base_url = draw(
        st.sampled_from(
            [None, "http://127.0.0.1:8080/v1", "http://localhost:1/v1", "https://api.x.com/v1"]
        )
    )
    fields: dict[str, Any] = {
        "backend": backend,
        "model": "m",
        "base_url": base_url,
        "tier": draw(st.integers(1, 5)),
        "price_in": draw(st.sampled_from([0.0, 0.5, 30.0])),
        "price_out": draw(st.sampled_from([0.0, 2.0])),
        "supports_tools": draw(st.sampled_from([None, True, False])),
        "provider": draw(st.sampled_from([None, "openai", "x"])),
    }
    local = draw(st.sampled_from([None, True, False]))
    if local is not None:
        fields["local"] = local
    return ModelProfile(**fields)


@st.composite
def any_policy(draw: st.DrawFn, privacy: st.SearchStrategy[str] = PRIVACY) -> RoutingSettings:
    names = st.sampled_from(["local", "a", "b", "c", "strongest", "default"])
    return RoutingSettings(
        privacy=draw(privacy),
        levels=draw(st.dictionaries(st.sampled_from([lv.name for lv in Level]), PRIVACY)),
        providers=draw(st.lists(st.sampled_from(["openai", "x", "local"]), max_size=2)),
        monthly_budget_usd=draw(st.sampled_from([0.0, 1.0, 100.0])),
        tasks={"t": {"use": draw(names), "min_tier": draw(st.integers(1, 5))}},
    )


@given(
    found=st.dictionaries(st.sampled_from(["local", "a", "b", "c"]), any_profile(), min_size=1),
    policy=any_policy(),
    level=LEVEL,
    task=st.sampled_from([None, "t", "other"]),
    spent=st.floats(0, 200),
    tools=st.booleans(),
    default=st.sampled_from(["local", "a", "b", "c", "gone"]),
)
def test_nothing_remote_when_the_level_is_local_only(
    found: dict[str, ModelProfile],
    policy: RoutingSettings,
    level: Level,
    task: str | None,
    spent: float,
    tools: bool,
    default: str,
) -> None:
    found = {name: profile.model_copy(update={"name": name}) for name, profile in found.items()}
    decided = decide(
        task=task,
        level=level,
        policy=policy,
        profiles=found,
        spent_usd=spent,
        default_model=default,
        tokens_in=5000,
        tokens_out=500,
        needs_tools=tools,
    )
    if policy.privacy_for(level) == "local-only":
        assert not any(is_remote(found[name]) for name in decided.chain)
        assert not decided.remote and not decided.redact
    assert len(set(decided.chain)) == len(decided.chain)
    anchor = local_default(found, policy.default or default)
    if anchor is not None:
        assert decided.chain[-1] == anchor


@given(policy=any_policy(privacy=st.just("local-only")), level=LEVEL)
def test_local_only_without_overrides_never_leaves(policy: RoutingSettings, level: Level) -> None:
    policy = policy.model_copy(update={"levels": {}})
    decided = decide(
        task="t", level=level, policy=policy, profiles=profiles(), spent_usd=0, default_model="gpt"
    )
    assert decided.chain and not decided.remote
