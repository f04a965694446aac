"""Merge a LoRA adapter (peft's saved format) into a Hugging Face float32 checkpoint, one shard at a time.

W' = W + (lora_alpha / r) * B @ A for every adapted linear layer: what peft's merge_and_unload() computes, done on
the safetensors files in place so the build never holds the whole model (the INT4 build streams its weights too:
models/stream_build.py). Runs in the build venv (numpy + safetensors); stdlib-only to import.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

ADAPTERS = Path(__file__).with_name("tune") / "adapters"
"""The committed adapters: adapters/<model>/{adapter_config.json, adapter_model.safetensors, tune.json}."""
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
_PREFIX = "base_model.model."


def adapter_dir(model: str) -> Path | None:
    """The committed adapter of a catalog model, or None when the model is used as it comes."""
    folder = ADAPTERS / model
    return folder if all((folder / f).is_file() for f in ADAPTER_FILES) else None


def adapter_sha256(model: str) -> str | None:
    """sha256 over the adapter's config and weights (None without an adapter): a changed adapter rebuilds."""
    folder = adapter_dir(model)
    if folder is None:
        return None
    h = hashlib.sha256()
    for name in ADAPTER_FILES:
        h.update(name.encode() + b"\0" + (folder / name).read_bytes())
    return h.hexdigest()


def merge_into(hf_dir: Path, adapter: Path) -> int:
    """Add the adapter's low-rank updates to the weights in hf_dir's safetensors files; returns how many weights
    changed. Raises ValueError when an adapted weight is missing or has another shape."""
    import numpy as np
    from safetensors.numpy import load_file, save_file

    config = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
    if config.get("use_rslora") or config.get("use_dora"):
        raise ValueError(f"{adapter}: only plain LoRA adapters are supported")
    scale = float(config["lora_alpha"]) / float(config["r"])
    lora = load_file(str(adapter / "adapter_model.safetensors"))
    deltas: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for key, a in lora.items():
        if ".lora_A." not in key:
            continue
        b = lora[key.replace(".lora_A.", ".lora_B.")]
        target = key.removeprefix(_PREFIX).replace(".lora_A.weight", ".weight")
        deltas[target] = (a.astype(np.float32), b.astype(np.float32))
    merged = 0
    for shard in sorted(hf_dir.glob("*.safetensors")):
        tensors = load_file(str(shard))
        hits = [k for k in tensors if k in deltas]
        if not hits:
            continue
        for k in hits:
            a, b = deltas.pop(k)
            w = tensors[k]
            if w.shape != (b.shape[0], a.shape[1]):
                raise ValueError(f"{k}: weight {w.shape} does not fit the adapter's {(b.shape[0], a.shape[1])}")
            tensors[k] = (w.astype(np.float32) + scale * (b @ a)).astype(w.dtype)
            merged += 1
        # Its own write-and-rename, not pipeline/atomic.py: models imports no other room, and this runs in the build
        # venv, where save_file wants a path to write, not an open file.
        tmp = shard.with_suffix(".merging")
        save_file(tensors, str(tmp), metadata={"format": "pt"})
        os.replace(tmp, shard)
        del tensors
    if deltas:
        raise ValueError(f"the checkpoint in {hf_dir} lacks adapted weights {sorted(deltas)[:3]} ...")
    return merged
