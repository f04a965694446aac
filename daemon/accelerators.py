"""Can `device: cuda` work on this machine? Asked when the config loads, so a CPU-only install is a config error
naming what to install, not a traceback when the first model loads.

The libraries that would run on the GPU are asked without loading a model: CTranslate2 (faster-whisper) counts its
CUDA devices, onnxruntime-genai says whether its CUDA provider library loads. PyPI's aarch64 wheels of
ctranslate2 and onnxruntime-genai, the ones a Jetson gets from `make venv`, are CPU-only builds.
"""

from __future__ import annotations

import functools
import importlib.metadata
from typing import Literal

Stage = Literal["stt", "slm"]


def check_device(stage: Stage, device: str) -> str:
    """The device, when it can be used here; else ValueError saying why and what to do (a config validator)."""
    if device == "cuda" and (problem := cuda_problem(stage)):
        raise ValueError(problem)
    return device


@functools.cache
def cuda_problem(stage: Stage) -> str | None:
    """None when `<stage>.device: cuda` can work here, else why not and what to install (or: use cpu)."""
    from ..pipeline import offline  # noqa: F401 - telemetry off before onnxruntime-genai is imported

    if stage == "stt":
        return _ctranslate2_problem()
    return _genai_problem()


def _ctranslate2_problem() -> str | None:
    try:
        import ctranslate2
    except ImportError as e:
        return f"ctranslate2 (faster-whisper's engine) does not import: {e}"
    try:
        count = ctranslate2.get_cuda_device_count()
    except Exception as e:  # noqa: BLE001 - a broken CUDA runtime reports itself in many ways
        return f"cuda: CTranslate2 could not ask CUDA for devices ({e}); use cpu"
    if count > 0:
        return None
    return (
        f"cuda: CTranslate2 {_version('ctranslate2')} sees no CUDA device: it is a CPU-only build (PyPI's aarch64 "
        "wheels are) or no GPU and driver are visible. Install a CTranslate2 built with CUDA (on a Jetson: built "
        "from source against JetPack 6's CUDA and cuDNN, then `pip install` it into the venv), or use cpu"
    )


def _genai_problem() -> str | None:
    try:
        import onnxruntime_genai as og
    except ImportError as e:
        return f"onnxruntime-genai does not import: {e}"
    try:
        if og.is_cuda_available():
            return None
    except Exception:  # noqa: BLE001, S110 - treated as "not available" below
        pass
    return (
        f"cuda: the installed onnxruntime-genai {_version('onnxruntime-genai')} has no CUDA provider "
        "(libonnxruntime-genai-cuda.so). Replace it with onnxruntime-genai-cuda (`pip uninstall onnxruntime-genai "
        "&& pip install onnxruntime-genai-cuda==0.18.0`; its Linux aarch64 wheels have not been tried on a Jetson), "
        "or use cpu"
    )


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"
