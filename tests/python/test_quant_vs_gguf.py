"""Bit-compatibility of our reference quantizers with an outside judge: gguf-py's numpy quantizers,
which mirror llama.cpp's quantize_row_*_ref byte for byte. Runs <build>/quant_tool (the directory of
$PJ_BIN, or $PJ_BUILD_DIR)."""
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from gguf import GGMLQuantizationType as Q
from gguf import quants

TYPES = [Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.Q8_0]


def _tool() -> Path:
    build = os.environ.get("PJ_BUILD_DIR") or (os.path.dirname(os.environ["PJ_BIN"]) if "PJ_BIN" in os.environ else "")
    tool = Path(build) / "quant_tool"
    if not tool.exists():
        pytest.fail(f"quant_tool not found in '{build}' (set PJ_BIN or PJ_BUILD_DIR)")
    return tool


def _inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1234)
    n = 32 * 257
    data = {
        "normal": rng.standard_normal(n).astype(np.float32),
        # heavy tails, exact ties (repeated magnitudes of both signs), zero blocks and constant blocks
        # exercise the max-magnitude choice, the d == 0 path and the rounding at .5
        "awkward": np.concatenate([
            (rng.standard_cauchy(32 * 64) * 1e-3).astype(np.float32),
            np.zeros(32, np.float32),
            np.full(32, 0.75, np.float32),
            np.tile(np.array([1, -1, 0.5, -0.5], np.float32), 8),
            (np.arange(32 * 16, dtype=np.float32) - 256) / 16,
            rng.uniform(-1e4, 1e4, 32 * 8).astype(np.float32),
        ]),
    }
    return data


@pytest.mark.parametrize("qtype", TYPES, ids=lambda t: t.name)
@pytest.mark.parametrize("name", ["normal", "awkward"])
def test_quantize_and_dequantize_match_gguf(qtype, name, tmp_path):
    x = _inputs()[name]
    src = tmp_path / "in.f32"
    x.tofile(src)
    ours_q = tmp_path / "q.bin"
    subprocess.run([_tool(), "quantize", qtype.name, src, ours_q], check=True)
    expected = quants.quantize(x.reshape(-1, 32 * 8) if x.size % 256 == 0 else x.reshape(1, -1), qtype).ravel()
    got = np.fromfile(ours_q, dtype=np.uint8)
    assert got.size == expected.size
    mismatch = np.flatnonzero(got != expected)
    _, type_size = quants.GGML_QUANT_SIZES[qtype]
    assert mismatch.size == 0, f"{qtype.name}: {mismatch.size} bytes differ, first in block {mismatch[0] // type_size}"

    ours_f = tmp_path / "deq.f32"
    subprocess.run([_tool(), "dequantize", qtype.name, ours_q, ours_f], check=True)
    deq = np.fromfile(ours_f, dtype=np.float32)
    ref = quants.dequantize(expected, qtype).ravel()
    # Exact: both compute d * q (+ m) once in float32 from the same fp16 scale and integer.
    np.testing.assert_array_equal(deq, ref)


@pytest.mark.parametrize("qtype", TYPES, ids=lambda t: t.name)
def test_rejects_partial_block(qtype, tmp_path):
    src = tmp_path / "in.f32"
    np.ones(33, np.float32).tofile(src)
    r = subprocess.run([_tool(), "quantize", qtype.name, src, tmp_path / "q.bin"], capture_output=True, text=True)
    assert r.returncode == 1
    assert "not a multiple" in r.stderr and "block size 32" in r.stderr
    assert not (tmp_path / "q.bin").exists()
