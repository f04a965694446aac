"""Build the language model tier's INT4 ONNX model from a GGUF shipped on PyPI.

Two halves, one module:

* In the runtime venv (no torch): ``ensure_built(model, models_dir)`` returns the built folder, building it first
  when its manifest is missing or stale, by running ``python -m slm_voice.models.build_slm`` with the *build
  venv's* python as a subprocess. ``create_build_env(path)`` makes that venv from ``models/requirements-build.txt``.
* In the build venv (torch, transformers, onnxruntime-genai's model builder): ``main()`` joins and verifies the
  GGUF, converts GGUF → Hugging Face float32 → INT4 ONNX (MatMulNBits, embedding quantized too), normalises the
  tokenizer for onnxruntime-genai (the SmolLM2 fixes: a known tokenizer class, ByteLevel decoder, no byte_fallback,
  <|im_end|> among the eos ids; with transformers 5.24 only the class name still needs changing), checks that
  onnxruntime-genai tokenizes exactly as `tokenizers` does, smoke-tests one chat turn and writes
  ``slm-voice-build.json``. It builds into a hidden temporary folder beside the target and renames it into place
  at the end, so a killed build never leaves a folder that looks complete.

The build python is, in order: the ``build_python`` argument, ``$SLM_VOICE_BUILD_PYTHON``, ``.build-venv/bin/python``
at the repository root (a development checkout), ``.build-venv/bin/python`` beside the runtime venv
(``<sys.prefix>/../.build-venv``, e.g. /opt/slm-voice/.venv → /opt/slm-voice/.build-venv).

torch and transformers are imported only inside the build functions: importing this module is cheap anywhere.

This module is both halves' entry (runtime: ensure_built; build venv: build and main); the parts beside it:
build_manifest.py (the manifest, replacing the folder), build_steps.py (the build's steps).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import importlib.util
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TextIO

from . import catalog
from .build_manifest import MANIFEST, RECIPE, gguf_sha256, read_manifest, replace_folder, write_manifest
from .build_process import BuildError, run_streamed
from .build_steps import (
    STEPS,
    done,
    fix_tokenizer,
    gguf_to_hf,
    gguf_to_hf_lowmem,
    hf_to_onnx,
    join_gguf,
    merge_tuned_adapter,
    smoke_test,
    step,
)
from .catalog import ModelSpec
from .locate import ModelError
from .locate import models_dir as models_dir_of
from .merge import adapter_sha256

__all__ = [
    "MANIFEST", "RECIPE", "STEPS", "BuildError", "adapter_sha256", "fix_tokenizer", "gguf_sha256", "gguf_to_hf",
    "gguf_to_hf_lowmem", "hf_to_onnx", "join_gguf", "merge_tuned_adapter", "read_manifest", "replace_folder",
    "smoke_test",
]

BUILD_PYTHON_ENV = "SLM_VOICE_BUILD_PYTHON"
REQUIREMENTS = Path(__file__).with_name("requirements-build.txt")

BUILD_MEMORY_MIB = {"qwen2.5-coder-0.5b": 1800, "smollm2-135m": 1000}
"""Free memory a build needs: the whole build's measured peak resident set (models/stream_build.py; about half of
it clean file pages the kernel could drop), rounded up. Unknown models are not checked."""

SKIP_MEMORY_CHECK_ENV = "SLM_VOICE_BUILD_SKIP_MEMORY_CHECK"


# --------------------------------------------------------------------------------------------------------------
# Runtime side: paths, manifest, launching the build in the build venv.
# --------------------------------------------------------------------------------------------------------------


def slm_models() -> tuple[str, ...]:
    """Names of the language models that can be built."""
    return tuple(s.name for s in catalog.CATALOG if s.stage == "slm")


def model_dir(model: str, models_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where the built model lives: <models_dir>/<model>/ (genai_config.json, model.onnx, tokenizer, manifest)."""
    _spec(model)
    return models_dir_of(models_dir) / model


