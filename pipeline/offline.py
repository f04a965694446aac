"""Offline by construction: every library's telemetry and hub access off before any of them is imported.

ONNX Runtime (>= 1.29) and onnxruntime-genai send usage telemetry unless ORT_DISABLE_TELEMETRY is set before they
initialise (genai 0.18 also keeps a local event database under ~/.cache/Microsoft); Hugging Face libraries (used by
faster-whisper for model names) try the hub unless HF_HUB_OFFLINE is set. Imported by slm_voice.pipeline, so any
process that runs a stage has them set; the systemd unit sets them too. A value the user set wins.
"""

from __future__ import annotations

import os

SWITCHES: dict[str, str] = {
    "ORT_DISABLE_TELEMETRY": "1",
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "DO_NOT_TRACK": "1",
}
"""Environment switches set at import (names and values as each library documents them)."""


def go_offline() -> None:
    """Set every switch that is not already set."""
    for name, value in SWITCHES.items():
        os.environ.setdefault(name, value)


go_offline()
