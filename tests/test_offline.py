"""Offline by construction: the daemon, language model included, in a network namespace with loopback only, traced
with strace. Every connection attempt must stay on the box (a UNIX socket or loopback), none may look up a name
(DNS, port 53), and no library may leave a telemetry queue behind in the home directory."""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from slm_voice.models.locate import models_dir
from tests.conftest import ROOT, base_config

SMALL_MODEL = "smollm2-135m"

pytestmark = [pytest.mark.models, pytest.mark.slm]

CONNECT = re.compile(r"connect\(\d+, \{sa_family=(AF_\w+)(.*?)\}")
SENDTO = re.compile(r"send(?:to|msg|mmsg)\(.*?sa_family=(AF_INET6?)(.*?)\}")
LOOPBACK = re.compile(r'inet_addr\("127\.|inet_pton\(AF_INET6, "::1"|inet_pton\(AF_INET6, "::ffff:127\.')


def _needs(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} is not installed: the Makefile's deps-test installs it")


def test_the_daemon_with_its_language_model_never_reaches_outside_the_box(tmp_path: Path) -> None:
    _needs("strace")
    _needs("unshare")
    cfg = base_config(slm={"enabled": True, "model": SMALL_MODEL},
                      mqtt={"enabled": True, "broker": "embedded", "port": 18830 + os.getpid() % 1000},
                      models={"dir": str(Path(os.environ.get("SLM_VOICE_TEST_MODELS_DIR") or models_dir()))})
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    home = tmp_path / "home"
    home.mkdir()
    notify = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(notify))
    trace = tmp_path / "strace.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORT_", "HF_", "TRANSFORMERS_", "DO_NOT"))}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"), NOTIFY_SOCKET=str(notify))
    daemon = [sys.executable, "-m", "slm_voice.daemon.cli", "run", "--config", str(tmp_path / "config.yaml")]
    script = f"ip link set lo up && exec strace -f -qq -e trace=connect,sendto,sendmsg,sendmmsg -o {trace} " + \
        " ".join(f"'{a}'" for a in daemon)
    log = tmp_path / "daemon.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(["unshare", "--net", "sh", "-c", script], stdin=subprocess.PIPE, stdout=out,
                                stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        ready = False
        while not ready and time.monotonic() < deadline and proc.poll() is None:
            if select.select([sock], [], [], 1.0)[0]:
                ready = b"READY=1" in sock.recv(4096)
        assert ready, log.read_text(errors="replace")[-3000:]
        # Idle a while: telemetry uploaders start late; then a spoken command's worth of audio.
        assert proc.stdin is not None
        proc.stdin.write(bytes(16000 * 2 * 8))
        proc.stdin.flush()
        time.sleep(8)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        sock.close()
    text = trace.read_text(errors="replace")
    assert "connect(" in text, "strace saw no connect() at all: the trace is not working"
    outside = []
    for family, rest in CONNECT.findall(text) + SENDTO.findall(text):
        if family in ("AF_UNIX", "AF_NETLINK"):
            continue
        if "htons(53)" in rest or not LOOPBACK.search(rest):
            outside.append(f"{family}{rest}")
    assert outside == [], f"connection attempts leaving the box: {outside[:5]}"
    telemetry = [p for p in home.rglob("*") if "Microsoft" in str(p) or "huggingface" in str(p)]
    assert telemetry == [], f"telemetry left on disk: {telemetry[:5]}"
    assert "models loaded and warm" in log.read_text(errors="replace")
