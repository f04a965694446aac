"""Black-box latency: what a user's ears and Home Assistant's clock see, not what the pipeline's stamps say.

`slm-voice run` is started as a user would start it (audio.source stdin, audio.sink stdout, a real MQTT broker),
and fed rendered commands at real time by a writer thread that knows, to the sample, when each command's speech
ended. Measured from that moment: the intent message arriving from the broker (the action) and the first reply
audio coming out of the daemon's stdout. The same files go through the Home Assistant-style baseline daemon in the
same run. Nothing inside the daemon is used to measure it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import TypeAdapter

from ..daemon.settings import Settings
from ..pipeline.events import ms
from . import corpus

log = logging.getLogger("slm_voice.bench")

CHUNK_S = 0.02
"""The writer's period: 20 ms, as arecord delivers (the daemon frames it into 32 ms itself)."""
LEAD_SILENCE_S = 3.0
"""Silence written before the first command, after the daemon says it is ready."""
GAP_S = 1.5
"""Silence between a turn's end and the next command."""
TURN_TIMEOUT_S = 12.0
"""Longest wait for a turn's intent and reply after the end of its speech."""
READY_TIMEOUT_S = 600.0
"""Longest wait for READY=1 (models load and warm; a busy 2-core box needs minutes for the language model)."""
REPLY_RATE = 22050
"""audio.sink stdout speaks raw s16le at this rate."""


@dataclass
class _Turn:
    """One command as the outside saw it."""

    text: str
    set: str
    speech_end: float = 0.0
    """time.monotonic() when the last sample of speech was written."""
    intent_at: float | None = None
    intent: str | None = None
    entity_ids: list[str] = field(default_factory=list)
    first_audio_at: float | None = None
    internal_ms: dict[str, float] = field(default_factory=dict)
    """The daemon's own timings_ms from its intent message (for the side-by-side view)."""


