"""The build's response stream: the build runs in the background and its JSON lines are
yielded as they come; the last line is the result or the error (classic builder protocol).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import AsyncIterator
from typing import Any

from engine.build.executor import Build, _short
from engine.build.state import BuildError
from engine.errors import EngineError, NotFound
from engine.images import reference
from engine.util.tasks import cancel_and_wait

log = logging.getLogger(__name__)


async def build_stream(build: Build, tags: list[reference.Reference], cleanup: Any) -> AsyncIterator[bytes]:
    """Run the build in the background and yield its JSON lines as they come."""
    from engine.api.streams import error_line, json_line

    async def work() -> None:
        try:
            image_id = await build.run()
            build.out.put_nowait({"aux": {"ID": image_id}})
            for ref in tags:
                build.images.tag(build.store.images[image_id], ref)
            if build.opts.quiet:
                build.out.put_nowait({"stream": image_id + "\n"})
            else:
                build.out.put_nowait({"stream": f"Successfully built {_short(image_id)}\n"})
                for ref in tags:
                    build.out.put_nowait({"stream": f"Successfully tagged {ref.familiar()}\n"})
        except BuildError as exc:
            build.out.put_nowait({"__error__": exc.message, "code": exc.code})
        except NotFound as exc:
            build.out.put_nowait({"__error__": exc.message, "code": 1})
        except EngineError as exc:
            build.out.put_nowait({"__error__": exc.message, "code": 1})
        except Exception as exc:  # reported in the stream, the engine carries on
            log.exception("build failed")
            build.out.put_nowait({"__error__": f"build failed: {exc}", "code": 1})
        finally:
            build.out.put_nowait(None)

    task = asyncio.create_task(work())
    try:
        while True:
            item = await build.out.get()
            if item is None:
                break
            if "__error__" in item:
                yield error_line(item["__error__"], item["code"])
            else:
                yield json_line(item)
    finally:
        if not task.done():
            await cancel_and_wait(task, "build after its client left")
        cleanup()


def remove_workdir(path: str) -> None:
    from engine.util import mounts

    for point in mounts.mounts_under(path):
        mounts.unmount(point, detach=True)
    shutil.rmtree(path, ignore_errors=True)
