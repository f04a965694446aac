"""pytest plugin: real mosquitto brokers on free loopback ports, a TLS CA made with openssl, and an MQTT
test client that records what it receives.

Registered in tests/conftest.py with `pytest_plugins = ["tests.conftest_broker"]`.

Fixtures:
  mosquitto          anonymous broker (function scope); .stop() / .start() / .restart() keep the port
  mosquitto_module   the same, one per test module
  mosquitto_secure   password (user `slm`/`secret`) on a plain listener and a TLS listener (.tls_port)
  mosquitto_restart  callable restarting `mosquitto` on the same port
  tls_certs          session-scoped self-signed CA + server cert (SAN DNS:localhost, IP:127.0.0.1)
  mqtt_client        factory of recording paho clients (MqttRecorder), disconnected at teardown
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

USERNAME = "slm"
PASSWORD = "secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mosquitto exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"mosquitto did not listen on {port} within {timeout} s:\n{log.read_text(errors='replace')}")


@dataclass(frozen=True)
class TlsCerts:
    ca: Path
    cert: Path
    key: Path


class Mosquitto:
    """One mosquitto process. Persistence is on (saved on SIGTERM) so a restart keeps retained messages
    and persistent sessions, as a real broker would."""

    def __init__(self, workdir: Path, *, auth: bool = False, tls: TlsCerts | None = None) -> None:
        self.workdir = workdir
        self.host = "127.0.0.1"
        self.port = free_port()
        self.tls_port = free_port() if tls else None
        self.log = workdir / "mosquitto.log"
        self.proc: subprocess.Popen[bytes] | None = None
        lines = [
            f"user {pwd.getpwuid(os.getuid()).pw_name}",  # root would drop to `mosquitto` and lose our files
            "per_listener_settings false",
            f"listener {self.port} 127.0.0.1",
        ]
        if tls:
            lines += [f"listener {self.tls_port} 127.0.0.1", f"cafile {tls.ca}", f"certfile {tls.cert}",
                      f"keyfile {tls.key}"]
        if auth:
            pw = workdir / "passwd"
            subprocess.run(["mosquitto_passwd", "-b", "-c", str(pw), USERNAME, PASSWORD], check=True,
                           capture_output=True)
            lines += ["allow_anonymous false", f"password_file {pw}"]
        else:
            lines += ["allow_anonymous true"]
        lines += ["persistence true", f"persistence_location {workdir}/", "log_dest stderr",
                  "log_type error", "log_type warning", "log_type notice", "log_type information"]
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text("\n".join(lines) + "\n")

    def start(self) -> None:
        assert self.proc is None, "already running"
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(["mosquitto", "-c", str(self.conf)], stdout=log, stderr=log)
        _wait_listening(self.port, self.proc, self.log)
        if self.tls_port:
            _wait_listening(self.tls_port, self.proc, self.log)
        assert self.proc.poll() is None

    def stop(self) -> None:
        """SIGTERM (mosquitto saves its state), then SIGKILL if it lingers; always reaped."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def _need(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} is not installed (apt-get install mosquitto mosquitto-clients openssl)")


@pytest.fixture(scope="session")
def tls_certs(tmp_path_factory: pytest.TempPathFactory) -> TlsCerts:
    _need("openssl")
    d = tmp_path_factory.mktemp("tls")

    def ossl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ossl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj",
         "/CN=slm-voice test CA", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    ossl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    (d / "ext.cnf").write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        "authorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n"
    )
    ossl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
         "-out", "server.crt", "-days", "2", "-extfile", "ext.cnf")
    return TlsCerts(ca=d / "ca.crt", cert=d / "server.crt", key=d / "server.key")


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    _need("mosquitto")
    broker = Mosquitto(tmp_path)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="module")
def mosquitto_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """One anonymous broker for a whole module (for tests that share a slow-starting daemon)."""
    _need("mosquitto")
    broker = Mosquitto(tmp_path_factory.mktemp("mosquitto"))
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def mosquitto_secure(tmp_path: Path, tls_certs: TlsCerts) -> Iterator[Mosquitto]:
    _need("mosquitto")
    _need("mosquitto_passwd")
    broker = Mosquitto(tmp_path, auth=True, tls=tls_certs)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def mosquitto_restart(mosquitto: Mosquitto) -> Callable[[], None]:
    return mosquitto.restart


class MqttRecorder:
    """A paho client that records every message it receives, for assertions."""

    def __init__(self, port: int, topics: list[str], *, client_id: str = "", clean_session: bool = True,
                 username: str | None = None, password: str | None = None) -> None:
        self.messages: list[tuple[str, bytes, bool, float]] = []
        """(topic, payload, retain flag, time.monotonic() on arrival)."""
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean_session)
        if username:
            self.client.username_pw_set(username, password)
        self.client.reconnect_delay_set(0.1, 0.5)  # type: ignore[arg-type]
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if topics:
            self.client.subscribe([(t, 1) for t in topics])
            assert self._subscribed.wait(5), "no SUBACK"

    def _on_message(self, client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        with self._cond:
            self.messages.append((msg.topic, msg.payload, bool(msg.retain), time.monotonic()))
            self._cond.notify_all()

    def wait_for(self, pred: Callable[[str, bytes, bool], bool], timeout: float = 10.0, count: int = 1,
                 ) -> list[tuple[str, bytes, bool, float]]:
        """Wait until `count` received messages satisfy pred(topic, payload, retain); return them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                hits = [m for m in self.messages if pred(m[0], m[1], m[2])]
                if len(hits) >= count:
                    return hits
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(m[0], m[1][:80]) for m in self.messages[-20:]]
                    raise AssertionError(f"timed out waiting for {count} message(s); last seen: {seen}")
                self._cond.wait(left)

    def on(self, topic: str) -> list[bytes]:
        with self._cond:
            return [m[1] for m in self.messages if m[0] == topic]

    def publish(self, topic: str, payload: str | bytes, qos: int = 1, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def mqtt_client() -> Iterator[Callable[..., MqttRecorder]]:
    made: list[MqttRecorder] = []

    def make(port: int, topics: list[str], **kw: object) -> MqttRecorder:
        r = MqttRecorder(port, topics, **kw)  # type: ignore[arg-type]
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()
