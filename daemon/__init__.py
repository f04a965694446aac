"""The slm-voice service: configuration, lifecycle, MQTT, Home Assistant and the command line."""

__version__ = "0.1.0"
