"""The memory-lean halves of the INT4 build, for a 4 GB Raspberry Pi (runs in the build venv only).

The plain route (transformers loads the whole GGUF, dequantized, into a float32 model; the ONNX model builder loads
that model again and quantizes a float32 copy of the whole graph) peaks at about 7 GiB for the 0.5B model. This
module does the same two conversions with one weight in memory at a time, and gives the same bytes:

* ``gguf-to-hf GGUF HF_DIR``: config and tokenizer through transformers (metadata only); the weights one tensor at
  a time: memory-mapped from the GGUF, dequantized, renamed and permuted by transformers' own GGUF tables, written
  to one float32 safetensors shard per decoder layer (``model.safetensors.index.json`` lists them).
* ``onnx BUILDER_ARGS...``: onnxruntime-genai's model builder, unchanged, with two of its steps replaced: it reads
  the float32 weights memory-mapped from those shards (clean file pages the kernel can drop, never anonymous
  memory), and it quantizes each MatMul/Gather weight to INT4 on its own with onnxruntime's quantizer, dropping
  the float weight right after (instead of serializing the whole float32 graph first and quantizing that copy).
  Anything this path does not cover (sub-graphs, N-D or shared weights, other quantization algorithms) runs the
  builder's own code.

torch, transformers and the builder are imported only inside the functions: the runtime venv may import this module.
"""

from __future__ import annotations

import json
import mmap
import os
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

SHARD_INDEX = "model.safetensors.index.json"
_LAYER = re.compile(r"(?:^|\.)layers\.(\d+)\.")


# --------------------------------------------------------------------------------------------------------------
# GGUF -> Hugging Face float32, one tensor at a time.
# --------------------------------------------------------------------------------------------------------------


def gguf_to_hf_streamed(gguf: Path, hf_dir: Path) -> None:
    """Write a float32 Hugging Face checkpoint (config, tokenizer, per-layer safetensors shards) from a GGUF."""
    import numpy as np
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    hf_dir.mkdir(parents=True, exist_ok=True)
    config = AutoConfig.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    with torch.device("meta"):  # names and shapes only: no memory for the weights
        skeleton = AutoModelForCausalLM.from_config(config)
    expected = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    tied = _tied_names(skeleton)

    written: dict[str, str] = {}  # tensor name -> shard file
    pending: dict[str, Any] = {}
    pending_shard: str | None = None
    total = 0

    def flush() -> None:
        nonlocal total, pending
        if not pending or pending_shard is None:
            return
        file = pending_shard
        n = 1
        while file in written.values():  # a layer split up in the GGUF: its next part gets a shard of its own
            n += 1
            file = pending_shard.replace(".safetensors", f"-{n}.safetensors")
        write_safetensors(hf_dir / file, pending)
        for name, arr in pending.items():
            written[name] = file
            total += arr.nbytes
        pending = {}

    for name, weights in iter_gguf_tensors(gguf, skeleton, config.to_dict()):
        want = expected.get(name)
        if want is None:
            raise ValueError(f"{gguf.name}: tensor {name} is not a parameter of {type(skeleton).__name__}")
        arr = np.ascontiguousarray(weights, dtype=np.float32)
        del weights
        if tuple(arr.shape) != want:
            raise ValueError(f"{gguf.name}: {name} has shape {arr.shape}, {type(skeleton).__name__} wants {want}")
        shard = _shard_of(name, config.num_hidden_layers)
        if shard != pending_shard:
            flush()  # GGUF lists a layer's tensors together: one layer (or one other tensor) in memory at a time
            pending_shard = shard
        pending[name] = arr
        del arr
        if not shard.startswith("model-layer"):
            flush()  # an embedding or output table alone is 545 MB: out before the next one is dequantized
    flush()
    weight_map = written
    missing = sorted(set(expected) - set(weight_map) - tied)
    if missing:
        raise ValueError(f"{gguf.name}: no tensor for {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")

    (hf_dir / SHARD_INDEX).write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}, indent=2),
        encoding="utf-8",
    )
    # What save_pretrained of the loaded float32 model writes beside the weights.
    config.architectures = [type(skeleton).__name__]
    config.dtype = torch.float32
    config.save_pretrained(str(hf_dir))
    if skeleton.can_generate():
        GenerationConfig.from_model_config(config).save_pretrained(str(hf_dir))
    del skeleton
    # The tokenizer last: parsing its vocabulary leaves a few hundred MB of Python objects behind.
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    tok.save_pretrained(str(hf_dir))
    (hf_dir / "tokenizer.model").unlink(missing_ok=True)  # transformers copies the whole GGUF there


