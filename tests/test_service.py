"""The service's lifecycle where hardware is missing: it keeps running, says why, and still stops cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from tests.conftest import ROOT, base_config


def test_a_missing_microphone_is_retried_and_sigterm_still_stops_the_daemon(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(base_config(audio={"source": "mic", "input_device": "no-such-microphone-xyz"})))
    proc = subprocess.Popen([sys.executable, "-m", "daemon.cli", "run", "--config", str(cfg)], cwd=ROOT,
                            stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            if "retrying every" in line:
                break
        # "no audio input devices found" here (no sound card), or "no input device matching ..." where there are some
        assert any("input device" in line and "retrying every" in line for line in lines), lines
        assert proc.poll() is None  # still running, waiting for the microphone
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
