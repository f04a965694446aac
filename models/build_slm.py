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
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import importlib.util
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from . import catalog
from .build_process import BuildError, run_logged, run_streamed
from .catalog import ModelSpec
from .locate import ModelError
from .locate import models_dir as models_dir_of
from .tune.merge import adapter_dir, adapter_sha256

MANIFEST = "slm-voice-build.json"
"""Written last into a finished build; its presence (and matching content) means the folder is complete."""

RECIPE = 1
"""Version of this build recipe; bump it when the output changes, so old builds are rebuilt."""

BUILD_PYTHON_ENV = "SLM_VOICE_BUILD_PYTHON"
REQUIREMENTS = Path(__file__).with_name("requirements-build.txt")
STEPS = 6

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


def gguf_sha256(spec: ModelSpec) -> str:
    """sha256 of the whole GGUF (joined, for a split model)."""
    return spec.joined_sha256 or spec.files[0].sha256


def read_manifest(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The build manifest of a folder, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


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
# Build side: runs in the build venv.
# --------------------------------------------------------------------------------------------------------------


def _step(n: int, text: str) -> float:
    print(f"[{n}/{STEPS}] {text} ...", file=sys.stderr, flush=True)
    return time.monotonic()


def _done(t0: float) -> None:
    print(f"      done in {time.monotonic() - t0:.1f} s", file=sys.stderr, flush=True)


def join_gguf(spec: ModelSpec, parts: Sequence[Path], dest: Path) -> Path:
    """Write the GGUF (parts concatenated in order) to dest, checking each part's size and the total sha256."""
    if len(parts) != len(spec.files):
        raise BuildError(f"{spec.key} has {len(spec.files)} part(s), got {len(parts)} --gguf path(s)")
    for p, f in zip(parts, spec.files, strict=True):
        if not p.is_file():
            raise BuildError(f"{p}: no such file ({f.package}=={f.version})")
        if p.stat().st_size != f.size:
            raise BuildError(f"{p}: {p.stat().st_size} bytes, the catalog says {f.size} ({f.package}=={f.version})")
    from tqdm import tqdm

    h = hashlib.sha256()
    single = len(parts) == 1
    with contextlib.ExitStack() as stack:
        sink = None if single else stack.enter_context(open(dest, "wb"))
        bar = stack.enter_context(tqdm(total=spec.size, unit="B", unit_scale=True, desc="      GGUF", file=sys.stderr))
        for p in parts:
            with open(p, "rb") as fh:
                for block in iter(lambda fh=fh: fh.read(1 << 22), b""):
                    h.update(block)
                    if sink is not None:
                        sink.write(block)
                    bar.update(len(block))
    if h.hexdigest() != gguf_sha256(spec):
        dest.unlink(missing_ok=True)
        raise BuildError(f"{spec.key}: the GGUF's sha256 is {h.hexdigest()}, the catalog says {gguf_sha256(spec)}: "
                         f"reinstall with {spec.install_command}")
    if single:
        dest.symlink_to(parts[0].resolve())
    return dest


def gguf_to_hf(gguf: Path, hf_dir: Path) -> None:
    """Dequantize the GGUF into a float32 Hugging Face checkpoint (safetensors + config + tokenizer)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    tok.save_pretrained(str(hf_dir))
    kwargs: dict[str, Any] = {}
    try:  # transformers >= 5.2x keeps GGUF blocks packed unless told to dequantize; packed models cannot be saved
        from transformers import GgufConfig

        kwargs["quantization_config"] = GgufConfig(gguf_file=gguf.name, dequantize=True)
    except ImportError:
        pass
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32, **kwargs)
    if getattr(model, "hf_quantizer", None) is not None:
        # The legacy GGUF loader dequantizes into plain modules but still marks the model as quantized.
        plain = ("torch.", "transformers.models.")
        foreign = {type(m).__name__ for m in model.modules() if not type(m).__module__.startswith(plain)}
        if foreign:
            raise BuildError(f"the GGUF loaded into packed modules {sorted(foreign)}: cannot export float32")
        model.hf_quantizer = None
        model.config.quantization_config = None
        with contextlib.suppress(AttributeError):
            del model.config.quantization_config
    model.save_pretrained(str(hf_dir))
    del model
    # transformers copies the whole GGUF as tokenizer.model (hundreds of MB, and the builder does not need it).
    (hf_dir / "tokenizer.model").unlink(missing_ok=True)


def hf_to_onnx(hf_dir: Path, onnx_dir: Path, cache_dir: Path, log: Path) -> None:
    """INT4 ONNX for the CPU with onnxruntime-genai's model builder (its chatty output goes to `log`), run through
    models/stream_build.py: memory-mapped weights, quantized one at a time (the same bytes as the plain builder)."""
    cmd = [
        sys.executable, "-m", "slm_voice.models.stream_build", "onnx",
        "-i", str(hf_dir), "-o", str(onnx_dir), "-p", "int4", "-e", "cpu", "-c", str(cache_dir),
        # "MatMul/Gather", not "int4_…": the embedding table is quantized too (395 MB instead of ~700 MB).
        "--extra_options", "op_types_to_quantize=MatMul/Gather",
    ]
    run_logged(cmd, log, "the ONNX model builder")


def gguf_to_hf_lowmem(gguf: Path, hf_dir: Path, log: Path) -> None:
    """GGUF -> Hugging Face float32 shards in a child process, one tensor at a time (models/stream_build.py): this
    process never holds the weights, and all the child used is returned before the ONNX builder starts."""
    run_logged([sys.executable, "-m", "slm_voice.models.stream_build", "gguf-to-hf", str(gguf), str(hf_dir)], log,
                "the GGUF -> Hugging Face conversion")


def fix_tokenizer(onnx_dir: Path) -> list[str]:
    """Make the exported tokenizer and genai_config readable and correct for onnxruntime-genai; returns the fixes."""
    fixes: list[str] = []
    cfg_path = onnx_dir / "genai_config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    tcfg_path = onnx_dir / "tokenizer_config.json"
    tcfg = json.loads(tcfg_path.read_text(encoding="utf-8")) if tcfg_path.is_file() else {}
    tok_path = onnx_dir / "tokenizer.json"
    tok = json.loads(tok_path.read_text(encoding="utf-8"))

    # onnxruntime-extensions knows a fixed set of tokenizer classes; a GGUF-derived BPE tokenizer comes out as the
    # generic "TokenizersBackend"/"PreTrainedTokenizerFast", which it rejects or handles as sentencepiece.
    if tcfg.get("tokenizer_class") not in ("GPT2Tokenizer", "Qwen2Tokenizer", "LlamaTokenizer"):
        fixes.append(f"tokenizer_class {tcfg.get('tokenizer_class')!r} -> GPT2Tokenizer")
        tcfg["tokenizer_class"] = "GPT2Tokenizer"
    model = tok.get("model", {})
    if model.get("type") == "BPE" and model.get("byte_fallback"):
        # A byte-level BPE (GPT-2 style) has no <0xNN> tokens: byte_fallback makes the runtime mis-tokenize.
        fixes.append("BPE byte_fallback -> false")
        model["byte_fallback"] = False
    if model.get("type") == "BPE" and (tok.get("decoder") or {}).get("type") != "ByteLevel" and _is_byte_level(tok):
        fixes.append(f"decoder {(tok.get('decoder') or {}).get('type')!r} -> ByteLevel")
        tok["decoder"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}

    # The chat models end a turn with <|im_end|>: it must be an eos id, or generation runs on past the answer.
    vocab = model.get("vocab") or {}
    im_end = vocab.get("<|im_end|>")
    if im_end is None:
        im_end = next((t["id"] for t in tok.get("added_tokens", []) if t.get("content") == "<|im_end|>"), None)
    if im_end is not None:
        eos = cfg["model"].get("eos_token_id")
        eos_list = eos if isinstance(eos, list) else [eos]
        if im_end not in eos_list:
            fixes.append(f"eos_token_id {eos} -> adds {im_end} (<|im_end|>)")
            cfg["model"]["eos_token_id"] = [e for e in eos_list if e is not None] + [im_end]
        if tcfg.get("eos_token") != "<|im_end|>":
            tcfg["eos_token"] = "<|im_end|>"
    cfg_path.write_text(json.dumps(cfg, indent=4), encoding="utf-8")
    tcfg_path.write_text(json.dumps(tcfg, indent=2, ensure_ascii=False), encoding="utf-8")
    tok_path.write_text(json.dumps(tok, ensure_ascii=False), encoding="utf-8")
    return fixes


def _is_byte_level(tok: dict[str, Any]) -> bool:
    pre = tok.get("pre_tokenizer") or {}
    subs = pre.get("pretokenizers", []) if pre.get("type") == "Sequence" else [pre]
    return any(p.get("type") == "ByteLevel" for p in subs)


def smoke_test(onnx_dir: Path) -> str:
    """Load the built model with onnxruntime-genai and greedily answer one chat turn; returns the text."""
    import onnxruntime_genai as og
    from tokenizers import Tokenizer

    model = og.Model(str(onnx_dir))
    tok = og.Tokenizer(model)
    ref = Tokenizer.from_file(str(onnx_dir / "tokenizer.json"))
    prompt = "<|im_start|>user\nSay hello.<|im_end|>\n<|im_start|>assistant\n"
    for text in (prompt, ' it\'s  way too dark in the kitchen, 23 % — é 🙂 {"i":"HassTurnOn"}'):
        ids, want = list(tok.encode(text)), ref.encode(text, add_special_tokens=False).ids
        if ids != want:
            raise BuildError(f"onnxruntime-genai tokenizes {text!r} as {ids[:16]}…, tokenizers as {want[:16]}…")
        if "<|" not in text and tok.decode(ids) != text:
            raise BuildError(f"the built tokenizer does not round-trip {text!r}: {tok.decode(ids)!r}")
    ids = tok.encode(prompt)
    params = og.GeneratorParams(model)
    params.set_search_options(max_length=len(ids) + 12, do_sample=False)
    g = og.Generator(model, params)
    g.append_tokens(ids)
    out: list[int] = []
    while not g.is_done() and len(out) < 12:
        g.generate_next_token()
        out.append(int(g.get_next_tokens()[0]))
    text = tok.decode(out)
    if not text.strip():
        raise BuildError("the built model generated nothing in the smoke test")
    return text


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
        t0 = _step(1, f"verifying the GGUF of {spec.name} ({spec.size / 1e6:.0f} MB)")
        gguf = join_gguf(spec, parts, work / f"{spec.name}.gguf")
        _done(t0)

        t0 = _step(2, "converting GGUF -> Hugging Face float32, one tensor at a time (transformers)")
        hf_dir = work / "hf"
        gguf_to_hf_lowmem(gguf, hf_dir, work / "convert.log")
        _done(t0)

        merge_tuned_adapter(spec.name, hf_dir)

        t0 = _step(4, "converting to INT4 ONNX (onnxruntime-genai model builder)")
        hf_to_onnx(hf_dir, partial, work / "cache", work / "builder.log")
        shutil.rmtree(hf_dir)
        _done(t0)

        t0 = _step(5, "fixing the tokenizer for onnxruntime-genai")
        fixes = fix_tokenizer(partial)
        for f in fixes:
            print(f"      {f}", file=sys.stderr)
        _done(t0)

        t0 = _step(6, "smoke test: one chat turn")
        reply = smoke_test(partial)
        print(f"      the model says: {reply.strip()!r}", file=sys.stderr)
        _done(t0)

        _write_manifest(partial, spec, fixes, time.monotonic() - t_start)
        replace_folder(partial, final)
    size = sum(p.stat().st_size for p in final.iterdir() if p.is_file())
    print(f"built {final} ({size / 1e6:.0f} MB) in {time.monotonic() - t_start:.0f} s", file=sys.stderr)
    return final


def _write_manifest(folder: Path, spec: ModelSpec, fixes: list[str], seconds: float) -> None:
    from importlib.metadata import version

    manifest = {
        "model": spec.name,
        "recipe": RECIPE,
        "source": spec.description,
        "provenance": spec.provenance,
        "licence": spec.licence,
        "packages": sorted({f"{f.package}=={f.version}" for f in spec.files}),
        "gguf_sha256": gguf_sha256(spec),
        "precision": "int4",
        "execution_provider": "cpu",
        "tools": {p: version(p) for p in ("onnxruntime-genai", "onnxruntime", "transformers", "torch", "gguf")},
        "tokenizer_fixes": fixes,
        "adapter_sha256": adapter_sha256(spec.name),
        "adapter": _adapter_summary(spec.name),
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "build_seconds": round(seconds, 1),
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def merge_tuned_adapter(model: str, hf_dir: Path) -> None:
    """Step 3: the project's fine-tune (models/tune/adapters/<model>, made by `slm-voice models tune`) merged into
    the float32 weights, shard by shard, before they are quantized; a model without an adapter is left as it is."""
    adapter = adapter_dir(model)
    t0 = _step(3, f"merging the fine-tune's LoRA adapter ({adapter})" if adapter else "no fine-tune adapter: as is")
    if adapter is not None:
        from .tune.merge import merge_into

        try:
            merged = merge_into(hf_dir, adapter)
        except (ValueError, KeyError) as e:
            raise BuildError(f"the adapter {adapter} does not fit {model}: {e}") from e
        print(f"      {merged} weights updated", file=sys.stderr)
    _done(t0)


def _adapter_summary(model: str) -> dict[str, Any] | None:
    """What tune.json says about the merged adapter (how it was trained), for the manifest."""
    folder = adapter_dir(model)
    if folder is None:
        return None
    where = f"models/tune/adapters/{model}"
    try:
        info = json.loads((folder / "tune.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"path": where}
    keep = ("examples", "steps", "epochs", "rank", "data_sha256", "command", "trained_at")
    return {"path": where, **{k: info[k] for k in keep if k in info}}


def replace_folder(partial: Path, final: Path) -> None:
    """Move the finished build into place; an old (stale) build is moved aside first, then deleted."""
    old = None
    if final.exists() or final.is_symlink():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        final.rename(old)
    partial.rename(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


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
