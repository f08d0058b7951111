#!/usr/bin/env python3
"""The one benchmark: pajamas next to its peers on this machine, same files, threads and inputs,
alternating runs, several repetitions. Prints Markdown tables (median, min-max spread, ratio) and writes
JSON.

    .venv/bin/python bench/run_all.py [--quick] [--pj build/pajamas] [--json bench-results.json]
        [--md bench-results.md] [--sections stream,quant,llm,ttft,whisper,yolo,vision] [--reps 3]

Peers: llama.cpp's llama-bench / llama-completion / llama-quantize / llama-imatrix, built from the
llama-cpp-python 0.3.36 source package by scripts/build_llama_tools.sh (run here; a no-op when built), with
weight repacking off (--repack 0 / --no-repack: the AMX repack crashes llama.cpp on this VM);
faster-whisper from .venv (requirements-test.txt); ONNX Runtime (+ torch, ultralytics, transformers to
export the same weights) from a bench venv: $PJ_BENCH_VENV, else ~/.cache/pj/vision-venv when it has them,
else ~/.cache/pj/bench-venv created here from requirements-bench.txt. Memory bandwidth: bench/stream.cpp,
compiled here into ~/.cache/pj/bench/.

Sections:
  stream   STREAM copy/triad/read bandwidth at 1 and 2 threads (arrays far larger than the caches)
  quant    imatrix throughput (ours vs llama-imatrix, same text, chunks, ctx) and quantize time per type
           (ours vs llama-quantize, same input and imatrix). Our outputs are the files the llm section
           runs: SmolLM2-135M (hub Q4_1) and Gemma-3-270M (hub Q4_K_M) requantized with
           --allow-requantize to each type; IQ types with the general imatrix computed here by ours.
  llm      pp512 and tg128 (llama-bench's definitions) per model, type and thread count: one process of
           ours (pajamas bench -r 1) then one of llama-bench (-r 1), repeated --reps times; peak RSS of
           each process (wait4 rusage); tg bandwidth floor = model bytes / STREAM copy bandwidth at the
           same thread count, and the % of it reached.
  ttft     process start to first token, load included: `pajamas generate -n 1` vs `llama-completion
           -n 1`, same prompt, ctx 512, alternating.
  whisper  bench/whisper_vs_faster_whisper.py (RTF, best of reps), yolo: bench/yolo_vs_onnxruntime.py,
  vision   bench/vision_vs_onnxruntime.py (ViT-B/16, CLIP ViT-B/32).
--quick: one model (SmolLM2), types Q8_0 and Q4_K_M, 1 thread, pp64/tg16, 1 repetition, small arrays.
"""
import argparse
import datetime
import filecmp
import json
import os
import pathlib
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CACHE = pathlib.Path(os.environ.get("PJ_BENCH_CACHE", pathlib.Path.home() / ".cache" / "pj" / "bench"))
LLAMA_BIN = pathlib.Path(os.environ.get("PJ_LLAMA_TOOLS", pathlib.Path.home() / ".cache" / "pj" / "llama-tools-0.3.36")) / "bin"
TYPES = ["F16", "Q8_0", "Q4_0", "Q4_K_M", "IQ4_XS", "IQ3_XS", "IQ2_XS"]
IQ_TYPES = {"IQ4_XS", "IQ3_XS", "IQ2_XS"}
MODELS = {  # name -> hub GGUF in models/ (setup.sh installs SmolLM2; the Gemma-3 file is the hub's)
    "SmolLM2-135M": ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf",
    "Gemma-3-270M": next(iter(sorted((ROOT / "models").glob("gemma-3-270m*Q4_K_M.gguf"))),
                         ROOT / "models" / "gemma-3-270m-it-Q4_K_M.gguf"),
}
PROMPT = ("The history of the printing press begins in the fifteenth century, when Johannes Gutenberg "
          "combined movable metal type, oil-based ink and a wooden screw press into a system that")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


class Measured:
    """One finished process: stdout, stderr, wall seconds, CPU seconds (user + system: steadier than wall
    time for single-threaded work on a shared machine) and its own peak RSS in MiB."""

    def __init__(self, out, err, wall, cpu, rss_mib):
        self.out, self.err, self.wall, self.cpu, self.rss_mib = out, err, wall, cpu, rss_mib


