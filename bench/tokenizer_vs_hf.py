#!/usr/bin/env python3
"""Encode speed of pajamas' tokenizers against the reference libraries, on the same text, in one run.

    .venv/bin/python bench/tokenizer_vs_hf.py [--bin build-rel/bench_tokenizer] [--mb 4]

The text: every fixture test string of the four tokenizers (English, code, numbers, CJK, Cyrillic,
Arabic, emoji), joined by newlines and repeated to --mb megabytes. For the tokenizer.json fixtures the
reference is HF `tokenizers` (Tokenizer.encode on the whole text, one thread); for tokenizer.model ones
it is `sentencepiece` when installed. Besides the speeds, the ids of both must be identical.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / "shared" / "fixtures" / "tokenizers"
NAMES = ["qwen", "llama3", "gemma", "mistral"]


def make_text(mb):
    unit = ""
    for name in NAMES:
        for case in json.loads((FIXTURES / name / "vectors.json").read_text())["cases"]:
            unit += case["text"] + "\n"
    text = ""
    while len(text.encode()) < mb * (1 << 20):
        text += unit
    return text


def best_of(n, fn):
    best, out = 1e30, None
    for _ in range(n):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def reference(name, text):
    folder = FIXTURES / name
    if (folder / "tokenizer.json").exists():
        from tokenizers import Tokenizer
        tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        return "tokenizers " + __import__("tokenizers").__version__, best_of(
            3, lambda: tok.encode(text, add_special_tokens=False).ids)
    try:
        import sentencepiece as spm
    except ImportError:
        return None, (None, None)
    sp = spm.SentencePieceProcessor(model_file=str(folder / "tokenizer.model"))
    return "sentencepiece " + spm.__version__, best_of(3, lambda: sp.encode(text))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(REPO / "build-rel" / "bench_tokenizer"))
    ap.add_argument("--mb", type=float, default=4)
    args = ap.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    text = make_text(args.mb)
    nbytes = len(text.encode())
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "text.txt"
        path.write_text(text, encoding="utf-8")
        print(f"text: {nbytes / 1e6:.2f} MB")
        print(f"{'tokenizer':10} {'pajamas MB/s':>13} {'reference MB/s':>15}  reference        same ids")
        for name in NAMES:
            ids_path = Path(tmp) / f"{name}.ids"
            out = subprocess.run([args.bin, str(FIXTURES / name), str(path), "--ids", str(ids_path)],
                                 capture_output=True, text=True, check=True)
            ours = json.loads(out.stdout)
            our_ids = [int(x) for x in ids_path.read_text().split()]
            ref_name, (ref_s, ref_ids) = reference(name, text)
            same = "n/a" if ref_ids is None else str(list(ref_ids) == our_ids)
            ok &= same != "False"
            ref_mb = f"{nbytes / ref_s / 1e6:15.2f}" if ref_s else f"{'-':>15}"
            print(f"{name:10} {ours['encode_mb_s']:13.2f} {ref_mb}  {ref_name or 'not installed':16} {same}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
