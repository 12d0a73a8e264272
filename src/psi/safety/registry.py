"""The guard the settings name (`[safety] guard`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from psi.config import Settings
    from psi.safety.types import Guard


def get_guard(settings: Settings) -> Guard | None:
    backend = settings.safety.guard
    if backend == "none":
        return None
    from psi.safety.embedded import EmbeddedGuard

    return EmbeddedGuard()
