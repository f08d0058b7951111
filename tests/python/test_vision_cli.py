"""pajamas classify / clip and the server's /v1/images/* endpoints on the fixture models.

The models' numbers are judged against transformers in tests/vision (logits within 1e-6 relative); here
the commands around them: ImageNet names replace the fixture's generic label_N (ids must map to the
label file), probabilities sorted and summing to <= 1, runs reproducible, the server returning what the
CLI prints, and bad input failing with a clear error (400/404 with the OpenAI error object).
"""
import base64
import json
import math
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
VIT = SHARED / "fixtures" / "vit"
CLIP = SHARED / "fixtures" / "clip"
IMAGE = SHARED / "data" / "images" / "dog.jpg"


def pj_bin() -> Path:
    if "PJ_BIN" not in os.environ:
        pytest.skip("PJ_BIN is not set (scripts/test.sh sets it to the pajamas binary)")
    return Path(os.environ["PJ_BIN"])


def run(*args):
    return subprocess.run([str(pj_bin()), *map(str, args)], capture_output=True, text=True, timeout=120)


def imagenet():
    names = (SHARED / "data" / "labels" / "imagenet_labels_1001.txt").read_text().splitlines()
    return names[1:]


def test_classify_vit_json_uses_imagenet_names(tmp_path):
    r = run("classify", "-m", VIT, IMAGE, "--top-k", "3", "--json", "--annotate", tmp_path / "a.png")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    res = out[0]["results"]
    assert len(res) == 3
    scores = [x["score"] for x in res]
    assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1.0001
    names = imagenet()
    for x in res:
        assert x["label"] == names[x["id"]]
    assert (tmp_path / "a.png").stat().st_size > 1000
    again = json.loads(run("classify", "-m", VIT, IMAGE, "--top-k", "3", "--json").stdout)
    assert again[0]["results"] == res


def test_clip_embedding_is_unit_length():
    r = run("clip", "-m", CLIP, IMAGE, "--json")
    assert r.returncode == 0, r.stderr
    emb = json.loads(r.stdout)[0]["embedding"]
    assert len(emb) == 32
    assert abs(sum(v * v for v in emb) - 1) < 1e-4


