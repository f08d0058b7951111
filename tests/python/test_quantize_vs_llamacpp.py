"""llama.cpp (through llama-cpp-python's llama_model_quantize, the library behind llama-quantize) as the
judge of `pajamas quantize`: the same F32 GGUF (a converted fixture) quantized by both must give the
same tensors, types and bytes, and the same general.file_type, for every file type we support, with and
without an importance matrix (GGUF and legacy formats). Zero tolerance: any byte that differs fails.
Also: llama.cpp loads every file we write and runs it."""
import ctypes
import os
import pathlib
import subprocess

import numpy as np
import pytest

llama_cpp = pytest.importorskip("llama_cpp")
gguf = pytest.importorskip("gguf")

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
PJ = os.environ.get("PJ_BIN", str(ROOT / "build" / "pajamas"))

# name -> llama_ftype (include/llama.h)
FILE_TYPES = {"F32": 0, "F16": 1, "BF16": 32, "Q8_0": 7, "Q4_0": 2, "Q4_1": 3, "Q5_0": 8, "Q5_1": 9,
              "Q2_K": 10, "Q2_K_S": 21, "Q3_K_S": 11, "Q3_K_M": 12, "Q3_K_L": 13, "Q4_K_S": 14,
              "Q4_K_M": 15, "Q5_K_S": 16, "Q5_K_M": 17, "Q6_K": 18,
              "IQ2_XXS": 19, "IQ2_XS": 20, "IQ3_XS": 22, "IQ3_XXS": 23, "IQ1_S": 24, "IQ4_NL": 25,
              "IQ3_S": 26, "IQ3_M": 27, "IQ2_S": 28, "IQ2_M": 29, "IQ4_XS": 30, "IQ1_M": 31,
              "TQ1_0": 36, "TQ2_0": 37}
IQ_FILE_TYPES = ["IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ3_XXS", "IQ3_XS", "IQ3_S", "IQ3_M",
                 "IQ4_NL", "IQ4_XS", "TQ1_0", "TQ2_0"]
# File types that give this fixture a tensor of a type llama.cpp will not quantize without an imatrix
# (IQ1_S/IQ1_M/IQ2_*/IQ3_XXS; IQ3_XS puts IQ3_XXS on the first layer's ffn_gate/ffn_up).
NEEDS_IMATRIX = {"Q2_K_S", "IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ3_XXS", "IQ3_XS"}


@pytest.fixture(scope="module")
def f32_model(tmp_path_factory):
    """The qwen2 fixture (hidden size 256, a multiple of 256, so K-quants apply) converted to F32."""
    out = tmp_path_factory.mktemp("quant") / "qwen2-f32.gguf"
    subprocess.run([PJ, "convert", str(SHARED / "fixtures" / "qwen2"), "-o", str(out), "--outtype", "f32"],
                   check=True, capture_output=True)
    return out


def weight_shapes(path):
    r = gguf.GGUFReader(str(path))
    return {t.name: [int(x) for x in t.shape] for t in r.tensors}


def make_imatrix(path):
    """Random positive importances for every 2-D weight (ne0 values each), as llama.cpp receives them."""
    rng = np.random.default_rng(42)
    return {name: rng.lognormal(0.0, 1.0, shape[0]).astype(np.float32)
            for name, shape in weight_shapes(path).items() if len(shape) >= 2}


def write_imatrix_gguf(imatrix, path, count=4.0):
    # in_sum2 = importance * count, counts = count: llama.cpp divides back (exact for a power of two).
    w = gguf.GGUFWriter(str(path), arch="imatrix")
    w.add_uint32("imatrix.chunk_count", 1)
    w.add_uint32("imatrix.chunk_size", 512)
    w.add_array("imatrix.datasets", ["test"])
    for name, v in imatrix.items():
        w.add_tensor(name + ".in_sum2", (v * np.float32(count)).reshape(1, -1))
        w.add_tensor(name + ".counts", np.array([[count]], dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def write_imatrix_legacy(imatrix, path, ncall=2):
    with open(path, "wb") as f:
        f.write(np.int32(len(imatrix)).tobytes())
        for name, v in imatrix.items():
            b = name.encode()
            f.write(np.int32(len(b)).tobytes() + b)
            f.write(np.int32(ncall).tobytes() + np.int32(v.size).tobytes())
            f.write((v * np.float32(ncall)).astype("<f4").tobytes())


def llamacpp_quantize(src, dst, ftype, imatrix=None):
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = 2
    keep = []
    if imatrix is not None:
        arr = (llama_cpp.llama_model_imatrix_data * (len(imatrix) + 1))()
        for i, (name, v) in enumerate(imatrix.items()):
            data = np.ascontiguousarray(v, dtype=np.float32)
            keep.append((name.encode(), data))
            arr[i].name = keep[-1][0]
            arr[i].data = data.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
            arr[i].size = data.size
        arr[len(imatrix)].name = None
        params.imatrix = ctypes.cast(arr, ctypes.POINTER(llama_cpp.llama_model_imatrix_data))
        keep.append(arr)
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params))
    assert rc == 0, f"llama_model_quantize failed for ftype {ftype}"


