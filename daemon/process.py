"""`slm-voice process`: WAV files through the same streaming pipeline `run` uses, one JSON record per turn."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from ..pipeline.assistant import Assistant
from ..pipeline.events import Event, TurnFinished
from ..pipeline.sinks import NullSink, WavFileSink
from ..pipeline.sources import WavFileSource
from ..pipeline.streaming import stream_frames
from .factory import StageCache, build_assistant
from .observers import Recorder, turn_record
from .settings import Settings

TAIL_SILENCE_S = 1.5
"""Silence appended to each file so the endpointer hears the command end, as it would in a room."""


class FileRunner:
    """Loads the models once, then streams any number of files through one assistant."""

    def __init__(
        self,
        settings: Settings,
        *,
        wake_word_required: bool = True,
        realtime: bool = False,
        with_slm: bool | None = None,
        extra_observers: Sequence[Any] = (),
        cache: StageCache | None = None,
    ) -> None:
        self.settings = settings
        self.realtime = realtime
        self.sink = _SwitchableSink()
        self._turns: list[TurnFinished] = []
        observers: list[Any] = [self._collect, *extra_observers]
        if settings.debug.record_dir:
            observers.append(Recorder(settings.debug.record_dir))
        self.assistant: Assistant = build_assistant(
            settings,
            cache if cache is not None else StageCache(),
            sink=self.sink,
            observers=observers,
            wake_word_required=wake_word_required,
            with_slm=with_slm,
        )
        self.load_seconds = self.assistant.load()

    def _collect(self, event: Event) -> None:
        if isinstance(event, TurnFinished):
            self._turns.append(event)

    async def run_file(self, path: str, reply_wav: Path | None = None) -> list[TurnFinished]:
        """All turns heard in one file (the source is validated before anything streams)."""
        source = WavFileSource(path, realtime=self.realtime, tail_silence_s=TAIL_SILENCE_S)
        self.sink.target = WavFileSink(str(reply_wav)) if reply_wav else NullSink()
        self._turns = []
        self.assistant.reset()
        try:
            await self.assistant.run(stream_frames(source))
        finally:
            self.sink.target.close()
        return list(self._turns)

    def close(self) -> None:
        self.assistant.close()


async def process_files(
    runner: FileRunner, files: Sequence[str], reply_dir: Path | None = None
) -> AsyncIterator[dict[str, Any]]:
    """One record per turn per file; a file in which no turn happened gives one record with no transcript."""
    if reply_dir is not None:
        reply_dir.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(files):
        reply = reply_dir / f"{i:03d}-{Path(name).stem}.wav" if reply_dir else None
        turns = await runner.run_file(name, reply)
        if not turns:  # nobody spoke (or no wake word): the same shape, with nothing in it
            turns = [TurnFinished("", wake_word=None, transcript="", understanding=None, speech_end_s=None,
                                  timings_ms={})]
        for t in turns:
            yield {"file": name, **turn_record(t), "speech_end_s": t.speech_end_s}


class _SwitchableSink:
    """The assistant's sink, pointed at a new target for each file."""

    def __init__(self) -> None:
        self.target: Any = NullSink()

    def write(self, audio: Any) -> None:
        self.target.write(audio)

    def drain(self) -> None:
        self.target.drain()

    def stop(self) -> None:
        self.target.stop()

    def close(self) -> None:
        self.target.close()
