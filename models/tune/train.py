"""LoRA fine-tune of a catalog language model on the generated data, on the CPU (build venv: torch, transformers,
peft). Run by `slm-voice models tune`; by hand:

    .build-venv/bin/python -m slm_voice.models.tune.train --model smollm2-135m --data data.jsonl \\
        --out models/tune/adapters/smollm2-135m --gguf <the GGUF file(s)>

The base weights are the catalog GGUF dequantized to float32 (the same weights `models build` starts from, so the
adapter merges into exactly what it was trained on). Only the answer tokens are learned (the prompt's tokens are
context), and only their logits are computed: the vocabulary projection is a large share of a small model's work.
Matrix products run in bfloat16 where the CPU has bfloat16 units (AMX, AVX-512 BF16); the LoRA weights stay
float32 and are saved as float16 safetensors (a few MB), with tune.json recording how they were made.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import catalog
from ..build_slm import gguf_sha256, gguf_to_hf, join_gguf
from ..locate import cache_dir

TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
ADAPTER_FILE = "adapter_model.safetensors"
MANIFEST = "tune.json"


def base_checkpoint(model: str, parts: list[Path]) -> Path:
    """The float32 Hugging Face checkpoint of the catalog model, converted once and cached by the GGUF's hash."""
    spec = catalog.get("slm", model)
    folder = cache_dir("tune") / f"{model}-{gguf_sha256(spec)[:12]}-hf"
    if (folder / "config.json").is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{model}-", dir=folder.parent) as work:
        gguf = join_gguf(spec, parts, Path(work) / f"{model}.gguf")
        partial = Path(work) / "hf"
        gguf_to_hf(gguf, partial)
        partial.rename(folder)
    return folder


def load_examples(path: Path, tok: Any, limit: int | None, model: Any = None) -> list[tuple[list[int], int]]:
    """(prompt + completion token ids, number of prompt tokens) per example. Replay examples (completion None) get
    the base model's own answer (model: the model before the adapter)."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()[: limit or None]]
    replay = [r for r in rows if r["completion"] is None]
    if replay:
        if model is None:
            raise ValueError(f"{path} has replay examples: the base model must answer them")
        for r, answer in zip(replay, chat_answers(model, tok, [r["prompt"] for r in replay]), strict=True):
            r["completion"] = answer
        print(f"{len(replay)} chat answers replayed, e.g. {replay[0]['text']!r}: {replay[0]['completion']!r}",
              file=sys.stderr, flush=True)
    out = []
    for ex in rows:
        prompt = tok(ex["prompt"], add_special_tokens=False)["input_ids"]
        completion = tok(ex["completion"], add_special_tokens=False)["input_ids"]
        out.append((prompt + completion, len(prompt)))
    return out


REPLAY_TOKENS = 48
"""Longest replayed chat answer (the runtime's free answers are a sentence or two)."""


def chat_answers(model: Any, tok: Any, prompts: list[str], batch: int = 16) -> list[str]:
    """The base model's greedy chat answers (as the runtime decodes them: repetition penalty 1.15), each ending
    with the end-of-turn marker."""
    import torch

    end = tok.convert_tokens_to_ids("<|im_end|>")
    pad = tok.pad_token_id if tok.pad_token_id is not None else end
    out: list[str] = []
    model.eval()
    for i in range(0, len(prompts), batch):
        encoded = [tok(p, add_special_tokens=False)["input_ids"] for p in prompts[i: i + batch]]
        width = max(len(e) for e in encoded)
        ids = torch.tensor([[pad] * (width - len(e)) + e for e in encoded])  # left padding: answers start together
        mask = torch.tensor([[0] * (width - len(e)) + [1] * len(e) for e in encoded])
        with torch.no_grad():
            gen = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=REPLAY_TOKENS, do_sample=False,
                                 repetition_penalty=1.15, eos_token_id=end, pad_token_id=pad)
        for row in gen[:, width:].tolist():
            cut = row.index(end) if end in row else len(row)
            out.append(tok.decode(row[:cut], skip_special_tokens=True).strip() + "<|im_end|>")
    return out


def batches(examples: list[tuple[list[int], int]], size: int, rng: random.Random) -> list[list[int]]:
    """Indices in batches of similar length (little padding), in random order."""
    order = sorted(range(len(examples)), key=lambda i: (len(examples[i][0]), rng.random()))
    chunks = [order[i: i + size] for i in range(0, len(order), size)]
    rng.shuffle(chunks)
    return chunks


