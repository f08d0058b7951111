"""IQ, ternary and MXFP4 types judged by outside implementations: gguf-py's numpy
`gguf.quants.dequantize` (and `quantize`, for the types gguf-py can quantize: TQ1_0, TQ2_0, MXFP4),
which mirror llama.cpp's reference code, and for the quantizers gguf-py lacks (the lattice types,
IQ4_NL/IQ4_XS with importance weights) llama.cpp's own ggml_quantize_chunk from the libggml-base that
llama-cpp-python ships. Runs <build>/quant_tool (the directory of $PJ_BIN, or $PJ_BUILD_DIR), which
calls our kernel table's to_float / from_float_ref / quantize_rows."""
import ctypes
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


# ------------------------------------------------------------------ quantize_rows vs ggml_quantize_chunk

LATTICE_TYPES = [Q.IQ2_XXS, Q.IQ2_XS, Q.IQ2_S, Q.IQ3_XXS, Q.IQ3_S, Q.IQ1_S, Q.IQ1_M]
ROWS_TYPES = LATTICE_TYPES + [Q.IQ4_NL, Q.IQ4_XS, Q.TQ1_0, Q.TQ2_0]
NEEDS_WEIGHTS = {Q.IQ2_XXS, Q.IQ2_XS, Q.IQ1_S}  # ggml_quantize_requires_imatrix
SMOLLM = Path(__file__).resolve().parents[2] / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="module")
def ggml():
    llama_cpp = pytest.importorskip("llama_cpp")
    lib = ctypes.CDLL(str(Path(llama_cpp.__file__).parent / "lib" / "libggml-base.so"))
    lib.ggml_quantize_chunk.restype = ctypes.c_size_t
    lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                        ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    lib.ggml_row_size.restype = ctypes.c_size_t
    lib.ggml_row_size.argtypes = [ctypes.c_int, ctypes.c_int64]
    return lib


def ggml_quantize(lib, qtype, x, n_per_row, imatrix):
    x = np.ascontiguousarray(x, dtype=np.float32)
    nrow = x.size // n_per_row
    out = np.zeros(lib.ggml_row_size(int(qtype), n_per_row) * nrow, np.uint8)
    im = None if imatrix is None else np.ascontiguousarray(imatrix, dtype=np.float32)
    lib.ggml_quantize_chunk(int(qtype), x.ctypes.data, out.ctypes.data, 0, nrow, n_per_row,
                            None if im is None else im.ctypes.data)
    return out


def our_quantize(qtype, x, n_per_row, imatrix, tmp_path):
    src, out = tmp_path / "rows.f32", tmp_path / "rows.bin"
    np.ascontiguousarray(x, dtype=np.float32).tofile(src)
    im = "none"
    if imatrix is not None:
        im = tmp_path / "im.f32"
        np.asarray(imatrix, dtype=np.float32).tofile(im)
    subprocess.run([_tool(), "quantize_rows", qtype.name, str(n_per_row), src, im, out], check=True)
    return np.fromfile(out, dtype=np.uint8)


def _row_inputs():
    """Rows of 1024: Gaussian, then the cases that take the quantizers' rare branches: all-zero and
    tiny groups (skipped groups shift IQ3_S's layout), equal values (sort ties in IQ1_S/IQ1_M), values
    rounded to fp16 (an F16 model's weights), heavy tails and a constant row."""
    rng = np.random.default_rng(7)
    normal = rng.standard_normal((8, 1024)).astype(np.float32)
    awkward = rng.standard_normal((8, 1024)).astype(np.float32)
    awkward[0, :48] = 0
    awkward[0, 100:116] = 1e-20
    awkward[1] = np.float16(awkward[1] * 0.02).astype(np.float32)
    awkward[2, 200:232] = awkward[2, 232:264]
    awkward[2, 500:600] = 0.5
    awkward[3] = (rng.standard_cauchy(1024) * 1e-2).astype(np.float32)
    awkward[4] = -0.75
    awkward[5, ::3] = 0
    awkward[6] = np.round(awkward[6] * 2) / 2
    awkward[7, :512] = 0
    return {"normal": normal.ravel(), "awkward": awkward.ravel()}


