"""Word timestamps (`pajamas transcribe --word-timestamps`) against faster-whisper's word_timestamps=True
on the same tiny.en weights and the same audio (jfk.flac), computed here: the same words, each start and
end within TOL seconds of faster-whisper's, words in order. faster-whisper gets its word times from
CTranslate2's alignment (the same timing.py algorithm: alignment heads from the model's config.json,
median filter, DTW), so the difference is numerical noise plus ties in the DTW; 0.2 s is ten encoder
frames.
"""
import json
import re
import shutil
import subprocess

import pytest

from test_whisper_cli import JFK, MODEL, needs_model, transcribe

TOL = 0.2


def faster_whisper_words(path):
    fw = pytest.importorskip("faster_whisper")
    m = fw.WhisperModel(str(MODEL), device="cpu", compute_type="float32", cpu_threads=2)
    segs, _ = m.transcribe(str(path), beam_size=5, language="en", vad_filter=False, word_timestamps=True)
    return [(w.word, w.start, w.end) for s in segs for w in s.words]


@needs_model
def test_jfk_words_match_faster_whisper(tmp_path):
    p = transcribe(JFK, "--word-timestamps", "--format", "json")
    out = json.loads(p.stdout)
    ours = [(w["word"], w["start"], w["end"]) for s in out["segments"] for w in s["words"]]
    assert [w["word"] for w in out["words"]] == [w.strip() for w, _, _ in ours]
    prev_end = 0.0
    for w, a, b in ours:
        assert 0 <= a <= b <= out["duration"] + 0.5, (w, a, b)
        assert a >= prev_end - 1e-6, (w, a, prev_end)
        prev_end = b
    for s in out["segments"]:  # segments take their first and last word's times
        assert s["start"] <= s["words"][0]["start"] + 1e-6 and s["words"][-1]["end"] <= s["end"] + 1e-6
    ref = faster_whisper_words(JFK)
    assert [w for w, _, _ in ours] == [w for w, _, _ in ref]
    diffs = [max(abs(a - c), abs(b - d)) for (_, a, b), (_, c, d) in zip(ours, ref)]
    mean = sum(abs(a - c) + abs(b - d) for (_, a, b), (_, c, d) in zip(ours, ref)) / (2 * len(ref))
    print(f"jfk: {len(ref)} words, max |ours - faster-whisper| {max(diffs):.3f} s, mean {mean:.3f} s")
    for (w, a, b), (_, c, d) in zip(ours, ref):
        print(f"  {w!r:14} ours {a:6.2f} {b:6.2f}   faster-whisper {c:6.2f} {d:6.2f}")
    assert max(diffs) <= TOL + 1e-6


@needs_model
def test_word_formats(tmp_path):
    """srt: one cue per word; vtt: cue timestamps before each later word (a short clip, greedy)."""
    if not shutil.which("ffmpeg"):
        pytest.skip("ffmpeg tool not installed")
    clip = tmp_path / "clip.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(JFK), "-t", "3", "-ac", "1", "-ar", "16000", str(clip)],
                   check=True)
    for fmt in ["srt", "vtt"]:
        transcribe(clip, "--word-timestamps", "-f", fmt, "-o", tmp_path, "--beam-size", "1")
        text = (tmp_path / f"clip.{fmt}").read_text()
        if fmt == "srt":
            cues = re.findall(r"\d+\n(\d\d:\d\d:\d\d,\d{3}) --> (\d\d:\d\d:\d\d,\d{3})\n(\S+)\n", text)
            assert len(cues) >= 3 and all(" " not in c[2] for c in cues), text
            assert [c[0] for c in cues] == sorted(c[0] for c in cues), text
        else:
            assert text.startswith("WEBVTT\n\n"), text
            assert re.search(r"<00:00:0\d\.\d{3}>", text), text
