"""A real Home Assistant core (2024.3.3) for integration tests, offline, on a free loopback port.

Standard library only, plus the `websockets` package for the WebSocket API when it is importable (it is a
dependency of amqtt, so it is in the project venv); otherwise a minimal stdlib WebSocket client is used.
Nothing from the project is imported, so this file also runs on its own:

    python tests/homeassistant_server.py            # install (once) and start one HA, print url + token

Home Assistant is installed once into a venv outside the clone (`~/.cache/slm-voice-test/ha-2024.3.3`, or
$SLM_VOICE_HA_VENV) by `ensure_ha_venv()`: `pip download --no-deps homeassistant==2024.3.3`, the wheel's
`homeassistant/package_constraints.txt`, then `pip install -c constraints homeassistant 'josepy<2'` plus the
requirements of every integration the test config loads, so HA runs with `--skip-pip` and never calls pip.

Use (one HA per pytest session; `ha_fixture` at the bottom is a ready fixture body):

    with HomeAssistantServer(tmp_dir, mqtt_port=broker_port) as ha:    # ~2 s; ha.url, ha.token, ha.ws_url
        ha.ws_call({"type": "call_service", "domain": "light", "service": "turn_on",
                    "target": {"entity_id": "light.kitchen_light"}})     # -> result, or raises HaError
        ha.wait_state("light.kitchen_light", "on")
        with ha.subscription("state_changed") as (ws, sub):              # own connection for events
            ha.call_service("lock", "lock", target={"entity_id": "lock.front_door"})
            event = ws.wait_event(sub, lambda e: e["data"]["entity_id"] == "lock.front_door")
        ha.restart()                                                      # same port, config, token

Every start waits for state RUNNING and fails loudly (with the log tail) on recovery mode or on
"Invalid config for" / "Setup failed for" lines, so a typo in `extra_yaml` cannot pass unnoticed.

What the test home contains (all template entities backed by helpers, so services really change state):
    light.kitchen_light (brightness), light.living_room_lamp, light.bedroom_light, switch.coffee_maker,
    cover.garage_door (device_class garage), lock.front_door, fan.bedroom_fan, weather.home_weather (partly cloudy,
    12.5 °C),
    sensor.living_room_temperature (°C, from input_number.living_room_temperature_value),
    climate.living_room_thermostat (generic_thermostat on that sensor, heater switch.living_room_heater;
    HA's HassClimateGetTemperature intent needs a climate entity)
Areas (onboarding creates Living Room, Kitchen and Bedroom; Garage and Hallway are added): see DEFAULT_AREAS.

Onboarding never calls POST /api/onboarding/core_config: in 2024.3 that step starts config flows for
google_translate, met, radio_browser and shopping_list (internet). The harness marks the step done in
`.storage/onboarding` before the first start instead; the other three steps go through the REST API.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import fcntl
import io
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HA_VERSION = "2024.3.3"
_MARKER = ".slm-voice-ha-installed"
CLIENT_ID = "http://127.0.0.1/"  # IndieAuth client id: any http URL; the redirect URI must share its host
USERNAME = "test"
PASSWORD = "test-password"

# Integrations the test config sets up (besides HA's always-loaded defaults); their requirements are
# installed with HA so that `hass --skip-pip` works.
CONFIG_INTEGRATIONS = (
    "http", "api", "websocket_api", "config", "onboarding", "conversation", "intent", "automation", "logger",
    "input_boolean", "input_number", "template", "light", "switch", "cover", "lock", "fan", "sensor", "mqtt",
    "climate", "generic_thermostat", "weather", "todo", "shopping_list",
)
"""(shopping_list is added by a test through its config flow, and removed again: its YAML import waits on a form.)"""

# area name -> entity ids. Living Room, Kitchen and Bedroom are created by onboarding already.
DEFAULT_AREAS: dict[str, list[str]] = {
    "Kitchen": ["light.kitchen_light", "switch.coffee_maker"],
    "Living Room": ["light.living_room_lamp", "sensor.living_room_temperature", "climate.living_room_thermostat",
                    "switch.living_room_heater"],
    "Bedroom": ["light.bedroom_light", "fan.bedroom_fan"],
    "Garage": ["cover.garage_door"],
    "Hallway": ["lock.front_door"],
}


def _log(msg: str) -> None:
    print(f"[homeassistant_server] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------- install


def default_venv_dir() -> Path:
    env = os.environ.get("SLM_VOICE_HA_VENV")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "slm-voice-test" / f"ha-{HA_VERSION}"


def _base_python() -> str:
    """Interpreter the HA venv is made from: $SLM_VOICE_HA_PYTHON, else the base of the running one (3.11+)."""
    return os.environ.get("SLM_VOICE_HA_PYTHON") or getattr(sys, "_base_executable", None) or sys.executable


def _installed(venv: Path) -> bool:
    marker = venv / _MARKER
    return marker.is_file() and marker.read_text().strip() == HA_VERSION and (venv / "bin" / "python").exists()


def ensure_ha_venv(cache_dir: Path | None = None) -> Path:
    """Install Home Assistant core into a venv at `cache_dir` (default: `default_venv_dir()`) once.

    Idempotent: a marker file is written last, so an install that was killed half-way is wiped and redone.
    An flock on a file next to the venv makes concurrent pytest workers wait for one install; the lock's fd is
    inherited by pip, so when the installing process is killed, others wait until its orphaned pip is done.
    Returns the venv directory; HA's interpreter is `venv / "bin" / "python"`.
    """
    venv = Path(cache_dir).expanduser() if cache_dir else default_venv_dir()
    if _installed(venv):
        return venv
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f".{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # blocks while another process installs; released on close/death
        if not _installed(venv):
            _install(venv, lock.fileno())
            (venv / _MARKER).write_text(HA_VERSION + "\n")
    return venv


def _run(cmd: list[str], what: str, lock_fd: int | None = None) -> str:
    t0 = time.monotonic()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          pass_fds=() if lock_fd is None else (lock_fd,))
    if proc.returncode:
        raise RuntimeError(f"{what} failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout[-4000:]}")
    _log(f"{time.monotonic() - t0:6.1f} s  {what}")
    return proc.stdout


# Run with HA's interpreter: the pip requirements of the integrations HA will set up, following dependencies
# and after_dependencies as HA's own requirement check does (analytics imports recorder, hence SQLAlchemy).
_REQS_SCRIPT = """
import json, sys
from pathlib import Path
import homeassistant.bootstrap as b
comp = Path(b.__file__).parent / "components"
todo = [*b.CORE_INTEGRATIONS, "logger", "system_log", *b.DEFAULT_INTEGRATIONS, *sys.argv[1:]]
seen, reqs = set(), set()
while todo:
    d = todo.pop()
    if d in seen or not (comp / d / "manifest.json").is_file():
        continue
    seen.add(d)
    m = json.loads((comp / d / "manifest.json").read_text())
    reqs.update(m.get("requirements", []))
    todo += m.get("dependencies", []) + m.get("after_dependencies", [])
