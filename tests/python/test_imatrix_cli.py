"""Plumbing of the importance-matrix workflow on the fixture models (fast; the comparison with llama.cpp
is in test_imatrix_vs_llamacpp.py): pajamas imatrix writes GGUF and .dat files that the gguf package
reads with the layout llama.cpp uses, --in-file merges add up, --show-statistics prints every tensor,
a too-short text is refused with its token count and the count needed, the calibration commands list,
show and export the built-in sets, and iq quantize writes a model, its metadata and reuses the cached
matrix."""
import json
import os
import pathlib
import subprocess

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
PJ = os.environ.get("PJ_BIN", str(ROOT / "build" / "pajamas"))
DOMAINS = ["general", "tool_calling", "summarization", "rag", "medical", "military", "tone_analysis"]


def run(args, ok=True):
    r = subprocess.run([PJ] + args, capture_output=True, text=True)
    if ok:
        assert r.returncode == 0, f"{args}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
    return r


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    d = tmp_path_factory.mktemp("imcli")
    model = d / "qwen2-f32.gguf"
    run(["convert", str(SHARED / "fixtures" / "qwen2"), "-o", str(model), "--outtype", "f32"])
    text = d / "text.txt"
    text.write_text(" ".join(f"Sentence number {i} talks about rivers, mountains and the sea." for i in range(120)) + "\n")
    return d, model, text


def tensors(path):
    r = gguf.GGUFReader(str(path))
    return r, {t.name: np.array(t.data, dtype=np.float64).reshape(-1) for t in r.tensors}


def test_imatrix_files_and_merge(work):
    d, model, text = work
    a, b, dat = d / "a.gguf", d / "b.gguf", d / "a.dat"
    run(["imatrix", "-m", str(model), "-f", str(text), "-o", str(a), "--ctx", "32", "--chunks", "3", "--no-ppl"])
    run(["imatrix", "-m", str(model), "-f", str(text), "-o", str(dat), "--ctx", "32", "--chunks", "3", "--no-ppl"])
    r, t = tensors(a)
    assert r.fields["general.type"].contents() == "imatrix"
    assert r.fields["imatrix.chunk_count"].contents() == 3
    assert r.fields["imatrix.chunk_size"].contents() == 32
    assert r.fields["imatrix.datasets"].contents() == [str(text)]
    names = sorted(n[:-len(".in_sum2")] for n in t if n.endswith(".in_sum2"))
    assert len(names) == 2 * 7 and all(n.startswith("blk.") for n in names)
    for n in names:
        assert t[n + ".counts"].tolist() == [96.0]
        assert (t[n + ".in_sum2"] > 0).all()
    # .dat: averages * ncall (ncall = 96 / 32 = 3)
    raw = dat.read_bytes()
    assert int(np.frombuffer(raw, np.int32, 1)[0]) == len(names)
    # merge: the file with itself and the .dat doubles... triples the sums and counts
    run(["imatrix", "--in-file", str(a), "--in-file", str(a), "--in-file", str(dat), "-o", str(b), "--ctx", "32"])
    r2, t2 = tensors(b)
    assert r2.fields["imatrix.chunk_count"].contents() == 9
    for n in names:
        assert t2[n + ".counts"].tolist() == [288.0]
        assert np.allclose(t2[n + ".in_sum2"], 3 * t[n + ".in_sum2"], rtol=1e-5)
    out = run(["imatrix", "--in-file", str(a), "--show-statistics"]).stdout
    assert "14 tensors" in out and "attn_q" in out and "ffn_down" in out and "Per layer" in out


def test_short_text_is_refused(work):
    d, model, text = work
    r = run(["imatrix", "-m", str(model), "-f", str(text), "-o", str(d / "x.gguf"), "--ctx", "512", "--chunks", "40"], ok=False)
    assert r.returncode == 1
    assert "needs at least 20480 tokens" in r.stderr and "the text has" in r.stderr, r.stderr
    assert not (d / "x.gguf").exists()
    r = run(["perplexity", "-m", str(model), "-f", str(text), "--ctx", "4096"], ok=False)
    assert r.returncode == 1 and "needs at least 8192 tokens" in r.stderr, r.stderr


def test_calibration_commands(work, tmp_path):
    d, model, _ = work
    out = run(["calibration", "list", "-m", str(model)]).stdout
    for name in DOMAINS:
        if (ROOT / "data" / "calibration" / f"{name}.txt").exists():
            assert name in out
    out = run(["calibration", "show", "general"]).stdout
    assert out.startswith("# general:") and "=== sample ===" not in out
    exp = tmp_path / "g.txt"
    run(["calibration", "export", "general", "-o", str(exp)])
    body = exp.read_text()
    src = (ROOT / "data" / "calibration" / "general.txt").read_text()
    first = src.split("=== sample ===")[0].strip()
    assert body.startswith(first) and "=== sample ===" not in body
    r = run(["calibration", "show", "no_such_set"], ok=False)
    assert r.returncode == 1 and "known:" in r.stderr


