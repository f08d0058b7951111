#!/usr/bin/env python3
"""Speech-to-text speed: `pajamas transcribe` next to faster-whisper (CTranslate2) on the same Whisper
tiny.en weights (models/whisper-tiny.en, the CTranslate2 folder both read), the same audio and the same
decoding settings (beam 5, English, timestamps, temperature fallback, no VAD), same machine, same run.

    .venv/bin/python bench/whisper_vs_faster_whisper.py [FILE...] [--threads 2] [--repeat 3] [--quant Q8_0 Q5_0]

Default audio: ../shared/data/audio/jfk.flac (11 s) and a 60 s file made by repeating it (needs the
ffmpeg tool). Reports the best of --repeat runs as a real-time factor (processing seconds / audio
seconds; lower is faster) for: ours (audio decoding + mel + encoder + decoding, model load excluded,
as the CLI reports it), faster-whisper with compute_type float32 (our weights are F16 multiplied with f32
activations, closest to this) and int8 (its fastest CPU mode). faster-whisper is pinned in
requirements-test.txt when its wheel installs; the script skips it otherwise.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
PJ = os.environ.get("PJ_BIN", str(ROOT / "build" / "pajamas"))
MODEL = ROOT / "models" / "whisper-tiny.en"


def audio_seconds(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return float(out.strip())


def run_ours(path, threads, model=MODEL):
    p = subprocess.run([PJ, "transcribe", "-m", str(model), str(path), "-t", str(threads), "--beam-size", "5",
                        "--language", "en", "--no-progress"], capture_output=True, text=True, check=True)
    m = re.search(r"in ([0-9.]+) s \(real-time factor", p.stderr)
    return float(m.group(1)), p.stdout.strip().replace("\n", " ")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="*")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quant", nargs="*", default=[], help="also time tiny.en quantized to these types (pajamas quantize)")
    a = ap.parse_args()
    tmp = tempfile.TemporaryDirectory()
    quant = {}
    for t in a.quant:
        quant[t] = Path(tmp.name) / f"tiny.en-{t}.gguf"
        subprocess.run([PJ, "quantize", str(MODEL), str(quant[t]), t], check=True, capture_output=True)
    files = [Path(f) for f in a.files]
    if not files:
        jfk = SHARED / "data" / "audio" / "jfk.flac"
        long60 = Path(tmp.name) / "jfk60.wav"
        subprocess.run(["ffmpeg", "-v", "error", "-stream_loop", "5", "-i", str(jfk), "-t", "60", str(long60)], check=True)
        files = [jfk, long60]
    try:
        from faster_whisper import WhisperModel
        import faster_whisper
        fw = {ct: WhisperModel(str(MODEL), device="cpu", compute_type=ct, cpu_threads=a.threads) for ct in ["float32", "int8"]}
        fw_version = faster_whisper.__version__
    except ImportError:
        fw, fw_version = {}, None
    print(f"threads {a.threads}, best of {a.repeat}; faster-whisper {fw_version or 'not installed'}")
    print(f"{'file':28} {'seconds':>8} {'engine':>26} {'time s':>8} {'RTF':>7}")
    for f in files:
        secs = audio_seconds(f)
        results = []
        best, text = min(run_ours(f, a.threads) for _ in range(a.repeat))
        results.append(("pajamas (F16 weights)", best, text))
        for t, path in quant.items():
            best, text = min(run_ours(f, a.threads, path) for _ in range(a.repeat))
            results.append((f"pajamas ({t})", best, text))
        for ct, model in fw.items():
            times = []
            for _ in range(a.repeat):
                t0 = time.perf_counter()
                segs, _info = model.transcribe(str(f), beam_size=5, language="en", vad_filter=False)
                txt = " ".join(s.text.strip() for s in segs)  # the generator does the work
                times.append(time.perf_counter() - t0)
            results.append((f"faster-whisper {ct}", min(times), txt))
        for name, t, txt in results:
            print(f"{f.name:28} {secs:8.1f} {name:>26} {t:8.3f} {t / secs:7.3f}")
        for name, _t, txt in results:
            print(f"    {name}: {txt[:110]}")
    ours = None
    return 0


if __name__ == "__main__":
    sys.exit(main())
