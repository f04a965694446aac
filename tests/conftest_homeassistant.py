"""pytest plugin: one real Home Assistant (tests/homeassistant_server.py) per session, with its MQTT integration on a
session mosquitto and the generated slm-voice blueprint installed as an automation for the satellite `ha_sat`.

Registered in tests/conftest.py. The first use installs Home Assistant into a cached venv outside the clone
(about a minute, once); later sessions start it in a few seconds.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest_broker import Mosquitto, MqttRecorder
from tests.homeassistant_server import HomeAssistantServer

REPO = Path(__file__).resolve().parents[1]
BLUEPRINT_SATELLITE = "ha_sat"
"""The device id whose <base>/intent the blueprint automation follows."""
ASK_SATELLITE = "ha_ask"
"""The device id the example announce and ask scripts and automations (homeassistant/examples) talk to."""
EXAMPLES = REPO / "homeassistant" / "examples" / "slm_voice_announce_ask.yaml"

_AUTOMATION = f"""
automation slm_voice:
  - id: slm_voice_intents_{BLUEPRINT_SATELLITE}
    alias: slm-voice intents ({BLUEPRINT_SATELLITE})
    use_blueprint:
      path: slm-voice/slm_voice_intents.yaml
      input:
        base_topic: slm-voice/{BLUEPRINT_SATELLITE}
"""


def _wait_subscribed(ha: HomeAssistantServer, port: int, timeout: float = 20.0) -> None:
    """Publish a probe (which the blueprint ignores) until the automation runs on one: then Home Assistant has
    subscribed to the topic, and messages published later are seen."""
    probe = MqttRecorder(port, [])
    try:
        deadline = time.monotonic() + timeout
        while not ha.ws_call({"type": "trace/list", "domain": "automation"}):
            if time.monotonic() > deadline:
                raise RuntimeError("the blueprint automation never ran: Home Assistant did not subscribe")
            probe.publish(f"slm-voice/{BLUEPRINT_SATELLITE}/intent", '{"probe": true}')
            time.sleep(0.2)
    finally:
        probe.close()


@pytest.fixture(scope="session")
def ha_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    if shutil.which("mosquitto") is None:
        pytest.fail("mosquitto is not installed (apt-get install mosquitto)")
    broker = Mosquitto(tmp_path_factory.mktemp("ha-mosquitto"))
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def homeassistant(tmp_path_factory: pytest.TempPathFactory, ha_broker: Mosquitto) -> Iterator[HomeAssistantServer]:
    """A running Home Assistant 2024.3.3 with the test home, MQTT on ha_broker and the blueprint automation."""
    workdir = tmp_path_factory.mktemp("homeassistant")
    blueprints = workdir / "config" / "blueprints" / "automation" / "slm-voice"
    blueprints.mkdir(parents=True)
    shutil.copy(REPO / "homeassistant" / "blueprints" / "slm_voice_intents.yaml", blueprints)
    examples = EXAMPLES.read_text().replace("slm-voice/living_room", f"slm-voice/{ASK_SATELLITE}")
    ha = HomeAssistantServer(workdir, mqtt_port=ha_broker.port, extra_yaml=_AUTOMATION + examples)
    try:
        ha.start()
        # The MQTT integration was added after the automations were set up: switching them off and on attaches their
        # MQTT triggers (automation.reload skips automations whose config did not change).
        automation = {"entity_id": "all"}
        ha.call_service("automation", "turn_off", target=automation)
        ha.call_service("automation", "turn_on", target=automation)
        _wait_subscribed(ha, ha_broker.port)
        yield ha
    finally:
        ha.stop()
