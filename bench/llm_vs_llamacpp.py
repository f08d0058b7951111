"""Prompt processing (pp) and generation (tg) speed of `pajamas bench` next to llama.cpp (the
llama-cpp-python build from PyPI) on the same GGUF, threads and token counts, alternating runs.

    .venv/bin/python bench/llm_vs_llamacpp.py [-m MODEL] [-t THREADS] [-p 128] [-n 64] [-r 3] [--json OUT]

llama.cpp side: pp = one llama_decode of N random tokens on an empty cache, tg = N single-token decodes
(what llama-bench measures), timed around the C calls. It runs without AMX/repacked weight buffers, which
crash on this VM (see tests/python/test_llm_vs_llamacpp.py).
"""
import argparse
import json
import os
import pathlib
import statistics
import subprocess
import time

import llama_cpp
import llama_cpp.llama
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
_default = llama_cpp.llama_model_default_params


def _no_extra():
    p = _default()
    p.use_extra_bufts = False
    return p


llama_cpp.llama.llama_cpp.llama_model_default_params = _no_extra


def llamacpp_run(model, threads, n_prompt, n_gen):
    llm = llama_cpp.Llama(model_path=str(model), n_ctx=max(n_prompt, n_gen) + 16, n_batch=max(n_prompt, 1),
                          n_threads=threads, n_threads_batch=threads, verbose=False)
    rng = np.random.default_rng(0)
    vocab = llm.n_vocab()
    out = {}
    if n_prompt:
        toks = rng.integers(0, vocab, n_prompt).tolist()
        llm.reset()
        llm._ctx.memory_clear(True) if hasattr(llm._ctx, "memory_clear") else None
        t0 = time.perf_counter()
        llm.eval(toks)
        out["pp"] = n_prompt / (time.perf_counter() - t0)
    if n_gen:
        llm.reset()
        llm._ctx.memory_clear(True) if hasattr(llm._ctx, "memory_clear") else None
        tok = int(rng.integers(0, vocab))
        t0 = time.perf_counter()
        for _ in range(n_gen):
            llm.eval([tok])
        out["tg"] = n_gen / (time.perf_counter() - t0)
    llm.close()
    return out


def ours_run(pj, model, threads, n_prompt, n_gen):
    r = subprocess.run([pj, "bench", "-m", str(model), "-t", str(threads), "-p", str(n_prompt), "-n", str(n_gen),
                        "-r", "1", "--json"], check=True, capture_output=True, text=True)
    j = json.loads(r.stdout)
    return {k: j[k]["tokens_per_s"] for k in ("pp", "tg") if k in j}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-m", "--model", default=str(ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("-t", "--threads", type=int, default=os.cpu_count())
    ap.add_argument("-p", "--n-prompt", type=int, default=128)
    ap.add_argument("-n", "--n-gen", type=int, default=64)
    ap.add_argument("-r", "--reps", type=int, default=3)
    ap.add_argument("--pj", default=str(ROOT / "build" / "pajamas"))
    ap.add_argument("--json")
    a = ap.parse_args()
    res = {"ours": {"pp": [], "tg": []}, "llama.cpp": {"pp": [], "tg": []}}
    for _ in range(a.reps):
        for name, fn in (("ours", lambda: ours_run(a.pj, a.model, a.threads, a.n_prompt, a.n_gen)),
                         ("llama.cpp", lambda: llamacpp_run(a.model, a.threads, a.n_prompt, a.n_gen))):
            for k, v in fn().items():
                res[name][k].append(v)
    print(f"model {a.model}, threads {a.threads}, {a.reps} alternating repetitions (median, min-max)\n")
    print("| test | ours t/s | llama.cpp t/s | ratio |\n| --- | ---: | ---: | ---: |")
    for k, n in (("pp", a.n_prompt), ("tg", a.n_gen)):
        o, l = res["ours"][k], res["llama.cpp"][k]
        if not o:
            continue
        mo, ml = statistics.median(o), statistics.median(l)
        print(f"| {k}{n} | {mo:.1f} ({min(o):.1f}-{max(o):.1f}) | {ml:.1f} ({min(l):.1f}-{max(l):.1f}) | {mo / ml:.2f} |")
    if a.json:
        pathlib.Path(a.json).write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