print(json.dumps(sorted(reqs)))
"""


def _install(venv: Path, lock_fd: int | None = None) -> None:
    t0 = time.monotonic()
    if venv.exists():
        _log(f"removing incomplete install at {venv}")
        shutil.rmtree(venv)
    base = _base_python()
    version = subprocess.run([base, "-c", "import sys; print(sys.version_info >= (3, 11))"],
                             capture_output=True, text=True).stdout.strip()
    if version != "True":
        raise RuntimeError(f"Home Assistant {HA_VERSION} needs Python 3.11 or 3.12; {base} is older: "
                           "point $SLM_VOICE_HA_PYTHON at a python3.11")
    _log(f"installing Home Assistant {HA_VERSION} into {venv} (once; 1-2.5 min with a warm pip cache, "
         "~4.5 min without)")
    _run([base, "-m", "venv", str(venv)], "venv", lock_fd)
    py = str(venv / "bin" / "python")
    pip = [py, "-m", "pip", "--disable-pip-version-check", "-q"]
    constraints = venv / "package_constraints.txt"
    with tempfile.TemporaryDirectory(prefix="ha-wheel-") as tmp:
        _run([*pip, "download", "--no-deps", "-d", tmp, f"homeassistant=={HA_VERSION}"], "pip download", lock_fd)
        wheel = next(Path(tmp).glob("homeassistant-*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            constraints.write_bytes(zf.read("homeassistant/package_constraints.txt"))
        _run([*pip, "install", "-c", str(constraints), str(wheel), "josepy<2"], "pip install homeassistant",
             lock_fd)
    reqs = json.loads(_run([py, "-c", _REQS_SCRIPT, *CONFIG_INTEGRATIONS], "integration requirements"))
    # get_services imports every "base component" (helpers/service.py), camera imports stream, stream numpy
    reqs.append("numpy")
    _run([*pip, "install", "-c", str(constraints), *reqs], f"pip install {len(reqs)} integration requirements",
         lock_fd)
    size = sum(f.stat().st_size for f in venv.rglob("*") if f.is_file() and not f.is_symlink())
    _log(f"Home Assistant {HA_VERSION} installed in {time.monotonic() - t0:.0f} s, {size / 1e6:.0f} MB")


# ------------------------------------------------------------------------------------------ websocket


class HaError(RuntimeError):
    """A WebSocket command answered with success: false."""

    def __init__(self, code: str, message: str, response: dict | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.response = response


class HaAuthError(RuntimeError):
    """The WebSocket API refused the token (auth_invalid)."""


class _StdlibWs:
    """Just enough RFC 6455 client for HA on loopback: text frames, fragments, ping/pong, close."""

    def __init__(self, url: str, timeout: float) -> None:
        u = urllib.parse.urlsplit(url)
        self.sock = socket.create_connection((u.hostname, u.port or 80), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        req = (f"GET {u.path or '/'} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.sock.sendall(req.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("websocket handshake: connection closed")
            head += chunk
        head, rest = head.split(b"\r\n\r\n", 1)
        self.buf = bytearray(rest)
        self.parts: list[bytes] = []
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(f"websocket handshake refused: {head[:200]!r}")

    def _frame(self) -> tuple[int, bytes] | None:
        """Take one complete frame off the buffer (server frames are unmasked), or None if incomplete."""
        b = self.buf
        if len(b) < 2:
            return None
        n, i = b[1] & 0x7F, 2
        if n == 126:
            if len(b) < 4:
                return None
            n, i = struct.unpack_from("!H", b, 2)[0], 4
        elif n == 127:
            if len(b) < 10:
                return None
            n, i = struct.unpack_from("!Q", b, 2)[0], 10
        if len(b) < i + n:
            return None
        self.buf = b[i + n:]
        return b[0], bytes(b[i:i + n])

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        n = len(payload)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def send(self, text: str) -> None:
        self._send_frame(0x1, text.encode())

    def recv(self, timeout: float | None = None) -> str:
        """Next text message; raises socket.timeout without losing buffered data."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            frame = self._frame()
            if frame is None:
                self.sock.settimeout(None if deadline is None else max(0.001, deadline - time.monotonic()))
                chunk = self.sock.recv(1 << 16)
                if not chunk:
                    raise ConnectionError("websocket closed")
                self.buf += chunk
                continue
            b0, payload = frame
            opcode = b0 & 0x0F
            if opcode == 0x9:
                self._send_frame(0xA, payload)
            elif opcode == 0x8:
                raise ConnectionError("websocket closed by server")
            elif opcode in (0x0, 0x1, 0x2):
                self.parts.append(payload)  # kept on the object: a timeout between fragments loses nothing
                if b0 & 0x80:
                    text, self.parts = b"".join(self.parts).decode(), []
                    return text

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._send_frame(0x8, struct.pack("!H", 1000))
        self.sock.close()


