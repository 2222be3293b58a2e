"""Derived GGUF files the checks run on, made once into the cache directory.

- an all-F32 copy of a model (every tensor dequantized by the `gguf` package,
  all metadata kept; only general.file_type is set to 0 = ALL_F32);
- llama.cpp requantizations of that F32 copy (llama_model_quantize);
- a GGUF of random raw blocks of every tensor type, with sane f16 scales.
"""
from __future__ import annotations

import os

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

FILE_TYPE_ALL_F32 = 0


def _writer_for(reader: gguf.GGUFReader, path: str) -> gguf.GGUFWriter:
    arch = reader.fields["general.architecture"].contents()
    writer = gguf.GGUFWriter(path, arch)
    for field in reader.fields.values():
        # GGUF.* are the header's virtual fields; the writer adds the architecture itself.
        if field.name.startswith("GGUF.") or field.name == "general.architecture":
            continue
        val_type = field.types[0]
        sub_type = field.types[-1] if val_type == gguf.GGUFValueType.ARRAY else None
        value = field.contents()
        if field.name == "general.file_type":
            value = FILE_TYPE_ALL_F32
        writer.add_key_value(field.name, value, val_type, sub_type=sub_type)
    return writer


def f32_copy(src: str, dst: str) -> str:
    """Every tensor of `src` dequantized to F32 and written with its metadata."""
    if os.path.exists(dst):
        return dst
    reader = gguf.GGUFReader(src)
    tmp = dst + ".part"
    writer = _writer_for(reader, tmp)
    for t in reader.tensors:
        shape = gguf.quant_shape_from_byte_shape(t.data.shape, t.tensor_type) \
            if t.data.dtype == np.uint8 else t.data.shape
        writer.add_tensor_info(t.name, shape, np.dtype(np.float32), int(np.prod(shape)) * 4)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for t in reader.tensors:
        values = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32, copy=False)
        writer.write_tensor_data(np.ascontiguousarray(values))
    writer.close()
    os.replace(tmp, dst)
    return dst


def requantized(f32_path: str, dst: str, ftype_name: str) -> str:
    """The F32 copy requantized by llama.cpp itself to `ftype_name` (e.g. Q4_K_M)."""
    if os.path.exists(dst):
        return dst
    from . import llama_side
    tmp = dst + ".part"
    llama_side.quantize(f32_path, tmp, llama_side.FTYPES[ftype_name])
    os.replace(tmp, dst)
    return dst


# Random blocks ------------------------------------------------------------

# Byte offsets of the f16 scale fields inside one block of each type; the
# rest of the block is random bytes (every bit pattern of quants is valid).
SCALE_OFFSETS = {
    T.Q4_0: (0,), T.Q4_1: (0, 2), T.Q5_0: (0,), T.Q5_1: (0, 2), T.Q8_0: (0,),
    T.Q4_K: (0, 2), T.Q5_K: (0, 2), T.Q6_K: (208,),
    T.Q2_K: (80, 82), T.Q3_K: (108,), T.IQ4_NL: (0,), T.IQ4_XS: (0,),
}
RANDOM_TYPES = (T.F32, T.F16, T.BF16, *SCALE_OFFSETS)
RANDOM_SHAPE = (64, 512)  # rows x elements per row: 256-multiple for K-quants


def random_tensor_name(qtype: T) -> str:
    return f"random.{qtype.name.lower()}"


def _sane_f16(rng: np.random.Generator, n: int) -> np.ndarray:
    """Normal (not subnormal, not NaN/Inf) f16 values of either sign, 1e-4..1."""
    mag = 10.0 ** rng.uniform(-4, 0, n)
    return (mag * rng.choice([-1.0, 1.0], n)).astype(np.float16)


def random_blocks(qtype: T, rng: np.random.Generator) -> np.ndarray:
    """Raw bytes [rows, bytes_per_row] (or floats for F32/F16) of one tensor."""
    rows, cols = RANDOM_SHAPE
    if qtype == T.F32:
        return rng.standard_normal(RANDOM_SHAPE).astype(np.float32)
    if qtype == T.F16:
        return rng.standard_normal(RANDOM_SHAPE).astype(np.float16)
    if qtype == T.BF16:
        f32 = rng.standard_normal(RANDOM_SHAPE).astype(np.float32)
        return (f32.view(np.uint32) >> 16).astype(np.uint16).view(np.uint8).reshape(rows, cols * 2)
    block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
    n_blocks = rows * cols // block_size
    blocks = rng.integers(0, 256, (n_blocks, type_size), dtype=np.uint8)
    for off in SCALE_OFFSETS[qtype]:
        blocks[:, off:off + 2] = _sane_f16(rng, n_blocks).view(np.uint8).reshape(n_blocks, 2)
    return blocks.reshape(rows, -1)


def random_blocks_file(dst: str, seed: int = 20240611) -> str:
    """One tensor `random.<type>` per type in RANDOM_TYPES."""
    if os.path.exists(dst):
        return dst
    rng = np.random.default_rng(seed)
    tmp = dst + ".part"
    writer = gguf.GGUFWriter(tmp, "conformance-random")
    writer.add_name("moed conformance random blocks")
    for qtype in RANDOM_TYPES:
        data = random_blocks(qtype, rng)
        raw = qtype if data.dtype == np.uint8 else None
        writer.add_tensor(random_tensor_name(qtype), data, raw_dtype=raw)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(tmp, dst)
    return dst