def write_safetensors(path: Path, tensors: dict[str, Any]) -> None:
    """A float32 safetensors file written array by array (safetensors' own writer first copies every tensor into
    one buffer: a second and third copy of a 545 MB embedding table)."""
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, arr in tensors.items():
        if arr.dtype.str != "<f4" or not arr.flags.c_contiguous:
            raise ValueError(f"{name}: expected a contiguous little-endian float32 array, got {arr.dtype}")
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + arr.nbytes]}
        offset += arr.nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # the format pads the header to 8 bytes
    with open(path, "wb") as fh:
        fh.write(len(raw).to_bytes(8, "little"))
        fh.write(raw)
        for arr in tensors.values():
            fh.write(memoryview(arr).cast("B"))


def iter_gguf_tensors(gguf: Path, skeleton: Any, config: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(Hugging Face name, float weights) for each GGUF tensor the model uses, dequantized one at a time with
    the same tables and processors transformers' own GGUF loader uses."""
    from gguf import GGUFReader, dequantize
    from transformers.modeling_gguf_pytorch_utils import (
        TENSOR_PROCESSORS,
        TensorProcessor,
        get_gguf_hf_weights_map,
        read_field,
    )

    reader = _lean_reader(GGUFReader)(str(gguf))  # the tensors stay memory-mapped
    architecture = read_field(reader, "general.architecture")[0]
    processor = TENSOR_PROCESSORS.get(architecture, TensorProcessor)(config=config)
    if type(processor).process is not TensorProcessor.process and type(processor).__name__ not in (
        "LlamaTensorProcessor",
    ):
        # MoE processors gather several GGUF tensors into one parameter: they need the whole-model loader.
        raise ValueError(f"streaming conversion does not support the {architecture} architecture yet")
    mapping = get_gguf_hf_weights_map(skeleton, processor)
    for tensor in reader.tensors:
        weights = _dequantize_rows(tensor.data, tensor.tensor_type, dequantize)
        result = processor.process(weights=weights, name=tensor.name, tensor_key_mapping=mapping,
                                   parsed_parameters={"config": config})
        del weights
        if result.name in mapping:
            name, weights = mapping[result.name], result.weights
            del result
            yield name, weights
        # Nothing of this tensor may stay referenced here while the next one is dequantized.
        weights = result = None


def _lean_reader(base: type) -> type:
    """gguf's GGUFReader that drops the tokenizer's big arrays once parsed: kept, the 151k tokens and merges of
    Qwen's vocabulary are ~450 MB of numpy objects (the tokenizer is read by transformers on its own)."""

    class LeanGGUFReader(base):  # type: ignore[misc, valid-type]
        def _push_field(self, field: Any, skip_sum: bool = False) -> int:
            size = super()._push_field(field, skip_sum)
            if field.name.startswith("tokenizer.ggml.") and len(field.data) > 1:
                del self.fields[field.name]
            return size

    return LeanGGUFReader if hasattr(base, "_push_field") else base


def _dequantize_rows(data: Any, qtype: Any, dequantize: Any, rows_per_chunk: int = 2048) -> Any:
    """gguf's dequantize, a few thousand rows at a time: its temporaries are several times the float32 result,
    which for a 150k-token embedding table would be gigabytes at once."""
    import numpy as np

    if data.ndim < 2 or data.shape[0] <= rows_per_chunk:
        return dequantize(data, qtype)
    first = dequantize(data[:rows_per_chunk], qtype)
    out = np.empty((data.shape[0], *first.shape[1:]), dtype=first.dtype)
    out[:rows_per_chunk] = first
    del first
    for start in range(rows_per_chunk, data.shape[0], rows_per_chunk):
        out[start:start + rows_per_chunk] = dequantize(data[start:start + rows_per_chunk], qtype)
    return out


def _tied_names(model: Any) -> set[str]:
    """Parameters that share another one's storage (e.g. lm_head.weight with tied embeddings)."""
    keys = getattr(model, "all_tied_weights_keys", None) or getattr(model, "_tied_weights_keys", None) or {}
    names = set(keys) if isinstance(keys, dict | list | set | tuple) else set()
    if getattr(model.config, "tie_word_embeddings", False):
        names.add("lm_head.weight")
    return names


def _shard_of(name: str, num_layers: int) -> str:
    m = _LAYER.search(name)
    if m is None:
        return f"model-{name.removesuffix('.weight').replace('.', '_')}.safetensors"
    return f"model-layer{int(m.group(1)):0{len(str(num_layers))}d}.safetensors"


# --------------------------------------------------------------------------------------------------------------
# Hugging Face float32 -> INT4 ONNX: the model builder, memory-mapped weights, one weight quantized at a time.
# --------------------------------------------------------------------------------------------------------------


def run_builder_streamed(builder_args: Sequence[str]) -> None:
    """Run `python -m onnxruntime_genai.models.builder BUILDER_ARGS` in this process, with the two patches."""
    import runpy

    import onnxruntime_genai.models  # noqa: F401 - puts the builder's own folder on sys.path, as its CLI does
    from builders.base import Model  # the class the builder's CLI uses (imported by that top-level name)

    original_to_nbits, original_load = Model.to_nbits, Model.load_weights

    def to_nbits(self: Any) -> Any:
        return quantize_streamed(self) or original_to_nbits(self)

    def load_weights(self: Any, input_path: str) -> Any:
        model = load_mmapped(self, input_path)
        return model if model is not None else original_load(self, input_path)

    Model.to_nbits, Model.load_weights = to_nbits, load_weights
    argv = sys.argv
    try:
        sys.argv = ["onnxruntime_genai.models.builder", *builder_args]
        runpy.run_module("onnxruntime_genai.models.builder", run_name="__main__", alter_sys=False)
    finally:
        sys.argv = argv
        Model.to_nbits, Model.load_weights = original_to_nbits, original_load


def load_mmapped(builder: Any, input_path: str) -> Any:
    """The Hugging Face model with every weight a view of its memory-mapped float32 safetensors shard, or None
    when the checkpoint is not such a set of shards (the builder then loads it itself)."""
    import torch
    from accelerate import init_empty_weights
    from transformers import AutoConfig, AutoModelForCausalLM

    folder = Path(input_path)
    index = folder / SHARD_INDEX
    if (
        not index.is_file()
        or builder.quant_type is not None
        or "adapter_path" in builder.extra_options
        or "num_hidden_layers" in builder.extra_options
        or not str(builder.model_type).endswith("ForCausalLM")
    ):
        return None
    files = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
    if any(_dtypes(folder / f) != {"F32"} for f in files):
        return None  # e.g. shards rewritten in another precision: the builder's own loader converts them
    # Parameters on the meta device (no memory), buffers such as the rotary frequencies computed as usual.
    with init_empty_weights(include_buffers=False):
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(str(folder)))
    model.eval()
    params = dict(model.named_parameters(remove_duplicate=False))
    for file in files:
        for name, tensor in _mmap_safetensors(folder / file):
            if name not in params:
                raise ValueError(f"{file}: {name} is not a parameter of {type(model).__name__}")
            _set_tensor(model, name, torch.nn.Parameter(tensor, requires_grad=False))
    model.tie_weights()
    print(f"Weights memory-mapped from {len(files)} float32 shards in {folder}", file=sys.stderr)
    still_meta = [n for n, p in model.named_parameters(remove_duplicate=False) if p.is_meta]
    if still_meta:
        raise ValueError(f"{folder}: no weights for {', '.join(still_meta[:5])}")
    return model