def compare(ours, theirs):
    a, b = gguf.GGUFReader(str(ours)), gguf.GGUFReader(str(theirs))
    ta = {t.name: t for t in a.tensors}
    tb = {t.name: t for t in b.tensors}
    assert set(ta) == set(tb)
    assert [t.name for t in a.tensors] == [t.name for t in b.tensors], "tensor order differs"
    diffs = []
    for name, t in tb.items():
        o = ta[name]
        if o.tensor_type != t.tensor_type:
            diffs.append(f"{name}: type {o.tensor_type.name} vs llama.cpp {t.tensor_type.name}")
        elif not np.array_equal(np.asarray(o.data).view(np.uint8), np.asarray(t.data).view(np.uint8)):
            n = np.count_nonzero(np.asarray(o.data).view(np.uint8) != np.asarray(t.data).view(np.uint8))
            diffs.append(f"{name} ({t.tensor_type.name}): {n} bytes differ")
    fa = a.get_field("general.file_type").contents()
    fb = b.get_field("general.file_type").contents()
    assert fa == fb
    assert a.get_field("general.quantization_version").contents() == b.get_field("general.quantization_version").contents()
    assert not diffs, "\n".join(diffs)


@pytest.mark.parametrize("name", [n for n in FILE_TYPES if n not in NEEDS_IMATRIX])
def test_same_bytes_as_llamacpp_without_imatrix(f32_model, tmp_path, name):
    ours, theirs = tmp_path / "ours.gguf", tmp_path / "theirs.gguf"
    subprocess.run([PJ, "quantize", str(f32_model), str(ours), name, "-t", "2"], check=True, capture_output=True)
    llamacpp_quantize(f32_model, theirs, FILE_TYPES[name])
    compare(ours, theirs)


@pytest.mark.parametrize("fmt", ["gguf", "legacy"])
@pytest.mark.parametrize("name", ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q2_K_S", "Q3_K_S", "Q3_K_M",
                                  "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K"] + IQ_FILE_TYPES)
def test_same_bytes_as_llamacpp_with_imatrix(f32_model, tmp_path, name, fmt):
    imatrix = make_imatrix(f32_model)
    imfile = tmp_path / ("im.gguf" if fmt == "gguf" else "im.dat")
    (write_imatrix_gguf if fmt == "gguf" else write_imatrix_legacy)(imatrix, imfile)
    ours, theirs = tmp_path / "ours.gguf", tmp_path / "theirs.gguf"
    subprocess.run([PJ, "quantize", str(f32_model), str(ours), name, "--imatrix", str(imfile)], check=True,
                   capture_output=True)
    llamacpp_quantize(f32_model, theirs, FILE_TYPES[name], imatrix)
    compare(ours, theirs)


def test_imatrix_changes_the_bytes(f32_model, tmp_path):
    # Guards the test above against a judge that ignores the imatrix (then both sides would agree trivially).
    imfile = tmp_path / "im.gguf"
    write_imatrix_gguf(make_imatrix(f32_model), imfile)
    a, b = tmp_path / "a.gguf", tmp_path / "b.gguf"
    subprocess.run([PJ, "quantize", str(f32_model), str(a), "Q4_K_M"], check=True, capture_output=True)
    subprocess.run([PJ, "quantize", str(f32_model), str(b), "Q4_K_M", "--imatrix", str(imfile)], check=True,
                   capture_output=True)
    ra, rb = gguf.GGUFReader(str(a)), gguf.GGUFReader(str(b))
    t = {x.name: x for x in rb.tensors}
    assert any(not np.array_equal(np.asarray(x.data), np.asarray(t[x.name].data)) for x in ra.tensors)


@pytest.mark.parametrize("name", sorted(NEEDS_IMATRIX))
def test_without_imatrix_is_refused_like_llamacpp(f32_model, tmp_path, name):
    r = subprocess.run([PJ, "quantize", str(f32_model), str(tmp_path / "o.gguf"), name], capture_output=True,
                       text=True)
    assert r.returncode == 1 and "--imatrix" in r.stderr and "llama-imatrix" in r.stderr
    assert not (tmp_path / "o.gguf").exists()
    with pytest.raises(AssertionError, match="llama_model_quantize failed"):  # the judge refuses too
        llamacpp_quantize(f32_model, tmp_path / "theirs.gguf", FILE_TYPES[name])


