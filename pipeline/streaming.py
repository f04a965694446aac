"""Bridge a blocking audio source (a thread) to the asyncio frame loop, with backpressure instead of drops."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import AsyncIterator

from .audio import AudioSource
from .frames import AudioFrame


async def stream_frames(source: AudioSource, *, max_queued: int = 16) -> AsyncIterator[AudioFrame]:
    """Yield the source's frames on the event loop; the reader thread blocks when the loop falls behind.

    A live microphone never waits here (its own driver queue absorbs bursts); a file source is simply paced
    by the consumer, so nothing is dropped. Errors in the reader are re-raised in the consumer.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[AudioFrame | BaseException | None] = asyncio.Queue(max_queued)
    stop = threading.Event()

    def put(item: AudioFrame | BaseException | None) -> None:
        fut = asyncio.run_coroutine_threadsafe(queue.put(item), loop)
        while not stop.is_set():
            try:
                fut.result(timeout=0.5)
                return
            except concurrent.futures.TimeoutError:
                continue
        fut.cancel()

    def read() -> None:
        try:
            for frame in source.frames():
                if stop.is_set():
                    break
                put(frame)
            put(None)
        except BaseException as e:  # handed to the consumer, which reports it
            put(e)

    reader = threading.Thread(target=read, name="audio-source", daemon=True)
    reader.start()
    try:
        while True:
            item = await queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        source.close()
