"""A worker's build slots: at most N at once, and the chats whose platform paces the whole bot
(Telegram) let in before the others when they wait together."""

from __future__ import annotations

import asyncio

from bot.service.slots import Slots


def test_waiters_enter_by_priority_then_in_the_order_they_came() -> None:
    entered: list[str] = []

    async def run(slots: Slots, name: str, priority: int, hold: asyncio.Event) -> None:
        async with slots.slot(priority):
            entered.append(name)
            await hold.wait()

    async def go() -> None:
        slots, hold = Slots(1), asyncio.Event()
        first = asyncio.create_task(run(slots, "first", 1, hold))
        await asyncio.sleep(0)  # it holds the only slot
        waiters = [
            asyncio.create_task(run(slots, name, priority, hold))
            for name, priority in [("slack 1", 1), ("telegram 1", 0), ("slack 2", 1),
                                   ("telegram 2", 0)]
        ]  # fmt: skip
        await asyncio.sleep(0)
        assert entered == ["first"]
        hold.set()
        await asyncio.gather(first, *waiters)
        assert slots.free == 1

    asyncio.run(go())
    assert entered == ["first", "telegram 1", "telegram 2", "slack 1", "slack 2"]


def test_a_cancelled_waiter_gives_its_turn_away() -> None:
    async def go() -> list[str]:
        slots, entered = Slots(2), []
        release = asyncio.Event()

        async def hold(name: str) -> None:
            async with slots.slot():
                entered.append(name)
                await release.wait()

        holders = [asyncio.create_task(hold(n)) for n in ("a", "b")]
        await asyncio.sleep(0)
        gone, later = asyncio.create_task(hold("gone")), asyncio.create_task(hold("later"))
        await asyncio.sleep(0)
        gone.cancel()
        release.set()
        await asyncio.gather(*holders, later)
        assert gone.cancelled() and slots.free == 2
        return entered

    assert asyncio.run(go()) == ["a", "b", "later"]


def test_a_ready_group_goes_before_the_others_of_its_priority() -> None:
    """Chats whose criteria is scored (their group ready) are let in before the chats that
    would score another criteria first, within their priority only."""

    async def go() -> list[str]:
        slots, entered, hold = Slots(1), [], asyncio.Event()

        async def run(name: str, priority: int, group: str) -> None:
            async with slots.slot(priority, group):
                entered.append(name)
                await hold.wait()

        first = asyncio.create_task(run("telegram A1", 0, "A"))
        await asyncio.sleep(0)
        waiters = [
            asyncio.create_task(run(name, priority, name[-2]))
            for name, priority in [("telegram B1", 0), ("slack A3", 1), ("telegram A2", 0),
                                   ("slack B2", 1), ("telegram C1", 0)]
        ]  # fmt: skip
        await asyncio.sleep(0)
        slots.ready("A")
        hold.set()
        await asyncio.gather(first, *waiters)
        assert slots.free == 1
        return entered

    assert asyncio.run(go()) == [
        "telegram A1", "telegram A2", "telegram B1", "telegram C1", "slack A3", "slack B2"
    ]  # fmt: skip