def test_file_types_put_iq_tensors_on_the_fixture(f32_model, tmp_path):
    """The comparisons above only test what the fixture exercises: every lattice and IQ4/ternary type
    must appear in some file type's output (hidden 256 and ffn 768 are multiples of 256)."""
    imfile = tmp_path / "im.gguf"
    write_imatrix_gguf(make_imatrix(f32_model), imfile)
    seen = set()
    for name in IQ_FILE_TYPES:
        out = tmp_path / f"{name}.gguf"
        subprocess.run([PJ, "quantize", str(f32_model), str(out), name, "--imatrix", str(imfile)], check=True,
                       capture_output=True)
        seen |= {t.tensor_type.name for t in gguf.GGUFReader(str(out)).tensors}
    want = {"IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ3_XXS", "IQ3_S", "IQ4_NL", "IQ4_XS", "TQ1_0", "TQ2_0"}
    assert want <= seen, f"never produced: {sorted(want - seen)}"


RUN_SNIPPET = """
import sys, numpy as np, llama_cpp, llama_cpp.llama
_d = llama_cpp.llama_model_default_params
def _p():
    p = _d(); p.use_extra_bufts = False; return p  # see conftest.py: AMX kernels crash on this VM
llama_cpp.llama.llama_cpp.llama_model_default_params = _p
llm = llama_cpp.Llama(model_path=sys.argv[1], n_ctx=64, n_threads=2, logits_all=True, verbose=False,
                      type_k=0, type_v=0)
llm.eval([1, 2, 3, 4])
np.save(sys.argv[2], np.array(llm.scores[:4], dtype=np.float32))
"""


def run_llamacpp(model, out):
    # In a child process: this llama.cpp build crashes (SIGSEGV) on some files, its own included.
    r = subprocess.run([os.sys.executable, "-c", RUN_SNIPPET, str(model), str(out)], capture_output=True)
    return r.returncode, (np.load(out) if r.returncode == 0 else None)


@pytest.mark.parametrize("name", ["Q4_K_M", "Q3_K_S", "Q2_K", "Q5_K_M", "Q6_K", "Q4_0"] + IQ_FILE_TYPES)
def test_llamacpp_runs_our_files_as_its_own(f32_model, tmp_path, name):
    """llama.cpp runs our file exactly as it runs the file it quantized itself (the crashes first seen
    here were llama.cpp's AMX kernels on this VM; they are disabled in the child, see conftest.py)."""
    ours, theirs = tmp_path / "ours.gguf", tmp_path / "theirs.gguf"
    imatrix, args = None, []
    if name in NEEDS_IMATRIX:
        imatrix = make_imatrix(f32_model)
        write_imatrix_gguf(imatrix, tmp_path / "im.gguf")
        args = ["--imatrix", str(tmp_path / "im.gguf")]
    subprocess.run([PJ, "quantize", str(f32_model), str(ours), name] + args, check=True, capture_output=True)
    llamacpp_quantize(f32_model, theirs, FILE_TYPES[name], imatrix)
    rc_ours, s_ours = run_llamacpp(ours, tmp_path / "ours.npy")
    rc_theirs, s_theirs = run_llamacpp(theirs, tmp_path / "theirs.npy")
    assert rc_ours == rc_theirs == 0
    if rc_ours == 0:
        assert np.isfinite(s_ours).all() and s_ours.std() > 0
        assert np.array_equal(s_ours, s_theirs)
        # and our engine computes the same logits from our file, bit for bit, with each instruction set:
        # every dot sums in llama.cpp's order (ggml's vec_dot for the K/IQ/ternary types, llamafile's
        # sgemm for Q4_0/IQ4_NL at 4 tokens; tests/python/test_dot_order_vs_ggml.py), so no ulp differs
        # before an 8-bit activation rounding.
        isas = ["avx2"] + (["avx512"] if "avx512f" in pathlib.Path("/proc/cpuinfo").read_text() else [])
        for isa in isas:
            mine = tmp_path / f"mine-{isa}.f32"
            subprocess.run([PJ, "logits", "-m", str(ours), "--ids", "1,2,3,4", "-o", str(mine), "--kv-type", "f32"],
                           check=True, capture_output=True, env=dict(os.environ, PJ_ISA=isa))
            m = np.fromfile(mine, dtype="<f4").reshape(s_ours.shape)
            print(f"{name} ({isa}): our logits vs llama.cpp's: max diff {np.abs(m - s_ours).max():.3g}, "
                  f"bit-identical: {np.array_equal(m, s_ours)}")
            assert np.array_equal(m, s_ours), f"{name} ({isa}): max diff {np.abs(m - s_ours).max():.3g}"