def collate(examples: list[tuple[list[int], int]], idx: list[int], pad: int) -> tuple[Any, Any, Any]:
    import torch

    # Widths rounded up to a multiple of 8: few distinct shapes, so oneDNN keeps few reordered weight copies (each
    # new shape costs memory that stays).
    width = -(-max(len(examples[i][0]) for i in idx) // 8) * 8
    ids = torch.full((len(idx), width), pad, dtype=torch.long)
    mask = torch.zeros((len(idx), width), dtype=torch.long)
    labels = torch.full((len(idx), width), -100, dtype=torch.long)
    for row, i in enumerate(idx):
        seq, n_prompt = examples[i]
        ids[row, : len(seq)] = torch.tensor(seq)
        mask[row, : len(seq)] = 1
        labels[row, n_prompt: len(seq)] = torch.tensor(seq[n_prompt:])
    return ids, mask, labels


def answer_loss(causal_lm: Any, ids: Any, mask: Any, labels: Any) -> tuple[Any, Any]:
    """Cross-entropy on the answer tokens only, projecting only their positions onto the vocabulary; also the
    number of answer tokens predicted right (teacher-forced)."""
    import torch

    hidden = causal_lm.model(input_ids=ids, attention_mask=mask).last_hidden_state
    target = labels[:, 1:]
    where = target != -100
    logits = causal_lm.lm_head(hidden[:, :-1][where]).float()
    wanted = target[where]
    loss = torch.nn.functional.cross_entropy(logits, wanted)
    return loss, (logits.argmax(-1) == wanted).sum()


def bf16_ok() -> bool:
    import torch

    flags = ""
    with contextlib.suppress(OSError):
        flags = Path("/proc/cpuinfo").read_text()
    return torch.backends.mkldnn.is_available() and ("amx_bf16" in flags or "avx512_bf16" in flags)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def train(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = random.Random(args.seed)
    t_start = time.monotonic()
    hf = args.base or base_checkpoint(args.model, args.gguf)
    tok = AutoTokenizer.from_pretrained(str(hf))
    model = AutoModelForCausalLM.from_pretrained(str(hf), dtype=torch.float32)
    examples = load_examples(args.data, tok, args.max_examples, model)
    rng.shuffle(examples)
    n_val = max(1, int(len(examples) * args.val_fraction)) if args.val_fraction > 0 else 0
    val, examples = examples[:n_val], examples[n_val:]
    model = get_peft_model(model, LoraConfig(r=args.rank, lora_alpha=2 * args.rank, lora_dropout=args.dropout,
                                             target_modules=list(TARGET_MODULES), task_type="CAUSAL_LM"))
    causal_lm = model.base_model.model
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    steps_per_epoch = math.ceil(len(examples) / args.batch)
    total = args.max_steps or round(steps_per_epoch * args.epochs)
    warmup = max(1, total // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * max(0.05, 1 - max(0, s - warmup) / max(1, total - warmup)))
    use_bf16 = bf16_ok() and not args.fp32
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    tokens_seen = answer_tokens = 0
    step = 0
    log = open(args.log, "a", encoding="utf-8") if args.log else None  # noqa: SIM115
    prepared = time.monotonic()

    def say(msg: str) -> None:
        line = f"{datetime.now(UTC).strftime('%H:%M:%S')} {msg}"
        print(line, file=sys.stderr, flush=True)
        if log is not None:
            log.write(line + "\n")
            log.flush()

    say(f"{len(examples)} training / {len(val)} validation examples, {total} steps of {args.batch}, "
        f"bf16 {use_bf16}, {sum(p.numel() for p in params) / 1e6:.2f} M trainable parameters")
    model.train()
    running = 0.0
    while step < total:
        for idx in batches(examples, args.batch, rng):
            if step >= total:
                break
            ids, mask, labels = collate(examples, idx, pad)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
                loss, _ = answer_loss(causal_lm, ids, mask, labels)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            tokens_seen += int(mask.sum())
            answer_tokens += int((labels != -100).sum())
            running = loss.item() if step == 1 else 0.95 * running + 0.05 * loss.item()
            if step % args.log_every == 0 or step == total:
                minutes = (time.monotonic() - prepared) / 60
                say(f"step {step}/{total} loss {running:.4f} lr {sched.get_last_lr()[0]:.2e} "
                    f"{minutes:.1f} min, {tokens_seen / max(1e-9, minutes * 60):.0f} tokens/s, peak {peak_mb():.0f} MB")
    model.eval()
    val_loss, val_acc = evaluate(causal_lm, val, pad, use_bf16)
    say(f"validation: loss {val_loss:.4f}, answer-token accuracy {val_acc:.4f}")
    args.out.mkdir(parents=True, exist_ok=True)
    save_adapter(model, args.out)
    info = {
        "model": args.model,
        "gguf_sha256": gguf_sha256(catalog.get("slm", args.model)),
        "data_sha256": hashlib.sha256(args.data.read_bytes()).hexdigest(),
        "examples": len(examples),
        "validation_examples": len(val),
        "steps": step,
        "batch": args.batch,
        "epochs": round(step / steps_per_epoch, 2),
        "lr": args.lr,
        "rank": args.rank,
        "dropout": args.dropout,
        "target_modules": list(TARGET_MODULES),
        "bf16": use_bf16,
        "threads": args.threads,
        "seed": args.seed,
        "train_tokens": tokens_seen,
        "answer_tokens": answer_tokens,
        "final_loss": round(running, 4),
        "validation_loss": round(val_loss, 4),
        "validation_token_accuracy": round(val_acc, 4),
        "minutes": round((time.monotonic() - t_start) / 60, 1),
        "training_minutes": round((time.monotonic() - prepared) / 60, 1),
        "peak_memory_mb": round(peak_mb()),
        "command": args.command or " ".join(sys.argv),
        "tools": _versions(),
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (args.out / MANIFEST).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    say(f"adapter -> {args.out} ({(args.out / ADAPTER_FILE).stat().st_size / 1e6:.1f} MB)")
    return info


def evaluate(causal_lm: Any, val: list[tuple[list[int], int]], pad: int, bf16: bool) -> tuple[float, float]:
    import torch

    if not val:
        return float("nan"), float("nan")
    total_loss = right = count = 0.0
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        for i in range(0, len(val), 32):
            idx = list(range(i, min(len(val), i + 32)))
            ids, mask, labels = collate(val, idx, pad)
            loss, hits = answer_loss(causal_lm, ids, mask, labels)
            n = int((labels[:, 1:] != -100).sum())
            total_loss += float(loss) * n
            right += int(hits)
            count += n
    return total_loss / count, right / count


def save_adapter(model: Any, out: Path) -> None:
    """adapter_config.json and the LoRA weights as float16 safetensors (half the size, merge is unaffected)."""
    import torch
    from safetensors.torch import load_file, save_file

    model.save_pretrained(str(out), safe_serialization=True)
    (out / "README.md").unlink(missing_ok=True)  # peft's empty model card template: tune.json says what this is
    path = out / ADAPTER_FILE
    tensors = {k: t.to(torch.float16).contiguous() for k, t in load_file(str(path)).items()}
    save_file(tensors, str(path), metadata={"format": "pt"})


def _versions() -> dict[str, str]:
    from importlib.metadata import version

    return {p: version(p) for p in ("torch", "transformers", "peft")}


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m slm_voice.models.tune.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, choices=[s.name for s in catalog.CATALOG if s.stage == "slm"])
    p.add_argument("--data", type=Path, required=True, help="training data (generate.py's JSON lines)")
    p.add_argument("--out", type=Path, required=True, help="adapter folder")
    p.add_argument("--gguf", type=Path, nargs="*", default=[], help="the GGUF file(s) in join order")
    p.add_argument("--base", type=Path, help="a float32 Hugging Face checkpoint instead of converting the GGUF")
    p.add_argument("--epochs", type=float, default=2.0)
    p.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: --epochs decides)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--rank", type=int, default=16)
    p.add_argument("--dropout", type=float, default=0.05)
    p.add_argument("--max-examples", type=int, default=0)
    p.add_argument("--val-fraction", type=float, default=0.03)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fp32", action="store_true", help="no bfloat16 even where the CPU has it")
    p.add_argument("--log", type=Path, help="also append progress here")
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--command", help="the command that reproduces this run, recorded in tune.json")
    args = p.parse_args(argv)
    if args.base is None and not args.gguf:
        p.error("give --gguf (the catalog GGUF) or --base (a float32 checkpoint)")
    return args


def main(argv: list[str] | None = None) -> int:
    # oneDNN keeps packed bfloat16 weights per matrix shape it has seen: cap how many (memory, not speed).
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "256")
    train(parse(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