class _WebsocketsWs:
    def __init__(self, url: str, timeout: float) -> None:
        from websockets.sync.client import connect

        self.conn = connect(url, open_timeout=timeout, max_size=64 * 2**20, compression=None)

    def send(self, text: str) -> None:
        self.conn.send(text)

    def recv(self, timeout: float | None = None) -> str:
        try:
            return self.conn.recv(timeout=timeout)
        except TimeoutError:
            raise TimeoutError("websocket recv timed out") from None

    def close(self) -> None:
        self.conn.close()


def _use_websockets() -> bool:
    if os.environ.get("SLM_VOICE_HA_STDLIB_WS"):
        return False
    try:
        import websockets.sync.client  # noqa: F401
    except ImportError:
        return False
    return True


class HaWebSocket:
    """Synchronous Home Assistant WebSocket API client (authenticated). Not thread-safe; HomeAssistantServer
    guards its shared instance with a lock. Events of subscriptions are buffered per subscription id."""

    def __init__(self, url: str, token: str, timeout: float = 10.0) -> None:
        self.url = url
        self.timeout = timeout
        self.ws = _WebsocketsWs(url, timeout) if _use_websockets() else _StdlibWs(url, timeout)
        self._next_id = 1
        self._events: dict[int, deque[dict]] = {}
        self._results: dict[int, dict] = {}
        hello = self._recv(timeout)
        if hello.get("type") != "auth_required":
            raise ConnectionError(f"unexpected greeting {hello}")
        self.ha_version = hello.get("ha_version")
        self.ws.send(json.dumps({"type": "auth", "access_token": token}))
        reply = self._recv(timeout)
        if reply.get("type") != "auth_ok":
            self.ws.close()
            raise HaAuthError(f"websocket auth failed: {reply}")

    def _recv(self, timeout: float | None) -> dict:
        return json.loads(self.ws.recv(timeout))

    def _pump(self, deadline: float) -> None:
        """Read one message and file it as a result or an event."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no websocket message in time")
        try:
            msg = self._recv(left)
        except TimeoutError:
            raise TimeoutError("no websocket message in time") from None
        msgs = msg if isinstance(msg, list) else [msg]  # coalesced messages (not requested, but harmless)
        for m in msgs:
            if m.get("type") == "event":
                self._events.setdefault(m["id"], deque()).append(m["event"])
            else:
                self._results[m.get("id", -1)] = m

    def send(self, msg: dict) -> int:
        msg = dict(msg)
        msg["id"] = msg_id = self._next_id
        self._next_id += 1
        self.ws.send(json.dumps(msg))
        return msg_id

    def call_raw(self, msg: dict, timeout: float | None = None) -> dict:
        """Send a command, return the whole `{"id", "type": "result", "success", "result" | "error"}`."""
        msg_id = self.send(msg)
        deadline = time.monotonic() + (timeout or self.timeout)
        while msg_id not in self._results:
            self._pump(deadline)
        return self._results.pop(msg_id)

    def call(self, msg: dict, timeout: float | None = None) -> Any:
        """Send a command; return its `result`, raise HaError(code, message) when success is false."""
        resp = self.call_raw(msg, timeout)
        if resp.get("type") == "pong":  # {"type": "ping"} is answered by {"id": N, "type": "pong"}
            return "pong"
        if not resp.get("success"):
            err = resp.get("error") or {}
            raise HaError(err.get("code", "?"), err.get("message", ""), resp)
        return resp.get("result")

    def subscribe(self, msg: dict, timeout: float | None = None) -> int:
        """Send a subscribe_* command; return the subscription id for next_event()."""
        resp = self.call_raw(msg, timeout)
        if not resp.get("success"):
            err = resp.get("error") or {}
            raise HaError(err.get("code", "?"), err.get("message", ""), resp)
        self._events.setdefault(resp["id"], deque())
        return resp["id"]

    def subscribe_events(self, event_type: str | None = None) -> int:
        msg: dict = {"type": "subscribe_events"}
        if event_type:
            msg["event_type"] = event_type
        return self.subscribe(msg)

    def next_event(self, sub_id: int, timeout: float = 5.0) -> dict:
        """The next buffered or incoming event of a subscription (raises TimeoutError)."""
        deadline = time.monotonic() + timeout
        q = self._events.setdefault(sub_id, deque())
        while not q:
            self._pump(deadline)
        return q.popleft()

    def wait_event(self, sub_id: int, predicate: Any, timeout: float = 5.0) -> dict:
        """The first event of the subscription for which predicate(event) is true."""
        deadline = time.monotonic() + timeout
        while True:
            ev = self.next_event(sub_id, max(0.001, deadline - time.monotonic()))
            if predicate(ev):
                return ev

    def drain(self, sub_id: int) -> list[dict]:
        q = self._events.get(sub_id, deque())
        out = list(q)
        q.clear()
        return out

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ws.close()

    def __enter__(self) -> HaWebSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ------------------------------------------------------------------------------------------- config


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _helper_yaml() -> str:
    return """
