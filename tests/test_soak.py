"""Soak: the daemon with its language model fed spoken commands for half an hour (SLM_VOICE_SOAK_S), its resident
memory sampled all along. Never in CI (marker soak: `pytest -m soak tests/test_soak.py`); the README reports the
latest run. Memory must level off: the last third of the run may not grow past the first third's peak by more
than a few percent."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from slm_voice.bench import corpus
from slm_voice.models.locate import models_dir
from tests.conftest import ROOT, base_config

pytestmark = [pytest.mark.soak, pytest.mark.models, pytest.mark.slm]

COMMANDS = ("turn on the kitchen light", "what time is it", "it's way too dark in the bedroom", "tell me a joke",
            "set the living room light to 40 percent", "add milk to the shopping list")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_memory_levels_off_over_half_an_hour(tmp_path: Path) -> None:
    seconds = float(os.environ.get("SLM_VOICE_SOAK_S", "1800"))
    cfg = base_config(slm={"enabled": True}, audio={"source": "stdin", "sink": "null"},
                      models={"dir": str(Path(os.environ.get("SLM_VOICE_TEST_MODELS_DIR") or models_dir()))})
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    utts = [corpus.render(text, voice="piper", wake_voice="piper") for text in COMMANDS]
    notify = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(notify))
    log = tmp_path / "daemon.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "slm_voice.daemon.cli", "run", "--config",
                                 str(tmp_path / "config.yaml")], stdin=subprocess.PIPE, stderr=out,
                                stdout=subprocess.DEVNULL, env=dict(os.environ, NOTIFY_SOCKET=str(notify)), cwd=ROOT)
    samples: list[tuple[float, float]] = []
    try:
        while proc.poll() is None and not (select.select([sock], [], [], 1.0)[0] and b"READY=1" in sock.recv(999)):
            pass
        assert proc.poll() is None, log.read_text()[-3000:]
        assert proc.stdin is not None
        start = time.monotonic()
        i = 0
        while time.monotonic() - start < seconds:
            pcm = utts[i % len(utts)].samples().tobytes() + bytes(2 * 16000 * 4)
            for k in range(0, len(pcm), 640):  # 20 ms at a time, at real time
                proc.stdin.write(pcm[k:k + 640])
                proc.stdin.flush()
                time.sleep(0.02)
            samples.append((time.monotonic() - start, _rss_mb(proc.pid)))
            i += 1
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        sock.close()
    third = max(1, len(samples) // 3)
    early, late = max(r for _t, r in samples[:third]), max(r for _t, r in samples[-third:])
    report = {"seconds": round(samples[-1][0]), "commands": len(samples), "rss_mb_first_third_peak": round(early),
              "rss_mb_last_third_peak": round(late), "turns_logged": log.read_text().count(" turn ")}
    print(json.dumps(report))
    (ROOT / ".cache").mkdir(exist_ok=True)
    (ROOT / ".cache" / "soak.json").write_text(json.dumps({**report, "samples": samples}), encoding="utf-8")
    assert late <= early * 1.05, report
