#!/usr/bin/env python3
"""ViT-B/16 classification and CLIP ViT-B/32 image encoding: latency per image of pajamas (our kernels,
bench/bench_vision.cpp) next to ONNX Runtime running the same weights exported to ONNX by torch from the
transformers model, in the same run, same thread count, same pixel_values.

No real checkpoint is available offline (no PyPI package carries ViT/CLIP weights), so the weights are
random, drawn by transformers with its default ViTConfig (google/vit-base-patch16-224 shapes: 12 layers,
768 wide, 197 tokens) and CLIP ViT-B/32 vision shapes (12 layers, 768, 50 tokens; projection 512); cost
depends on shapes, not values. Weights are float32 on both sides (and Q8_0/F16 GGUFs for ours).
Outputs are compared (max abs difference printed) so the two really compute the same thing.

Needs torch, transformers (5.x), onnxruntime in the bench's own venv (not the test venv), e.g.
    python3 -m venv /root/.cache/pj/vision-venv && .../pip install torch transformers onnxruntime onnx
    /root/.cache/pj/vision-venv/bin/python bench/vision_vs_onnxruntime.py --bench-bin build/bench_vision \\
        --pajamas build/pajamas [--threads 2] [--runs 10]
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
IMAGE = REPO.parent / "shared" / "data" / "images" / "dog.jpg"


def make_models(tmp):
    import torch
    from transformers import CLIPConfig, CLIPModel, ViTConfig, ViTForImageClassification

    torch.manual_seed(0)
    vit = ViTForImageClassification(ViTConfig(num_labels=1000)).eval()
    vit.save_pretrained(tmp / "vit-b16")
    (tmp / "vit-b16" / "preprocessor_config.json").write_text(json.dumps({
        "image_processor_type": "ViTImageProcessor", "do_resize": True, "size": {"height": 224, "width": 224},
        "resample": 2, "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
        "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}))
    cfg = CLIPConfig(text_config={"vocab_size": 1000, "num_hidden_layers": 1},
                     vision_config={"patch_size": 32, "hidden_size": 768, "intermediate_size": 3072,
                                    "num_hidden_layers": 12, "num_attention_heads": 12}, projection_dim=512)
    clip = CLIPModel(cfg).eval()
    clip.save_pretrained(tmp / "clip-b32")
    return vit, clip


def export(model, path, kind):
    import torch

    class Wrap(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            if kind == "vit":
                return self.m(pixel_values=x).logits
            e = self.m.get_image_features(pixel_values=x)
            e = e.pooler_output if hasattr(e, "pooler_output") else e
            return e / e.norm(dim=-1, keepdim=True)

    torch.onnx.export(Wrap(model).eval(), torch.zeros(1, 3, 224, 224), str(path), opset_version=17,
                      input_names=["pixel_values"], output_names=["out"], dynamo=False)


def ours(bin_, model, runs, threads):
    r = subprocess.run([bin_, str(model), str(IMAGE), str(runs), str(threads)], capture_output=True, text=True,
                       check=True)
    return json.loads(r.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench-bin", default=str(REPO / "build" / "bench_vision"))
    ap.add_argument("--pajamas", default=str(REPO / "build" / "pajamas"))
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--runs", type=int, default=10)
    a = ap.parse_args()
    import onnxruntime as ort
    import torch

    torch.set_num_threads(a.threads)
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        vit, clip = make_models(tmp)
        rows = []
        for kind, folder, model in [("vit", tmp / "vit-b16", vit), ("clip", tmp / "clip-b32", clip)]:
            onnx_path = tmp / f"{kind}.onnx"
            export(model, onnx_path, kind)
            so = ort.SessionOptions()
            so.intra_op_num_threads = a.threads
            so.inter_op_num_threads = 1
            sess = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
            res = ours(a.bench_bin, folder, a.runs, a.threads)
            px = np.asarray(res["pixel_values"], np.float32).reshape(1, 3, 224, 224)
            sess.run(None, {"pixel_values": px})
            times = []
            for _ in range(a.runs):
                t0 = time.perf_counter()
                out = sess.run(None, {"pixel_values": px})[0][0]
                times.append((time.perf_counter() - t0) * 1000)
            diff = float(np.abs(out - np.asarray(res["out"], np.float32)).max())
            ort_ms = statistics.median(times)
            rows.append((kind, "f32 (safetensors)", res["median_ms"], ort_ms, diff, res["isa"]))
            for outtype in ["f16", "q8_0"]:
                g = tmp / f"{kind}-{outtype}.gguf"
                subprocess.run([a.pajamas, "convert", str(folder), "-o", str(g), "--outtype", outtype],
                               check=True, capture_output=True)
                r2 = ours(a.bench_bin, g, a.runs, a.threads)
                d2 = float(np.abs(out - np.asarray(r2["out"], np.float32)).max())
                rows.append((kind, outtype + " (GGUF)", r2["median_ms"], ort_ms, d2, r2["isa"]))
        print(f"threads {a.threads}, runs {a.runs}, median ms per image (pre-processing excluded)")
        print(f"{'model':6} {'our weights':18} {'pajamas':>9} {'ORT f32':>9} {'ratio':>6} {'max|diff|':>10} isa")
        for kind, wt, ms, ort_ms, diff, isa in rows:
            print(f"{kind:6} {wt:18} {ms:9.2f} {ort_ms:9.2f} {ms / ort_ms:6.2f} {diff:10.2e} {isa}")


if __name__ == "__main__":
    main()
