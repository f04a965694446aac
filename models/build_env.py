"""The build venv (torch, transformers, the ONNX model builder), with torch's CPU-only build on every architecture.

PyPI's `torch` is the CUDA build on x86-64 and, since 2.x, on aarch64 too: `torch==2.13.0` there is ~3 GB of
downloads, 2.4 GB of them NVIDIA libraries a Raspberry Pi cannot use. So torch is installed first, on its own, from

1. ``$SLM_VOICE_TORCH_WHEELS`` (a folder of wheels, e.g. one holding ``torch-2.13.0+cpu-...whl``) when set;
2. PyTorch's own CPU index, https://download.pytorch.org/whl/cpu, when it answers;
3. else a ``+cpu`` wheel in a folder pip is configured to look in (pip.conf ``find-links``), with no index at all;

never from PyPI; then ``models/requirements-build.txt`` (whose ``torch==`` line the CPU build satisfies). The
venv must end up without CUDA (``torch.version.cuda`` is None), and its measured size is reported.
Stdlib only: runs in the runtime venv.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import TextIO

from .build_process import BuildError, run_streamed

TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
"""PyTorch's index of CPU-only wheels (x86-64 and aarch64)."""

TORCH_WHEELS_ENV = "SLM_VOICE_TORCH_WHEELS"
"""A folder of wheels holding torch's CPU build, for machines that cannot reach PyTorch's index."""


def create(path: Path, requirements: Path, *, python: str | None = None, out: TextIO | None = None) -> Path:
    """Create the build venv at path; returns its python. Raises BuildError with what to do when it cannot."""
    out = out or sys.stderr
    print(f"creating the build venv {path} ...", file=out, flush=True)
    run_streamed([python or sys.executable, "-m", "venv", str(path)], out)
    py = path / "bin" / "python"
    pip = [str(py), "-m", "pip", "install", "--disable-pip-version-check"]
    run_streamed([*pip, "--upgrade", "pip"], out)
    version = torch_version(requirements)
    source, args = torch_source(version)
    print(f"torch {version}, CPU-only build, from {source} ...", file=out, flush=True)
    try:
        run_streamed([*pip, "--no-deps", *args], out)
    except BuildError:
        raise BuildError(
            f"torch {version}'s CPU-only build could not be installed from {source}. Make {TORCH_CPU_INDEX} "
            f"reachable, or put torch-{version}+cpu-<python>-<platform>.whl (from that index, for this machine's "
            f"Python and architecture) into a folder and set ${TORCH_WHEELS_ENV} to it. PyPI's torch is the CUDA "
            "build (about 3 GB) and is not used."
        ) from None
    run_streamed([*pip, "-r", str(requirements)], out)
    cuda = subprocess.run([str(py), "-c", "import torch; print(torch.version.cuda or '')"],
                          capture_output=True, text=True).stdout.strip()
    if cuda:
        raise BuildError(f"{path}: torch was installed with CUDA {cuda} (a requirement pulled PyPI's build): "
                         f"remove {path} and try again with ${TORCH_WHEELS_ENV} set")
    print(f"build venv {path}: {disk_usage(path) / 1e9:.2f} GB on disk (torch CPU-only)", file=out, flush=True)
    return py


def torch_version(requirements: Path) -> str:
    """The version pinned by the `torch==` line of the requirements file."""
    for line in requirements.read_text(encoding="utf-8").splitlines():
        m = re.match(r"\s*torch\s*==\s*([0-9][^\s;#+]*)", line)
        if m:
            return m.group(1)
    raise ValueError(f"{requirements}: no torch==VERSION line")


def torch_source(version: str) -> tuple[str, list[str]]:
    """(where from, in words; pip arguments) for torch's CPU build, by the order in the module docstring."""
    wheels = os.environ.get(TORCH_WHEELS_ENV)
    if wheels:
        return f"${TORCH_WHEELS_ENV} ({wheels})", ["--no-index", "--find-links", wheels, f"torch=={version}"]
    if reachable(f"{TORCH_CPU_INDEX}/torch/"):
        return TORCH_CPU_INDEX, ["--only-binary=:all:", "--index-url", TORCH_CPU_INDEX, f"torch=={version}"]
    return "a local wheel (pip's find-links; no index)", ["--no-index", f"torch=={version}+cpu"]


def reachable(url: str, timeout_s: float = 8.0) -> bool:
    """Whether url answers at all within the timeout (a DNS failure or a closed network: False)."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout_s):
            return True
    except urllib.error.HTTPError:
        return True  # it answered
    except OSError:
        return False


def disk_usage(path: Path) -> int:
    """Bytes the files under path take on disk."""
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                st = os.lstat(os.path.join(root, f))
            except OSError:
                continue
            total += st.st_blocks * 512
    return total