def run_measured(cmd, env=None):
    """Runs cmd under /usr/bin/time. Not wait4() from here: a child forked from this Python process carries
    the parent's resident high-water mark into its ru_maxrss across exec; time(1) is a small parent."""
    with tempfile.TemporaryDirectory() as td:
        tf = pathlib.Path(td) / "time.txt"
        t0 = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-o", str(tf), "-f", "%M %U %S", *[str(c) for c in cmd]],
                           capture_output=True, text=True, env=env, errors="replace")
        wall = time.perf_counter() - t0
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n{p.stderr[-2000:]}")
        kib, user, sys_s = tf.read_text().split()[-3:]
    return Measured(p.stdout, p.stderr, wall, float(user) + float(sys_s), int(kib) / 1024.0)


def summary(v):
    if not v:
        return None
    return {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v), "samples": v}


def fmt(s, digits=1):
    if not s:
        return "-"
    f = f"{{:.{digits}f}}"
    if s["n"] == 1:
        return f.format(s["median"])
    return f"{f.format(s['median'])} ({f.format(s['min'])}-{f.format(s['max'])})"


def ratio(a, b, higher_better=True):
    if not a or not b or not b["median"] or not a["median"]:
        return None
    return a["median"] / b["median"] if higher_better else b["median"] / a["median"]


def rfmt(r):
    return "-" if r is None else f"{r:.2f}"


# ---------------------------------------------------------------- machine and peers

def machine_info():
    info = {"date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "kernel": platform.release(), "cpus": os.cpu_count()}
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for key in ("Model name", "L2 cache", "L3 cache", "Hypervisor vendor"):
            m = re.search(rf"^{key}:\s*(.+)$", lscpu, re.M)
            if m:
                info[key.lower().replace(" ", "_")] = m.group(1).strip()
        flags = re.search(r"^Flags:\s*(.+)$", lscpu, re.M)
        if flags:
            fl = flags.group(1).split()
            info["isa"] = [f for f in ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_int8") if f in fl]
    except OSError:
        pass
    mem = pathlib.Path("/proc/meminfo").read_text()
    info["mem_total_gib"] = round(int(re.search(r"MemTotal:\s+(\d+)", mem).group(1)) / 2**20, 1)
    info["loadavg_start"] = os.getloadavg()
    return info


def ensure_llama_tools():
    subprocess.run([str(ROOT / "scripts" / "build_llama_tools.sh")], check=True)
    tools = {t: LLAMA_BIN / t for t in ("llama-bench", "llama-completion", "llama-quantize", "llama-imatrix")}
    for t, p in tools.items():
        if not p.exists():
            raise SystemExit(f"run_all: {p} missing after scripts/build_llama_tools.sh")
    return tools


def ensure_stream():
    exe = CACHE / "bench_stream"
    src = ROOT / "bench" / "stream.cpp"
    if not exe.exists() or exe.stat().st_mtime < src.stat().st_mtime:
        CACHE.mkdir(parents=True, exist_ok=True)
        cxx = os.environ.get("CXX", "c++")
        subprocess.run([cxx, "-O3", "-march=native", "-std=c++20", "-pthread", str(src), "-o", str(exe)], check=True)
    return exe


def bench_venv_python():
    """A Python with onnxruntime, torch, ultralytics, transformers, safetensors, cv2 (see requirements-bench.txt)."""
    need = "import onnxruntime, torch, ultralytics, transformers, safetensors, cv2"
    cands = [os.environ.get("PJ_BENCH_VENV"), pathlib.Path.home() / ".cache/pj/vision-venv",
             pathlib.Path.home() / ".cache/pj/bench-venv"]
    for c in cands:
        if c and (pathlib.Path(c) / "bin/python").exists():
            py = pathlib.Path(c) / "bin/python"
            if subprocess.run([str(py), "-c", need], capture_output=True).returncode == 0:
                return py
    venv = pathlib.Path.home() / ".cache/pj/bench-venv"
    log(f"run_all: creating {venv} from requirements-bench.txt (torch, ONNX Runtime: a large download)")
    subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin/pip"), "install", "-q", "--disable-pip-version-check", "-r",
                    str(ROOT / "requirements-bench.txt")], check=True)
    return venv / "bin/python"


# ---------------------------------------------------------------- sections

def section_stream(exe, threads, mib, reps):
    out = {}
    for t in threads:
        o = run_measured([exe, "--mib", mib, "--threads", t, "--reps", reps, "--json"]).out
        out[str(t)] = json.loads(o)
        log(f"stream t={t}: {out[str(t)]}")
    return out


