"""llama.cpp's own tools as the judges of `pajamas imatrix` and `pajamas perplexity`, on the real default
model (SmolLM2-135M-Instruct) and a built-in calibration text:
- our importance matrix (GGUF in_sum2 / counts) matches llama-imatrix's for the same model, text, --ctx
  and --chunks: same tensors, same counts, sums within 1e-3 relative;
- each program reads the other's files (GGUF and legacy .dat), including llama-imatrix merging ours;
- perplexity matches llama-perplexity, and the KL-divergence base files (llama.cpp's "_logits_" format)
  are read both ways, giving a near-zero KLD for the same model.
llama-imatrix and llama-perplexity are built from the llama.cpp sources of llama-cpp-python 0.3.36 by
scripts/build_llama_tools.sh (setup.sh runs it); a missing tool is a failure, not a skip.

The imatrix comparison runs on the model's F32 form (our exact dequantization of the hub's Q4_1 file,
made in the set-up) with llama.cpp's flash attention off. Why: with Q4_1 weights both engines round each
activation row to Q8_1 before the dot products, so a last-bit difference upstream flips some roundings and
the flips compound over 30 layers (measured: sums within 2.4e-2, PPL 13.08 vs 13.28 over 2 chunks); and
llama.cpp's CPU flash attention rounds Q to F16 (6.3e-4 -> 1.2e-3 with it on). On F32 the layer-0 q/k/v
sums are bit-identical and the worst tensor (a late ffn_down) is 6.3e-4 off, relative to the tensor's
largest value: 1e-3 holds that, while a wrong input, a missing row or a wrong chunking is off by far more.
Perplexity and KLD also on F32: perplexity within 2e-3 relative (measured 2e-5); the KLD between the two
engines on the same model (and 16-bit storage) must stay under 1e-3 (a 4-bit quantization gives ~0.05).
"""
import os
import pathlib
import re
import subprocess

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")

ROOT = pathlib.Path(__file__).resolve().parents[2]
PJ = os.environ.get("PJ_BIN", str(ROOT / "build" / "pajamas"))
MODEL = ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
TOOLS = pathlib.Path(os.environ.get("PJ_LLAMA_TOOLS", pathlib.Path.home() / ".cache/pj/llama-tools-0.3.36")) / "bin"
CTX, CHUNKS = "128", "2"
# llama.cpp on this VM: no extra buffer types (AMX / repacked weights) - see conftest.py.
LLAMA_FLAGS = ["--no-repack", "-t", "2", "-fa", "off"]


def tool(name):
    p = TOOLS / name
    if not p.exists():
        pytest.fail(f"{p} is missing: run scripts/build_llama_tools.sh (setup.sh does)")
    return str(p)


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert r.returncode == 0, f"{cmd}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout + r.stderr


def read_gguf_imatrix(path):
    r = gguf.GGUFReader(str(path))
    t = {x.name: np.array(x.data, dtype=np.float64).reshape(-1) for x in r.tensors}
    out = {}
    for name, v in t.items():
        if name.endswith(".in_sum2"):
            w = name[: -len(".in_sum2")]
            out[w] = (v, t[w + ".counts"])
    return out


def read_dat(path):
    b = pathlib.Path(path).read_bytes()
    n = int(np.frombuffer(b, np.int32, 1, 0)[0])
    off, out = 4, {}
    for _ in range(n):
        ln = int(np.frombuffer(b, np.int32, 1, off)[0]); off += 4
        name = b[off:off + ln].decode(); off += ln
        ncall, nval = np.frombuffer(b, np.int32, 2, off); off += 8
        out[name] = (int(ncall), np.frombuffer(b, np.float32, int(nval), off).astype(np.float64))
        off += 4 * int(nval)
    return out


def max_rel(ours, theirs):
    """Largest |ours - theirs| relative to the tensor's largest value, over all tensors."""
    worst = 0.0
    for name, (s, _) in theirs.items():
        worst = max(worst, float(np.max(np.abs(ours[name][0] - s)) / np.max(np.abs(s))))
    return worst


