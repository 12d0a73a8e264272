"""The guard the settings name (`[safety] guard`): embedded, llama-guard, moderation or none."""

from __future__ import annotations

from typing import TYPE_CHECKING

from psi.errors import ConfigError

if TYPE_CHECKING:
    from psi.config import Settings
    from psi.safety.types import Guard


def get_guard(settings: Settings) -> Guard | None:
    backend = settings.safety.guard
    if backend == "none":
        return None
    if backend == "embedded":
        from psi.safety.embedded import EmbeddedGuard

        return EmbeddedGuard()
    if settings.safety.guard_model is None:
        raise ConfigError(
            f"safety.guard = {backend} needs the model profile that serves it.",
            hint=f"Add a profile for your {backend} server and set safety.guard_model to it.",
        )
    if backend == "moderation":
        from psi.safety.moderation import RemoteModeration

        return RemoteModeration(settings.profile(settings.safety.guard_model), settings)
    from psi.llm.registry import get_model
    from psi.safety.llamaguard import LlamaGuard

    return LlamaGuard(get_model(settings.profile(settings.safety.guard_model), settings))
