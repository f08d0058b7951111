#!/usr/bin/env python3
"""Quantized Whisper tiny.en: for each weight type, `pajamas quantize` of the CTranslate2 folder
(models/whisper-tiny.en, F16) to a GGUF, then `pajamas transcribe` of jfk.flac and
espeak_local_models.wav: file size, word error rate (Whisper's English normaliser, transcripts from
../shared/data/SOURCES.md, as tests/python/test_whisper_cli.py) and real-time factor (the CLI's
processing time / audio seconds, model load excluded; same run, same thread count for every row).

    .venv/bin/python bench/whisper_quant_table.py [--threads 1] [--types F16 Q8_0 ...]

Prints a Markdown table (the one in docs/whisper.md).
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "python"))
from test_whisper_cli import ESPEAK, JFK, MODEL, normalizer, reference_transcripts, wer  # noqa: E402

PJ = os.environ.get("PJ_BIN", str(ROOT / "build" / "pajamas"))
TYPES = ["F32", "F16", "Q8_0", "Q6_K", "Q5_1", "Q5_0", "Q5_K", "Q4_1", "Q4_0", "Q4_K", "IQ4_NL", "Q3_K", "Q2_K"]


def transcribe(model, audio, threads):
    p = subprocess.run([PJ, "transcribe", "-m", str(model), str(audio), "-t", str(threads), "--no-progress"],
                       capture_output=True, text=True, check=True)
    m = re.search(r"([0-9.]+) s of audio in ([0-9.]+) s", p.stderr)
    return p.stdout.strip().replace("\n", " "), float(m.group(2)) / float(m.group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--types", nargs="*", default=TYPES)
    a = ap.parse_args()
    norm = normalizer()
    refs = reference_transcripts()
    tmp = tempfile.TemporaryDirectory()
    print(f"| type | file MiB | WER jfk | WER espeak | RTF jfk (-t {a.threads}) | jfk text |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for t in a.types:
        out = Path(tmp.name) / f"tiny.en-{t}.gguf"
        subprocess.run([PJ, "quantize", str(MODEL), str(out), t], check=True, capture_output=True)
        size = out.stat().st_size / 2**20
        hj, rtf = transcribe(out, JFK, a.threads)
        he, _ = transcribe(out, ESPEAK, a.threads)
        wj = wer(norm(refs["audio/jfk.flac"]), norm(hj))
        we = wer(norm(refs["audio/espeak_local_models.wav"]), norm(he))
        print(f"| {t} | {size:.1f} | {wj:.3f} | {we:.3f} | {rtf:.3f} | {hj} |", flush=True)
        out.unlink()


if __name__ == "__main__":
    main()