def model_path(name, typ):
    return CACHE / "models" / f"{name}-{typ}.gguf"


def section_quant(pj, tools, models, types, compare, threads, chunks, ctx, requantize):
    """imatrix (general set) per model, ours vs llama-imatrix on the same text; then each type quantized by
    ours (kept: the files the llm section runs) and, for the types in `compare`, by llama-quantize too
    (same input, imatrix, threads), timed and compared byte for byte."""
    res = {"imatrix": {}, "quantize": {}}
    (CACHE / "models").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as td:
        td = pathlib.Path(td)
        text = td / "general.txt"
        run_measured([pj, "calibration", "export", "general", "-o", text])
        for name in models:
            src = MODELS[name]
            im_ours = CACHE / "models" / f"{name}-general.imatrix.gguf"
            w_o = run_measured([pj, "imatrix", "-m", src, "-f", text, "-o", im_ours, "--ctx", ctx,
                                         "--chunks", chunks, "-t", threads, "--no-ppl"]).wall
            w_l = run_measured([tools["llama-imatrix"], "-m", src, "-f", text, "-o", td / "theirs.imatrix.gguf",
                                         "-c", ctx, "--chunks", chunks, "-t", threads, "--no-ppl", "--no-repack"]).wall
            tok = chunks * ctx
            res["imatrix"][name] = {"tokens": tok, "threads": threads, "ours_tok_s": summary([tok / w_o]),
                                    "llama_tok_s": summary([tok / w_l]), "file": str(im_ours)}
            log(f"imatrix {name}: ours {tok / w_o:.1f} tok/s, llama.cpp {tok / w_l:.1f} tok/s")
            for typ in types:
                out = model_path(name, typ)
                if out.exists() and not requantize and typ not in compare:
                    continue
                im = ["--imatrix", im_ours] if typ in IQ_TYPES else []
                tmp_out = out.with_suffix(".tmp.gguf")
                w_o = run_measured([pj, "quantize", "--allow-requantize", *im, "-t", threads, src, tmp_out, typ]).wall
                os.replace(tmp_out, out)
                r = {"model": name, "type": typ, "threads": threads, "bytes": out.stat().st_size,
                     "ours_s": summary([w_o]), "llama_s": None, "identical_to_llama_quantize": None}
                if typ in compare:
                    theirs = td / "theirs.gguf"
                    w_l = run_measured([tools["llama-quantize"], "--allow-requantize", *im, src, theirs, typ, threads]).wall
                    r["llama_s"] = summary([w_l])
                    r["identical_to_llama_quantize"] = filecmp.cmp(theirs, out, shallow=False)
                    theirs.unlink()
                res["quantize"][f"{name} {typ}"] = r
                log(f"quantize {name} {typ}: ours {w_o:.2f} s" + (f", llama {r['llama_s']['median']:.2f} s, identical "
                                                                  f"{r['identical_to_llama_quantize']}" if r["llama_s"] else ""))
    return res