def test_bad_inputs_fail_clearly(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(IMAGE.read_bytes()[:5000])
    r = run("classify", "-m", VIT, bad)
    assert r.returncode == 1 and "broken.jpg" in r.stderr and "truncated" in r.stderr, r.stderr
    r = run("classify", "-m", VIT, IMAGE, "--labels", "cat,dog")
    assert r.returncode == 1 and "CLIP" in r.stderr
    r = run("clip", "-m", VIT, IMAGE)
    assert r.returncode == 1 and "not a CLIP model" in r.stderr
    r = run("classify", "-m", CLIP, IMAGE)
    assert r.returncode == 1 and "--labels" in r.stderr


def read_safetensors(path):
    data = Path(path).read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        dt = {"F32": np.float32, "I64": np.int64}[v["dtype"]]
        out[k] = np.frombuffer(data[8 + n + a:8 + n + b], dt).reshape(v["shape"])
    return out


def test_clip_zero_shot_matches_transformers_logits():
    """The fixture's three texts (their ids come from CLIPTokenizer) through our tokenizer, text tower and
    image pipeline: the probabilities must be the softmax of transformers' logits_per_image. Our
    pixel_values differ from the reference by up to one 8-bit level, so 2e-3 absolute on probabilities."""
    ref = read_safetensors(CLIP / "reference.safetensors")
    texts = ["a photo of a cat", "a photo of a dog in ripe", "writers"]
    for name in ["image", "image2"]:
        r = run("clip", "-m", CLIP, SHARED / "fixtures" / "inputs" / f"{name}.png", "--labels", ",".join(texts),
                "--template", "{label}", "--top-k", "3", "--json")
        assert r.returncode == 0, r.stderr
        got = {d["label"]: d["score"] for d in json.loads(r.stdout)[0]["results"]}
        logits = ref[f"logits_per_image_{name}"].astype(np.float64)
        want = np.exp(logits - logits.max())
        want /= want.sum()
        for t, w in zip(texts, want):
            assert abs(got[t] - w) < 2e-3, (name, t, got[t], w)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def post(port, path, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_server_classify_and_embed():
    port = free_port()
    p = subprocess.Popen([str(pj_bin()), "serve", "--port", str(port), "--vision-model", str(VIT),
                          "--vision-model", str(CLIP)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except Exception:
                time.sleep(0.1)
        img = base64.b64encode(IMAGE.read_bytes()).decode()
        st, body = post(port, "/v1/images/classify", {"model": "vit", "image": img, "top_k": 2})
        assert st == 200, body
        cli = json.loads(run("classify", "-m", VIT, IMAGE, "--top-k", "2", "--json").stdout)[0]["results"]
        assert [d["label"] for d in body["data"]] == [c["label"] for c in cli]
        assert all(abs(a["score"] - b["score"]) < 1e-6 for a, b in zip(body["data"], cli))
        st, body = post(port, "/v1/images/embed", {"model": "clip", "image": "data:image/jpeg;base64," + img})
        assert st == 200, body
        assert body["data"][0]["kind"] == "image" and len(body["data"][0]["embedding"]) == 32
        st, body = post(port, "/v1/images/classify", {"model": "vit", "image": "not base64 !!"})
        assert st == 400 and body["error"]["param"] == "image"
        st, body = post(port, "/v1/images/classify", {"model": "nope", "image": img})
        assert st == 404
    finally:
        p.terminate()
        p.wait(timeout=10)


@pytest.mark.parametrize("outtype,tol", [("f32", 1e-6), ("q8_0", 2e-3)])
def test_convert_to_gguf_then_classify(outtype, tol, tmp_path):
    """pajamas convert of the ViT fixture; the GGUF (F32: the same fp16 values, so the same scores; Q8_0:
    close) classifies like the folder. The gguf package must read the file."""
    out = tmp_path / f"vit-{outtype}.gguf"
    r = run("convert", VIT, "-o", out, "--outtype", outtype)
    assert r.returncode == 0, r.stderr
    import gguf
    reader = gguf.GGUFReader(str(out))
    assert "vision.hf_config" in reader.fields
    assert any(t.name == "classifier.weight" for t in reader.tensors)
    a = json.loads(run("classify", "-m", out, IMAGE, "--top-k", "5", "--json").stdout)[0]["results"]
    b = json.loads(run("classify", "-m", VIT, IMAGE, "--top-k", "5", "--json").stdout)[0]["results"]
    assert a[0]["id"] == b[0]["id"]
    assert max(abs(x["score"] - y["score"]) for x, y in zip(a, b)) < tol


@pytest.mark.parametrize("outtype,tol", [("bf16", 0.03), ("q4_k", 0.55), ("q4_0", 0.55)])
def test_convert_low_bit_types_then_classify(outtype, tol, tmp_path):
    """pajamas convert --outtype takes every weight type for vision models (tests/vision measures each
    type's logit error against transformers). The top-5 scores of the converted file, compared with the
    folder's scores of the same classes as |log ratio| (a logit difference): within tol, twice the largest
    measured (4-bit: 0.27 - random weights, errors ~0.2 of the largest logit; bf16: ~0.01). The gguf
    package must read the file (it knows every ggml type)."""
    out = tmp_path / f"vit-{outtype}.gguf"
    r = run("convert", VIT, "-o", out, "--outtype", outtype)
    assert r.returncode == 0, r.stderr
    import gguf
    reader = gguf.GGUFReader(str(out))
    types = {t.name: t.tensor_type.name for t in reader.tensors}
    assert types["vit.embeddings.patch_embeddings.projection.weight"] == outtype.upper()  # 768-wide rows
    a = json.loads(run("classify", "-m", out, IMAGE, "--top-k", "5", "--json").stdout)[0]["results"]
    b = {x["id"]: x["score"] for x in json.loads(run("classify", "-m", VIT, IMAGE, "--top-k", "1000", "--json").stdout)[0]["results"]}
    for x in a:
        assert abs(math.log(x["score"] / b[x["id"]])) <= tol, (x, b[x["id"]])


def test_convert_refuses_low_bit_types_for_other_models(tmp_path):
    llm = SHARED / "fixtures" / "llama"
    if not llm.exists():
        pytest.skip("no llama fixture")
    r = run("convert", llm, "-o", tmp_path / "x.gguf", "--outtype", "q4_k")
    assert r.returncode == 1 and "q4_k" in r.stderr and "quantize" in r.stderr


def test_classify_tflite_mobilenet(tmp_path):
    """The real MobileNet v2 (uint8 TFLite) through `pajamas classify`: grace_hopper.bmp -> military
    uniform with LiteRT's probability within 0.03 (LiteRT 2.3.0: 0.922; ours 0.930, as in
    tests/vision/test_tflite.cpp: the model's own uint8 softmax output, not renormalised),
    names from the 1001-line label file (index 0 is background), --annotate; --labels is refused; the
    server's /v1/images/classify gives the same."""
    model = SHARED / "data" / "models" / "mobilenet_v2_1.0_224_quant.tflite"
    img = SHARED / "data" / "images" / "grace_hopper.bmp"
    r = run("classify", "-m", model, img, "--top-k", "3", "--json", "--annotate", tmp_path / "g.png")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)[0]["results"]
    assert res[0]["label"] == "military uniform"
    assert abs(res[0]["score"] - 0.922) < 0.03
    names = (SHARED / "data" / "labels" / "imagenet_labels_1001.txt").read_text().splitlines()
    assert all(x["label"] == names[x["id"]] for x in res)
    assert (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"
    r = run("classify", "-m", model, img, "--labels", "a,b")
    assert r.returncode == 1 and "CLIP" in r.stderr
    # The server's classify route serves it too (model id: the file name), with the CLI's numbers.
    port = free_port()
    p = subprocess.Popen([str(pj_bin()), "serve", "--port", str(port), "--vision-model", str(model)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except Exception:
                time.sleep(0.1)
        st, body = post(port, "/v1/images/classify", {"model": model.name, "image": base64.b64encode(img.read_bytes()).decode(),
                                                      "top_k": 3})
        assert st == 200, body
        assert [d["label"] for d in body["data"]] == [x["label"] for x in res]
        assert all(abs(a["score"] - b["score"]) < 1e-6 for a, b in zip(body["data"], res))
    finally:
        p.terminate()
        p.wait(timeout=10)
