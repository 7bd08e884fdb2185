"""How a drain turn waits for sends: the first answer, then briefly for half of the others."""

from __future__ import annotations

import asyncio

from bot.outreach.outbox import finish_some


async def _after(seconds: float, value: int) -> int:
    await asyncio.sleep(seconds)
    return value


def _run(delays: list[float], linger: float) -> tuple[list[int], int, float]:
    """finish_some over tasks sleeping ``delays``: (results, tasks still running, seconds taken)."""

    async def go() -> tuple[list[int], int, float]:
        loop = asyncio.get_running_loop()
        tasks = {asyncio.create_task(_after(d, i)) for i, d in enumerate(delays)}
        started = loop.time()
        finished: list[int] = []
        left = await finish_some(tasks, finished, linger)
        took = loop.time() - started
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)
        return finished, len(left), took

    return asyncio.run(go())


def test_a_turn_takes_half_of_the_sends_when_they_finish_close_together() -> None:
    finished, left, _ = _run([0.001 * i for i in range(8)], linger=1.0)
    assert sorted(finished)[:4] == [0, 1, 2, 3] and len(finished) >= 4 and left == 8 - len(finished)


def test_a_turn_does_not_wait_past_the_linger_for_slow_sends() -> None:
    finished, left, took = _run([0.0, 5.0, 5.0, 5.0], linger=0.02)
    assert finished == [0] and left == 3
    assert took < 1.0  # the linger, not the slow sends


def test_a_single_send_is_recorded_as_soon_as_it_finishes() -> None:
    finished, left, took = _run([0.0], linger=5.0)
    assert finished == [0] and left == 0 and took < 1.0


def test_results_already_waiting_count_towards_the_half() -> None:
    async def go() -> list[int]:
        tasks = {asyncio.create_task(_after(d, i)) for i, d in enumerate([0.0, 5.0])}
        finished = [99]  # recorded at the next commit with these
        left = await finish_some(tasks, finished, 0.02)
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)
        return finished

    assert asyncio.run(go()) == [99, 0]