input_boolean:
  kitchen_light_power: {name: Kitchen light power}
  living_room_lamp_power: {name: Living room lamp power}
  bedroom_light_power: {name: Bedroom light power}
  coffee_maker_power: {name: Coffee maker power}
  garage_door_open: {name: Garage door open}
  front_door_locked: {name: Front door locked}
  bedroom_fan_power: {name: Bedroom fan power}
  living_room_heater_power: {name: Living room heater power}

input_number:
  kitchen_light_level: {name: Kitchen light level, min: 0, max: 255, step: 1, initial: 255}
  living_room_temperature_value: {name: Living room temperature value, min: -20, max: 40, step: 0.5,
                                  initial: 21.5, unit_of_measurement: "°C"}
"""


def _onoff(helper: str, on: str = "turn_on", off: str = "turn_off") -> str:
    return (f"        {on}: {{service: input_boolean.turn_on, target: {{entity_id: input_boolean.{helper}}}}}\n"
            f"        {off}: {{service: input_boolean.turn_off, target: {{entity_id: input_boolean.{helper}}}}}\n")


def _entities_yaml() -> str:
    def light(obj: str, name: str) -> str:
        return (f"      {obj}:\n        unique_id: slm_test_{obj}\n        friendly_name: {name}\n"
                f"        value_template: \"{{{{ is_state('input_boolean.{obj}_power', 'on') }}}}\"\n"
                + _onoff(f"{obj}_power"))

    return (
        "light:\n  - platform: template\n    lights:\n"
        + light("kitchen_light", "Kitchen Light")
        + """        level_template: "{{ states('input_number.kitchen_light_level') | int(255) }}"
        set_level:
          - service: input_number.set_value
            target: {entity_id: input_number.kitchen_light_level}
            data: {value: "{{ brightness }}"}
          - service: input_boolean.turn_on
            target: {entity_id: input_boolean.kitchen_light_power}
"""
        + light("living_room_lamp", "Living Room Lamp")
        + light("bedroom_light", "Bedroom Light")
        + """
switch:
  - platform: template
    switches:
      coffee_maker:
        unique_id: slm_test_coffee_maker
        friendly_name: Coffee Maker
        value_template: "{{ is_state('input_boolean.coffee_maker_power', 'on') }}"
