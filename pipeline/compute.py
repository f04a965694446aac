"""Where the models' compute runs and how it is measured: one thread for every model call, each call timed and
reported as a StageTimed event; the frame stages' compute summed per turn (too many calls for an event each)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from .events import Event, StageName, StageTimed
from .frames import SAMPLE_RATE, SAMPLE_WIDTH

T = TypeVar("T")


class ModelThread:
    """One worker thread for every model call: on 2 cores, parallel model calls only slow each other down."""

    def __init__(self, emit: Callable[[Event], None]) -> None:
        """emit: where StageTimed events go (called on the event loop)."""
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="models")
        self._emit = emit

    def start(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """fn(*args) in the model thread, queued now; await the future for its result (call on the event loop)."""
        return asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    async def timed(self, turn_id: str, stage: StageName, call: str, fn: Callable[..., T], *args: Any,
                    audio_s: float = 0.0, kwargs: dict[str, Any] | None = None) -> tuple[T, float]:
        """A model call in the model thread; reports and returns its own compute time (not the wait before it)."""

        def timed() -> tuple[T, float, float]:
            started, t0 = time.monotonic(), time.perf_counter()
            return fn(*args, **(kwargs or {})), started, time.perf_counter() - t0

        result, started, seconds = await self.start(timed)
        self._emit(StageTimed(turn_id, stage=stage, call=call, started=started, seconds=seconds, audio_s=audio_s))
        return result, seconds

    def close(self, *, wait: bool = True) -> None:
        self.executor.shutdown(wait=wait, cancel_futures=True)


class FrameClock:
    """Compute spent on frames by one frame stage, summed between reports."""

    def __init__(self, stage: StageName) -> None:
        self.stage = stage
        self.reset()

    def reset(self) -> None:
        self.started = time.monotonic()
        self.seconds = 0.0
        self.audio_s = 0.0

    def report(self, turn_id: str) -> StageTimed | None:
        """The compute since the last report as one event (None when no frame was seen)."""
        if self.audio_s == 0.0:
            return None
        event = StageTimed(turn_id, stage=self.stage, call="frames", started=self.started, seconds=self.seconds,
                           audio_s=self.audio_s)
        self.reset()
        return event


def audio_seconds(pcm: bytes) -> float:
    """Length of 16 kHz mono int16 audio."""
    return len(pcm) / SAMPLE_WIDTH / SAMPLE_RATE
