"""Which model drafts goal plans and suggests in reviews, for `psi goal` and `psi serve` alike.

    notes: list[str] = []
    model = planning_model(settings, store, user_id, name=None, notes=notes)
    # None: psi's own rules plan instead, and `notes` says why

Asked for by name, that profile answers. Otherwise, when anything may leave the
machine, the routing policy picks the model for the "planning" task on personal data
(goals are); when nothing may, the default model does, unless it is the embedded
SmolLM2-135M, whose plans psi's own rules beat.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from psi.config import Settings
from psi.errors import PsiError
from psi.store.db import Store

if TYPE_CHECKING:
    from psi.llm.base import ChatModel

Loading = Callable[[str], AbstractContextManager[Any]]


def planning_model(
    settings: Settings,
    store: Store,
    user_id: int,
    *,
    name: str | None,
    notes: list[str],
    loading: Loading | None = None,
) -> ChatModel | None:
    """The model for plans and review suggestions (see the module doc), or None with a note
    saying why. An unknown `name` raises UnknownProfile: the user's to fix. `loading` wraps
    the loading of a model (the CLI shows a spinner)."""
    from psi.llm.registry import get_model

    wait = loading or (lambda _text: nullcontext())
    profile = settings.profile(name)
    if name is None and settings.routing.may_send_out:
        return _routed(settings, store, user_id, notes, wait)
    if name is None and profile.embedded_default:
        notes.append(
            "From psi's own rules: the embedded model is too small for this "
            "(--model local asks it anyway; configure a larger model for better ones)."
        )
        return None
    try:
        with wait(f"Loading {profile.name}…"):
            return get_model(profile, settings)
    except PsiError as error:
        notes.append(f"From psi's own rules: {error.message}")
        return None


def _routed(
    settings: Settings, store: Store, user_id: int, notes: list[str], wait: Loading
) -> ChatModel | None:
    from psi.agent.routes import month_start
    from psi.clock import system_clock
    from psi.egress.ledger import Ledger
    from psi.llm.registry import get_model
    from psi.routing import decide
    from psi.sensitivity import Level

    spent = Ledger(store, user_id=user_id).spent(since=month_start(system_clock(), settings.zone()))
    route = decide(
        task="planning",
        level=Level.personal,
        policy=settings.routing,
        profiles=settings.profiles(),
        spent_usd=spent,
        default_model=settings.default_model,
    )
    for name in route.chain:
        profile = settings.profile(name)
        if profile.embedded_default:
            continue
        privacy = route.privacy if name in route.remote else None
        try:
            with wait(f"Loading {profile.name}…"):
                return get_model(profile, settings, privacy=privacy)
        except PsiError as error:
            notes.append(f"{profile.name} is not available: {error.message}")
    notes.append(
        "From psi's own rules: the routing policy allows no model larger than the "
        "embedded one for planning (psi route explain --task planning says why)."
    )
    return None