def is_built(model: str, models_dir: str | os.PathLike[str] | None = None) -> bool:
    """True when <models_dir>/<model> holds a finished build of this recipe from the catalog's GGUF."""
    spec = _spec(model)
    folder = model_dir(model, models_dir)
    m = read_manifest(folder)
    return (
        m is not None
        and m.get("model") == model
        and m.get("gguf_sha256") == gguf_sha256(spec)
        and m.get("recipe") == RECIPE
        and m.get("adapter_sha256") == adapter_sha256(model)
        and (folder / "genai_config.json").is_file()
    )


def default_build_env() -> Path:
    """Where the build venv belongs: <repo>/.build-venv in a development checkout, else beside the runtime venv."""
    repo = Path(__file__).resolve().parents[1]
    if (repo / "pyproject.toml").is_file():
        return repo / ".build-venv"
    return Path(sys.prefix).parent / ".build-venv"


def find_build_python(build_python: str | os.PathLike[str] | None = None) -> Path:
    """The python of the build venv (see the module docstring for the search order)."""
    candidates: list[tuple[str, Path]] = []
    if build_python is not None:
        candidates.append(("build_python argument", Path(build_python)))
    elif os.environ.get(BUILD_PYTHON_ENV):
        candidates.append((f"${BUILD_PYTHON_ENV}", Path(os.environ[BUILD_PYTHON_ENV])))
    else:
        candidates.append(("repository", Path(__file__).resolve().parents[1] / ".build-venv" / "bin" / "python"))
        candidates.append(("beside the runtime venv", Path(sys.prefix).parent / ".build-venv" / "bin" / "python"))
    for _, path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    tried = "; ".join(f"{p} ({why})" for why, p in candidates)
    raise BuildError(
        f"no build python found (tried {tried}). The INT4 build needs torch and transformers in a separate venv: "
        f"create it with `python -m slm_voice.models.build_slm --create-env {default_build_env()}` "
        f"(torch's CPU-only build: 1.4 GB on disk on x86-64, a few minutes), or set ${BUILD_PYTHON_ENV} to the "
        "python of such a venv."
    )


def create_build_env(path: str | os.PathLike[str], *, python: str | None = None, out: TextIO | None = None) -> Path:
    """Create the build venv at path (torch's CPU-only build, then requirements-build.txt); returns its python."""
    path = Path(path)
    if not REQUIREMENTS.is_file():
        raise BuildError(f"{REQUIREMENTS} is missing: the package was installed without its build requirements")
    from .build_env import create  # torch's CPU-only build first, then the requirements

    return create(path, REQUIREMENTS, python=python, out=out)


def ensure_built(
    model: str,
    models_dir: str | os.PathLike[str] | None = None,
    build_python: str | os.PathLike[str] | None = None,
    *,
    force: bool = False,
    out: TextIO | None = None,
) -> Path:
    """The built model's folder, building it first (in the build venv, progress on `out`) when needed.

    Raises BuildError when the build venv is missing or the build fails, ModelError when the GGUF packages
    are missing or damaged.
    """
    from .locate import locate  # the GGUF ships in the runtime venv's packages: verify it here

    spec = _spec(model)
    folder = model_dir(model, models_dir)
    if is_built(model, models_dir) and not force:
        return folder
    parts = locate(spec)
    check_build_memory(model)
    py = find_build_python(build_python)
    out = out or sys.stderr
    with tempfile.TemporaryDirectory(prefix="slm-voice-pkg-") as pkg:
        # Expose only the stdlib-only `slm_voice.models` package to the build venv (not the runtime site-packages).
        (Path(pkg) / "slm_voice").mkdir()
        os.symlink(Path(__file__).resolve().parent, Path(pkg) / "slm_voice" / "models")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, (pkg, os.environ.get("PYTHONPATH")))))
        cmd = [str(py), "-m", "slm_voice.models.build_slm", "--model", model, "--out-dir", str(folder.parent)]
        cmd += ["--gguf", *map(str, parts)] + (["--force"] if force else [])
        run_streamed(cmd, out, env=env)
    if not is_built(model, models_dir):
        raise BuildError(f"the build finished but {folder / MANIFEST} does not match the catalog")
    return folder


