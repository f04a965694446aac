"""What every settings class is built from: the frozen, strict dataclass decorator, the error config.yaml raises,
and checks for strings that become paths, hosts and topics."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from pydantic import ConfigDict
from pydantic.dataclasses import dataclass

_STRICT = ConfigDict(extra="forbid", use_attribute_docstrings=True)

SETTINGS_CLASSES: dict[str, type] = {}
"""Every settings class by name, in the order defined: an unknown key's "did you mean" walks them."""


def settings(cls: type) -> Any:
    """Frozen pydantic dataclass that rejects unknown keys."""
    built = dataclass(frozen=True, config=_STRICT)(cls)
    SETTINGS_CLASSES[built.__name__] = built
    return built


class ConfigError(ValueError):
    """config.yaml is unreadable or invalid; the message names the key path and the reason."""


# ---- strings checked for what they become (every other string is checked for control characters by
# settings_checks.check_strings after validation: a NUL reaches C code, a newline a log line or a topic) -------

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_HOST_LABEL = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")
MAX_PATH_BYTES = 4096
"""PATH_MAX on Linux."""


def check_text(v: str) -> str:
    """No control character, and text that can be written as UTF-8 (a lone surrogate from a YAML escape cannot)."""
    if (m := _CONTROL.search(v)) is not None:
        raise ValueError(f"control character {m.group()!r} at position {m.start()} is not allowed")
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("not valid Unicode text (a lone surrogate)") from None
    return v


def check_path(v: str | None) -> str | None:
    """A file or folder path: not blank, no control character (a NUL makes every file call fail), fits PATH_MAX."""
    if v is None:
        return None
    check_text(v)
    if not v.strip():
        raise ValueError("an empty path")
    if len(v.encode()) >= MAX_PATH_BYTES or any(len(p.encode()) > 255 for p in v.split("/")):
        raise ValueError(f"too long for a path ({len(v.encode())} bytes; a name at most 255)")
    return v


def check_model(v: str) -> str:
    """A model name or a path to one."""
    return check_path(v) or v


def check_host(v: str) -> str:
    """A host name or an IP address, as a socket call takes it."""
    check_text(v)
    try:
        ipaddress.ip_address(v)
        return v
    except ValueError:
        pass
    labels = v.removesuffix(".").split(".")
    if len(v) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"{v!r} is not a host name or IP address")
    return v


def check_topic(v: str | None) -> str | None:
    """A topic a message is published to: not empty, no wildcard (+, #), no control character, at most 64 KB."""
    if v is None:
        return None
    check_text(v)
    if not v or "+" in v or "#" in v or len(v.encode()) > 65535:
        raise ValueError(f"{v!r}: a topic must be non-empty, at most 65535 bytes, without + or #")
    return v
