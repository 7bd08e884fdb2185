"""`dunbot web` and `dunbot run` freeze the heap they start with (bot.web.server.serve, freeze_heap),
so the cyclic collector's full passes do not walk it in the middle of a page; tests' servers don't."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import asyncio, gc, sys
    from starlette.applications import Starlette
    from bot.web.server import serve

    async def main(freeze):
        stop = asyncio.Event()
        task = asyncio.create_task(serve(Starlette(), "127.0.0.1:0", stop, freeze_heap=freeze))
        await asyncio.sleep(0.2)
        frozen = gc.get_freeze_count()
        stop.set()
        await task
        print(frozen)

    asyncio.run(main(sys.argv[1] == "1"))
    """
)


def _frozen(freeze: bool) -> int:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, "1" if freeze else "0"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip())


def test_serving_with_freeze_heap_freezes_what_is_alive() -> None:
    assert _frozen(True) > 10_000  # the modules, the app: tens of thousands of objects
    assert _frozen(False) == 0