""" + _onoff("coffee_maker_power") + """      living_room_heater:
        unique_id: slm_test_living_room_heater
        friendly_name: Living Room Heater
        value_template: "{{ is_state('input_boolean.living_room_heater_power', 'on') }}"
""" + _onoff("living_room_heater_power") + """
climate:
  - platform: generic_thermostat
    name: Living Room Thermostat
    unique_id: slm_test_living_room_thermostat
    heater: switch.living_room_heater
    target_sensor: sensor.living_room_temperature
    min_temp: 7
    max_temp: 30
    target_temp: 20
    initial_hvac_mode: heat
    precision: 0.5

cover:
  - platform: template
    covers:
      garage_door:
        unique_id: slm_test_garage_door
        friendly_name: Garage Door
        device_class: garage
        value_template: "{{ 'open' if is_state('input_boolean.garage_door_open', 'on') else 'closed' }}"
""" + _onoff("garage_door_open", "open_cover", "close_cover") + """
lock:
  - platform: template
    name: Front Door
    unique_id: slm_test_front_door
    value_template: "{{ is_state('input_boolean.front_door_locked', 'on') }}"
    lock: {service: input_boolean.turn_on, target: {entity_id: input_boolean.front_door_locked}}
    unlock: {service: input_boolean.turn_off, target: {entity_id: input_boolean.front_door_locked}}

fan:
  - platform: template
    fans:
      bedroom_fan:
        unique_id: slm_test_bedroom_fan
        friendly_name: Bedroom Fan
        value_template: "{{ states('input_boolean.bedroom_fan_power') }}"
""" + _onoff("bedroom_fan_power") + """
weather:
  - platform: template
    name: Home Weather
    unique_id: slm_test_weather
    condition_template: "partlycloudy"
    temperature_template: "{{ 12.5 }}"
    temperature_unit: "°C"
    humidity_template: "{{ 60 }}"
template:
  - sensor:
      - name: Living Room Temperature
        unique_id: slm_test_living_room_temperature
        unit_of_measurement: "°C"
        device_class: temperature
        state_class: measurement
        state: "{{ states('input_number.living_room_temperature_value') }}"
""")


def configuration_yaml(port: int, log_level: str = "warning", extra_yaml: str = "") -> str:
    """The whole configuration.yaml: only offline integrations (no default_config:, cloud, met, ...)."""
    return f"""# written by tests/homeassistant_server.py
homeassistant:
  name: Test Home
  latitude: 52.3731
  longitude: 4.8922
  elevation: 0
  unit_system: metric
  time_zone: UTC
  currency: EUR
  country: NL
  language: en
  internal_url: "http://127.0.0.1:{port}"

http:
  server_host: 127.0.0.1
  server_port: {port}

api:
websocket_api:
config:
onboarding:
conversation:
intent:
automation: []

logger:
  default: {log_level}
  logs:
    homeassistant.bootstrap: info
    homeassistant.setup: info
{_helper_yaml()}
{_entities_yaml()}
{extra_yaml}
"""


# Run by HA's interpreter instead of `hass`: records every non-loopback connect / DNS lookup to a file, then
# runs homeassistant.__main__ (argv after the code is HA's argv).
_AUDIT_LAUNCHER = r"""
import os, sys
_log = open(os.environ["SLM_VOICE_HA_NETLOG"], "a", buffering=1)
_LOCAL = ("127.", "::1", "localhost", "0.0.0.0", "::")
def _hook(event, args):
    if event == "socket.connect":
        addr = args[1]
        if isinstance(addr, tuple) and not str(addr[0]).startswith(_LOCAL):
            _log.write(f"connect {addr!r}\n")
    elif event in ("socket.getaddrinfo", "socket.gethostbyname"):
        host = args[0]
        if host and not (host.decode() if isinstance(host, bytes) else str(host)).startswith(_LOCAL):
            _log.write(f"{event.split('.')[1]} {host!r}\n")
