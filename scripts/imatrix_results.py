#!/usr/bin/env python3
"""Builds docs/imatrix-results.md: KL divergence and perplexity of quantizations of the default model on
each domain's held-out text, with no importance matrix, the "general" one, and the domain's own.

The only real model we have is SmolLM2-135M-Instruct as a Q4_1 GGUF, so it is both the reference and the
source: it is requantized (--allow-requantize) to each type, and KLD is measured against the Q4_1
model's own output distributions. Small settings for a 2-core machine: --ctx 256, a few chunks.

  PJ_BIN=build/pajamas .venv/bin/python scripts/imatrix_results.py [--chunks 4] [--imatrix-chunks 24]
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
PJ = os.environ.get("PJ_BIN", str(ROOT / "build" / "pajamas"))
MODEL = ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
DOMAINS = ["general", "tool_calling", "summarization", "rag", "medical", "military", "tone_analysis"]
TYPES = ["IQ2_XS", "IQ3_XS", "IQ4_XS", "Q4_K_M"]


def run(args):
    r = subprocess.run([PJ] + args, capture_output=True, text=True)
    return r.returncode, r.stdout, r.stderr


def main():  # noqa: C901
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default=str(pathlib.Path.home() / ".cache/pj/imatrix-results"))
    ap.add_argument("--ctx", type=int, default=256)
    ap.add_argument("--chunks", type=int, default=4, help="evaluation chunks per domain")
    ap.add_argument("--imatrix-chunks", type=int, default=24)
    ap.add_argument("--types", default=",".join(TYPES))
    ap.add_argument("--domains", default=",".join(DOMAINS), help="evaluated domains")
    ap.add_argument("--out", default=str(ROOT / "docs" / "imatrix-results.md"))
    a = ap.parse_args()
    work = pathlib.Path(a.work)
    (work / "kld").mkdir(parents=True, exist_ok=True)
    results_path = work / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    t0 = time.time()

    def save():
        results_path.write_text(json.dumps(results, indent=1))

    # reference distributions of the source model on each held-out text
    base = {}
    for d in a.domains.split(","):
        kld = work / "kld" / f"{d}.kld"
        js = work / "kld" / f"{d}.json"
        if not js.exists():
            rc, out, err = run(["perplexity", "-m", str(MODEL), "--domain", d, "--ctx", str(a.ctx), "--chunks",
                                str(a.chunks), "--kl-divergence-base", str(kld), "-q", "--json", str(js)])
            if rc:
                sys.exit(f"base {d}: {err}")
        base[d] = json.loads(js.read_text())
        print(f"[{time.time() - t0:6.0f}s] base {d}: PPL {base[d]['ppl'][0]:.3f}", flush=True)
    results["base"] = base
    save()

    for t in a.types.split(","):
        for mode in ("none", "general", "domain"):
            # one model per (type, imatrix); the domain mode has one per domain
            for d in a.domains.split(","):
                key = f"{t}/{mode}/{d}"
                if key in results:
                    continue
                src = {"none": ["--no-imatrix"], "general": ["--domain", "general"], "domain": ["--domain", d]}[mode]
                tag = {"none": "none", "general": "general", "domain": d}[mode]
                outdir = work / "models" / t
                meta_path = outdir / f"{MODEL.stem}-{t}-{'noimatrix' if mode == 'none' else tag}.json"
                err_key = f"{t}/{mode}/{tag}/quantize-error"
                if err_key in results:
                    results[key] = {"error": results[err_key]}
                    save()
                    continue
                rc, out, err = (0, "", "") if meta_path.exists() else run(["iq", "quantize", "--model", str(MODEL), "--precision", t, "--output", str(outdir),
                                    "--allow-requantize", "--ctx", str(a.ctx), "--chunks", str(a.imatrix_chunks)] + src)
                if rc:
                    results[key] = {"error": err.strip().splitlines()[-1] if err.strip() else f"exit {rc}"}
                    results[err_key] = results[key]["error"]
                    print(f"[{time.time() - t0:6.0f}s] {key}: {results[key]['error']}", flush=True)
                    save()
                    continue
                meta = json.loads(meta_path.read_text())
                js = work / "kld" / f"{t}-{mode}-{d}.json"
                rc, out, err = run(["perplexity", "-m", meta["output"], "--kl-divergence", str(work / "kld" / f"{d}.kld"),
                                    "-q", "--json", str(js)])
                if rc:
                    results[key] = {"error": err.strip()}
                else:
                    results[key] = json.loads(js.read_text())
                    results[key]["bpw"] = meta["bpw"]
                    results[key]["size"] = meta["output_file_bytes"]
                    results[key]["imatrix_tokens"] = meta.get("calibration_tokens")
                    print(f"[{time.time() - t0:6.0f}s] {key}: KLD {results[key]['kld'][0]:.4f} PPL {results[key]['ppl'][0]:.3f}",
                          flush=True)
                save()
    write_table(a, results)


def write_table(a, results):
    base = results["base"]
    domains = [d for d in a.domains.split(",") if d in base]
    L = []
    L.append("# Importance matrices: KL divergence and perplexity by domain\n")
    L.append("Generated by `scripts/imatrix_results.py` (PJ_BIN=build/pajamas). Model: SmolLM2-135M-Instruct. The only "
             "copy we have is the hub's **Q4_1** GGUF, so it is both the reference and the source: every row is that "
             "Q4_1 model **requantized** (`pajamas iq quantize --allow-requantize`), and KLD is measured against the "
             "Q4_1 model's own distributions (`pajamas perplexity --kl-divergence-base`), not against F16. "
             f"Evaluation: each domain's held-out text (`data/calibration/heldout`), --ctx {a.ctx}, {a.chunks} chunks "
             f"({a.chunks * (a.ctx - 1 - a.ctx // 2)} scored positions per domain). Importance matrices: --ctx {a.ctx}, "
             f"up to {a.imatrix_chunks} chunks of the calibration text (`data/calibration`). "
             "'none' = no imatrix, 'general' = the general set's, 'domain' = the evaluated domain's own.\n")
    L.append("Numbers are mean KLD (± its standard error) / PPL; the reference (Q4_1) PPL is in the header. "
             "Lower is better for both.\n")
    for t in a.types.split(","):
        L.append(f"\n## {t}\n")
        hdr = "| domain (Q4_1 PPL) | none: KLD | none: PPL | general: KLD | general: PPL | domain: KLD | domain: PPL | same top (domain) |"
        L.append(hdr)
        L.append("|" + "---|" * (hdr.count("|") - 1))
        for d in domains:
            row = [f"{d} ({base[d]['ppl'][0]:.2f})"]
            for mode in ("none", "general", "domain"):
                r = results.get(f"{t}/{mode}/{d}")
                if not r:
                    row += ["not run", ""]
                elif "error" in r:
                    msg = r["error"]
                    row += ["refused: needs an imatrix" if "imatrix" in msg else "failed: " + msg[:60].replace("|", "/"), ""]
                else:
                    row += [f"{r['kld'][0]:.4f} ± {r['kld'][1]:.4f}", f"{r['ppl'][0]:.2f}"]
            r = results.get(f"{t}/domain/{d}")
            row.append(f"{100 * r['same_top'][0]:.1f}%" if r and "same_top" in r else "")
            L.append("| " + " | ".join(row) + " |")
        sizes = {results[k]["bpw"] for k in results if k.startswith(t + "/") and isinstance(results[k], dict) and "bpw" in results[k]}
        if sizes:
            L.append(f"\n{t}: {min(sizes):.2f} bits per weight over the quantized tensors.")
    pathlib.Path(a.out).write_text("\n".join(L) + "\n")
    print("wrote", a.out)


if __name__ == "__main__":
    main()