@pytest.fixture(scope="module")
def texts(tmp_path_factory):
    d = tmp_path_factory.mktemp("imx")
    cal, held = d / "general.txt", d / "general-heldout.txt"
    run([PJ, "calibration", "export", "general", "-o", str(cal)])
    run([PJ, "calibration", "export", "general", "--heldout", "-o", str(held)])
    f32 = d / "smollm2-f32.gguf"
    run([PJ, "quantize", str(MODEL), str(f32), "F32", "--allow-requantize"])
    return d, cal, held, f32


@pytest.fixture(scope="module")
def matrices(texts):
    """Both programs on the same F32 model and text; each program's .dat is converted from its GGUF by
    itself (--in-file), which exercises the .dat writer on the same data without a second model run."""
    d, cal, _, f32 = texts
    theirs, ours = d / "theirs.gguf", d / "ours.gguf"
    log = run([tool("llama-imatrix"), "-m", str(f32), "-f", str(cal), "-o", str(theirs), "-c", CTX,
               "--chunks", CHUNKS] + LLAMA_FLAGS)
    mine = run([PJ, "imatrix", "-m", str(f32), "-f", str(cal), "-o", str(ours), "--ctx", CTX, "--chunks", CHUNKS, "-t", "2"])
    # (llama-imatrix wants -m even when it only combines files; it does not load the model then)
    run([tool("llama-imatrix"), "-m", str(f32), "--in-file", str(theirs), "-o", str(d / "theirs.dat"), "--output-format", "dat", "-c", CTX])
    run([PJ, "imatrix", "--in-file", str(ours), "-o", str(d / "ours.dat"), "--ctx", CTX])
    return {"gguf": (ours, theirs, log, mine), "dat": (d / "ours.dat", d / "theirs.dat", log, mine)}


def test_gguf_matches_llama_imatrix(matrices):
    ours_p, theirs_p, log, mine = matrices["gguf"]
    ours, theirs = read_gguf_imatrix(ours_p), read_gguf_imatrix(theirs_p)
    assert sorted(ours) == sorted(theirs) and len(theirs) == 30 * 7
    for name, (s, c) in theirs.items():
        assert np.array_equal(ours[name][1], c), name  # token counts: exact
        assert c[0] == int(CTX) * int(CHUNKS)
    rel = max_rel(ours, theirs)
    print(f"max relative difference of the sums (GGUF): {rel:.3g}")
    assert rel < 1e-3
    ro, rt = gguf.GGUFReader(str(ours_p)), gguf.GGUFReader(str(theirs_p))
    for key in ("general.type", "imatrix.chunk_count", "imatrix.chunk_size"):
        assert ro.fields[key].contents() == rt.fields[key].contents(), key
    # The same perplexity as llama-imatrix prints for the chunks it ran.
    p_theirs = float(re.search(r"Final estimate: PPL = ([0-9.]+)", log).group(1))
    p_ours = float(re.search(r"Final estimate: PPL = ([0-9.]+)", mine).group(1))
    assert abs(p_ours - p_theirs) / p_theirs < 2e-3, (p_ours, p_theirs)


def test_dat_matches_llama_imatrix(matrices):
    ours_p, theirs_p, _, _ = matrices["dat"]
    ours, theirs = read_dat(ours_p), read_dat(theirs_p)
    assert sorted(ours) == sorted(theirs)
    worst = 0.0
    for name, (ncall, v) in theirs.items():
        assert ours[name][0] == ncall
        worst = max(worst, float(np.max(np.abs(ours[name][1] - v)) / np.max(np.abs(v))))
    print(f"max relative difference of the averaged values (.dat): {worst:.3g}")
    assert worst < 1e-3
    # trailer: chunk count and the dataset name
    tb, ob = pathlib.Path(theirs_p).read_bytes(), pathlib.Path(ours_p).read_bytes()  # ends: chunks, len, name
    assert ob.endswith(b"general.txt") and tb.endswith(b"general.txt")
    n = len(b"general.txt")
    assert ob[-n - 8:-n - 4] == tb[-n - 8:-n - 4]  # chunk count


