"""Benchmarks and evaluations of slm-voice: rendered speech, black-box latency, accuracy on case files.

Imports the daemon and the pipeline; nothing imports it back (the CLI finds its subcommands by entry point).
"""
