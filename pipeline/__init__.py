"""Audio in, events and audio out: the streaming stages of slm-voice.

This package knows no config file, no MQTT and no model catalog: every stage gets its model
path and plain settings in its constructor.
"""

from . import offline as _offline  # noqa: F401 - sets the telemetry switches before any model library loads
