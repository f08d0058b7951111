#!/usr/bin/env python3
"""Makes the YOLOv8 reference fixture in this folder (tests/fixtures_yolo/).

Run with a venv that has torch (CPU), ultralytics and safetensors (not the test venv):
    python3 -m venv /root/.cache/pj/yolo-venv
    /root/.cache/pj/yolo-venv/bin/pip install torch torchvision ultralytics==8.4.190 safetensors
    YOLO_OFFLINE=1 /root/.cache/pj/yolo-venv/bin/python tests/fixtures_yolo/make_fixture.py

The model is Ultralytics' own YOLOv8 definition (the package's cfg/models/v8/yolov8.yaml, built with
YOLO(yaml)) at a smaller width so that the weights stay under 1 MB in the repository: yolov8n is depth 0.33,
width 0.25 (6.4 MB in float16); this is depth 0.33 (the n depth: one bottleneck per C2f) and width 0.03125
(backbone widths 8, 8, 8, 16, 32 instead of 16, 32, 64, 128, 256), with the full 80-class Detect head
(16 DFL bins, 64 box and 80 class channels: most of the 0.43 M parameters). Every layer type, the
graph, the DFL head and the post-processing are those of yolov8n..x; only the channel counts differ, and
our loader reads those from the weights.

What it writes:
  model.safetensors      the state_dict (random weights, seed 0, float16, BatchNorm not fused; names as
                         Ultralytics has them: model.<i>.conv.weight, model.<i>.bn.{weight,bias,running_mean,
                         running_var}); metadata records the yaml's multiples.
  reference.safetensors  the raw model output (float32 (84, A): xywh in input pixels after DFL decoding,
                         then 80 class sigmoids) for one non-letterboxed input that needs no resampling: the
                         320x256 (w x h) crop of grace_hopper.bmp at x=96, y=64 (`output_grace_crop`; BMP is
                         lossless, so the test rebuilds the exact input from ../shared).
  reference.json         for every image in ../shared/data/images: original size, letterbox scale/pad (640,
                         grey 114), and the boxes after Ultralytics' non_max_suppression (conf 0.25, iou 0.45,
                         class-wise) both in letterbox pixels and after scale_boxes in original image pixels
                         (x1, y1, x2, y2, conf, class).

Random weights give almost no confident boxes (Detect.bias_init puts class logits near -10), so the
parameters are set: every BatchNorm gets the running mean/variance of the images themselves (as after
training), weight 1 + N(0, 0.1) and bias N(0, 0.1) (so a forgotten BN term shows), and the class biases of
the last head convs are shifted so that a few tens of candidates per image pass conf 0.25 (so NMS has work
to do). References are computed in float64 from the float16-rounded weights and stored as float32.
"""
import json
import os
import sys

import tempfile

import cv2
import numpy as np
import torch
import yaml
from safetensors.torch import save_file

from ultralytics import YOLO
from ultralytics.data.augment import LetterBox
from ultralytics.utils import nms as unms
from ultralytics.utils import ops as uops

HERE = os.path.dirname(os.path.abspath(__file__))
IMAGES = os.path.join(HERE, "..", "..", "..", "shared", "data", "images")
CONF, IOU = 0.25, 0.45
DEPTH, WIDTH = 0.33, 0.03125
CROP = ("grace_hopper.bmp", 96, 64, 320, 256)  # image, x, y, w, h


def make_yolo():
    """YOLO() on the package's own yolov8.yaml with one scale (DEPTH, WIDTH) instead of n/s/m/l/x."""
    import ultralytics
    cfg_path = os.path.join(os.path.dirname(ultralytics.__file__), "cfg", "models", "v8", "yolov8.yaml")
    with open(cfg_path) as f:
        cfg = yaml.safe_load(f)
    cfg.pop("scales")
    cfg.update(depth_multiple=DEPTH, width_multiple=WIDTH, max_channels=1024, nc=80)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "yolov8-fixture.yaml")
        with open(path, "w") as f:
            yaml.safe_dump(cfg, f)
        return YOLO(path)


