"""ChatService keeps what its router decides for each turn's labelled prompt."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from psi.agent.chat import ChatService
from psi.agent.routes import month_start
from psi.clock import FrozenClock
from psi.config import RoutingSettings, builtin_profiles, load_settings
from psi.llm.scripted import ScriptedModel
from psi.routing import Route, decide
from psi.sensitivity import Level, Source, Span, level_of
from psi.store.db import Store

NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)


def test_the_router_sees_the_labelled_prompt_and_the_turn_keeps_its_route(store: Store) -> None:
    seen: list[tuple[list[Span], bool]] = []

    def router(spans: Sequence[Span], *, tools: bool) -> Route:
        seen.append((list(spans), tools))
        return decide(
            task=None,
            level=level_of(spans),
            policy=RoutingSettings(),
            profiles=builtin_profiles(),
            spent_usd=0,
        )

    service = ChatService(
        settings=load_settings(),
        store=store,
        user_id=store.ensure_user("local"),
        model=ScriptedModel(["fine"]),
        clock=FrozenClock(NOW),
        router=router,
    )
    turn = service.send("my blood pressure is high")
    assert "".join(turn) == "fine"
    assert not seen  # worked out when asked, not in front of the reply
    route = turn.route()
    assert route is not None and route.chain == ("local",)
    assert route.level is Level.sensitive
    assert turn.route() is route and len(seen) == 1
    spans, tools = seen[0]
    assert [span.source for span in spans] == [Source.system_prompt, Source.user_message]
    assert tools is False
    assert service.last_turn is turn and turn.model_name == service.model.name


def test_month_start_is_midnight_on_the_first_in_the_users_zone() -> None:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Pacific/Auckland")
    start = month_start(datetime(2025, 2, 28, 12, 0, tzinfo=UTC), zone)
    assert (start.year, start.month, start.day, start.hour) == (2025, 3, 1, 0)
    assert start.tzinfo == zone
