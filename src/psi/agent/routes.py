"""The router a chat uses: the user's policy from settings, this month's spend from the
egress ledger, and psi.routing.decide over the spans of the prompt.

    router = policy_router(lambda: service.settings, spend=month_spend(store, user_id))
    route = router(spans, tools=True)

psi.routing (and with it the egress door's HTTP library) is imported on the first
route, not when a chat starts, so a local `psi ask` does not pay for it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from psi.clock import Clock
from psi.config import Settings
from psi.sensitivity import Span, level_of
from psi.store.db import Store

if TYPE_CHECKING:
    from psi.routing import Route

# Characters per token, for a call's estimated size before it is tokenised.
CHARS_PER_TOKEN = 4


class Router(Protocol):
    def __call__(self, spans: Sequence[Span], *, tools: bool) -> Route: ...


def month_start(now: datetime, zone: ZoneInfo) -> datetime:
    """Midnight on the first of `now`'s month, in the user's timezone."""
    local = now.astimezone(zone)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def month_spend(store: Store, user_id: int, *, zone: ZoneInfo, clock: Clock) -> Callable[[], float]:
    """A function giving this calendar month's remote spend in USD, from the ledger."""

    def spent() -> float:
        from psi.egress.ledger import Ledger

        return Ledger(store, user_id=user_id).spent(since=month_start(clock(), zone))

    return spent


def policy_router(settings: Callable[[], Settings], *, spend: Callable[[], float]) -> Router:
    """Routes under the current settings (read on every call, so /privacy takes effect)."""

    def route(spans: Sequence[Span], *, tools: bool) -> Route:
        from psi.routing import decide

        current = settings()
        chosen = current.profile(current.routing.default or current.default_model)
        return decide(
            task=None,
            level=level_of(spans),
            policy=current.routing,
            profiles=current.profiles(),
            spent_usd=spend(),
            default_model=current.default_model,
            tokens_in=sum(len(span.text) for span in spans) // CHARS_PER_TOKEN,
            tokens_out=chosen.max_tokens,
            needs_tools=tools,
        )

    return route
