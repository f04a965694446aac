"""Sound devices through sounddevice (PortAudio): find one by index or name, pick the settings it accepts.

sounddevice is imported only when a microphone or speaker is opened, so files and pipes work without a sound card.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from .audio import AudioDeviceError


def import_sounddevice() -> ModuleType:
    try:
        import sounddevice
    except OSError as e:  # raised when libportaudio2 is not installed
        raise AudioDeviceError(f"cannot use sound devices: {e} (install libportaudio2)") from None
    return sounddevice


def _device_list(sd: ModuleType, kind: str) -> list[tuple[int, dict[str, Any]]]:
    key = f"max_{kind}_channels"
    return [(i, d) for i, d in enumerate(sd.query_devices()) if d[key] > 0]


def _format_devices(sd: ModuleType, devices: list[tuple[int, dict[str, Any]]], kind: str) -> str:
    key = f"max_{kind}_channels"
    lines = []
    for i, d in devices:
        api = sd.query_hostapis(d["hostapi"])["name"]
        lines.append(f"  #{i} {d['name']} ({api}, {d[key]} ch, {d['default_samplerate']:.0f} Hz)")
    return "\n".join(lines)


def resolve_device(sd: ModuleType, spec: str | int | None, kind: str) -> tuple[int, dict[str, Any]]:
    """Find a PortAudio device by index or case-insensitive name substring; kind is "input" or "output"."""
    devices = _device_list(sd, kind)
    if not devices:
        raise AudioDeviceError(f"no audio {kind} devices found")
    listing = f"available {kind} devices:\n{_format_devices(sd, devices, kind)}"
    if isinstance(spec, str) and spec.strip().isdigit():
        spec = int(spec)
    if spec is None:
        default = sd.default.device[0 if kind == "input" else 1]
        match = [(i, d) for i, d in devices if i == default]
        if not match:
            raise AudioDeviceError(f"there is no default {kind} device; choose one by name or index\n{listing}")
        return match[0]
    if isinstance(spec, int) and not isinstance(spec, bool):
        match = [(i, d) for i, d in devices if i == spec]
        if not match:
            raise AudioDeviceError(f"{kind} device #{spec} does not exist\n{listing}")
        return match[0]
    needle = str(spec).lower()
    exact = [(i, d) for i, d in devices if d["name"].lower() == needle]
    match = exact or [(i, d) for i, d in devices if needle in d["name"].lower()]
    if not match:
        raise AudioDeviceError(f"no {kind} device matches {spec!r}\n{listing}")
    if len(match) > 1:
        raise AudioDeviceError(
            f"{kind} device {spec!r} is ambiguous; it matches:\n{_format_devices(sd, match, kind)}\n"
            "use a longer part of the name or the index"
        )
    return match[0]


def pick_settings(sd: ModuleType, index: int, info: dict[str, Any], kind: str, rates: list[int]) -> tuple[int, int]:
    """First (rate, channels) the device accepts for int16, preferring mono."""
    check = sd.check_input_settings if kind == "input" else sd.check_output_settings
    tried = []
    for rate in dict.fromkeys(rates):
        for channels in (1, 2):
            if channels > info[f"max_{kind}_channels"]:
                continue
            try:
                check(device=index, samplerate=rate, channels=channels, dtype="int16")
            except Exception as e:  # PortAudioError or ValueError: try the next setting
                tried.append(f"{rate} Hz/{channels} ch: {e}")
                continue
            return rate, channels
    raise AudioDeviceError(
        f"{kind} device #{index} {info['name']!r} accepts none of the settings tried:\n  " + "\n  ".join(tried)
    )

