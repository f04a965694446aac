"""The systemd unit (verify, sandbox exposure), install.sh syntax, and the sd_notify client."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from slm_voice.daemon.notify import notify, watchdog_interval

REPO = Path(__file__).resolve().parents[1]
UNIT = REPO / "systemd" / "slm-voice.service"
EXEC = "/opt/slm-voice/bin/slm-voice"
MAX_EXPOSURE = 4.0


def _analyze(*args: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.fail("systemd-analyze is not installed (Debian: apt-get install systemd)")
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=60)


def _directives() -> list[tuple[str, str]]:
    out = []
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            out.append((key.strip(), value.strip()))
    return out


@pytest.mark.tools
def test_unit_verifies(tmp_path: Path) -> None:
    """systemd-analyze verify finds nothing wrong. The real ExecStart binary exists only after install.sh,
    so the unit is verified as a copy whose ExecStart names an existing binary; the original may only be
    faulted for that missing binary."""
    copy = tmp_path / "slm-voice.service"
    copy.write_text(UNIT.read_text().replace(EXEC, "/bin/true"))
    r = _analyze("verify", str(copy))
    assert r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(), r.stdout + r.stderr

    r = _analyze("verify", str(UNIT))
    complaints = [line for line in (r.stdout + r.stderr).splitlines() if line.strip()]
    assert all(EXEC in line for line in complaints), complaints


@pytest.mark.tools
def test_unit_sandbox_exposure() -> None:
    # systemd 252 takes the threshold in tenths (0-100): 40 means an exposure of 4.0.
    r = _analyze("security", "--offline=true", f"--threshold={int(MAX_EXPOSURE * 10)}", str(UNIT))
    m = re.search(r"Overall exposure level for slm-voice\.service: (\d+\.\d)", r.stdout)
    assert m, r.stdout + r.stderr
    exposure = float(m.group(1))
    print(f"\nsystemd-analyze security exposure: {exposure}")
    assert exposure <= MAX_EXPOSURE and r.returncode == 0, r.stdout


def test_unit_contract() -> None:
    d = _directives()
    settings = dict(d)
    assert settings["Type"] == "notify"
    assert settings["ExecStart"] == f"{EXEC} run --config /etc/slm-voice/config.yaml"
    assert settings["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert settings["Restart"] == "on-failure" and int(settings["WatchdogSec"]) > 0
    assert (settings["User"], settings["SupplementaryGroups"]) == ("slm-voice", "audio")
    assert settings["StateDirectory"] == "slm-voice"
    assert ("Environment", "SLM_VOICE_MODELS_DIR=/var/lib/slm-voice/models") in d
    assert ("DeviceAllow", "char-alsa rw") in d  # the sound card stays reachable
    assert settings.get("PrivateDevices", "false") == "false"
    assert settings.get("MemoryDenyWriteExecute", "false") == "false"  # CTranslate2's JIT needs W+X
    assert settings["CapabilityBoundingSet"] == "" and settings["NoNewPrivileges"] == "true"


def test_install_script_parses() -> None:
    r = subprocess.run(["bash", "-n", str(REPO / "systemd" / "install.sh")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert os.access(REPO / "systemd" / "install.sh", os.X_OK)


@pytest.mark.tools
def test_install_script_shellcheck() -> None:
    assert shutil.which("shellcheck"), "shellcheck is installed by `make test` (deps-test)"
    r = subprocess.run(["shellcheck", str(REPO / "systemd" / "install.sh")], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout


# --- sd_notify ---------------------------------------------------------------------------------------------


def _listener(address: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(address)
    s.settimeout(5)
    return s


def test_notify_path_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = str(tmp_path / "notify.sock")
    with _listener(path) as s:
        monkeypatch.setenv("NOTIFY_SOCKET", path)
        assert notify("READY=1")
        assert notify("STATUS=listening for hey jarvis")
        assert notify("WATCHDOG=1")
        assert [s.recv(4096) for _ in range(3)] == [b"READY=1", b"STATUS=listening for hey jarvis", b"WATCHDOG=1"]


def test_notify_abstract_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"slm-voice-test-{os.getpid()}"
    with _listener("\0" + name) as s:
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert notify("STOPPING=1")
        assert s.recv(4096) == b"STOPPING=1"


def test_notify_without_systemd_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert notify("READY=1") is False


def test_notify_to_a_dead_socket_does_not_raise(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone.sock"))
    assert notify("WATCHDOG=1") is False
    assert "gone.sock" in caplog.text


def test_notify_never_blocks_on_a_socket_nobody_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full notify queue (a reader that stopped reading) once froze the audio loop inside notify()."""
    path = str(tmp_path / "notify.sock")
    with _listener(path):
        monkeypatch.setenv("NOTIFY_SOCKET", path)
        sent = [notify(f"STATUS=state {i}") for i in range(2000)]  # far more than the queue holds; nothing read
    assert sent[0] and not sent[-1]


def test_watchdog_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    assert watchdog_interval() is None
    monkeypatch.setenv("WATCHDOG_USEC", "200000")
    assert watchdog_interval() == pytest.approx(0.1)
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert watchdog_interval() == pytest.approx(0.1)
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))  # meant for another process
    assert watchdog_interval() is None
    monkeypatch.delenv("WATCHDOG_PID")
    monkeypatch.setenv("WATCHDOG_USEC", "soon")
    assert watchdog_interval() is None
    monkeypatch.setenv("WATCHDOG_USEC", "0")
    assert watchdog_interval() is None
