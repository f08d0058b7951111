#!/usr/bin/env python3
"""The file-type table of docs/quantization-types.md: every llama.cpp file type `pajamas quantize` makes, for
one model, with file size, bits per weight, perplexity on a held-out text and token-generation speed of
ours next to llama.cpp's (llama-cpp-python from PyPI) in the same run.

    .venv/bin/python scripts/quant_table.py [--pj build/pajamas] [-m MODEL] [--types Q4_0,IQ2_XS,...]
        [--chunks N] [--reps 3] [--update-doc docs/quantization-types.md]

Per type: `pajamas quantize --allow-requantize MODEL OUT TYPE` (the IQ types and Q2_K_S, which llama.cpp
refuses to make without one, with an importance matrix made once by `pajamas imatrix` on
data/calibration/general.txt), then size and bits per weight (all tensor bytes * 8 / all weights, as
llama-quantize's "BPW"), `pajamas perplexity -f data/calibration/heldout/general.txt --ctx 256 -t 1`, and
token generation (`pajamas bench -p 0 -n N` against llama.cpp's single-token decodes, see
bench/llm_vs_llamacpp.py), alternating the engines, median of --reps. Every stage's result is cached in
CACHE/TYPE.json (default .cache/quant_table/<model name>/), so an interrupted run resumes where it stopped;
the quantized GGUF is deleted after its row is complete unless --keep.
"""
import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time


ROOT = pathlib.Path(__file__).resolve().parents[1]

import llama_cpp  # noqa: E402
import llama_cpp.llama  # noqa: E402

# llama.cpp without "extra buffer types" (AMX, repacked weights): its AMX kernels crash on this VM, see
# tests/python/conftest.py; the results are those of its ordinary CPU kernels.
_default_params = llama_cpp.llama_model_default_params


def _params_without_extra_bufts():
    p = _default_params()
    p.use_extra_bufts = False
    return p


llama_cpp.llama.llama_cpp.llama_model_default_params = _params_without_extra_bufts

FILE_TYPES = ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q2_K_S", "Q3_K_S", "Q3_K_M",
              "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K", "IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS",
              "IQ2_S", "IQ2_M", "IQ3_XXS", "IQ3_XS", "IQ3_S", "IQ3_M", "IQ4_NL", "IQ4_XS", "TQ1_0", "TQ2_0"]
SOURCE = "source"  # the input file itself, measured as it is


def uses_imatrix(t):
    return t.startswith("IQ") or t == "Q2_K_S"


def run(cmd, **kw):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({r.returncode}):\n{r.stderr[-3000:]}")
    return r


def bits_per_weight(path):
    import gguf
    r = gguf.GGUFReader(str(path))
    n_bytes = sum(int(t.n_bytes) for t in r.tensors)
    n_elem = sum(int(t.n_elements) for t in r.tensors)
    types = {}
    for t in r.tensors:
        types[t.tensor_type.name] = types.get(t.tensor_type.name, 0) + 1
    return 8.0 * n_bytes / n_elem, n_elem, types


def tg_ours(pj, model, threads, n_gen):
    r = run([pj, "bench", "-m", model, "-t", threads, "-p", 0, "-n", n_gen, "-r", 1, "--json"])
    return json.loads(r.stdout)["tg"]["tokens_per_s"]


def tg_llamacpp(model, threads, n_gen):
    # as llama-bench's tg test (and bench/llm_vs_llamacpp.py): N single-token decodes from an empty cache
    llm = llama_cpp.Llama(model_path=str(model), n_ctx=n_gen + 16, n_batch=1, n_threads=threads,
                          n_threads_batch=threads, verbose=False)
    tok = 1000
    t0 = time.perf_counter()
    for _ in range(n_gen):
        llm.eval([tok])
    s = n_gen / (time.perf_counter() - t0)
    llm.close()
    return s


def tg_speeds(pj, model, threads, n_gen, reps):
    ours, theirs = [], []
    for _ in range(reps):  # alternate so that the load of the (shared) machine hits both alike
        ours.append(tg_ours(pj, model, threads, n_gen))
        theirs.append(tg_llamacpp(model, threads, n_gen))
    return ours, theirs


def measure(a, ftype, cache, imatrix):
    state_path = cache / f"{ftype}.json"
    st = json.loads(state_path.read_text()) if state_path.exists() else {"type": ftype}

    def save():
        tmp = state_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(st, indent=1))
        tmp.replace(state_path)

    if ftype == SOURCE:
        gg = pathlib.Path(a.model)
    else:
        gg = cache / f"{ftype}.gguf"
    need_file = any(k not in st for k in ("size", "ppl", "tg_ours"))
    if need_file and not gg.exists():
        cmd = [a.pj, "quantize", "--allow-requantize", "-t", a.quant_threads]
        if uses_imatrix(ftype):
            cmd += ["--imatrix", imatrix]
        cmd += [a.model, gg, ftype]
        t0 = time.perf_counter()
        run(cmd)
        st["quantize_s"] = time.perf_counter() - t0
        save()
    if "size" not in st:
        st["size"] = gg.stat().st_size
        st["bpw"], st["n_weights"], st["tensor_types"] = bits_per_weight(gg)
        save()
    if "ppl" not in st:
        js = cache / f"{ftype}.ppl.json"
        cmd = [a.pj, "perplexity", "-m", gg, "-f", a.text, "--ctx", a.ctx, "-t", a.threads, "-q", "--json", js]
        if a.chunks:
            cmd += ["--chunks", a.chunks]
        run(cmd)
        j = json.loads(js.read_text())
        st["ppl"], st["ppl_err"], st["ppl_tokens"], st["ppl_s"] = j["ppl"][0], j["ppl"][1], j["count"], j["seconds"]
        js.unlink()
        save()
    if "tg_ours" not in st:
        ours, theirs = tg_speeds(a.pj, gg, a.threads, a.n_gen, a.reps)
        st["tg_ours"], st["tg_llamacpp"] = ours, theirs
        save()
    if ftype != SOURCE and not a.keep and gg.exists():
        gg.unlink()
    return st


