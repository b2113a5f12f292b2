"""Ending asyncio tasks whose result nobody will read."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger(__name__)


async def cancel_and_wait(task: asyncio.Future[Any], what: str) -> None:
    """Cancel `task` and wait until it has ended.

    For work abandoned on purpose (a client that went away, a stream closed early):
    the task's cancellation is expected, and a failure it ends with has no one left to
    report to, so it is logged at debug level instead of raised.
    """
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    except Exception:
        log.debug("%s failed while being cancelled", what, exc_info=True)
