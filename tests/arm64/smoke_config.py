"""Write a config for the arm64 smoke suite: the repository's config.yaml with a few keys set.

    python tests/arm64/smoke_config.py process|lm OUT [MODELS_DIR]

process: no MQTT, no language model, replies to nowhere (a root filesystem has no sound card).
lm: no MQTT, the smallest language model (smollm2-135m), models from MODELS_DIR when given.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def main(kind: str, out: str, models_dir: str | None = None) -> None:
    cfg = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    cfg.setdefault("mqtt", {})["enabled"] = False
    cfg.setdefault("audio", {})["sink"] = "null"
    if kind == "process":
        cfg.setdefault("slm", {})["enabled"] = False
    elif kind == "lm":
        cfg.setdefault("slm", {}).update(enabled=True, model="smollm2-135m")
    else:
        raise SystemExit(f"unknown kind {kind!r}: process or lm")
    if models_dir:
        cfg.setdefault("models", {})["dir"] = models_dir
    Path(out).write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:])