def _header(path: Path) -> tuple[int, dict[str, Any]]:
    """(offset of the data, tensor entries) of a safetensors file."""
    with open(path, "rb") as fh:
        header_len = int.from_bytes(fh.read(8), "little")
        header = json.loads(fh.read(header_len))
    header.pop("__metadata__", None)
    return 8 + header_len, header


def _dtypes(path: Path) -> set[str]:
    return {meta["dtype"] for meta in _header(path)[1].values()}


def _mmap_safetensors(path: Path) -> Iterator[tuple[str, Any]]:
    """Zero-copy float32 torch tensors over a safetensors file, mapped read-only."""
    import torch

    base, header = _header(path)
    with open(path, "rb") as fh:
        mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_COPY)  # copy-on-write: torch wants a writable buffer
    for name, meta in header.items():
        if meta["dtype"] != "F32":
            raise ValueError(f"{path.name}: {name} is {meta['dtype']}, expected F32")
        start, end = meta["data_offsets"]
        count = (end - start) // 4
        t = torch.frombuffer(mapped, dtype=torch.float32, count=count, offset=base + start) if count else (
            torch.empty(0, dtype=torch.float32))
        yield name, t.view(*meta["shape"]) if meta["shape"] else t.reshape(())


def _set_tensor(model: Any, name: str, value: Any) -> None:
    owner_name, _, attr = name.rpartition(".")
    owner = model.get_submodule(owner_name) if owner_name else model
    setattr(owner, attr, value)


