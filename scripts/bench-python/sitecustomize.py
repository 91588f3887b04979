"""Loaded by every Python process of a `scripts/bench` run (PYTHONPATH), before the anchors' own code.

../shared/bench/longpoll.py reads its updater's report, one JSON line of about 66 bytes per update, through an
asyncio subprocess pipe with the default 64 KiB line limit: with 1,000 waiters the line sometimes overruns it and
the run stops (the peer's W1000 as often as ours). This raises that limit to 16 MiB for subprocesses started with
`asyncio.create_subprocess_exec`; nothing else changes. Remove it once longpoll.py passes a limit itself.
"""
import asyncio

_create_subprocess_exec = asyncio.create_subprocess_exec


async def _create_subprocess_exec_with_long_lines(*args, limit=16 * 1024 * 1024, **kwargs):
    return await _create_subprocess_exec(*args, limit=limit, **kwargs)


asyncio.create_subprocess_exec = _create_subprocess_exec_with_long_lines
