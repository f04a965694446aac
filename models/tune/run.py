"""`slm-voice models tune`: generate the training data here (runtime venv: hassil and the templates), then train
the LoRA adapter in the build venv (torch, peft) and write it where `models build` merges it from.

The exact command that made a committed adapter is in its tune.json (`command`).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from .. import catalog
from ..build_process import run_streamed
from ..build_slm import find_build_python
from ..merge import ADAPTERS

DEFAULTS = {"smollm2-135m": {"examples": 8000, "epochs": 1.5, "batch": 32, "lr": 1e-3, "rank": 16},
            "qwen2.5-coder-0.5b": {"examples": 4000, "epochs": 1.0, "batch": 32, "lr": 5e-4, "rank": 16}}
"""What the committed adapters were trained with (tune.json has the rest)."""


def tune(model: str, *, out: Path | None = None, examples: int | None = None, epochs: float | None = None,
         threads: int | None = None, seed: int = 0, exclude: Sequence[Path] = (), build_python: str | None = None,
         work_dir: Path | None = None, log: Path | None = None, stream: TextIO | None = None) -> Path:
    """Generate data, train, write the adapter to `out` (default: the committed adapters/<model>); returns it."""
    from ..locate import locate
    from .generate import generate, write_training

    spec = catalog.get("slm", model)
    settings = DEFAULTS.get(model, DEFAULTS["smollm2-135m"])
    out = out or ADAPTERS / model
    stream = stream or sys.stderr
    parts = locate(spec)
    py = find_build_python(build_python)
    n = examples or int(settings["examples"])
    with tempfile.TemporaryDirectory(prefix="slm-voice-tune-", dir=work_dir) as work:
        data = Path(work) / "data.jsonl"
        rows = generate(n, seed=seed, exclude=exclude)
        write_training(rows, data)
        print(f"{len(rows)} training examples generated", file=stream, flush=True)
        (Path(work) / "slm_voice").mkdir()
        os.symlink(Path(__file__).resolve().parents[1], Path(work) / "slm_voice" / "models")
        command = ["slm-voice", "models", "tune", "--model", model, "--examples", str(n), "--seed", str(seed)]
        if epochs is not None:
            command += ["--epochs", str(epochs)]
        if threads is not None:
            command += ["--threads", str(threads)]
        cmd = [str(py), "-m", "slm_voice.models.tune.train", "--model", model, "--data", str(data), "--out", str(out),
               "--gguf", *map(str, parts), "--epochs", str(epochs or settings["epochs"]),
               "--batch", str(settings["batch"]), "--lr", str(settings["lr"]), "--rank", str(settings["rank"]),
               "--seed", str(seed), "--command", " ".join(command)]
        if threads is not None:
            cmd += ["--threads", str(threads)]
        if log is not None:
            cmd += ["--log", str(log)]
        # Idle OpenMP threads wait without spinning: on a busy 2-core box spinning threads cost more than they win.
        # glibc's dynamic mmap threshold lets freed activation buffers pile up on the heap (GBs over a run): a
        # fixed threshold hands large buffers back to the system.
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, (work, os.environ.get("PYTHONPATH")))),
                   OMP_WAIT_POLICY="PASSIVE", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
                   MALLOC_MMAP_THRESHOLD_="131072", MALLOC_ARENA_MAX="2")
        run_streamed(cmd, stream, env=env)
    return out