def test_llama_imatrix_reads_and_merges_ours(matrices, tmp_path):
    ours_gguf, theirs_gguf = matrices["gguf"][0], matrices["gguf"][1]
    ours_dat = matrices["dat"][0]
    # llama-imatrix exits 1 ("not a valid imatrix file") when it cannot load it; its table goes to its
    # logger, which prints nothing at the default verbosity here, so the exit status is the check.
    run([tool("llama-imatrix"), "-m", str(MODEL), "--in-file", str(ours_gguf), "--show-statistics"])
    merged = tmp_path / "merged.gguf"
    run([tool("llama-imatrix"), "-m", str(MODEL), "--in-file", str(ours_gguf), "--in-file", str(ours_dat), "-o", str(merged), "-c", CTX])
    m, o = read_gguf_imatrix(merged), read_gguf_imatrix(ours_gguf)
    for name, (s, c) in o.items():
        assert np.array_equal(m[name][1], 2 * c), name
        assert np.allclose(m[name][0], 2 * s, rtol=1e-5), name


def test_we_read_and_merge_theirs(matrices, tmp_path):
    theirs_gguf, theirs_dat = matrices["gguf"][1], matrices["dat"][1]
    merged = tmp_path / "merged.gguf"
    run([PJ, "imatrix", "--in-file", str(theirs_gguf), "--in-file", str(theirs_dat), "-o", str(merged), "--ctx", CTX])
    m, t = read_gguf_imatrix(merged), read_gguf_imatrix(theirs_gguf)
    for name, (s, c) in t.items():
        assert np.array_equal(m[name][1], 2 * c), name
        assert np.allclose(m[name][0], 2 * s, rtol=1e-5), name
    out = run([PJ, "imatrix", "--in-file", str(theirs_gguf), "--show-statistics"])
    assert "210 tensors" in out and "Per layer" in out


@pytest.fixture(scope="module")
def kld_files(texts):
    d, _, held, f32 = texts
    theirs, ours = d / "theirs.kld", d / "ours.kld"
    lt = run([tool("llama-perplexity"), "-m", str(f32), "-f", str(held), "-c", CTX, "--chunks", CHUNKS,
              "--kl-divergence-base", str(theirs)] + LLAMA_FLAGS)
    lo = run([PJ, "perplexity", "-m", str(f32), "-f", str(held), "--ctx", CTX, "--chunks", CHUNKS,
              "--kl-divergence-base", str(ours), "-q", "-t", "2"])
    return ours, theirs, lt, lo, f32


def test_perplexity_matches_llama_perplexity(kld_files):
    _, _, lt, lo, _ = kld_files
    p_theirs = float(re.search(r"Final estimate: PPL = ([0-9.]+)", lt).group(1))
    p_ours = float(re.search(r"Final estimate: PPL = ([0-9.]+)", lo).group(1))
    print(f"perplexity ours {p_ours} llama.cpp {p_theirs}")
    assert abs(p_ours - p_theirs) / p_theirs < 2e-3


def test_kld_files_read_both_ways(kld_files):
    ours, theirs, _, _, f32 = kld_files
    a, b = ours.read_bytes(), theirs.read_bytes()
    assert len(a) == len(b)
    assert a[:20] == b[:20]  # magic, n_ctx, n_vocab, n_chunk
    n_ctx, n_vocab, n_chunk = np.frombuffer(a, np.int32, 3, 8)
    assert np.array_equal(np.frombuffer(a, np.int32, n_ctx * n_chunk, 20), np.frombuffer(b, np.int32, n_ctx * n_chunk, 20))
    # llama-perplexity scores our model against our base file, we score against theirs: same model, so
    # the divergence is only the two engines' rounding (and 16-bit storage).
    lt = run([tool("llama-perplexity"), "-m", str(f32), "--kl-divergence-base", str(ours), "--kl-divergence",
              "-c", CTX] + LLAMA_FLAGS)
    kld_theirs = float(re.search(r"Mean\s+KLD:\s+([-0-9.]+)", lt).group(1))
    lo = run([PJ, "perplexity", "-m", str(f32), "--kl-divergence", str(theirs), "-q", "-t", "2"])
    kld_ours = float(re.search(r"Mean\s+KLD:\s+([-0-9.]+)", lo).group(1))
    same = float(re.search(r"Same top p:\s+([0-9.]+)", lo).group(1))
    print(f"KLD llama.cpp vs our base {kld_theirs}, ours vs llama.cpp's base {kld_ours}, same top {same}%")
    assert abs(kld_theirs) < 1e-3 and abs(kld_ours) < 1e-3
    assert same > 98.0