def _spec(model: str) -> ModelSpec:
    try:
        return catalog.get("slm", model)  # type: ignore[arg-type]
    except KeyError as e:
        raise BuildError(str(e.args[0])) from None


def available_memory() -> tuple[int, str]:
    """Bytes a build could use now (MemAvailable + free swap, within this cgroup's limit), and how that was found."""
    info: dict[str, int] = {}
    with contextlib.suppress(OSError), open("/proc/meminfo", encoding="ascii") as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            with contextlib.suppress(ValueError, IndexError):
                info[key] = int(rest.split()[0]) * 1024
    if "MemAvailable" not in info:
        return -1, "/proc/meminfo unreadable"
    have = info["MemAvailable"] + info.get("SwapFree", 0)
    how = f"{info['MemAvailable'] >> 20} MiB available + {info.get('SwapFree', 0) >> 20} MiB free swap"
    with contextlib.suppress(OSError, ValueError):
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            room = int(limit) - int(Path("/sys/fs/cgroup/memory.current").read_text())
            if room < have:
                have, how = room, f"{room >> 20} MiB left under this cgroup's memory.max"
    return have, how


def check_build_memory(model: str) -> None:
    """Refuse to start a build that would run out of memory, saying what to do instead
    ($SLM_VOICE_BUILD_SKIP_MEMORY_CHECK=1 skips the check)."""
    need = BUILD_MEMORY_MIB.get(model)
    if need is None or os.environ.get(SKIP_MEMORY_CHECK_ENV) == "1":
        return
    have, how = available_memory()
    if 0 <= have < need << 20:
        raise BuildError(
            f"building {model} needs about {need} MiB of free memory; this machine has {how}. Stop other programs "
            f"or add swap, or build it on another machine and copy it here: `slm-voice models export --model {model}` "
            f"there, `slm-voice models import slm-voice-{model}-r{RECIPE}.tar` here. Set {SKIP_MEMORY_CHECK_ENV}=1 "
            "to try anyway."
        )


# --------------------------------------------------------------------------------------------------------------
# Build side: runs in the build venv (the steps themselves: build_steps.py).
# --------------------------------------------------------------------------------------------------------------


def build(
    spec: ModelSpec, parts: Sequence[Path], out_dir: Path, work_dir: Path | None = None, *, force: bool = False
) -> Path:
    """Build <out_dir>/<spec.name>; a no-op when its manifest already matches (unless force)."""
    final = out_dir / spec.name
    if not force and is_built(spec.name, out_dir):
        print(f"{final} is already built ({MANIFEST} matches): nothing to do", file=sys.stderr)
        return final
    out_dir.mkdir(parents=True, exist_ok=True)
    t_start = time.monotonic()
    with contextlib.ExitStack() as stack:
        # One build of a model at a time; a second one waits, then finds the first one's result.
        lock = stack.enter_context(open(out_dir / f".{spec.name}.lock", "w"))
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not force and is_built(spec.name, out_dir):
            print(f"{final} was built meanwhile: nothing to do", file=sys.stderr)
            return final
        for stale in [*out_dir.glob(f".{spec.name}.partial-*"), *out_dir.glob(f".{spec.name}.work-*")]:
            shutil.rmtree(stale, ignore_errors=True)  # left by a killed build
        # Scratch (the joined GGUF, ~2 GB of float32 weights for the 0.5B model) beside the output by default,
        # so the next build can clean up after a killed one.
        work = Path(stack.enter_context(
            tempfile.TemporaryDirectory(prefix=f".{spec.name}.work-", dir=work_dir or out_dir)
        ))
        # The partial output lives beside the target (same file system, so the final rename is atomic).
        partial = out_dir / f".{spec.name}.partial-{os.getpid()}"
        stack.callback(shutil.rmtree, partial, ignore_errors=True)

        check_build_memory(spec.name)
        t0 = step(1, f"verifying the GGUF of {spec.name} ({spec.size / 1e6:.0f} MB)")
        gguf = join_gguf(spec, parts, work / f"{spec.name}.gguf")
        done(t0)

        t0 = step(2, "converting GGUF -> Hugging Face float32, one tensor at a time (transformers)")
        hf_dir = work / "hf"
        gguf_to_hf_lowmem(gguf, hf_dir, work / "convert.log")
        done(t0)

        merge_tuned_adapter(spec.name, hf_dir)

        t0 = step(4, "converting to INT4 ONNX (onnxruntime-genai model builder)")
        hf_to_onnx(hf_dir, partial, work / "cache", work / "builder.log")
        shutil.rmtree(hf_dir)
        done(t0)

        t0 = step(5, "fixing the tokenizer for onnxruntime-genai")
        fixes = fix_tokenizer(partial)
        for f in fixes:
            print(f"      {f}", file=sys.stderr)
        done(t0)

        t0 = step(6, "smoke test: one chat turn")
        reply = smoke_test(partial)
        print(f"      the model says: {reply.strip()!r}", file=sys.stderr)
        done(t0)

        write_manifest(partial, spec, fixes, time.monotonic() - t_start)
        replace_folder(partial, final)
    size = sum(p.stat().st_size for p in final.iterdir() if p.is_file())
    print(f"built {final} ({size / 1e6:.0f} MB) in {time.monotonic() - t_start:.0f} s", file=sys.stderr)
    return final


