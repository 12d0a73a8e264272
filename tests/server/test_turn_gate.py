"""The gate chat turns pass before their own work (psi.server.state.TurnGate): first come,
first served, and let go from the thread that did the work, once, however it ended."""

from __future__ import annotations

import asyncio

from anyio import to_thread

from psi.server.state import TurnGate


def test_turns_go_in_the_order_they_came_and_leave_from_their_threads() -> None:
    async def run() -> list[str]:
        gate = TurnGate(1)
        order: list[str] = []
        first = await gate.enter()

        async def turn(name: str) -> None:
            leave = await gate.enter()
            try:
                # The work, and leaving the gate, on a worker thread, as a chat turn does.
                await to_thread.run_sync(lambda: (order.append(name), leave()))
            finally:
                leave()  # a second time: nothing more is let go

        waiting = []
        for name in ("ada", "bob", "cy", "dee"):
            waiting.append(asyncio.create_task(turn(name)))
            await asyncio.sleep(0)  # each is at the gate before the next comes
        await asyncio.sleep(0.05)
        assert order == []  # the first turn still holds the gate
        first()
        await asyncio.wait_for(asyncio.gather(*waiting), timeout=5)
        # Every turn left once: the gate takes one again at once, and only one.
        again = await asyncio.wait_for(gate.enter(), timeout=1)
        blocked = asyncio.create_task(gate.enter())
        await asyncio.sleep(0.05)
        assert not blocked.done()
        again()
        (await asyncio.wait_for(blocked, timeout=1))()
        return order

    assert asyncio.run(run()) == ["ada", "bob", "cy", "dee"]
