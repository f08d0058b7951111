"""Our K-quant dequantizers against an outside oracle: gguf-py's numpy dequantization (gguf 0.19.0,
which mirrors llama.cpp's dequantize_row_*), on random blocks (every byte random, fp16 scales replaced
by random finite values). Exact equality: both evaluate the same float32 expressions. Runs
<build>/quant_tool (next to $PJ_BIN, or in $PJ_BUILD_DIR)."""
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from gguf import GGMLQuantizationType as Q
from gguf import quants

# byte offsets of the fp16 fields in each block (ggml-common.h block_q*_K)
FP16_FIELDS = {Q.Q2_K: [80, 82], Q.Q3_K: [108], Q.Q4_K: [0, 2], Q.Q5_K: [0, 2], Q.Q6_K: [208]}


def _tool() -> Path:
    build = os.environ.get("PJ_BUILD_DIR") or (os.path.dirname(os.environ["PJ_BIN"]) if "PJ_BIN" in os.environ else "")
    tool = Path(build) / "quant_tool"
    if not tool.exists():
        pytest.fail(f"quant_tool not found in '{build}' (set PJ_BIN or PJ_BUILD_DIR)")
    return tool


@pytest.mark.parametrize("qtype", list(FP16_FIELDS), ids=lambda t: t.name)
def test_dequantize_random_blocks_equals_gguf(qtype, tmp_path):
    rng = np.random.default_rng(int(qtype))
    _, type_size = quants.GGML_QUANT_SIZES[qtype]
    nblocks = 300
    blocks = rng.integers(0, 256, size=(nblocks, type_size), dtype=np.uint8)
    for off in FP16_FIELDS[qtype]:
        scales = (rng.standard_normal(nblocks) * 0.01).astype(np.float16)
        blocks[:, off:off + 2] = scales.view(np.uint8).reshape(nblocks, 2)
    src = tmp_path / "q.bin"
    blocks.tofile(src)
    out = tmp_path / "deq.f32"
    subprocess.run([_tool(), "dequantize", qtype.name, src, out], check=True)
    got = np.fromfile(out, dtype=np.float32)
    want = quants.dequantize(blocks.reshape(-1), qtype).astype(np.float32).ravel()
    assert got.shape == want.shape
    assert np.array_equal(got, want), f"{qtype.name}: {np.count_nonzero(got != want)} values differ"


@pytest.mark.parametrize("qtype", list(FP16_FIELDS), ids=lambda t: t.name)
def test_quantize_then_gguf_dequantize_round_trips(qtype, tmp_path):
    # Our quantizer's output read back by gguf-py: error of a real quantizer (layout agreement).
    x = np.random.default_rng(5).standard_normal(256 * 64).astype(np.float32)
    src = tmp_path / "x.f32"
    x.tofile(src)
    q = tmp_path / "q.bin"
    subprocess.run([_tool(), "quantize", qtype.name, src, q], check=True)
    back = quants.dequantize(np.fromfile(q, dtype=np.uint8), qtype).astype(np.float32).ravel()
    rel = np.sqrt(np.mean((back - x) ** 2) / np.mean(x ** 2))
    assert rel < {Q.Q2_K: 0.4, Q.Q3_K: 0.2, Q.Q4_K: 0.1, Q.Q5_K: 0.05, Q.Q6_K: 0.022}[qtype], rel
