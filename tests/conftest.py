"""Shared fixtures: the test configuration, rendered speech (once per session) and one loaded pipeline."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

import pytest
import yaml

from slm_voice.daemon.settings import Settings, parse_settings

pytest_plugins = ["tests.conftest_broker", "tests.conftest_homeassistant"]

HEAVY = ("models", "slm", "broker", "homeassistant", "tools", "soak")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test without a heavy marker is quick: `make test-quick` runs those (pytest -m quick) in seconds."""
    for item in items:
        if not any(item.get_closest_marker(m) for m in HEAVY):
            item.add_marker(pytest.mark.quick)

ROOT = Path(__file__).resolve().parents[1]

# What daemons started by the tests remember (mute, timers, undelivered actions) stays inside this test session.
os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="slm-voice-test-state-")


@pytest.fixture(scope="session", autouse=True)
def _private_state_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Daemons started by tests keep their state (mute, wake threshold, timers, outbox) in a folder of this session,
    never in the user's ~/.local/state: a threshold one test sets must not deafen the next run's daemon."""
    os.environ["XDG_STATE_HOME"] = str(tmp_path_factory.mktemp("state"))


def base_config(**sections: dict) -> dict:
    """config.yaml as a dict, with MQTT and the language model off and a null sink unless overridden."""
    raw = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    raw["mqtt"] = {**raw["mqtt"], "enabled": False}
    raw["slm"] = {**raw["slm"], "enabled": False}
    raw["audio"] = {**raw["audio"], "sink": "null", "source": "stdin"}
    for name, values in sections.items():
        raw[name] = {**raw.get(name, {}), **values}
    return raw


@pytest.fixture(scope="session")
def settings() -> Settings:
    return parse_settings(base_config())


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Rendered audio is cached per session in a tmp dir (SLM_VOICE_CORPUS_DIR to reuse a cache)."""
    env = os.environ.get("SLM_VOICE_CORPUS_DIR")
    return Path(env) if env else tmp_path_factory.mktemp("corpus")


@pytest.fixture(scope="session")
def runner(settings: Settings):
    """One FileRunner (all pipeline models loaded once) shared by the pipeline tests; templates only."""
    from slm_voice.daemon.process import FileRunner

    r = FileRunner(settings, wake_word_required=True, with_slm=False)
    yield r
    r.close()


def run_async(coro):  # noqa: ANN001, ANN201 - test helper
    return asyncio.run(coro)
