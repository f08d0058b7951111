"""IQ, ternary and MXFP4 types judged by an outside implementation: gguf-py's numpy
`gguf.quants.dequantize` (and `quantize`, for the types gguf-py can quantize: TQ1_0, TQ2_0, MXFP4),
which mirror llama.cpp's reference code. Runs <build>/quant_tool (the directory of $PJ_BIN, or
$PJ_BUILD_DIR), which calls our kernel table's to_float / from_float_ref."""
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from gguf import GGMLQuantizationType as Q
from gguf import quants

DEQUANT_TYPES = [Q.IQ4_NL, Q.IQ4_XS, Q.IQ2_XXS, Q.IQ2_XS, Q.IQ2_S, Q.IQ3_XXS, Q.IQ3_S, Q.IQ1_S, Q.IQ1_M,
                 Q.TQ1_0, Q.TQ2_0, Q.MXFP4]
QUANT_TYPES = [Q.TQ1_0, Q.TQ2_0, Q.MXFP4]

# byte offset of the fp16 super-block scale in each block (IQ1_M and MXFP4 are handled apart)
FP16_SCALE_OFFSET = {Q.IQ4_NL: 0, Q.IQ4_XS: 0, Q.IQ2_XXS: 0, Q.IQ2_XS: 0, Q.IQ2_S: 0, Q.IQ3_XXS: 0,
                     Q.IQ3_S: 0, Q.IQ1_S: 0, Q.TQ1_0: 52, Q.TQ2_0: 64}


def _tool() -> Path:
    build = os.environ.get("PJ_BUILD_DIR") or (os.path.dirname(os.environ["PJ_BIN"]) if "PJ_BIN" in os.environ else "")
    tool = Path(build) / "quant_tool"
    if not tool.exists():
        pytest.fail(f"quant_tool not found in '{build}' (set PJ_BIN or PJ_BUILD_DIR)")
    return tool


def random_blocks(qtype: Q, n_blocks: int, seed: int) -> np.ndarray:
    """Random bytes in every field, with scales replaced by finite values of a plausible size (an
    fp16 NaN/inf scale would make both sides NaN and hide errors)."""
    rng = np.random.default_rng(seed)
    _, type_size = quants.GGML_QUANT_SIZES[qtype]
    blocks = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
    scales = (rng.standard_normal(n_blocks) * 0.02).astype(np.float16)
    if qtype == Q.MXFP4:
        blocks[:, 0] = rng.integers(100, 140, size=n_blocks)  # E8M0 exponent: 2^-27 .. 2^12
    elif qtype == Q.IQ1_M:
        # the fp16 scale is scattered over the top nibbles of the four uint16 at bytes 48..55
        bits = scales.view(np.uint16)
        words = blocks[:, 48:56].copy().view(np.uint16)
        for k in range(4):
            words[:, k] = (words[:, k] & 0x0FFF) | (((bits >> (4 * k)) & 0xF) << 12)
        blocks[:, 48:56] = words.view(np.uint8).reshape(n_blocks, 8)
    else:
        off = FP16_SCALE_OFFSET[qtype]
        blocks[:, off:off + 2] = scales.view(np.uint8).reshape(n_blocks, 2)
    return blocks


@pytest.mark.parametrize("qtype", DEQUANT_TYPES, ids=lambda t: t.name)
def test_dequantize_equals_gguf(qtype, tmp_path):
    blocks = random_blocks(qtype, 300, seed=int(qtype))
    src = tmp_path / "q.bin"
    blocks.tofile(src)
    out = tmp_path / "deq.f32"
    subprocess.run([_tool(), "dequantize", qtype.name, src, out], check=True)
    ours = np.fromfile(out, dtype=np.float32)
    ref = quants.dequantize(blocks.reshape(-1), qtype).astype(np.float32).ravel()
    assert np.isfinite(ref).all()
    assert ours.size == ref.size
    # Exact: both compute each value with the same float32 operations in the same order.
    bad = np.flatnonzero(ours != ref)
    block_size, _ = quants.GGML_QUANT_SIZES[qtype]
    assert bad.size == 0, (f"{qtype.name}: {bad.size} values differ, first at element {bad[0]} (block {bad[0] // block_size}): "
                           f"ours {ours[bad[0]]} gguf {ref[bad[0]]}")


def _inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(99)
    n = 256 * 40
    return {
        "normal": rng.standard_normal(n).astype(np.float32),
        # zero blocks, constant blocks, exact halves (rounding ties of the ternary types), powers of two
        # (the MXFP4 exponent), heavy tails and tiny values
        "awkward": np.concatenate([
            np.zeros(256, np.float32),
            np.full(256, -0.75, np.float32),
            np.tile(np.array([1, -1, 0.5, -0.5, 0.25, 0, 2, -2], np.float32), 32),
            np.tile(np.exp2(np.arange(-8, 8, dtype=np.float32)), 16),
            (rng.standard_cauchy(256 * 8) * 1e-2).astype(np.float32),
            (rng.standard_normal(256 * 4) * 1e-30).astype(np.float32),
            rng.uniform(-1e4, 1e4, 256 * 4).astype(np.float32),
        ]),
    }


@pytest.mark.parametrize("qtype", QUANT_TYPES, ids=lambda t: t.name)
@pytest.mark.parametrize("name", ["normal", "awkward"])
def test_quantize_equals_gguf(qtype, name, tmp_path):
    x = _inputs()[name]
    src = tmp_path / "in.f32"
    x.tofile(src)
    out = tmp_path / "q.bin"
    subprocess.run([_tool(), "quantize", qtype.name, src, out], check=True)
    got = np.fromfile(out, dtype=np.uint8)
    expected = quants.quantize(x.reshape(-1, 256), qtype).ravel()
    assert got.size == expected.size
    bad = np.flatnonzero(got != expected)
    _, type_size = quants.GGML_QUANT_SIZES[qtype]
    assert bad.size == 0, f"{qtype.name}: {bad.size} bytes differ, first in block {bad[0] // type_size}"


@pytest.mark.parametrize("qtype", [Q.IQ2_XXS, Q.IQ4_XS, Q.TQ1_0], ids=lambda t: t.name)
def test_rejects_partial_blocks(qtype, tmp_path):
    src = tmp_path / "q.bin"
    np.zeros(quants.GGML_QUANT_SIZES[qtype][1] + 1, np.uint8).tofile(src)
    r = subprocess.run([_tool(), "dequantize", qtype.name, src, tmp_path / "out.f32"], capture_output=True, text=True)
    assert r.returncode == 1
    assert "whole number" in r.stderr
    assert not (tmp_path / "out.f32").exists()
