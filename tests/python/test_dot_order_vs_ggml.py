"""Our quant dot products against llama.cpp's own, bit for bit: ggml-cpu's ggml_vec_dot_<type>_q8_K from
the libggml-cpu that llama-cpp-python ships (built from source with GGML_NATIVE, so the x86 AVX2 path
that llama.cpp runs on this machine), called through ggml_get_type_traits_cpu on rows that ggml itself
quantized (weights with ggml_quantize_chunk, activations with the type's from_float). Ours come from
<build>/quant_tool dot (the directory of $PJ_BIN, or $PJ_BUILD_DIR) for the scalar reference and every
instruction set this CPU has.

Zero tolerance: an LLM quantizes each matmul output to 8 bits in the next layer, so one ulp here can move
a value by a whole quantization step and deep models amplify it (kquants_ref.cpp / iquants_ref.cpp spell
out ggml's lane order). The legacy types (Q4_0, Q8_0, IQ4_NL ...) are not here: llama.cpp multiplies
them with llamafile's sgemm, not vec_dot (test_llm_* and test_quantize_vs_llamacpp.py cover them)."""
import ctypes
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from gguf import GGMLQuantizationType as Q

TYPES = [Q.Q2_K, Q.Q3_K, Q.Q4_K, Q.Q5_K, Q.Q6_K, Q.IQ4_XS, Q.IQ3_S, Q.IQ3_XXS, Q.IQ2_S, Q.IQ2_XS, Q.IQ2_XXS,
         Q.IQ1_M, Q.IQ1_S, Q.TQ2_0, Q.TQ1_0, Q.MXFP4]
ISAS = ["scalar", "avx2", "avx512"]  # quant_tool dot's output order
N = 2048  # 8 super-blocks per row
N_MXFP4 = 2080  # 65 blocks: ggml pairs the blocks and adds an odd last one apart


def _tool() -> Path:
    build = os.environ.get("PJ_BUILD_DIR") or (os.path.dirname(os.environ["PJ_BIN"]) if "PJ_BIN" in os.environ else "")
    tool = Path(build) / "quant_tool"
    if not tool.exists():
        pytest.fail(f"quant_tool not found in '{build}' (set PJ_BIN or PJ_BUILD_DIR)")
    return tool


class _CpuTraits(ctypes.Structure):  # struct ggml_type_traits_cpu (ggml-cpu.h)
    _fields_ = [("from_float", ctypes.c_void_p), ("vec_dot", ctypes.c_void_p), ("vec_dot_type", ctypes.c_int),
                ("nrows", ctypes.c_int64)]


_FromFloat = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)
_VecDot = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.POINTER(ctypes.c_float), ctypes.c_size_t, ctypes.c_void_p,
                           ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)


@pytest.fixture(scope="module")
def ggml():
    llama_cpp = pytest.importorskip("llama_cpp")
    libdir = Path(llama_cpp.__file__).parent / "lib"
    base = ctypes.CDLL(str(libdir / "libggml-base.so"))
    base.ggml_quantize_chunk.restype = ctypes.c_size_t
    base.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                         ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    base.ggml_row_size.restype = ctypes.c_size_t
    base.ggml_row_size.argtypes = [ctypes.c_int, ctypes.c_int64]
    cpu = ctypes.CDLL(str(libdir / "libggml-cpu.so"))
    cpu.ggml_get_type_traits_cpu.restype = ctypes.POINTER(_CpuTraits)
    cpu.ggml_get_type_traits_cpu.argtypes = [ctypes.c_int]
    cpu.ggml_cpu_has_avx2.restype = ctypes.c_int
    cpu.ggml_cpu_init()
    if not cpu.ggml_cpu_has_avx2():
        pytest.skip("this llama.cpp was built without AVX2: its dots take another order than ours")
    return base, cpu


def _inputs():
    """Eight weight rows (Gaussian; heavy-tailed; one with a zero half and an fp16-rounded part) and two
    activation rows (Gaussian; one with outliers, as LLM activations have)."""
    rng = np.random.default_rng(11)
    w = rng.standard_normal((8, N_MXFP4)).astype(np.float32)
    w[1] = (rng.standard_cauchy(N_MXFP4) * 0.05).astype(np.float32)
    w[2, : N // 2] = 0
    w[3] = np.float16(w[3] * 0.02).astype(np.float32)
    w[4] *= 1e-3
    a = rng.standard_normal((2, N_MXFP4)).astype(np.float32)
    a[1, ::97] *= 40
    imatrix = rng.lognormal(0, 1, N_MXFP4).astype(np.float32)
    return w, a, imatrix


@pytest.mark.parametrize("qtype", TYPES, ids=lambda t: t.name)
def test_vec_dot_equals_ggml(ggml, qtype, tmp_path):
    base, cpu = ggml
    n = N_MXFP4 if qtype == Q.MXFP4 else N
    w, a, imatrix = (np.ascontiguousarray(v[..., :n]) for v in _inputs())
    traits = cpu.ggml_get_type_traits_cpu(int(qtype)).contents
    act = cpu.ggml_get_type_traits_cpu(traits.vec_dot_type).contents
    xrow, yrow = base.ggml_row_size(int(qtype), n), base.ggml_row_size(traits.vec_dot_type, n)
    x = np.zeros(xrow * len(w), np.uint8)
    base.ggml_quantize_chunk(int(qtype), w.ctypes.data, x.ctypes.data, 0, len(w), n,
                             imatrix.ctypes.data if qtype.name.startswith("IQ") else None)
    x.tofile(tmp_path / "x.bin")
    vec_dot = _VecDot(traits.vec_dot)
    for k, arow in enumerate(a):
        y = np.zeros(yrow, np.uint8)
        _FromFloat(act.from_float)(np.ascontiguousarray(arow).ctypes.data, y.ctypes.data, n)
        y.tofile(tmp_path / "y.bin")
        want = np.zeros(len(w), np.float32)
        for r in range(len(w)):
            out = ctypes.c_float()
            vec_dot(n, ctypes.byref(out), 0, x[r * xrow:].ctypes.data, 0, y.ctypes.data, 0, 1)
            want[r] = out.value
        assert np.isfinite(want).all() and np.abs(want).max() > 0
        subprocess.run([_tool(), "dot", qtype.name, str(n), tmp_path / "x.bin", tmp_path / "y.bin",
                        tmp_path / "out.f32"], check=True)
        got = np.fromfile(tmp_path / "out.f32", dtype=np.float32).reshape(len(ISAS), len(w))
        for isa, row in zip(ISAS, got):
            if np.isnan(row).all():
                continue  # this CPU lacks the instruction set
            assert row.view(np.uint32).tolist() == want.view(np.uint32).tolist(), (
                f"{qtype.name} {isa} activation row {k}: ours {row.tolist()} vs ggml {want.tolist()}")
