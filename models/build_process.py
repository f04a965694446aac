"""Build steps as child processes: streamed or logged output, a clear BuildError when one fails, killed with us.

Shared by the INT4 build (build_slm), the build venv (build_env) and the fine-tune (tune/run); stdlib only.
"""

from __future__ import annotations

import codecs
import os
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from .locate import ModelError


class BuildError(ModelError):
    """The build could not run or failed; the message says what to do (a ModelError: the model is not there)."""


def run_streamed(cmd: Sequence[str], out: TextIO, env: dict[str, str] | None = None) -> None:
    """Run a command, streaming its combined output to `out` line by line (or chunk by chunk for progress bars)."""
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    except OSError as e:
        raise BuildError(f"cannot run {cmd[0]}: {e}") from e
    assert proc.stdout is not None
    text = codecs.getincrementaldecoder("utf-8")("replace")
    try:
        for chunk in iter(lambda: proc.stdout.read1(4096), b""):  # type: ignore[union-attr]
            out.write(text.decode(chunk))
            out.flush()
    finally:
        rc = proc.wait()
    if rc != 0:
        raise BuildError(f"command failed with exit status {rc}: {' '.join(cmd[:6])} ...")


def run_logged(cmd: Sequence[str], log: Path, what: str) -> None:
    """Run a build step offline in a child process (killed with this one), its output going to `log`."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    with open(log, "wb") as fh:
        rc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, preexec_fn=die_with_parent()).returncode
    if rc != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise BuildError(f"{what} failed (exit {rc}); end of {log}:\n{tail}")


def die_with_parent() -> Any:
    """A preexec_fn that has the child killed when the build process dies (no orphan writing into the partial
    output). libc is loaded before the fork: the child only makes the one system call."""
    try:
        import ctypes

        prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