@pytest.mark.parametrize("weights", ["none", "imatrix"])
@pytest.mark.parametrize("name", ["normal", "awkward"])
@pytest.mark.parametrize("qtype", ROWS_TYPES, ids=lambda t: t.name)
def test_quantize_rows_equal_ggml(ggml, qtype, name, weights, tmp_path):
    """Identical bytes to llama.cpp's own quantizer, with and without importance weights. Zero tolerance."""
    if weights == "none" and qtype in NEEDS_WEIGHTS:
        pytest.skip("llama.cpp asserts without importance weights (ours refuses: test_iquants_lattice.cpp)")
    x = _row_inputs()[name]
    imatrix = None
    if weights == "imatrix":
        imatrix = np.random.default_rng(3).lognormal(0, 1, 1024).astype(np.float32)
        imatrix[:16] = 0  # columns that never fire
    expected = ggml_quantize(ggml, qtype, x, 1024, imatrix)
    got = our_quantize(qtype, x, 1024, imatrix, tmp_path)
    assert got.size == expected.size
    bad = np.flatnonzero(got != expected)
    _, type_size = quants.GGML_QUANT_SIZES[qtype]
    assert bad.size == 0, f"{qtype.name}: {bad.size} bytes differ, first in block {bad[0] // type_size}"


# Relative RMSE (rmse / rms) of a real weight matrix (SmolLM2-135M blk.0.ffn_down, first 64 rows of
# 1536, dequantized from the Q4_1 file setup.sh installs) quantized with an importance matrix of its
# column energies. Measured: IQ3_S 0.141, IQ3_XXS 0.187, IQ2_S 0.257, IQ2_XS 0.307, IQ2_XXS 0.353,
# IQ1_M 0.468, IQ1_S 0.506 (real weights' heavier tails put them ~3% above the Gaussian values of
# test_iquants_lattice.cpp). Bands are 0.85x .. 1.2x of these.
REAL_BANDS = {Q.IQ3_S: (0.12, 0.17), Q.IQ3_XXS: (0.16, 0.225), Q.IQ2_S: (0.22, 0.31), Q.IQ2_XS: (0.26, 0.37),
              Q.IQ2_XXS: (0.30, 0.425), Q.IQ1_M: (0.40, 0.56), Q.IQ1_S: (0.43, 0.61)}


@pytest.mark.parametrize("qtype", LATTICE_TYPES, ids=lambda t: t.name)
def test_real_weights_equal_ggml_and_round_trip(ggml, qtype, tmp_path):
    if not SMOLLM.exists():
        pytest.skip(f"{SMOLLM} not installed (setup.sh downloads it)")
    import gguf
    t = next(t for t in gguf.GGUFReader(str(SMOLLM)).tensors if t.name == "blk.0.ffn_down.weight")
    w = quants.dequantize(np.asarray(t.data), t.tensor_type).astype(np.float32)
    n_per_row = w.shape[-1]
    w = w.reshape(-1, n_per_row)[:64].ravel()  # 64 rows keep it quick
    imatrix = (w.reshape(-1, n_per_row) ** 2).mean(axis=0).astype(np.float32) + 1e-6
    expected = ggml_quantize(ggml, qtype, w, n_per_row, imatrix)
    got = our_quantize(qtype, w, n_per_row, imatrix, tmp_path)
    assert np.array_equal(got, expected), f"{np.count_nonzero(got != expected)} bytes differ"
    back = quants.dequantize(got, qtype).astype(np.float32).ravel()
    rel = float(np.sqrt(np.mean((back - w) ** 2) / np.mean(w ** 2)))
    lo, hi = REAL_BANDS[qtype]
    assert lo <= rel <= hi, f"{qtype.name}: relative RMSE {rel:.4f} outside [{lo}, {hi}]"