def quantize_streamed(builder: Any) -> Any:
    """The builder's to_nbits, one weight at a time; None when the model needs the builder's own code."""
    import onnx_ir as ir
    from onnxruntime.quantization.matmul_nbits_quantizer import (
        DefaultWeightOnlyQuantConfig,
        DefaultWeightOnlyQuantizer,
        QuantFormat,
    )

    qa = builder.quant_attrs
    if (
        getattr(builder, "exact_quant_override_names", None)
        or getattr(builder, "exact_quant_overrides", None)
        or getattr(builder, "int4_customized_weight_config", None)
        or getattr(builder, "quantization_algo", "default") != "default"
        or qa["use_qdq"]
        or builder.ep == "cuda"
    ):
        return None
    graph = builder.model.graph
    op_types = tuple(qa["op_types_to_quantize"])
    excluded = set(qa["nodes_to_exclude"])
    todo = []
    for node in graph:
        if any(a.type in (ir.AttributeType.GRAPH, ir.AttributeType.GRAPHS) for a in node.attributes.values()):
            return None  # sub-graphs: the builder's own (whole-model) quantizer handles them
        if node.op_type not in op_types or node.name in excluded or node.domain not in ("", "ai.onnx"):
            continue
        weight = node.inputs[0 if node.op_type == "Gather" else 1] if node.inputs else None
        if weight is None or weight.const_value is None or not weight.is_initializer():
            continue
        if len(weight.const_value.shape) != 2 or len(list(weight.uses())) != 1:
            return None  # N-D or shared weights: leave them to the builder's own code
        todo.append(node)

    quantizer = DefaultWeightOnlyQuantizer(
        DefaultWeightOnlyQuantConfig(
            block_size=qa["matmul_block_size"],
            is_symmetric=qa["is_symmetric"],
            accuracy_level=qa["accuracy_level"],
            quant_format=QuantFormat.QOperator,
            op_types_to_quantize=op_types,
            quant_axes=None,
            bits=qa["bits"],
        )
    )
    model = builder.model
    # What MatMulNBitsQuantizer.process does to the model before quantizing.
    model.opset_imports["com.microsoft"] = 1
    if "Gather" in op_types:
        if model.opset_imports.get("", 21) < 21:
            model.opset_imports[""] = 21
        model.ir_version = max(model.ir_version or 10, 10)

    from tqdm import tqdm

    for node in tqdm(todo, desc="Quantizing one weight at a time", file=sys.stderr):
        weight = node.inputs[0 if node.op_type == "Gather" else 1]
        proto, inits = _quantize_node(quantizer, node, weight)
        created = {}
        for init in inits:
            tensor = ir.serde.deserialize_tensor(init)
            value = ir.Value(name=init.name, shape=ir.Shape(tensor.shape), type=ir.TensorType(tensor.dtype),
                             const_value=tensor)
            graph.register_initializer(value)
            created[init.name] = value
        by_name = {v.name: v for v in node.inputs if v is not None}
        inputs = [None if not n else created.get(n) or by_name[n] for n in proto.input]
        new = ir.Node(proto.domain, proto.op_type, inputs,
                      attributes=[ir.serde.deserialize_attribute(a) for a in proto.attribute],
                      num_outputs=len(proto.output), name=proto.name)
        ir.convenience.replace_nodes_and_values(graph, node, [node], [new], list(node.outputs), list(new.outputs))
        graph.initializers.pop(weight.name)
        weight.const_value = None  # the float32 weight (or its memory-mapped view) is released here
    return model


SLICE_BYTES = 64 << 20
"""Weights larger than this (the 150k-token embedding and output tables) are quantized a slice at a time."""