def main():
    torch.manual_seed(0)
    yolo = make_yolo()
    model = yolo.model.eval()
    names = sorted(os.listdir(IMAGES))

    def letterbox(path, size):
        bgr = cv2.imread(path)
        lb = LetterBox(new_shape=(size, size), auto=False, scaleup=True, center=True, stride=32)
        return bgr.shape[:2], lb(image=bgr)[:, :, ::-1].copy()  # RGB

    def to_tensor(img_u8):
        return torch.from_numpy(img_u8.copy()).permute(2, 0, 1)[None] / 255.0

    # Random convolutions make activations vanish or explode over 20 layers, so the BatchNorm running
    # statistics are set to the true statistics of the images (one cumulative pass in training mode),
    # as a trained network would have them; then the affine terms are perturbed.
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    with torch.no_grad():
        model(torch.cat([to_tensor(letterbox(os.path.join(IMAGES, nm), 640)[1]) for nm in names]))
    model.eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in bns:
            n = m.num_features
            m.momentum = 0.03
            m.weight.copy_(1 + 0.1 * torch.randn(n, generator=g))
            m.bias.copy_(0.1 * torch.randn(n, generator=g))
    det = model.model[-1]

    sd = {k: v.detach().clone() for k, v in model.state_dict().items() if v.dtype.is_floating_point}

    def run(img_u8):  # img_u8: (H, W, 3) RGB uint8 letterboxed -> (84, A) float64
        x = to_tensor(img_u8).double()
        with torch.no_grad():
            y = model(x)
        return (y[0] if isinstance(y, (list, tuple)) else y)[0]

    # Shift the class biases of each level: put the 99.7th percentile of the level's max class logits
    # (over all images) at logit +0.5 (sigmoid 0.62), so that roughly the top 0.3% of its anchors pass
    # conf 0.25.
    model.double()
    for k, v in sd.items():  # the float16-rounded weights are the model
        model.state_dict()[k].copy_(v.half().double())
    logits = []
    for nm in names:
        _, img = letterbox(os.path.join(IMAGES, nm), 640)
        y = run(img)[4:].clamp(1e-12, 1 - 1e-12)
        logits.append(torch.logit(y).max(0).values)
    logits = torch.stack(logits)  # (images, 8400): levels of 6400, 1600, 400 anchors
    with torch.no_grad():
        for seq, (a, b) in zip(det.cv3, [(0, 6400), (6400, 8000), (8000, 8400)]):
            seq[-1].bias += 0.5 - torch.quantile(logits[:, a:b].flatten(), 0.997).item()
    sd = {k: v.detach().clone().half() for k, v in model.state_dict().items() if v.dtype.is_floating_point}
    for k, v in sd.items():
        model.state_dict()[k].copy_(v.double())
    save_file({k: v.contiguous() for k, v in sd.items()}, os.path.join(HERE, "model.safetensors"),
              metadata={"source": "ultralytics yolov8.yaml at depth %g width %g, random, see make_fixture.py" % (DEPTH, WIDTH)})

    ref, out = {}, {"conf": CONF, "iou": IOU, "images": {}, "sppf_cv1_act": type(model.model[9].cv1.act).__name__,
                    "depth_multiple": DEPTH, "width_multiple": WIDTH, "crop": list(CROP),
                    "ultralytics": __import__("ultralytics").__version__, "torch": torch.__version__}
    for nm in names:
        path = os.path.join(IMAGES, nm)
        (h0, w0), img = letterbox(path, 640)
        y = run(img)
        key = os.path.splitext(nm)[0]
        pred = unms.non_max_suppression(y[None].float(), CONF, IOU, classes=None, agnostic=False, max_det=300)[0]
        boxes = pred[:, :4].clone()
        boxes = uops.scale_boxes((640, 640), boxes, (h0, w0))
        gain = min(640 / h0, 640 / w0)
        out["images"][nm] = {
            "width": w0, "height": h0, "scale": gain,
            "pad_x": round((640 - w0 * gain) / 2 - 0.1), "pad_y": round((640 - h0 * gain) / 2 - 0.1),
            "candidates": int((y[4:].max(0).values > CONF).sum()),
            "boxes_letterbox": [[round(float(v), 4) for v in r] for r in pred.tolist()],
            "boxes": [[round(float(b), 4) for b in bx] + [round(float(p[4]), 6), int(p[5])]
                      for bx, p in zip(boxes.tolist(), pred.tolist())],
        }
        print(nm, w0, h0, "candidates", out["images"][nm]["candidates"], "boxes", len(pred), file=sys.stderr)
    nm, cx, cy, cw, ch = CROP
    img = cv2.imread(os.path.join(IMAGES, nm))[cy:cy + ch, cx:cx + cw, ::-1].copy()  # RGB
    ref["output_grace_crop"] = run(img).float().contiguous()
    save_file(ref, os.path.join(HERE, "reference.safetensors"))
    with open(os.path.join(HERE, "reference.json"), "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
