"""The model worker as Wyoming clients see it: the assistant's one model thread (so a Wyoming request and the
microphone's turn never run two models at once, and each model is loaded once), behind a bounded count of requests
that may wait for it. One request more is refused at once with a clear error, never queued without bound."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Executor
from typing import Any, TypeVar

T = TypeVar("T")


class Busy(Exception):
    """Every request slot is taken: the client is told to try again."""


class Stopped(Exception):
    """The model worker is shut down (the daemon is stopping or reloading)."""


class ModelWorker:
    """At most `size` Wyoming requests waiting for or using the model thread; each holds one slot throughout."""

    def __init__(self, thread: Executor, size: int) -> None:
        self.thread = thread
        self.size = size
        self.pending = 0

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """One request's slot; Busy at once when all are taken."""
        if self.pending >= self.size:
            raise Busy(f"slm-voice is busy: {self.pending} requests are already waiting for its models; "
                       "try again in a moment")
        self.pending += 1
        try:
            yield
        finally:
            self.pending -= 1

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """fn(*args, **kwargs) in the model thread (off the event loop)."""
        try:
            future = asyncio.get_running_loop().run_in_executor(self.thread, functools.partial(fn, *args, **kwargs))
        except RuntimeError as e:  # "cannot schedule new futures after shutdown"
            raise Stopped("slm-voice is stopping") from e
        return await future

    async def stream(self, items: Callable[[], Iterator[T]]) -> AsyncIterator[T]:
        """Iterate items() in the model thread, handing each item to the event loop as it is made. Stops the
        producer between items when the consumer goes away (a client that hung up)."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        cancelled = False

        def produce() -> None:
            try:
                for item in items():
                    if cancelled:
                        return
                    loop.call_soon_threadsafe(queue.put_nowait, ("item", item))
            except BaseException as e:  # raised again on the event loop
                loop.call_soon_threadsafe(queue.put_nowait, ("error", e))

        try:
            task = loop.run_in_executor(self.thread, produce)
        except RuntimeError as e:
            raise Stopped("slm-voice is stopping") from e
        try:
            while True:
                if queue.empty():
                    if task.done():  # its last items were queued before its future completed
                        if task.cancelled():
                            raise Stopped("slm-voice is stopping")
                        return
                    get = asyncio.ensure_future(queue.get())
                    await asyncio.wait([get, task], return_when=asyncio.FIRST_COMPLETED)
                    if not get.done():
                        get.cancel()
                        continue
                    kind, value = get.result()
                else:
                    kind, value = queue.get_nowait()
                if kind == "error":
                    raise value
                yield value
        finally:
            cancelled = True
            task.add_done_callback(_consume)


def _consume(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved: an abandoned producer's failure is not "never retrieved"
