"""Quantized Whisper with real weights: `pajamas quantize` of tiny.en (the CTranslate2 folder, F16) to
Q8_0 and Q5_0, then jfk.flac transcribed by each. Q8_0 and Q5_0 must keep WER 0 (what F16 gives; the
table for every type, Q4 and below included, is in docs/whisper.md, made by
bench/whisper_quant_table.py). The K-quants fall back to 32-wide types on tiny's 384-wide rows
(models/whisper/quantize.h), so their files differ only in the ffn_down weights."""
import subprocess

import pytest

from test_whisper_cli import JFK, MODEL, PJ, needs_model, normalizer, reference_transcripts, transcribe, wer


@needs_model
@pytest.mark.parametrize("qtype", ["Q8_0", "Q5_0"])
def test_quantized_tiny_en_jfk(tmp_path, qtype):
    out = tmp_path / f"tiny.en-{qtype}.gguf"
    p = subprocess.run([PJ, "quantize", str(MODEL), str(out), qtype], capture_output=True, text=True, timeout=1200)
    assert p.returncode == 0, p.stderr
    assert f"as {qtype}" in p.stdout and f"attention and ffn_up {qtype}" in p.stdout, p.stdout
    f16_size = (MODEL / "model.bin").stat().st_size
    assert out.stat().st_size < f16_size * (0.6 if qtype == "Q8_0" else 0.45)
    hyp = transcribe(JFK, "-m", out, "--beam-size", "1").stdout
    w = wer(normalizer()(reference_transcripts()["audio/jfk.flac"]), normalizer()(hyp))
    print(f"{qtype}: {out.stat().st_size / 2**20:.1f} MiB, jfk WER {w:.3f}: {hyp.strip()!r}")
    assert w == 0.0, hyp


@needs_model
def test_quantize_refuses_bad_types(tmp_path):
    p = subprocess.run([PJ, "quantize", str(MODEL), str(tmp_path / "x.gguf"), "IQ2_XXS"], capture_output=True,
                       text=True)
    assert p.returncode == 1 and "not a type for Whisper weights" in p.stderr, p.stderr
    assert not (tmp_path / "x.gguf").exists()