class _Outside:
    """The world around one daemon: the broker subscription and the audio coming out of stdout."""

    def __init__(self, proc: subprocess.Popen[bytes], broker_port: int, base: str) -> None:
        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion

        self.proc = proc
        self.lock = threading.Lock()
        self.intents: list[tuple[float, dict[str, Any]]] = []
        self.audio: list[tuple[float, int]] = []
        """(arrival, bytes) of every read of the daemon's stdout."""
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{os.getpid()}")
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, *_: c.subscribe(f"{base}/intent", qos=1)
        self.client.connect("127.0.0.1", broker_port)
        self.client.loop_start()
        self._reader = threading.Thread(target=self._read_audio, name="bench-audio-out", daemon=True)
        self._reader.start()

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        now = time.monotonic()
        try:
            payload = json.loads(msg.payload)
        except ValueError:
            return
        with self.lock:
            self.intents.append((now, payload))

    def _read_audio(self) -> None:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while True:
            data = os.read(fd, 4096)
            if not data:
                return
            with self.lock:
                self.audio.append((time.monotonic(), len(data)))

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _broker() -> tuple[subprocess.Popen[bytes] | None, int]:
    """A real mosquitto on a free loopback port (None when mosquitto is not installed: the daemon then starts its
    embedded broker on that port)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = shutil.which("mosquitto")
    if exe is None:
        return None, port
    conf = Path(tempfile.mkdtemp(prefix="slm-voice-bench-")) / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\n")
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, port
        except OSError:
            time.sleep(0.02)
    proc.kill()
    proc.wait()
    raise RuntimeError(f"mosquitto did not listen on port {port}")


def daemon_config(settings: Settings, port: int, embedded: bool, base: str, state: Path) -> dict[str, Any]:
    """The settings as config.yaml, wired the way a user pipes audio in and out, with MQTT on the bench's broker and
    a state directory of its own (the user's satellite of the same id keeps its mute and threshold)."""
    raw = TypeAdapter(Settings).dump_python(settings, mode="json")
    raw["state_dir"] = str(state)
    raw["audio"].update(source="stdin", sink="stdout", earcon=False)
    raw["mqtt"].update(enabled=True, broker="embedded" if embedded else "external", host="127.0.0.1", port=port,
                       base_topic=base, discovery=False)
    raw["debug"]["record_dir"] = None
    return raw


def _wait_ready(proc: subprocess.Popen[bytes], sock: socket.socket, log_path: Path) -> float:
    """Seconds until the daemon sent READY=1 over the notify socket."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < READY_TIMEOUT_S:
        if proc.poll() is not None:
            raise RuntimeError(f"the daemon exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
        if select.select([sock], [], [], 0.5)[0] and b"READY=1" in sock.recv(4096):
            return time.monotonic() - t0
    raise RuntimeError(f"the daemon was not ready within {READY_TIMEOUT_S:.0f} s")


def _drain(sock: socket.socket) -> None:
    """Keep reading the notify socket, as systemd does (STATUS= with every state change)."""
    with contextlib.suppress(OSError):
        while sock.recv(4096):
            pass


def run_daemon(name: str, settings: Settings, utts: Sequence[tuple[str, corpus.Utterance]]) -> dict[str, Any]:
    """Start one daemon, feed it every utterance at real time, measure from outside; returns its turns and summary."""
    broker, port = _broker()
    work = Path(tempfile.mkdtemp(prefix=f"slm-voice-bench-{name}-"))
    base = f"bench/{name}"
    cfg = work / "config.yaml"
    cfg.write_text(yaml.safe_dump(daemon_config(settings, port, broker is None, base, work / "state")),
                   encoding="utf-8")
    notify_path = work / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(notify_path))
    log_path = work / "daemon.log"
    env = dict(os.environ, NOTIFY_SOCKET=str(notify_path))
    env.pop("WATCHDOG_USEC", None)
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen([sys.executable, "-m", "slm_voice.daemon.cli", "run", "--config", str(cfg)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log_file, env=env)
    outside: _Outside | None = None
    turns: list[_Turn] = []
    try:
        ready_s = _wait_ready(proc, sock, log_path)
        threading.Thread(target=_drain, args=(sock,), name="bench-notify", daemon=True).start()
        outside = _Outside(proc, port, base)
        log.info("black box %s: ready after %.1f s; streaming %d files at real time", name, ready_s, len(utts))
        turns = _stream(proc, outside, utts)
    finally:
        if proc.stdin is not None:
            with contextlib.suppress(OSError):  # the daemon may have gone already
                proc.stdin.close()
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if outside is not None:
            outside.close()
        if broker is not None:
            broker.terminate()
            broker.wait()
        sock.close()
    audio_s = sum(n for _t, n in outside.audio) / 2 / REPLY_RATE if outside is not None else 0.0
    return {"ready_s": round(ready_s, 2), "turns": [_record(t) for t in turns], "summary": summarize(turns),
            "reply_audio_s": round(audio_s, 2), "log": str(log_path)}


def _stream(proc: subprocess.Popen[bytes], outside: _Outside, utts: Sequence[tuple[str, corpus.Utterance]]
            ) -> list[_Turn]:
    """The writer: continuous 16 kHz audio at real time (silence between commands, as a microphone would give),
    each command's speech end noted by the writer's clock; after each, wait for its intent and reply audio."""
    assert proc.stdin is not None
    stdin = proc.stdin
    chunk = round(CHUNK_S * 16_000)
    silence = bytes(2 * chunk)
    clock = time.monotonic()

    def write(pcm: bytes) -> None:
        nonlocal clock
        for i in range(0, len(pcm), 2 * chunk):
            piece = pcm[i:i + 2 * chunk]
            clock += len(piece) / 2 / 16_000
            wait = clock - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            stdin.write(piece)
            stdin.flush()

    def silent_until(condition: Any, limit_s: float) -> None:
        end = time.monotonic() + limit_s
        while not condition() and time.monotonic() < end:
            write(silence)

    write(silence * round(LEAD_SILENCE_S / CHUNK_S))
    turns: list[_Turn] = []
    for label, utt in utts:
        samples = utt.samples().astype("<i2").tobytes()
        end_byte = 2 * round(utt.speech_end_s * 16_000)
        seen_intents = len(outside.intents)
        write(samples[:end_byte])
        turn = _Turn(utt.text, label, speech_end=clock)  # the last sample of speech was just due
        write(samples[end_byte:])

        def done(turn: _Turn = turn, seen: int = seen_intents) -> bool:
            _collect(outside, turn, seen)
            # Over once this turn's reply has started and gone quiet (every turn answers, if only "Sorry").
            return turn.first_audio_at is not None and time.monotonic() - outside.audio[-1][0] > 0.6

        silent_until(done, TURN_TIMEOUT_S)
        _collect(outside, turn, seen_intents)
        turns.append(turn)
        log.info("black box: %r -> %s, intent %s ms, first audio %s ms", utt.text, turn.intent,
                 _after(turn.intent_at, turn), _after(turn.first_audio_at, turn))
        write(silence * round(GAP_S / CHUNK_S))
    return turns


def _collect(outside: _Outside, turn: _Turn, seen: int) -> None:
    with outside.lock:
        if turn.intent_at is None and len(outside.intents) > seen:
            at, msg = outside.intents[seen]
            turn.intent_at, turn.intent = at, msg.get("intent")
            turn.entity_ids = list(msg.get("entity_ids") or [])
            turn.internal_ms = dict(msg.get("timings_ms") or {})
        if turn.first_audio_at is None:
            turn.first_audio_at = next((t for t, _n in outside.audio if t > turn.speech_end), None)


def _after(at: float | None, turn: _Turn) -> float | None:
    return None if at is None else ms(at - turn.speech_end)


def _record(t: _Turn) -> dict[str, Any]:
    return {"text": t.text, "set": t.set, "intent": t.intent, "entity_ids": t.entity_ids,
            "speech_end_to_intent_ms": _after(t.intent_at, t),
            "speech_end_to_first_audio_ms": _after(t.first_audio_at, t), "internal_ms": t.internal_ms}


def _stats(values: Sequence[float | None]) -> dict[str, float] | None:
    v = np.array([x for x in values if x is not None], dtype=float)
    if v.size == 0:
        return None
    return {"median": round(float(np.median(v)), 1), "p90": round(float(np.percentile(v, 90)), 1), "n": int(v.size)}


def summarize(turns: Sequence[_Turn]) -> dict[str, Any]:
    first = _after(turns[0].intent_at, turns[0]) if turns else None
    return {
        "speech_end_to_intent_ms": _stats([_after(t.intent_at, t) for t in turns]),
        # Warm-up that really warms: the first command after READY=1 is no slower than the ones after it.
        "first_turn_intent_ms": None if first is None else round(first, 1),
        "later_turns_intent_ms": _stats([_after(t.intent_at, t) for t in turns[1:]]),
        "speech_end_to_first_audio_ms": _stats([_after(t.first_audio_at, t) for t in turns]),
        "internal_speech_end_to_intent_ms": _stats([t.internal_ms.get("speech_end_to_intent") for t in turns]),
        "intents": sum(t.intent is not None for t in turns),
        "turns": len(turns),
    }


def ratios(optimised: dict[str, Any], baseline: dict[str, Any]) -> dict[str, float | None]:
    """Median ratio optimised / baseline for the action and the first reply audio."""
    out: dict[str, float | None] = {}
    for key in ("speech_end_to_intent_ms", "speech_end_to_first_audio_ms"):
        o, b = optimised["summary"][key], baseline["summary"][key]
        out[key] = round(o["median"] / b["median"], 2) if o and b and b["median"] > 0 else None
    return out


def format_table(report: dict[str, Any]) -> list[str]:
    """Lines for the bench's table."""
    o, b, r = report["optimised"], report.get("baseline"), report.get("ratios") or {}
    lines = [f"{'black box: from the true end of speech (ms)':44}{'optimised':>14}{'baseline':>16}{'ratio':>8}",
             f"{'':44}{'median':>7}{'p90':>7}{'median':>9}{'p90':>7}{'median':>8}"]
    for label, key in (("intent on the broker (the action)", "speech_end_to_intent_ms"),
                       ("first reply audio on stdout", "speech_end_to_first_audio_ms"),
                       ("the daemon's own view of the action", "internal_speech_end_to_intent_ms")):
        so, sb = o["summary"][key], b["summary"][key] if b else None
        ratio = r.get(key)
        lines.append(f"  {label:42}{_f(so, 'median'):>7}{_f(so, 'p90'):>7}{_f(sb, 'median'):>9}{_f(sb, 'p90'):>7}"
                     f"{'-' if ratio is None else f'{ratio:.2f}':>8}")
    lines.append(f"  {'intents published / turns':42}{o['summary']['intents']:>7}/{o['summary']['turns']:<6}"
                 + (f"{b['summary']['intents']:>9}/{b['summary']['turns']}" if b else ""))
    first, later = o["summary"].get("first_turn_intent_ms"), o["summary"].get("later_turns_intent_ms")
    lines.append(f"  {'first command after start: action (ms)':42}{'-' if first is None else f'{first:.0f}':>7}"
                 f"   (later ones: median {_f(later, 'median')})")
    lines.append(f"  {'ready after start (s)':42}{o['ready_s']:>7.1f}" + (f"{b['ready_s']:>16.1f}" if b else ""))
    return lines


def _f(stats: dict[str, Any] | None, key: str) -> str:
    return "-" if not stats else f"{stats[key]:.0f}"
