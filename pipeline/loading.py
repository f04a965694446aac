"""Start-up and shut-down, the turn machine's part: every stage's model loaded and warmed once, the worker threads
and the timers stopped at the end."""

from __future__ import annotations

import time
from concurrent.futures import Executor as ThreadExecutor
from typing import Any

from .compute import ModelThread
from .roles import Endpointing, Synthesizer, Transcriber, Understander, WakeWord
from .speaking import Voice
from .timers import Timers


class Loading:
    """Mixed into assistant.Assistant, which sets the attributes below (what this part uses of the machine)."""

    wake: WakeWord | None
    echo_wake: WakeWord | None
    endpointer: Endpointing
    stt: Transcriber
    intents: Understander
    tts: Synthesizer
    timers: Timers
    models: ModelThread
    voice: Voice

    @property
    def stages(self) -> list[Any]:
        """Every stage with a model, in the order they load."""
        return [s for s in (self.wake, self.echo_wake, self.endpointer, self.stt, self.intents, self.tts) if s]

    def load(self) -> dict[str, float]:
        """Load and warm every model once; returns seconds per stage (blocking: call from a thread at start-up)."""
        took: dict[str, float] = {}
        for stage in self.stages:
            t0 = time.perf_counter()
            stage.load()
            stage.warm()
            took[stage.name] = time.perf_counter() - t0
        return took

    def close(self, *, wait: bool = True) -> None:
        """Stop timers and the worker threads (wait=False: a stop during loading does not wait for a model call)."""
        self.timers.close()
        self.models.close(wait=wait)
        self.voice.close(wait=wait)

    @property
    def model_thread(self) -> ThreadExecutor:
        """The one thread every model call runs in: whoever else calls the models (the Wyoming server) queues there,
        so two model calls never share the cores."""
        return self.models.executor