def _quantize_node(quantizer: Any, node: Any, weight: Any) -> tuple[Any, list[Any]]:
    """onnxruntime's quantization of one node's weight: (the new node, its new initializers), each a standalone
    proto. A big weight is cut into slices along the axis whose entries are quantized independently of each other
    (MatMul: the output columns N; Gather: the table's rows), each slice quantized the same way, the results joined:
    the same bytes as one call, with one slice's float32 copy in memory instead of two or three of the whole."""
    import numpy as np
    import onnx
    import onnx_ir as ir

    node_proto = ir.serde.serialize_node(node)
    shape = tuple(weight.const_value.shape)
    axis = 1 if node.op_type == "MatMul" else 0
    cfg = quantizer.config
    per_entry = int(np.prod(shape)) // shape[axis]
    if shape[axis] * per_entry * 4 <= SLICE_BYTES or cfg.quant_axes.get(node.op_type) != 1 - axis:
        mini = onnx.GraphProto()
        ir.serde.serialize_tensor_into(mini.initializer.add(), weight.const_value)  # this one weight, float32
        return _quantize_mini(quantizer, node_proto, mini)
    step = max(64, SLICE_BYTES // 4 // per_entry // 64 * 64)  # even counts: int4 slices join byte by byte
    full = weight.const_value.numpy()  # a view of the memory-mapped weight (transposed for MatMul): no copy
    parts = []
    for begin in range(0, shape[axis], step):
        piece = full[:, begin:begin + step] if axis == 1 else full[begin:begin + step]
        mini = onnx.GraphProto()
        mini.initializer.append(onnx.numpy_helper.from_array(np.ascontiguousarray(piece), weight.name))
        parts.append(_quantize_mini(quantizer, node_proto, mini))
    del full
    for part, _ in parts:
        for attr in part.attribute:
            if attr.name == "N":  # MatMulNBits records the column count
                attr.i = shape[1]
    proto = parts[0][0]
    if any(part.SerializeToString() != proto.SerializeToString() for part, _ in parts[1:]):
        raise RuntimeError(f"the slices of {node.name} were quantized into different nodes")
    joined = [_join_rows([p[1][i] for p in parts]) for i in range(len(parts[0][1]))]
    return proto, joined


def _quantize_mini(quantizer: Any, node_proto: Any, mini: Any) -> tuple[Any, list[Any]]:
    import onnx

    new_protos = quantizer.quantize(node_proto, [mini])
    if len(new_protos) != 1 or list(new_protos[0].output) != list(node_proto.output):
        raise RuntimeError(f"unexpected quantization of {node_proto.name}: {[p.op_type for p in new_protos]}")
    inits = []
    for init in list(mini.initializer)[1:]:
        # A standalone copy: a sub-message would keep the whole mini graph, float32 weight included, alive.
        standalone = onnx.TensorProto()
        standalone.CopyFrom(init)
        inits.append(standalone)
    return new_protos[0], inits


def _join_rows(protos: Sequence[Any]) -> Any:
    """Concatenate tensors along their first axis (int4 ones byte by byte: each slice holds an even count)."""
    import numpy as np
    import onnx

    first = protos[0]
    if len(protos) == 1:
        return first
    if first.data_type in (onnx.TensorProto.INT4, onnx.TensorProto.UINT4):
        if any(int(np.prod(p.dims)) % 2 for p in protos[:-1]):
            raise RuntimeError(f"{first.name}: an int4 slice with an odd element count cannot be joined")
        joined = onnx.TensorProto()
        joined.CopyFrom(first)
        joined.dims[0] = sum(p.dims[0] for p in protos)
        joined.raw_data = b"".join(p.raw_data for p in protos)
        return joined
    return onnx.numpy_helper.from_array(np.concatenate([onnx.numpy_helper.to_array(p) for p in protos]), first.name)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) == 3 and args[0] == "gguf-to-hf":
        gguf_to_hf_streamed(Path(args[1]), Path(args[2]))
        return 0
    if args and args[0] == "onnx":
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        run_builder_streamed(args[1:])
        return 0
    print("usage: python -m slm_voice.models.stream_build gguf-to-hf GGUF HF_DIR\n"
          "       python -m slm_voice.models.stream_build onnx BUILDER_ARGS...", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
