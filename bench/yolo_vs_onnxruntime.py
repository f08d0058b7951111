#!/usr/bin/env python3
"""YOLOv8n latency at 640x640: pajamas (our kernels) next to ONNX Runtime running the same weights, in the
same run, on the same letterboxed image and thread count.

No real yolov8n.pt is available offline, so the weights are the fixture's (tests/fixtures_yolo: Ultralytics'
own yolov8n.yaml, random weights): the same graph, shapes and FLOPs (8.7 GFLOPs at 640) as the real model.
The ONNX file is exported by Ultralytics (model.fuse(), opset 17, static 1x3x640x640) from those weights.

Run with the venv that has torch, ultralytics and onnxruntime (see tests/fixtures_yolo/make_fixture.py):
    YOLO_OFFLINE=1 /root/.cache/pj/yolo-venv/bin/python bench/yolo_vs_onnxruntime.py [--bin build/pajamas]
        [--threads 2] [--runs 10] [--image ../shared/data/images/dog.jpg]
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
FIXTURE = REPO / "tests" / "fixtures_yolo"


def export_onnx(path):
    import torch
    from safetensors.torch import load_file
    from ultralytics import YOLO

    yolo = YOLO("yolov8n.yaml")
    sd = load_file(str(FIXTURE / "model.safetensors"))
    yolo.model.load_state_dict({k: v.float() for k, v in sd.items()}, strict=False)
    model = yolo.model.eval().fuse()
    det = model.model[-1]
    det.export = True  # return the (1, 84, 8400) tensor alone, as Ultralytics' exporter does
    det.format = "onnx"
    x = torch.zeros(1, 3, 640, 640)
    torch.onnx.export(model, x, str(path), opset_version=17, input_names=["images"], output_names=["output0"],
                      dynamo=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(REPO / "build" / "pajamas"))
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--image", default=str(REPO.parent / "shared" / "data" / "images" / "dog.jpg"))
    a = ap.parse_args()

    import cv2
    import onnxruntime as ort
    from ultralytics.data.augment import LetterBox

    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = Path(tmp) / "yolov8n_fixture.onnx"
        export_onnx(onnx_path)
        so = ort.SessionOptions()
        so.intra_op_num_threads = a.threads
        so.inter_op_num_threads = 1
        sess = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
        img = LetterBox(new_shape=(640, 640), auto=False)(image=cv2.imread(a.image))[:, :, ::-1]
        x = np.ascontiguousarray(img.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0
        y = sess.run(None, {"images": x})[0][0]  # warm-up; also checks that ONNX Runtime runs the same network
        check = ""
        if Path(a.image).name == "dog.jpg":
            from safetensors.numpy import load_file
            ref = load_file(str(FIXTURE / "reference.safetensors"))["output_dog"]
            check = float(np.abs(y[4:] - ref[4:]).max())
        times = []
        for _ in range(a.runs):
            t0 = time.perf_counter()
            sess.run(None, {"images": x})
            times.append((time.perf_counter() - t0) * 1000)
        ort_ms = statistics.median(times)

        ours = json.loads(subprocess.run(
            [a.bin, "detect", "-m", str(FIXTURE / "model.safetensors"), a.image, "--bench", str(a.runs),
             "-t", str(a.threads)], capture_output=True, text=True, check=True).stdout)
        print(json.dumps({"threads": a.threads, "runs": a.runs, "onnxruntime_ms_median": round(ort_ms, 2),
                          "onnxruntime_version": ort.__version__, "onnxruntime_max_prob_error_vs_fixture": check, "pajamas_ms_median": ours["forward_ms_median"],
                          "pajamas_over_onnxruntime": round(ours["forward_ms_median"] / ort_ms, 2)}))


if __name__ == "__main__":
    main()