def gguf_kv_bytes(path, n_ctx):
    """KV cache bytes at n_ctx, f16 K and V (what both engines allocate by default)."""
    import gguf
    r = gguf.GGUFReader(str(path))
    arch = bytes(r.fields["general.architecture"].parts[-1]).decode()

    def val(key, default=None):
        f = r.fields.get(f"{arch}.{key}")
        if f is None:
            return default
        v = f.parts[f.data[0]] if f.data else f.parts[-1]
        return int(v[0]) if hasattr(v, "__len__") else int(v)
    n_layer = val("block_count")
    n_head = val("attention.head_count")
    n_kv = val("attention.head_count_kv", n_head)
    n_embd = val("embedding_length")
    hd_k = val("attention.key_length", n_embd // n_head)
    hd_v = val("attention.value_length", n_embd // n_head)
    return n_layer * n_ctx * n_kv * (hd_k + hd_v) * 2


def section_llm(pj, tools, models, types, threads, reps, n_prompt, n_gen, stream):
    rows = []
    for name in models:
        for typ in types:
            f = model_path(name, typ)
            if not f.exists():
                log(f"llm: {f} missing (run the quant section first); skipped")
                continue
            size = f.stat().st_size
            ctx = n_prompt + n_gen  # llama-bench's n_ctx for these tests
            kv = gguf_kv_bytes(f, ctx)
            for t in threads:
                r = {"model": name, "type": typ, "threads": t, "file_bytes": size, "kv_bytes": kv,
                     "ours": {"pp": [], "tg": [], "rss_mib": []}, "llama": {"pp": [], "tg": [], "rss_mib": []}}
                for _ in range(reps):
                    m = run_measured([pj, "bench", "-m", f, "-t", t, "-p", n_prompt, "-n", n_gen, "-r", 1,
                                      "-c", ctx, "--json"])
                    j = json.loads(m.out)
                    r["ours"]["pp"].append(j["pp"]["tokens_per_s"])
                    r["ours"]["tg"].append(j["tg"]["tokens_per_s"])
                    r["ours"]["rss_mib"].append(m.rss_mib)
                    m = run_measured([tools["llama-bench"], "-m", f, "-t", t, "-p", n_prompt, "-n", n_gen,
                                      "-r", 1, "--repack", 0, "-o", "json"])
                    for test in json.loads(m.out):
                        k = "pp" if test["n_prompt"] > 0 else "tg"
                        r["llama"][k].append(test["avg_ts"])
                    r["llama"]["rss_mib"].append(m.rss_mib)
                for side in ("ours", "llama"):
                    r[side] = {k: summary(v) for k, v in r[side].items()}
                bw = stream.get(str(t), {}).get("copy_gbs") if stream else None
                if bw:
                    r["tg_floor_tok_s"] = bw * 1e9 / size
                    r["ours_pct_of_floor"] = 100 * r["ours"]["tg"]["median"] / r["tg_floor_tok_s"]
                    r["llama_pct_of_floor"] = 100 * r["llama"]["tg"]["median"] / r["tg_floor_tok_s"]
                r["rss_limit_mib"] = (size + kv) / 2**20 + 64
                r["rss_ok"] = r["ours"]["rss_mib"]["max"] <= r["rss_limit_mib"]
                log(f"llm {name} {typ} t={t}: pp ours {fmt(r['ours']['pp'])} llama {fmt(r['llama']['pp'])}; "
                    f"tg ours {fmt(r['ours']['tg'])} llama {fmt(r['llama']['tg'])}; rss {fmt(r['ours']['rss_mib'], 0)} "
                    f"/ {fmt(r['llama']['rss_mib'], 0)} MiB")
                rows.append(r)
    return rows


def section_ttft(pj, tools, models, types, threads, reps):
    rows = []
    for name in models:
        for typ in types:
            f = model_path(name, typ)
            if not f.exists():
                continue
            for t in threads:
                ours, theirs, rss_o, rss_t, cpu_o, cpu_t = [], [], [], [], [], []
                for _ in range(reps):
                    m = run_measured([pj, "generate", "-m", f, "-p", PROMPT, "--raw", "-n", 1, "-t", t,
                                      "-c", 512, "-q"])
                    ours.append(m.wall)
                    rss_o.append(m.rss_mib)
                    cpu_o.append(m.cpu)
                    m = run_measured([tools["llama-completion"], "-m", f, "-p", PROMPT, "-n", 1, "-t", t,
                                      "-c", 512, "--no-repack", "-no-cnv", "--no-display-prompt",
                                                 "--temp", 0, "--log-disable"])
                    theirs.append(m.wall)
                    rss_t.append(m.rss_mib)
                    cpu_t.append(m.cpu)
                r = {"model": name, "type": typ, "threads": t, "ours_s": summary(ours), "llama_s": summary(theirs),
                     "ours_rss_mib": summary(rss_o), "llama_rss_mib": summary(rss_t),
                     "ours_cpu_s": summary(cpu_o), "llama_cpu_s": summary(cpu_t),
                     "rss_limit_mib": (f.stat().st_size + gguf_kv_bytes(f, 512)) / 2**20 + 64}
                log(f"ttft {name} {typ} t={t}: ours {fmt(r['ours_s'], 3)} s, llama {fmt(r['llama_s'], 3)} s")
                rows.append(r)
    return rows


def section_whisper(pj, threads, reps):
    env = dict(os.environ, PJ_BIN=str(pj))
    out = subprocess.run([str(ROOT / ".venv/bin/python"), str(ROOT / "bench/whisper_vs_faster_whisper.py"),
                          "--threads", str(threads), "--repeat", str(reps), str(SHARED / "data/audio/jfk.flac")],
                         capture_output=True, text=True, check=True, env=env).stdout
    rows = []
    for m in re.finditer(r"^(\S+)\s+([0-9.]+)\s+(.+?)\s+([0-9.]+)\s+([0-9.]+)$", out, re.M):
        rows.append({"file": m.group(1), "audio_s": float(m.group(2)), "engine": m.group(3).strip(),
                     "time_s": float(m.group(4)), "rtf": float(m.group(5))})
    return {"threads": threads, "rows": rows, "raw": out}


def section_yolo(pj, py, threads, runs):
    env = dict(os.environ, YOLO_OFFLINE="1")
    out = subprocess.run([str(py), str(ROOT / "bench/yolo_vs_onnxruntime.py"), "--bin", str(pj), "--threads", str(threads),
                          "--runs", str(runs)], capture_output=True, text=True, check=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def section_vision(pj, bench_vision, py, threads, runs):
    out = subprocess.run([str(py), str(ROOT / "bench/vision_vs_onnxruntime.py"), "--bench-bin", str(bench_vision),
                          "--pajamas", str(pj), "--threads", str(threads), "--runs", str(runs)],
                         capture_output=True, text=True, check=True).stdout
    rows = []
    for m in re.finditer(r"^(vit|clip)\s+(.+?)\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)\s+(\S+)\s+(\S+)$", out, re.M):
        rows.append({"model": m.group(1), "weights": m.group(2).strip(), "ours_ms": float(m.group(3)),
                     "ort_ms": float(m.group(4)), "ratio": float(m.group(5)), "max_abs_diff": float(m.group(6))})
    return {"threads": threads, "runs": runs, "rows": rows, "raw": out}


# ---------------------------------------------------------------- report

def markdown(res):
    L = []
    m = res["machine"]
    L.append(f"Machine: {m.get('model_name', '?')}, {m['cpus']} CPUs, {m['mem_total_gib']} GiB, L3 {m.get('l3_cache', '?')}, "
             f"ISA {' '.join(m.get('isa', []))}; load average {m['loadavg_start'][0]:.1f} at start, "
             f"{m.get('loadavg_end', [0])[0]:.1f} at end. {res['date_utc']}.\n")
    if res.get("stream"):
        L.append("### Memory bandwidth (bench/stream.cpp, best of reps, GB/s)\n")
        L.append("| threads | array MiB | copy | scale | add | triad | read |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for t, s in res["stream"].items():
            L.append(f"| {t} | {s['array_mib']} | {s['copy_gbs']:.2f} | {s['scale_gbs']:.2f} | {s['add_gbs']:.2f} | "
                     f"{s['triad_gbs']:.2f} | {s['read_gbs']:.2f} |")
        L.append("")
    q = res.get("quant")
    if q:
        L.append("### Importance matrix throughput (general set, tokens/s, ours vs llama-imatrix)\n")
        L.append("| model | tokens | threads | ours | llama.cpp | ratio |\n| --- | ---: | ---: | ---: | ---: | ---: |")
        for name, r in q["imatrix"].items():
            L.append(f"| {name} | {r['tokens']} | {r['threads']} | {fmt(r['ours_tok_s'])} | {fmt(r['llama_tok_s'])} | "
                     f"{rfmt(ratio(r['ours_tok_s'], r['llama_tok_s']))} |")
        L.append("\n### Quantize time (seconds, requantized from the hub file; ratio = llama.cpp time / ours)\n")
        L.append("| model | type | MiB | ours s | llama-quantize s | ratio | identical file |\n| --- | --- | ---: | ---: | ---: | ---: | --- |")
        for r in q["quantize"].values():
            same = {True: "yes", False: "no", None: "-"}[r["identical_to_llama_quantize"]]
            L.append(f"| {r['model']} | {r['type']} | {r['bytes'] / 2**20:.1f} | {fmt(r['ours_s'], 2)} | {fmt(r['llama_s'], 2)} | "
                     f"{rfmt(ratio(r['ours_s'], r['llama_s'], False))} | {same} |")
        L.append("")
    if res.get("llm"):
        p, n = res["params"]["n_prompt"], res["params"]["n_gen"]
        L.append(f"### LLM speed (tokens/s, median (min-max) of {res['params']['reps']} alternating processes; ratio = ours / llama.cpp)\n")
        L.append(f"| model | type | MiB | t | pp{p} ours | pp{p} llama.cpp | ratio | tg{n} ours | tg{n} llama.cpp | ratio | "
                 "tg floor | ours % floor | llama % floor |")
        L.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for r in res["llm"]:
            L.append(f"| {r['model']} | {r['type']} | {r['file_bytes'] / 2**20:.1f} | {r['threads']} | {fmt(r['ours']['pp'])} | "
                     f"{fmt(r['llama']['pp'])} | {rfmt(ratio(r['ours']['pp'], r['llama']['pp']))} | {fmt(r['ours']['tg'])} | "
                     f"{fmt(r['llama']['tg'])} | {rfmt(ratio(r['ours']['tg'], r['llama']['tg']))} | "
                     f"{r.get('tg_floor_tok_s', 0):.1f} | {r.get('ours_pct_of_floor', 0):.0f}% | {r.get('llama_pct_of_floor', 0):.0f}% |")
        L.append("\n### Peak resident memory of the bench processes (MiB; limit = file + KV cache (f16, ctx "
                 f"{p + n}) + 64 MiB)\n")
        L.append("| model | type | t | file | KV | limit | ours | llama.cpp | within limit |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
        for r in res["llm"]:
            L.append(f"| {r['model']} | {r['type']} | {r['threads']} | {r['file_bytes'] / 2**20:.1f} | {r['kv_bytes'] / 2**20:.1f} | "
                     f"{r['rss_limit_mib']:.1f} | {fmt(r['ours']['rss_mib'], 0)} | {fmt(r['llama']['rss_mib'], 0)} | "
                     f"{'yes' if r['rss_ok'] else 'NO'} |")
        L.append("")
    if res.get("ttft"):
        L.append("### Process start to first token, load included (seconds; ratio = llama.cpp / ours)\n")
        L.append("| model | type | t | ours wall s | llama-completion wall s | ratio | ours CPU s | llama CPU s | CPU ratio | "
                 "ours RSS MiB | llama RSS MiB | RSS limit MiB |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for r in res["ttft"]:
            L.append(f"| {r['model']} | {r['type']} | {r['threads']} | {fmt(r['ours_s'], 3)} | {fmt(r['llama_s'], 3)} | "
                     f"{rfmt(ratio(r['ours_s'], r['llama_s'], False))} | {fmt(r['ours_cpu_s'], 3)} | {fmt(r['llama_cpu_s'], 3)} | "
                     f"{rfmt(ratio(r['ours_cpu_s'], r['llama_cpu_s'], False))} | {fmt(r['ours_rss_mib'], 0)} | {fmt(r['llama_rss_mib'], 0)} | "
                     f"{r['rss_limit_mib']:.0f} |")
        L.append("")
    w = res.get("whisper")
    if w and w.get("rows"):
        L.append(f"### Whisper tiny.en real-time factor (best of reps, {w['threads']} thread(s); lower is faster)\n")
        L.append("| file | audio s | engine | time s | RTF |\n| --- | ---: | --- | ---: | ---: |")
        for r in w["rows"]:
            L.append(f"| {r['file']} | {r['audio_s']:.1f} | {r['engine']} | {r['time_s']:.3f} | {r['rtf']:.3f} |")
        L.append("")
    y = res.get("yolo")
    if y:
        L.append(f"### YOLOv8n 640x640 (median ms, {y['threads']} thread(s), {y['runs']} runs)\n")
        L.append("| pajamas | ONNX Runtime | pajamas / ORT time |\n| ---: | ---: | ---: |")
        L.append(f"| {y['pajamas_ms_median']:.1f} | {y['onnxruntime_ms_median']:.1f} | {y['pajamas_over_onnxruntime']:.2f} |\n")
    v = res.get("vision")
    if v and v.get("rows"):
        L.append(f"### ViT-B/16 and CLIP ViT-B/32 image encoders (median ms, {v['threads']} thread(s); ratio = ours / ORT time)\n")
        L.append("| model | our weights | pajamas | ORT f32 | ratio | max abs diff |\n| --- | --- | ---: | ---: | ---: | ---: |")
        for r in v["rows"]:
            L.append(f"| {r['model']} | {r['weights']} | {r['ours_ms']:.1f} | {r['ort_ms']:.1f} | {r['ratio']:.2f} | {r['max_abs_diff']:.1e} |")
        L.append("")
    return "\n".join(L)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke run (one model, two types, tiny sizes)")
    ap.add_argument("--pj", default=os.environ.get("PJ_BIN", str(ROOT / "build" / "pajamas")))
    ap.add_argument("--bench-vision", default=None, help="bench_vision binary (default: next to --pj)")
    ap.add_argument("--sections", default="stream,quant,llm,ttft,whisper,yolo,vision")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--types", default=",".join(TYPES))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("-p", "--n-prompt", type=int, default=512)
    ap.add_argument("-n", "--n-gen", type=int, default=128)
    ap.add_argument("--imatrix-chunks", type=int, default=10)
    ap.add_argument("--quant-compare", default="Q8_0,Q4_K_M,IQ4_XS",
                    help="types also quantized by llama-quantize (timed, compared byte for byte)")
    ap.add_argument("--requantize", action="store_true", help="redo cached model files of the other types too")
    ap.add_argument("--stream-mib", type=int, default=1024, help="one STREAM array (x3 allocated)")
    ap.add_argument("--json", default="bench-results.json")
    ap.add_argument("--md", default=None, help="also write the Markdown here")
    a = ap.parse_args()
    if a.quick:
        a.models, a.types, a.threads, a.reps = "SmolLM2-135M", "Q8_0,Q4_K_M", "1", 1
        a.n_prompt, a.n_gen, a.imatrix_chunks, a.stream_mib = 64, 16, 2, 256
    sections = set(a.sections.split(","))
    models = [m for m in a.models.split(",") if m]
    for m in models:
        if m not in MODELS:
            raise SystemExit(f"run_all: unknown model {m} (have {', '.join(MODELS)})")
        if not MODELS[m].exists():
            raise SystemExit(f"run_all: {MODELS[m]} missing (setup.sh installs SmolLM2; the Gemma-3 GGUF is the hub's)")
    types = [t for t in a.types.split(",") if t]
    threads = [int(t) for t in a.threads.split(",")]
    pj = pathlib.Path(a.pj).resolve()
    if not pj.exists():
        raise SystemExit(f"run_all: {pj} missing (./setup.sh builds build/pajamas)")
    res = {"date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "command": " ".join(sys.argv), "machine": machine_info(),
           "params": {"reps": a.reps, "n_prompt": a.n_prompt, "n_gen": a.n_gen, "threads": threads, "types": types,
                      "models": models, "llama_cpp": "0.3.36 (llama-cpp-python source), --repack 0"}}
    tools = ensure_llama_tools() if sections & {"quant", "llm", "ttft"} else {}
    if "stream" in sections:
        res["stream"] = section_stream(ensure_stream(), sorted(set(threads) | {1, 2}), a.stream_mib, 5 if a.quick else 10)
    if "quant" in sections:
        res["quant"] = section_quant(pj, tools, models, types, set(a.quant_compare.split(",")), 1, a.imatrix_chunks, 512,
                                     a.requantize)
    if "llm" in sections:
        res["llm"] = section_llm(pj, tools, models, types, threads, a.reps, a.n_prompt, a.n_gen, res.get("stream"))
    if "ttft" in sections:
        res["ttft"] = section_ttft(pj, tools, models, ["Q4_K_M"] if not a.quick else types[-1:], threads, max(a.reps, 3))
    if "whisper" in sections:
        try:
            res["whisper"] = section_whisper(pj, threads[0], 1 if a.quick else 3)
        except (subprocess.CalledProcessError, OSError) as e:
            res["whisper"] = {"error": str(e)}
            log(f"whisper: {e}")
    if sections & {"yolo", "vision"}:
        py = bench_venv_python()
        if "yolo" in sections:
            try:
                res["yolo"] = section_yolo(pj, py, threads[0], 3 if a.quick else 10)
            except (subprocess.CalledProcessError, OSError, ValueError) as e:
                res["yolo"] = None
                log(f"yolo: {e}")
        if "vision" in sections:
            bv = pathlib.Path(a.bench_vision) if a.bench_vision else pj.parent / "bench_vision"
            try:
                res["vision"] = section_vision(pj, bv, py, threads[0], 3 if a.quick else 10)
            except (subprocess.CalledProcessError, OSError) as e:
                res["vision"] = None
                log(f"vision: {e}")
    res["machine"]["loadavg_end"] = os.getloadavg()
    md = markdown(res)
    print(md)
    pathlib.Path(a.json).write_text(json.dumps(res, indent=1))
    if a.md:
        pathlib.Path(a.md).write_text(md + "\n")
    log(f"run_all: JSON in {a.json}")


if __name__ == "__main__":
    main()