def test_perplexity_and_kld_on_fixture(work):
    d, model, text = work
    base = d / "base.kld"
    out = run(["perplexity", "-m", str(model), "-f", str(text), "--ctx", "64", "--kl-divergence-base", str(base), "-q",
               "--json", str(d / "p.json")]).stdout
    p = json.loads((d / "p.json").read_text())
    assert p["count"] == p["n_chunk"] * (64 - 1 - 32) and p["ppl"][0] > 1
    hdr = np.frombuffer(base.read_bytes(), np.int32, 3, 8)
    nv = 2 * ((int(hdr[1]) + 1) // 2) + 4
    assert base.stat().st_size == 20 + 4 * hdr[0] * hdr[2] + 2 * nv * hdr[2] * (hdr[0] - 1 - hdr[0] // 2)
    out = run(["perplexity", "-m", str(model), "--kl-divergence", str(base), "-q", "--json", str(d / "k.json")]).stdout
    k = json.loads((d / "k.json").read_text())
    assert abs(k["kld"][0]) < 1e-4 and k["same_top"][0] == 1.0
    assert abs(k["ppl"][0] - p["ppl"][0]) / p["ppl"][0] < 1e-3
    for key in ("99.9", "99", "95", "90", "median"):
        assert key in k["kld_percentiles"]
    assert "Same top p" in out and "99.9%" in out


def test_kld_per_position_of_a_quantized_model(work, tmp_path):
    """--per-position lists every scored position's KLD in order: as many as the count, their mean and
    standard error are the reported ones (the paired domain-vs-general test of scripts/imatrix_results.py
    relies on this)."""
    d, model, text = work
    base = tmp_path / "base.kld"
    run(["perplexity", "-m", str(model), "-f", str(text), "--ctx", "64", "--kl-divergence-base", str(base), "-q"])
    run(["iq", "quantize", "--model", str(model), "--no-imatrix", "--precision", "Q4_K_M", "--output", str(tmp_path)])
    q = next(tmp_path.glob("*Q4_K_M*.gguf"))
    run(["perplexity", "-m", str(q), "--kl-divergence", str(base), "-q", "--json", str(tmp_path / "k.json"), "--per-position"])
    k = json.loads((tmp_path / "k.json").read_text())
    v = np.array(k["kld_per_position"], np.float64)
    assert len(v) == k["count"] == k["n_chunk"] * (64 - 1 - 32)
    # Q4_K_M of an F32 model differs from it (KLD > 0) and each position's KLD is >= 0 up to rounding
    assert k["kld"][0] > 1e-6 and v.min() > -1e-5
    # float32 values summed in double: the mean agrees to float precision; the error as llama.cpp computes it
    assert abs(v.mean() - k["kld"][0]) <= 1e-5 * k["kld"][0] + 1e-9
    assert abs(v.std(ddof=1) / np.sqrt(len(v)) - k["kld"][1]) <= 1e-3 * k["kld"][1]
    # not in scoring order if sorted: the values must not be the sorted list (percentiles sort their copy)
    assert not np.all(np.diff(v) >= 0)
    r = run(["perplexity", "-m", str(q), "--kl-divergence", str(base), "--per-position"], ok=False)
    assert r.returncode != 0 and "--json" in r.stderr


def test_iq_quantize_writes_metadata_and_reuses_the_matrix(work, tmp_path):
    d, model, text = work
    args = ["iq", "quantize", "--model", str(model), "--calibration", str(text), "--precision", "Q4_K_M",
            "--output", str(tmp_path / "out"), "--ctx", "32", "--chunks", "2", "--cache", str(tmp_path / "cache")]
    first = run(args).stdout
    metas = list((tmp_path / "out").glob("*.json"))
    assert len(metas) == 1
    m = json.loads(metas[0].read_text())
    assert m["precision"] == "Q4_K_M" and m["chunks"] == 2 and m["calibration_tokens"] > 64
    assert pathlib.Path(m["imatrix"]).exists() and pathlib.Path(m["output"]).exists()
    assert m["output_bytes"] < m["input_bytes"] and m["imatrix_reused"] is False
    assert m["domains"] == str(text) and m["seconds"] >= m["quantize_seconds"] + m["imatrix_seconds"] > 0
    second = run(args).stdout
    assert "reusing" in second
    assert json.loads(metas[0].read_text())["imatrix_reused"] is True
    gguf.GGUFReader(m["output"])  # a valid GGUF
