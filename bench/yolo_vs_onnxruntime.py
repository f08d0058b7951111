#!/usr/bin/env python3
"""YOLOv8n latency at 640x640: pajamas (our kernels) next to ONNX Runtime running the same weights, in the
same run, on the same letterboxed image and thread count.

No real yolov8n.pt is available offline, so the weights are random (Ultralytics' own yolov8n.yaml, torch seed
0, BatchNorm as initialised): the same graph, shapes and FLOPs (8.7 GFLOPs at 640) as the real model. (The
test fixture in tests/fixtures_yolo is a width-scaled yolov8 kept small for the repository, not yolov8n.)
The state_dict is saved as float16 safetensors for pajamas; the ONNX file is exported (model.fuse(), opset 17,
static 1x3x640x640) from the same float16-rounded weights, and its output is checked against PyTorch's.

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


def export(onnx_path, st_path):
    """Random yolov8n -> float16 state_dict (safetensors) and ONNX; returns the PyTorch model."""
    import torch
    from safetensors.torch import save_file
    from ultralytics import YOLO

    torch.manual_seed(0)
    yolo = YOLO("yolov8n.yaml")
    sd = {k: v.detach().half().contiguous() for k, v in yolo.model.state_dict().items() if v.dtype.is_floating_point}
    save_file(sd, str(st_path))
    yolo.model.load_state_dict({k: v.float() for k, v in sd.items()}, strict=False)
    model = yolo.model.eval().fuse()
    det = model.model[-1]
    det.export = True  # return the (1, 84, 8400) tensor alone, as Ultralytics' exporter does
    det.format = "onnx"
    x = torch.zeros(1, 3, 640, 640)
    torch.onnx.export(model, x, str(onnx_path), opset_version=17, input_names=["images"], output_names=["output0"],
                      dynamo=False)
    return model


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
        onnx_path, st_path = Path(tmp) / "yolov8n_random.onnx", Path(tmp) / "yolov8n_random.safetensors"
        model = export(onnx_path, st_path)
        so = ort.SessionOptions()
        so.intra_op_num_threads = a.threads
        so.inter_op_num_threads = 1
        sess = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
        img = LetterBox(new_shape=(640, 640), auto=False)(image=cv2.imread(a.image))[:, :, ::-1]
        x = np.ascontiguousarray(img.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0
        y = sess.run(None, {"images": x})[0][0]  # warm-up; also checks that ONNX Runtime runs the same network
        import torch
        with torch.no_grad():
            ref = model(torch.from_numpy(x))
        ref = (ref[0] if isinstance(ref, (list, tuple)) else ref)[0].numpy()
        check = float(np.abs(y[4:] - ref[4:]).max())
        times = []
        for _ in range(a.runs):
            t0 = time.perf_counter()
            sess.run(None, {"images": x})
            times.append((time.perf_counter() - t0) * 1000)
        ort_ms = statistics.median(times)

        ours = json.loads(subprocess.run(
            [a.bin, "detect", "-m", str(st_path), a.image, "--bench", str(a.runs),
             "-t", str(a.threads)], capture_output=True, text=True, check=True).stdout)
        print(json.dumps({"threads": a.threads, "runs": a.runs, "onnxruntime_ms_median": round(ort_ms, 2),
                          "onnxruntime_version": ort.__version__, "onnxruntime_max_prob_error_vs_pytorch": check, "pajamas_ms_median": ours["forward_ms_median"],
                          "pajamas_over_onnxruntime": round(ours["forward_ms_median"] / ort_ms, 2)}))


if __name__ == "__main__":
    main()