def _parse(argv: Iterable[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m slm_voice.models.build_slm",
        description="Build the INT4 ONNX language model from its GGUF (run with the build venv's python), "
        "or create that venv.",
    )
    p.add_argument("--model", choices=slm_models(), help="catalog name of the language model")
    p.add_argument("--out-dir", type=Path, default=None, help="models folder; the model goes to OUT_DIR/<model>/ "
                   f"(default {models_dir_of()})")
    p.add_argument("--work-dir", type=Path, default=None, help="scratch folder (default: beside the output); "
                   "needs ~2.5 GB for the 0.5B model")
    p.add_argument("--gguf", type=Path, nargs="+", default=None,
                   help="the GGUF file(s) in join order (default: found in the installed packages)")
    p.add_argument("--force", action="store_true", help="rebuild even when the manifest matches")
    p.add_argument("--create-env", type=Path, metavar="PATH", default=None,
                   help="create the build venv at PATH (python -m venv + pip install -r requirements-build.txt)")
    args = p.parse_args(None if argv is None else list(argv))
    if (args.create_env is None) == (args.model is None):
        p.error("give either --model NAME (build) or --create-env PATH (make the build venv)")
    return args


def main(argv: Iterable[str] | None = None) -> int:
    args = _parse(argv)
    # SIGTERM unwinds like Ctrl-C, so the partial output and the scratch folder are removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        if args.create_env is not None:
            py = create_build_env(args.create_env)
            print(f"build python: {py}\nbuild with: {py} -m slm_voice.models.build_slm --model NAME", file=sys.stderr)
            return 0
        missing = [m for m in ("torch", "transformers", "onnxruntime_genai") if importlib.util.find_spec(m) is None]
        if missing:
            raise BuildError(
                f"{sys.executable} lacks {', '.join(missing)}: run the build with the build venv's python "
                "(create one with `python -m slm_voice.models.build_slm --create-env .build-venv`), or call "
                "slm_voice.models.build_slm.ensure_built() / `slm-voice models build`, which find it"
            )
        spec = _spec(args.model)
        out_dir = args.out_dir if args.out_dir is not None else models_dir_of()
        if not args.force and is_built(spec.name, out_dir):
            print(f"{model_dir(spec.name, out_dir)} is already built ({MANIFEST} matches): nothing to do",
                  file=sys.stderr)
            return 0
        parts = args.gguf
        if parts is None:
            from .locate import file_path

            try:
                parts = [file_path(f) for f in spec.files]
            except ModelError as e:
                raise BuildError(f"{e}; or pass the GGUF with --gguf (ensure_built() does that)") from None
        build(spec, parts, out_dir, args.work_dir, force=args.force)
    except ModelError as e:  # BuildError included
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
