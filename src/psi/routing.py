"""Which model may answer: a pure decision over the user's policy, the data, the task and
the month's spend (no I/O, no clock; the caller brings the spend and the token counts).

    route = decide(task="planning", level=Level.personal, policy=settings.routing,
                   profiles=settings.profiles(), spent_usd=1.20, default_model="local")
    route.chain      # ("gpt", "local"): try gpt, fall back to the embedded model
    route.redact     # True: a remote model on this route sees placeholders, not the data
    route.reasons    # why each profile was chosen or skipped, in words

The policy is checked first, for remote profiles only (a local one never leaves the
machine): the privacy for the data's level (`routing.privacy`, or its override in
`routing.levels`), the providers allowed, and the monthly budget at the profile's
prices. Then the task's needs: its rule's minimum tier and tool calls. The task's
rule orders the candidates (its profile, then the default; or every profile by
tier for "strongest"), and the chain always ends at the local default, kept even
when it falls short of the task, so an answer can always be had at home.

Which profiles are remote is the egress door's own test (psi.egress.door.stays_here),
so a route never names a model the door would treat differently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx2

from psi.config import ModelProfile, Privacy, RoutingSettings, TaskRule
from psi.egress.door import stays_here
from psi.errors import ConfigError
from psi.sensitivity import Level

# API hosts and the provider names users write in routing.providers.
KNOWN_HOSTS = {
    "api.openai.com": "openai",
    "api.anthropic.com": "anthropic",
    "openrouter.ai": "openrouter",
    "generativelanguage.googleapis.com": "google",
    "api.mistral.ai": "mistral",
    "api.groq.com": "groq",
    "api.together.xyz": "together",
    "api.deepseek.com": "deepseek",
}


@dataclass(frozen=True)
class Route:
    """The models to try, in order, and why.

    `chain` starts with the first choice and ends at the local default. Remote
    profiles in it (`remote`) must be called through the egress door under
    `privacy`; `redact` says whether that replaces personal data first.
    """

    chain: tuple[str, ...]
    remote: frozenset[str]
    privacy: Privacy
    redact: bool
    level: Level
    task: str | None
    reasons: tuple[str, ...]

    @property
    def first(self) -> str:
        """The model to call; ConfigError when the policy leaves none."""
        if not self.chain:
            raise ConfigError(
                "No model may answer: the routing policy blocks every remote profile and "
                "none runs on this machine.",
                hint="Add a local profile (the built-in `local` is one unless overridden), "
                "or allow remote ones with `psi config set routing.privacy redact`.",
            )
        return self.chain[0]


def is_remote(profile: ModelProfile) -> bool:
    return not stays_here(profile)


def provider_of(profile: ModelProfile) -> str:
    """The profile's provider: as configured, else "local" for one that stays on the
    machine, the backend's vendor without a base_url, or the base_url's host (a known
    API host by its vendor's name)."""
    if profile.provider:
        return profile.provider
    if stays_here(profile):
        return "local"
    if profile.base_url is None:
        return profile.backend.value
    host = httpx2.URL(profile.base_url).host
    return KNOWN_HOSTS.get(host, host)


def estimate_cost(profile: ModelProfile, tokens_in: int, tokens_out: int) -> float:
    """US dollars for a call of this size at the profile's prices (per million tokens)."""
    return (tokens_in * profile.price_in + tokens_out * profile.price_out) / 1e6


def priced(profile: ModelProfile) -> bool:
    return profile.price_in > 0 or profile.price_out > 0


def blocked(
    profile: ModelProfile,
    *,
    level: Level,
    policy: RoutingSettings,
    spent_usd: float,
    tokens_in: int = 0,
    tokens_out: int = 0,
) -> tuple[str, str] | None:
    """Why the policy keeps this profile from data at `level`, short and in full, or None.
    Only remote profiles are ever blocked."""
    if not is_remote(profile):
        return None
    privacy = policy.privacy_for(level)
    if privacy == "local-only":
        setting = (
            f"routing.levels.{level.name}" if level.name in policy.levels else "routing.privacy"
        )
        return "local-only", f"remote, and {level} data stays local ({setting} = local-only)"
    provider = provider_of(profile)
    if policy.providers and provider not in policy.providers:
        allowed = ", ".join(policy.providers)
        return "provider not allowed", f"provider {provider!r} not allowed (allowed: {allowed})"
    if priced(profile):
        cost = estimate_cost(profile, tokens_in, tokens_out)
        cap = policy.monthly_budget_usd
        if spent_usd >= cap or spent_usd + cost > cap:
            return "over budget", (
                f"over budget: ${spent_usd:.2f} spent + ~${cost:.4f} for this call, "
                f"cap ${cap:.2f} a month (routing.monthly_budget_usd)"
            )
    return None


def status(
    profile: ModelProfile, *, level: Level, policy: RoutingSettings, spent_usd: float
) -> str:
    """A profile's standing under the policy for data at `level`, in a few words:
    "allowed", "allowed, redacted" or "blocked: REASON"."""
    if (why := blocked(profile, level=level, policy=policy, spent_usd=spent_usd)) is not None:
        return f"blocked: {why[0]}"
    if is_remote(profile) and policy.privacy_for(level) == "redact":
        return "allowed, redacted"
    return "allowed"


def local_default(profiles: Mapping[str, ModelProfile], default: str) -> str | None:
    """The profile every chain ends at: the default if it stays on the machine, else the
    built-in `local`, else the strongest local profile; None if none is local."""
    for name in (default, "local"):
        if name in profiles and not is_remote(profiles[name]):
            return name
    local = [name for name, profile in profiles.items() if not is_remote(profile)]
    return _by_strength(local, profiles)[0] if local else None


def _by_strength(names: list[str], profiles: Mapping[str, ModelProfile]) -> list[str]:
    """Highest tier first; then the larger window, the cheaper, and the name."""

    def key(name: str) -> tuple[int, int, float, str]:
        p = profiles[name]
        return (-p.tier, -p.context_window, p.price_in + p.price_out, name)

    return sorted(names, key=key)


def _ranked(
    rule: TaskRule, profiles: Mapping[str, ModelProfile], default: str, anchor: str | None
) -> list[str]:
    """The candidates a rule wants, best first, before any is checked."""
    if rule.use == "strongest":
        return _by_strength(list(profiles), profiles)
    if rule.use == "local":
        return [anchor] if anchor is not None else []
    if rule.use == "default":
        return [default]
    return [rule.use, default]


def decide(
    *,
    task: str | None,
    level: Level,
    policy: RoutingSettings,
    profiles: Mapping[str, ModelProfile],
    spent_usd: float,
    default_model: str = "local",
    tokens_in: int = 0,
    tokens_out: int = 0,
    needs_tools: bool = False,
) -> Route:
    """Pick the models for a call: `task` (a key of routing.tasks, or None), the level of
    the assembled context, the user's policy, every profile by name, this month's remote
    spend in USD, the settings' default_model (routing.default wins over it), the call's
    estimated size in tokens, and whether the caller will offer tools."""
    rule = policy.tasks.get(task, TaskRule()) if task is not None else TaskRule()
    default = policy.default or default_model
    anchor = local_default(profiles, default)
    privacy = policy.privacy_for(level)
    tools = needs_tools or rule.tools
    for_task = f" for {task}" if task else ""
    reasons: list[str] = []
    if task is not None and task not in policy.tasks:
        reasons.append(f"no rule for task {task!r}: the default, {default}")
    chain: list[str] = []
    for name in dict.fromkeys(_ranked(rule, profiles, default, anchor)):
        if name == anchor:
            continue  # it ends the chain, whatever comes before it
        if name not in profiles:
            reasons.append(f"skipped {name}: no such profile")
            continue
        profile = profiles[name]
        why = blocked(
            profile,
            level=level,
            policy=policy,
            spent_usd=spent_usd,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
        )
        short = _short_of(profile, rule, tools, for_task)
        if why is not None or short is not None:
            reasons.append(f"skipped {name}: {why[1] if why is not None else short}")
            continue
        reasons.append(f"{'chose' if not chain else 'then'} {name}: {_merit(name, rule, default)}")
        chain.append(name)
    if anchor is not None:
        short = _short_of(profiles[anchor], rule, tools, for_task)
        role = "chose" if not chain else "last"
        note = f" ({short}, but psi answers at home rather than not at all)" if short else ""
        reasons.append(f"{role} {anchor}: the local default{note}")
        chain.append(anchor)
    elif not chain:
        reasons.append("no profile is allowed and none runs on this machine")
    remote = frozenset(name for name in chain if is_remote(profiles[name]))
    if remote and privacy == "redact":
        reasons.append(f"remote calls redacted: privacy for {level} data is redact")
    return Route(
        chain=tuple(chain),
        remote=remote,
        privacy=privacy,
        redact=bool(remote) and privacy == "redact",
        level=level,
        task=task,
        reasons=tuple(reasons),
    )


def _short_of(profile: ModelProfile, rule: TaskRule, tools: bool, for_task: str) -> str | None:
    """How a profile falls short of the task, or None."""
    if profile.tier < rule.min_tier:
        return f"tier {profile.tier} is below the {rule.min_tier} needed{for_task}"
    if tools and not profile.native_tools:
        return f"cannot call tools, needed{for_task}"
    return None


def _merit(name: str, rule: TaskRule, default: str) -> str:
    if rule.use == "strongest":
        return "the strongest allowed"
    if name == rule.use:
        return "named by the task's rule"
    return "the default" if name == default else "allowed"