sys.addaudithook(_hook)
sys.argv[0] = "hass"
from homeassistant.__main__ import main
sys.exit(main())
"""


# ------------------------------------------------------------------------------------------- server


class HomeAssistantServer:
    """One Home Assistant core process with a test home, onboarded, with a long-lived token.

    `workdir` holds the config dir (`workdir/config`), logs and the token; start/stop/restart keep port,
    config, entity/area registries, helper states (restored) and the token.
    """

    def __init__(self, workdir: Path | None = None, *, port: int | None = None, venv: Path | None = None,
                 mqtt_port: int | None = None, mqtt_username: str | None = None,
                 mqtt_password: str | None = None, areas: dict[str, list[str]] | None = None,
                 extra_yaml: str = "", log_level: str = "warning", startup_timeout: float = 120.0,
                 verbose: bool = True) -> None:
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="slm-voice-ha-"))
        self.config_dir = self.workdir / "config"
        self.port = port or free_port()
        self.venv = venv
        self.mqtt_port = mqtt_port
        self.mqtt_username = mqtt_username
        self.mqtt_password = mqtt_password
        self.areas = DEFAULT_AREAS if areas is None else areas
        self.extra_yaml = extra_yaml
        self.log_level = log_level
        self.startup_timeout = startup_timeout
        self.verbose = verbose
        self.proc: subprocess.Popen[bytes] | None = None
        self.token: str | None = None
        self.access_token: str | None = None  # short-lived (30 min) token from onboarding
        self.area_ids: dict[str, str] = {}  # area name -> area_id
        self.mqtt_entry_id: str | None = None
        self.timings: dict[str, float] = {}
        self._log_offset = 0
        self._ws: HaWebSocket | None = None
        self._ws_lock = threading.Lock()

    # -- properties
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/api/websocket"

    @property
    def log_file(self) -> Path:
        return self.config_dir / "home-assistant.log"

    @property
    def netlog_file(self) -> Path:
        return self.workdir / "network-attempts.log"

    def log_text(self) -> str:
        """HA's log of every start of this server (console output, appended; home-assistant.log is rotated
        at each start and keeps only the previous run in home-assistant.log.1)."""
        f = self.workdir / "hass.stdout.log"
        return f.read_text(errors="replace") if f.exists() else ""

    def network_attempts(self) -> list[str]:
        """Non-loopback connect() / DNS lookups HA made (audit hook). HA's `network` integration connects a
        UDP socket to 8.8.8.8 and 224.0.0.251 to learn the source address: no packet is sent by that."""
        return self.netlog_file.read_text().splitlines() if self.netlog_file.exists() else []

    # -- lifecycle
    def __enter__(self) -> HomeAssistantServer:
        self.start()
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.cleanup()  # keeps a workdir we did not create; keeps ours too when something failed (logs)
        else:
            self.stop()

    def _say(self, msg: str) -> None:
        if self.verbose:
            _log(msg)

    def _time(self, name: str, t0: float) -> None:
        self.timings[name] = round(time.monotonic() - t0, 3)

    def start(self) -> None:
        if self.proc and self.proc.poll() is None:
            return
        t_all = time.monotonic()
        t0 = time.monotonic()
        self.venv = ensure_ha_venv(self.venv)
        self._time("venv", t0)
        if not (self.config_dir / "configuration.yaml").exists():
            self._write_config()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self._time("total", t_all)
        self._say(f"Home Assistant {HA_VERSION} ready at {self.url} in {self.timings['total']:.1f} s "
                  f"{self.timings}")

    def _start(self) -> None:
        t0 = time.monotonic()
        self._launch()
        self._wait_http()
        self._time("http_up", t0)
        t0 = time.monotonic()
        token_file = self.workdir / "token"
        if token_file.exists():
            self.token = token_file.read_text().strip()
        else:
            self._onboard()
            token_file.write_text(self.token + "\n")
        self._time("onboarding", t0)
        t0 = time.monotonic()
        self._wait_running()
        self._time("running", t0)
        t0 = time.monotonic()
        done = self.workdir / "setup-done"  # areas and MQTT are set up once per workdir
        if not done.exists():
            self._setup_areas()
            if self.mqtt_port:
                self.setup_mqtt(self.mqtt_port, self.mqtt_username, self.mqtt_password)
            done.touch()
        else:
            self.area_ids = {a["name"]: a["area_id"] for a in self.ws_call({"type": "config/area_registry/list"})}
        self._time("areas_mqtt", t0)

    def _write_config(self) -> None:
        storage = self.config_dir / ".storage"
        storage.mkdir(parents=True, exist_ok=True)
        (self.config_dir / "configuration.yaml").write_text(
            configuration_yaml(self.port, self.log_level, self.extra_yaml), encoding="utf-8")
        # core_config onboarding step would set up google_translate, met, radio_browser, shopping_list
        (storage / "onboarding").write_text(json.dumps(
            {"version": 4, "minor_version": 1, "key": "onboarding", "data": {"done": ["core_config"]}}))

    def _launch(self) -> None:
        if not _port_free(self.port):
            raise RuntimeError(f"port {self.port} is in use")
        assert self.venv is not None
        env = dict(os.environ, SLM_VOICE_HA_NETLOG=str(self.netlog_file), PYTHONUNBUFFERED="1")
        for var in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"):  # the test's venv must not leak into HA
            env.pop(var, None)
        self.stdout_file = self.workdir / "hass.stdout.log"
        self._log_offset = len(self.log_text())
        with open(self.stdout_file, "ab") as out:
            self.proc = subprocess.Popen(
                [str(self.venv / "bin" / "python"), "-c", _AUDIT_LAUNCHER, "-c", str(self.config_dir),
                 "--skip-pip", "--log-no-color"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=self.workdir,
                start_new_session=True)
        atexit.register(self.stop)

    def _fail(self, why: str) -> None:
        tail = self.log_text()[-6000:]
        self.stop()
        raise RuntimeError(f"Home Assistant {why}\n--- log tail ---\n{tail}")

    def _wait_http(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                self._fail(f"exited with {self.proc.returncode if self.proc else '?'} during start-up")
            try:
                with urllib.request.urlopen(self.url + "/api/onboarding", timeout=1) as r:
                    r.read()
                return
            except urllib.error.HTTPError:
                return  # answering: 401/404 are fine (onboarding finished earlier)
            except OSError:
                time.sleep(0.05)
        self._fail(f"HTTP did not answer within {self.startup_timeout} s")

    def _wait_running(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                self._fail("exited during start-up")
            try:
                config = self.ws_call({"type": "get_config"})
            except HaAuthError:
                raise
            except Exception:  # noqa: BLE001 - not accepting connections yet
                config = {}
            if config.get("recovery_mode") or config.get("safe_mode"):
                self._fail("started in recovery/safe mode (bad configuration.yaml or a critical integration failed)")
            if config.get("state") == "RUNNING":
                self._check_log()
                return
            time.sleep(0.05)
        self._fail(f"was not RUNNING within {self.startup_timeout} s")

    def _check_log(self) -> None:
        """Fail on configuration errors of this start (a template typo would otherwise only miss an entity)."""
        text = self.log_text()[self._log_offset:]
        bad = [line for line in text.splitlines()
               if "Setup failed for" in line or "Invalid config for" in line or "Error while setting up" in line]
        if bad:
            self._fail("reported setup errors:\n" + "\n".join(bad[:20]))
        m = re.search(r"Home Assistant initialized in ([0-9.]+)s", text)
        if m:
            self.timings["ha_bootstrap"] = float(m.group(1))

    def _onboard(self) -> None:
        r = self.rest("POST", "/api/onboarding/users", {
            "client_id": CLIENT_ID, "name": "Test User", "username": USERNAME, "password": PASSWORD,
            "language": "en"}, auth=False)
        tokens = self._token_request({"grant_type": "authorization_code", "code": r["auth_code"],
                                      "client_id": CLIENT_ID})
        self.access_token = tokens["access_token"]
        self.rest("POST", "/api/onboarding/analytics", {}, token=self.access_token)
        self.rest("POST", "/api/onboarding/integration", {"client_id": CLIENT_ID, "redirect_uri": CLIENT_ID},
                  token=self.access_token)
        with HaWebSocket(self.ws_url, self.access_token) as ws:
            self.token = ws.call({"type": "auth/long_lived_access_token", "client_name": "slm-voice tests",
                                  "lifespan": 3650})

    def _token_request(self, form: dict) -> dict:
        data = urllib.parse.urlencode(form).encode()
        req = urllib.request.Request(self.url + "/auth/token", data=data, method="POST")
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def _setup_areas(self) -> None:
        existing = {a["name"]: a["area_id"] for a in self.ws_call({"type": "config/area_registry/list"})}
        for name, entity_ids in self.areas.items():
            if name not in existing:
                existing[name] = self.ws_call({"type": "config/area_registry/create", "name": name})["area_id"]
            for entity_id in entity_ids:
                self.ws_call({"type": "config/entity_registry/update", "entity_id": entity_id,
                              "area_id": existing[name]})
        self.area_ids = existing

    def setup_mqtt(self, port: int, username: str | None = None, password: str | None = None,
                   broker: str = "127.0.0.1") -> dict:
        """Add the MQTT integration through its config flow (once); returns the created config entry."""
        entries = self.rest("GET", "/api/config/config_entries/entry?domain=mqtt")
        if entries:
            self.mqtt_entry_id = entries[0]["entry_id"]
            return entries[0]
        flow = self.rest("POST", "/api/config/config_entries/flow", {"handler": "mqtt"})
        data: dict[str, Any] = {"broker": broker, "port": port}
        if username:
            data["username"] = username
            data["password"] = password or ""
        result = self.rest("POST", f"/api/config/config_entries/flow/{flow['flow_id']}", data)
        if result.get("type") != "create_entry":
            raise RuntimeError(f"MQTT config flow did not create an entry: {result}")
        self.mqtt_entry_id = result["result"]["entry_id"]
        return result["result"]

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM, wait (HA flushes .storage on stop), SIGKILL after `timeout`; always reaps the child."""
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)
        with self._ws_lock:
            if self._ws:
                self._ws.close()
                self._ws = None
        proc, self.proc = self.proc, None
        if proc is None:
            return
        t0 = time.monotonic()
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._say("Home Assistant ignored SIGTERM: killing it")
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait()
        self._time("stop", t0)

    def restart(self) -> None:
        """Stop and start again on the same port with the same config dir and token."""
        self.stop()
        deadline = time.monotonic() + 10
        while not _port_free(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.start()

    def cleanup(self) -> None:
        """stop() and delete the workdir if this object created it."""
        self.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- REST
    def rest(self, method: str, path: str, body: Any = None, *, auth: bool = True, token: str | None = None,
             timeout: float = 30.0) -> Any:
        """JSON REST call; returns the decoded body (None for an empty one); raises urllib.error.HTTPError."""
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {token or self.token}"
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                raw = r.read()
        except urllib.error.HTTPError as e:  # keep the type and code, put HA's reason into the message
            body = e.read()
            raise urllib.error.HTTPError(e.url, e.code, f"{e.reason}: {body[:500].decode(errors='replace')}",
                                         e.headers, io.BytesIO(body)) from None
        return json.loads(raw) if raw else None

    def states(self) -> list[dict]:
        return self.rest("GET", "/api/states")

    def state(self, entity_id: str) -> dict | None:
        """The state object `{entity_id, state, attributes, last_changed, ...}`, or None if unknown."""
        try:
            return self.rest("GET", f"/api/states/{entity_id}")
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise

    def wait_state(self, entity_id: str, value: str, timeout: float = 10.0) -> dict:
        """Poll until the entity's state equals `value`; returns the state object (raises TimeoutError)."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            last = self.state(entity_id)
            if last is not None and last["state"] == value:
                return last
            if time.monotonic() > deadline:
                raise TimeoutError(f"{entity_id} is {last and last['state']!r}, not {value!r} after {timeout} s")
            time.sleep(0.05)

    def call_service(self, domain: str, service: str, data: dict | None = None,
                     target: dict | None = None) -> Any:
        msg: dict[str, Any] = {"type": "call_service", "domain": domain, "service": service}
        if data:
            msg["service_data"] = data
        if target:
            msg["target"] = target
        return self.ws_call(msg)

    def reset(self) -> None:
        """Put the default test home back to its initial state (for tests sharing a session-scoped HA):
        every backing input_boolean off (lights, switches, fan, heater off, garage closed, front door unlocked),
        kitchen light level 255, temperature 21.5 °C, thermostat target 20 °C."""
        self.call_service("input_boolean", "turn_off", target={"entity_id": "all"})
        self.call_service("input_number", "set_value", {"value": 255},
                          target={"entity_id": "input_number.kitchen_light_level"})
        self.call_service("input_number", "set_value", {"value": 21.5},
                          target={"entity_id": "input_number.living_room_temperature_value"})
        self.call_service("climate", "set_temperature", {"temperature": 20},
                          target={"entity_id": "climate.living_room_thermostat"})
        self.wait_state("switch.living_room_heater", "off")

    # -- WebSocket
    def ws_call(self, msg: dict, timeout: float = 10.0) -> Any:
        """One command over a shared WebSocket connection; returns `result`, raises HaError(code, message).

        The connection is opened on first use and dropped after any transport error or timeout (the next call
        reconnects); a command is never re-sent, so nothing runs twice."""
        with self._ws_lock:
            if self._ws is None:
                self._ws = HaWebSocket(self.ws_url, self.token or "", timeout)
            try:
                return self._ws.call(msg, timeout)
            except HaError:
                raise
            except BaseException:
                self._ws.close()
                self._ws = None
                raise

    def websocket(self, timeout: float = 10.0) -> HaWebSocket:
        """A new, separate authenticated connection (for subscriptions); close it when done."""
        return HaWebSocket(self.ws_url, self.token or "", timeout)

    @contextlib.contextmanager
    def subscription(self, event_type: str | None = None) -> Iterator[tuple[HaWebSocket, int]]:
        """`with ha.subscription("state_changed") as (ws, sub): ws.next_event(sub)`."""
        ws = self.websocket()
        try:
            yield ws, ws.subscribe_events(event_type)
        finally:
            ws.close()


def _port_free(port: int) -> bool:
    """True when HA can bind the port (aiohttp sets SO_REUSEADDR, so TIME_WAIT leftovers do not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def ha_fixture(tmp_path_factory: Any, **kwargs: Any) -> Iterator[HomeAssistantServer]:
    """Body for a session-scoped pytest fixture:

        @pytest.fixture(scope="session")
        def homeassistant(tmp_path_factory):
            yield from ha_fixture(tmp_path_factory)
    """
    ha = HomeAssistantServer(tmp_path_factory.mktemp("homeassistant"), **kwargs)
    try:
        ha.start()
        yield ha
    finally:
        ha.stop()


if __name__ == "__main__":
    with HomeAssistantServer() as server:
        print(json.dumps({"url": server.url, "token": server.token, "workdir": str(server.workdir),
                          "timings": server.timings}, indent=1))
        if "--wait" in sys.argv:
            with contextlib.suppress(KeyboardInterrupt):
                signal.pause()
