"""The service's lifecycle: missing hardware is retried while the daemon keeps running, SIGHUP reloads the config
(a broken one is refused), and SIGTERM stops it cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, base_config

pytestmark = pytest.mark.models


@contextmanager
def daemon(cfg: Path) -> Iterator[subprocess.Popen]:
    proc = subprocess.Popen([sys.executable, "-m", "slm_voice.daemon.cli", "run", "--config", str(cfg)], cwd=ROOT,
                            stderr=subprocess.PIPE, text=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def wait_for(proc: subprocess.Popen, lines: list[str], needle: str, timeout: float = 120) -> str:
    """Read the daemon's log until a line contains needle; returns that line."""
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if needle in line:
            return line
    raise AssertionError(f"{needle!r} not seen in:\n{''.join(lines)}")


def test_a_missing_microphone_is_retried_and_sigterm_still_stops_the_daemon(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(base_config(audio={"source": "mic", "input_device": "no-such-microphone-xyz"})))
    lines: list[str] = []
    with daemon(cfg) as proc:
        line = wait_for(proc, lines, "retrying every")
        # "no audio input devices found" here (no sound card), or "no input device matching ..." where there are some
        assert "input device" in line
        assert proc.poll() is None  # still running, waiting for the microphone
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def test_sighup_reloads_the_config_and_a_broken_one_is_refused(tmp_path: Path, corpus_dir: Path) -> None:
    """After a reload the daemon runs the new configuration (here: the file source is heard again)."""
    from slm_voice.bench import corpus

    utt = corpus.render("turn on the kitchen light", cache_dir=corpus_dir)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(base_config(audio={"source": f"file:{utt.path}"})))
    lines: list[str] = []
    with daemon(cfg) as proc:
        wait_for(proc, lines, "still serving MQTT commands")
        assert sum('"intent": "HassTurnOn"' in line for line in lines) == 1
        cfg.write_text("vad:\n  trailing_silence_ms: fast\n")
        proc.send_signal(signal.SIGHUP)
        assert "vad.trailing_silence_ms" in wait_for(proc, lines, "reload refused")
        cfg.write_text(yaml.safe_dump(base_config(audio={"source": f"file:{utt.path}"}, vad={"threshold": 0.6})))
        proc.send_signal(signal.SIGHUP)
        wait_for(proc, lines, "configuration reloaded")
        wait_for(proc, lines, "still serving MQTT commands")
        assert sum('"intent": "HassTurnOn"' in line for line in lines) == 2
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
