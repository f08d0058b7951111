"""Malformed or mismatched LLM files give a clear error naming the file and the problem, never a crash.

Each bad GGUF is built here from a good one (`pajamas convert` of the llama fixture) by rewriting it
with the `gguf` package, changing one thing; a control copy with no change must still run, so a failure
cannot come from the rewriting itself.
"""
import os
import pathlib
import subprocess

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")
from gguf import GGUFReader, GGUFValueType, GGUFWriter  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
PJ = os.environ.get("PJ_BIN", str(ROOT / "build" / "pajamas"))


def field_value(f):
    vt = f.types[0]
    if vt == GGUFValueType.ARRAY:
        if f.types[1] == GGUFValueType.STRING:
            return [bytes(f.parts[i]).decode("utf-8", "surrogateescape") for i in f.data]
        return [f.parts[i].tolist()[0] for i in f.data]
    if vt == GGUFValueType.STRING:
        return bytes(f.parts[f.data[0]]).decode()
    return f.parts[f.data[0]].tolist()[0]


def rewrite(src, dst, *, drop_tensor=None, tensor_fn=None, set_kv=None, drop_kv=None):
    """Copies src to dst with one change: a tensor dropped or transformed, a key dropped or replaced."""
    r = GGUFReader(src)
    w = GGUFWriter(str(dst), arch=None)
    set_kv = set_kv or {}
    for name, f in r.fields.items():
        if name.startswith("GGUF.") or name == drop_kv:
            continue
        value = set_kv.get(name, field_value(f))
        sub = f.types[1] if f.types[0] == GGUFValueType.ARRAY else None
        w.add_key_value(name, value, f.types[0], sub_type=sub)
    for t in r.tensors:
        if t.name == drop_tensor:
            continue
        data = np.array(t.data)
        if tensor_fn and t.name == tensor_fn[0]:
            data = tensor_fn[1](data)
        w.add_tensor(t.name, data, raw_dtype=t.tensor_type)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return dst


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    out = tmp_path_factory.mktemp("malformed") / "good.gguf"
    subprocess.run([PJ, "convert", str(SHARED / "fixtures" / "llama"), "-o", str(out), "--outtype", "f32"],
                   check=True, capture_output=True)
    return out


def run_model(path):
    return subprocess.run([PJ, "run", "-m", str(path), "--raw", "-p", "hello", "-n", "2"],
                          capture_output=True, text=True, timeout=120)


def expect_error(path, *needles):
    p = run_model(path)
    assert p.returncode == 1, (p.returncode, p.stderr)  # an error, not a crash (which is < 0 or 134)
    err = p.stderr.strip().splitlines()[-1]
    assert err.startswith("pajamas: error:") and path.name in err, err
    for n in needles:
        assert n in err, err
    return err


def test_unchanged_copy_runs(good, tmp_path):
    p = run_model(rewrite(good, tmp_path / "copy.gguf"))
    assert p.returncode == 0, p.stderr


def test_missing_tensor(good, tmp_path):
    bad = rewrite(good, tmp_path / "missing_tensor.gguf", drop_tensor="blk.1.attn_k.weight")
    expect_error(bad, "missing tensor 'blk.1.attn_k.weight'")


def test_wrong_shape(good, tmp_path):
    bad = rewrite(good, tmp_path / "wrong_shape.gguf", tensor_fn=("blk.0.ffn_up.weight", lambda d: d[:-1]))
    expect_error(bad, "'blk.0.ffn_up.weight'", "shape", "expected")


def test_unknown_architecture(good, tmp_path):
    bad = rewrite(good, tmp_path / "unknown_arch.gguf", set_kv={"general.architecture": "frobnicator"})
    expect_error(bad, "'frobnicator'", "not supported")


def test_missing_hyperparameter(good, tmp_path):
    bad = rewrite(good, tmp_path / "missing_key.gguf", drop_kv="llama.attention.head_count")
    expect_error(bad, "missing key 'llama.attention.head_count'")


def test_vocab_larger_than_embedding(good, tmp_path):
    r = GGUFReader(good)
    tokens = field_value(r.fields["tokenizer.ggml.tokens"])
    types = field_value(r.fields["tokenizer.ggml.token_type"])
    n = len(tokens)
    bad = rewrite(good, tmp_path / "vocab.gguf", set_kv={
        "tokenizer.ggml.tokens": tokens + [f"<extra_{i}>" for i in range(5)],
        "tokenizer.ggml.token_type": types + [4] * 5})
    expect_error(bad, f"tokenizer has {n + 5} tokens", f"embedding only {n} rows")


def test_tokenizer_arrays_disagree(good, tmp_path):
    r = GGUFReader(good)
    tokens = field_value(r.fields["tokenizer.ggml.tokens"])
    bad = rewrite(good, tmp_path / "types.gguf", set_kv={"tokenizer.ggml.tokens": tokens[:-5]})
    expect_error(bad, "token types", f"{len(tokens) - 5} tokens")
