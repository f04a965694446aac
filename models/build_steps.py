"""The build's steps, run in the build venv (torch, transformers, onnxruntime-genai): verify and join the GGUF,
convert it to Hugging Face float32, merge the fine-tune, quantize to INT4 ONNX, fix the tokenizer, smoke-test.
build_slm.build() runs them in order; torch and transformers are imported only inside them."""

from __future__ import annotations

import contextlib
import hashlib
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .build_manifest import gguf_sha256
from .build_process import BuildError, run_logged
from .catalog import ModelSpec
from .merge import adapter_dir

STEPS = 6


def step(n: int, text: str) -> float:
    print(f"[{n}/{STEPS}] {text} ...", file=sys.stderr, flush=True)
    return time.monotonic()


def done(t0: float) -> None:
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


def merge_tuned_adapter(model: str, hf_dir: Path) -> None:
    """Step 3: the project's fine-tune (models/tune/adapters/<model>, made by `slm-voice models tune`) merged into
    the float32 weights, shard by shard, before they are quantized; a model without an adapter is left as it is."""
    adapter = adapter_dir(model)
    t0 = step(3, f"merging the fine-tune's LoRA adapter ({adapter})" if adapter else "no fine-tune adapter: as is")
    if adapter is not None:
        from .merge import merge_into

        try:
            merged = merge_into(hf_dir, adapter)
        except (ValueError, KeyError) as e:
            raise BuildError(f"the adapter {adapter} does not fit {model}: {e}") from e
        print(f"      {merged} weights updated", file=sys.stderr)
    done(t0)