def table(rows, a):
    out = ["| file type | size (MiB) | bits/weight | perplexity | tg ours (tok/s) | tg llama.cpp (tok/s) | ours / llama.cpp |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        name = r["type"] + (" (imatrix)" if uses_imatrix(r["type"]) else "")
        if r["type"] == SOURCE:
            name = f"{pathlib.Path(a.model).name} (input)"
        o, t = statistics.median(r["tg_ours"]), statistics.median(r["tg_llamacpp"])
        out.append(f"| {name} | {r['size'] / 2**20:.1f} | {r['bpw']:.2f} | {r['ppl']:.3f} ± {r['ppl_err']:.3f} "
                   f"| {o:.1f} | {t:.1f} | {o / t:.2f} |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pj", default=str(ROOT / "build" / "pajamas"))
    ap.add_argument("-m", "--model", default=str(ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--types", default=",".join([SOURCE] + FILE_TYPES), help="comma-separated; 'source' = the input")
    ap.add_argument("--imatrix-text", default=str(ROOT / "data" / "calibration" / "general.txt"))
    ap.add_argument("--imatrix-chunks", type=int, default=8)
    ap.add_argument("-f", "--text", default=str(ROOT / "data" / "calibration" / "heldout" / "general.txt"))
    ap.add_argument("--ctx", type=int, default=256)
    ap.add_argument("--chunks", type=int, default=0, help="perplexity chunks (0: all)")
    ap.add_argument("-t", "--threads", type=int, default=1, help="perplexity and speed threads")
    ap.add_argument("--quant-threads", type=int, default=2, help="quantize/imatrix threads (results do not depend on it)")
    ap.add_argument("-n", "--n-gen", type=int, default=64)
    ap.add_argument("-r", "--reps", type=int, default=3)
    ap.add_argument("--cache", help="default: .cache/quant_table/<model file name>")
    ap.add_argument("--keep", action="store_true", help="keep the quantized GGUFs in the cache")
    ap.add_argument("--json", help="write all rows as JSON")
    ap.add_argument("--update-doc", help="replace the table between <!-- quant_table:begin/end --> in this file")
    a = ap.parse_args()

    cache = pathlib.Path(a.cache or ROOT / ".cache" / "quant_table" / pathlib.Path(a.model).name)
    cache.mkdir(parents=True, exist_ok=True)
    types = [t for t in a.types.split(",") if t]
    # the types without an importance matrix first (an interrupted run has the common ones)
    types = [t for t in types if not uses_imatrix(t)] + [t for t in types if uses_imatrix(t)]
    unknown = [t for t in types if t != SOURCE and t not in FILE_TYPES]
    if unknown:
        ap.error(f"unknown file types {unknown}")
    imatrix = cache / "general.imatrix.gguf"

    def make_imatrix():
        if imatrix.exists():
            return
        tmp = cache / "general.imatrix.tmp.gguf"
        print(f"imatrix: {a.imatrix_text}, {a.imatrix_chunks} chunks of {a.ctx}", flush=True)
        run([a.pj, "imatrix", "-m", a.model, "-f", a.imatrix_text, "--ctx", a.ctx, "--chunks", a.imatrix_chunks,
             "-o", tmp, "-t", a.quant_threads])
        tmp.replace(imatrix)

    rows = []
    for t in types:
        t0 = time.perf_counter()
        try:
            if uses_imatrix(t):
                make_imatrix()
            st = measure(a, t, cache, imatrix)
        except RuntimeError as e:
            print(f"{t}: FAILED: {e}", file=sys.stderr, flush=True)
            continue
        rows.append(st)
        print(f"{t:8s} {st['size'] / 2**20:7.1f} MiB {st['bpw']:6.2f} bpw  ppl {st['ppl']:9.3f}  "
              f"tg {statistics.median(st['tg_ours']):6.1f} vs {statistics.median(st['tg_llamacpp']):6.1f} tok/s"
              f"  ({time.perf_counter() - t0:.0f} s)", flush=True)
    md = table(rows, a)
    print(md)
    if a.json:
        pathlib.Path(a.json).write_text(json.dumps(rows, indent=1))
    if a.update_doc:
        doc = pathlib.Path(a.update_doc)
        text = doc.read_text()
        b, e = "<!-- quant_table:begin -->", "<!-- quant_table:end -->"
        if b not in text or e not in text:
            sys.exit(f"{doc}: no {b} ... {e} markers")
        text = text[: text.index(b) + len(b)] + "\n" + md + "\n" + text[text.index(e):]
        tmp = doc.with_suffix(doc.suffix + ".tmp")
        tmp.write_text(text)
        tmp.replace(doc)


if __name__ == "__main__":
    main()
