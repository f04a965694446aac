"""`device: cuda` is checked when the config loads: without CUDA in the libraries, a clear config error."""

from __future__ import annotations

from pathlib import Path

import ctranslate2
import onnxruntime_genai
import pytest

from slm_voice.daemon import accelerators
from slm_voice.daemon.settings import ConfigError, parse_settings


@pytest.fixture(autouse=True)
def fresh_probe():
    accelerators.cuda_problem.cache_clear()
    yield
    accelerators.cuda_problem.cache_clear()


def test_stt_on_cuda_without_a_cuda_ctranslate2_names_what_to_install(monkeypatch):
    monkeypatch.setattr(ctranslate2, "get_cuda_device_count", lambda: 0)
    with pytest.raises(ConfigError) as e:
        parse_settings({"stt": {"device": "cuda"}})
    msg = str(e.value)
    assert msg.startswith("config: stt.device: cuda: CTranslate2")
    assert "built with CUDA" in msg and "use cpu" in msg


def test_stt_on_cuda_is_accepted_where_ctranslate2_sees_a_gpu(monkeypatch):
    monkeypatch.setattr(ctranslate2, "get_cuda_device_count", lambda: 1)
    assert parse_settings({"stt": {"device": "cuda"}}).stt.device == "cuda"


def test_a_cuda_runtime_that_fails_is_a_config_error_not_a_traceback(monkeypatch):
    def broken() -> int:
        raise RuntimeError("CUDA driver version is insufficient for CUDA runtime version")

    monkeypatch.setattr(ctranslate2, "get_cuda_device_count", broken)
    with pytest.raises(ConfigError, match="insufficient"):
        parse_settings({"stt": {"device": "cuda"}})


def test_slm_on_cuda_without_the_cuda_genai_names_the_package(monkeypatch):
    monkeypatch.setattr(onnxruntime_genai, "is_cuda_available", lambda: False)
    with pytest.raises(ConfigError) as e:
        parse_settings({"slm": {"device": "cuda"}})
    assert "slm.device: cuda" in str(e.value) and "pip install onnxruntime-genai-cuda==" in str(e.value)
    # The language model switched off: its device is not checked.
    assert parse_settings({"slm": {"enabled": False, "device": "cuda"}}).slm.enabled is False


def test_slm_on_cuda_is_accepted_where_genai_has_cuda(monkeypatch):
    monkeypatch.setattr(onnxruntime_genai, "is_cuda_available", lambda: True)
    assert parse_settings({"slm": {"device": "cuda"}}).slm.device == "cuda"


@pytest.mark.skipif(Path("/dev/nvidia0").exists() or Path("/dev/nvhost-gpu").exists(), reason="a GPU is here")
def test_the_real_libraries_on_a_machine_without_gpu_refuse_cuda():
    # No stubs: what this machine's ctranslate2 and onnxruntime-genai say.
    for stage in ("stt", "slm"):
        problem = accelerators.cuda_problem(stage)
        assert problem is not None and "use cpu" in problem
    assert parse_settings({"stt": {"device": "cpu"}, "slm": {"device": "cpu"}}).stt.device == "cpu"
