"""GGUF interoperability with the reference implementation, the `gguf` PyPI package (gguf-py, llama.cpp's
own Python GGUF library).

Both directions:
  * gguf-py writes, we read: GGUFWriter makes a file with every metadata type and a tensor of every
    ggml type gguf-py knows; `pajamas -v info --json` must report the same keys, types, values, tensor
    names, types, shapes, offsets and byte sizes (the last two check our ggml type table against
    gguf-py's GGML_QUANT_SIZES).
  * we write, gguf-py reads: `gguf_roundtrip` (tests/gguf/tools, built next to pajamas) reads a file
    with our reader and writes it back with our writer; GGUFReader must see the same fields and tensor
    bytes, compared exactly.
Floats are compared exactly (bit patterns for NaN): nothing in this path does arithmetic on them.
"""
import json
import math
import os
import struct
import subprocess
from pathlib import Path

import gguf
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "data" / "examples" / "tiny-llama.gguf"
VT = gguf.GGUFValueType
QT = gguf.GGMLQuantizationType


def pj_bin() -> Path:
    if "PJ_BIN" not in os.environ:
        pytest.skip("PJ_BIN is not set (scripts/test.sh sets it to the pajamas binary)")
    return Path(os.environ["PJ_BIN"])


def roundtrip_bin() -> Path:
    p = pj_bin().parent / "gguf_roundtrip"
    assert p.exists(), f"{p} missing: build the gguf_roundtrip target (tests/gguf/tools)"
    return p


def info_json(path: Path) -> dict:
    r = subprocess.run([str(pj_bin()), "-v", "info", str(path), "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def run_roundtrip(src: Path, dst: Path) -> None:
    r = subprocess.run([str(roundtrip_bin()), str(src), str(dst)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


# Scalars: (key, GGUF type, value). Integer widths at their limits, float specials, UTF-8 strings.
SCALARS = [
    ("t.u8.max", VT.UINT8, 255), ("t.u8.min", VT.UINT8, 0),
    ("t.i8.min", VT.INT8, -128), ("t.i8.max", VT.INT8, 127),
    ("t.u16.max", VT.UINT16, 65535), ("t.i16.min", VT.INT16, -32768),
    ("t.u32.max", VT.UINT32, 2**32 - 1), ("t.i32.min", VT.INT32, -2**31),
    ("t.u64.max", VT.UINT64, 2**64 - 1), ("t.i64.min", VT.INT64, -2**63), ("t.i64.max", VT.INT64, 2**63 - 1),
    ("t.f32", VT.FLOAT32, 0.1), ("t.f32.tiny", VT.FLOAT32, 1e-45), ("t.f32.big", VT.FLOAT32, 3.4028234663852886e38),
    ("t.f32.nan", VT.FLOAT32, float("nan")), ("t.f32.inf", VT.FLOAT32, float("inf")),
    ("t.f32.ninf", VT.FLOAT32, float("-inf")), ("t.f32.negzero", VT.FLOAT32, -0.0),
    ("t.f64", VT.FLOAT64, 0.1), ("t.f64.max", VT.FLOAT64, 1.7976931348623157e308),
    ("t.bool.t", VT.BOOL, True), ("t.bool.f", VT.BOOL, False),
    ("t.str", VT.STRING, "llama"), ("t.str.utf8", VT.STRING, "héllo ✓ 日本語 🦙"), ("t.str.empty", VT.STRING, ""),
]
# Arrays: (key, element type, items).
ARRAYS = [
    ("a.u8", VT.UINT8, [0, 1, 255]), ("a.i8", VT.INT8, [-128, 127]), ("a.u16", VT.UINT16, [0, 65535]),
    ("a.i16", VT.INT16, [-32768, 32767]), ("a.u32", VT.UINT32, [2**32 - 1, 0]), ("a.i32", VT.INT32, [-2**31, 5]),
    ("a.u64", VT.UINT64, [2**64 - 1]), ("a.i64", VT.INT64, [-2**63, 2**63 - 1]),
    ("a.f32", VT.FLOAT32, [0.5, -1.25, float("inf")]), ("a.f64", VT.FLOAT64, [math.pi, -0.0]),
    ("a.bool", VT.BOOL, [True, False, True]), ("a.str", VT.STRING, ["<s>", "", "▁the", "x" * 300]),
    ("a.long", VT.INT32, list(range(100))),
]
NESTED = ("a.nested", [[1, 2], [3]])  # gguf-py infers int32 for Python ints


def quant_tensors():
    """A tensor of every ggml type gguf-py knows: 3 rows of 2 blocks, deterministic random bytes."""
    rng = np.random.default_rng(7)
    out = []
    for qt, (block, type_size) in gguf.GGML_QUANT_SIZES.items():
        if qt == QT.Q8_1:
            continue  # gguf-py's size is stale; see test_q8_1_size_follows_ggml
        raw = rng.integers(0, 256, size=(3, 2 * type_size), dtype=np.uint8)
        out.append((f"t.{qt.name}", qt, raw, [2 * block, 3]))
    return out


def write_reference_file(path: Path) -> list:
    w = gguf.GGUFWriter(str(path), arch="llama")
    for key, vt, val in SCALARS:
        w.add_key_value(key, val, vt)
    for key, vt, items in ARRAYS:
        w.add_key_value(key, items, VT.ARRAY, sub_type=vt)
    w.add_array(*NESTED)
    tensors = quant_tensors()
    for name, qt, raw, _ in tensors:
        w.add_tensor(name, raw, raw_dtype=qt)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return tensors


def expected_json_number(vt, v):
    if vt in (VT.FLOAT32, VT.FLOAT64):
        f = float(np.float32(v)) if vt == VT.FLOAT32 else float(v)
        if math.isnan(f):
            return "nan"
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        return f
    return v


def same(a, b) -> bool:
    """Equality that also distinguishes -0.0 from 0.0."""
    if isinstance(a, float) and isinstance(b, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    return a == b and type(a) is type(b)


def test_we_read_what_gguf_py_writes(tmp_path):
    path = tmp_path / "ref.gguf"
    tensors = write_reference_file(path)
    info = info_json(path)
    md = {m["key"]: m for m in info["metadata"]}
    keys = [m["key"] for m in info["metadata"]]
    assert keys == ["general.architecture"] + [k for k, _, _ in SCALARS] + [k for k, _, _ in ARRAYS] + [NESTED[0]]

    for key, vt, val in SCALARS:
        m = md[key]
        assert m["type"] == vt.name.lower(), key
        want = expected_json_number(vt, val)
        assert same(m["value"], want), (key, m["value"], want)
    for key, vt, items in ARRAYS:
        m = md[key]
        assert (m["type"], m["element_type"], m["length"]) == ("array", vt.name.lower(), len(items)), key
        assert "truncated" not in m, "-v must print whole arrays"
        want = [expected_json_number(vt, v) for v in items]
        assert len(m["value"]) == len(want) and all(same(a, b) for a, b in zip(m["value"], want)), key
    nested = md[NESTED[0]]
    assert nested["element_type"] == "array"
    assert [(e["element_type"], e["value"]) for e in nested["value"]] == [("int32", [1, 2]), ("int32", [3])]

    ref = gguf.GGUFReader(str(path))
    ref_tensors = {t.name: t for t in ref.tensors}
    assert [t["name"] for t in info["tensors"]] == [name for name, *_ in tensors]
    for t, (name, qt, raw, shape) in zip(info["tensors"], tensors):
        r = ref_tensors[name]
        assert t["type"] == qt.name, name
        assert t["shape"] == shape == [int(d) for d in r.shape], name
        assert t["bytes"] == raw.nbytes == int(r.n_bytes), f"{name}: our ggml type table disagrees with gguf-py"
        assert info["data_offset"] + t["offset"] == int(r.data_offset), name
    assert info["totals"]["tensors"] == len(tensors)
    assert info["totals"]["bytes"] == sum(raw.nbytes for _, _, raw, _ in tensors)
    assert info["totals"]["parameters"] == sum(int(np.prod(s)) for *_, s in tensors)


def field_bytes(f) -> bytes:
    return b"".join(np.asarray(p).tobytes() for p in f.parts)


def assert_same_gguf(a: Path, b: Path) -> None:
    ra, rb = gguf.GGUFReader(str(a)), gguf.GGUFReader(str(b))
    assert list(ra.fields) == list(rb.fields)
    for name, fa in ra.fields.items():
        fb = rb.fields[name]
        assert fa.types == fb.types, name
        # Encoded bytes of key, type and value: covers nested arrays, which contents() does not decode.
        assert field_bytes(fa) == field_bytes(fb), name
        if VT.ARRAY not in fa.types[1:]:
            va, vb = fa.contents(), fb.contents()
            assert np.array_equal(np.asarray(va), np.asarray(vb), equal_nan=np.asarray(va).dtype.kind == "f"), name
    assert [t.name for t in ra.tensors] == [t.name for t in rb.tensors]
    for ta, tb in zip(ra.tensors, rb.tensors):
        assert ta.tensor_type == tb.tensor_type, ta.name
        assert list(ta.shape) == list(tb.shape), ta.name
        assert np.array_equal(np.asarray(ta.data).view(np.uint8), np.asarray(tb.data).view(np.uint8)), ta.name


def test_gguf_py_reads_what_we_write(tmp_path):
    src, dst = tmp_path / "ref.gguf", tmp_path / "ours.gguf"
    write_reference_file(src)
    run_roundtrip(src, dst)
    assert_same_gguf(src, dst)
    # Same layout rules as gguf-py (tensors in order, each padded to the alignment): identical bytes.
    assert dst.read_bytes() == src.read_bytes()


def test_custom_alignment_round_trip(tmp_path):
    src, dst = tmp_path / "a64.gguf", tmp_path / "ours.gguf"
    w = gguf.GGUFWriter(str(src), arch="llama")
    w.add_custom_alignment(64)
    w.add_tensor("a", np.arange(3, dtype=np.float32))
    w.add_tensor("b", np.arange(20, dtype=np.float16))
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
    info = info_json(src)
    assert info["alignment"] == 64
    assert [t["offset"] for t in info["tensors"]] == [0, 64]
    run_roundtrip(src, dst)
    assert_same_gguf(src, dst)
    ours = gguf.GGUFReader(str(dst))
    assert ours.alignment == 64
    assert np.array_equal(ours.get_tensor(1).data, np.arange(20, dtype=np.float16))


def pack_str(s: bytes) -> bytes:
    return struct.pack("<Q", len(s)) + s


def test_empty_and_nested_arrays_hand_packed(tmp_path):
    # GGUFWriter refuses empty arrays, but the format allows them: pack such a file by hand.
    kvs = [(b"e.u32", struct.pack("<IIQ", VT.ARRAY, VT.UINT32, 0)),
           (b"e.str", struct.pack("<IIQ", VT.ARRAY, VT.STRING, 0)),
           (b"n.arr", struct.pack("<IIQ", VT.ARRAY, VT.ARRAY, 2)
            + struct.pack("<IQ", VT.UINT16, 2) + struct.pack("<HH", 7, 8)
            + struct.pack("<IQ", VT.STRING, 1) + pack_str(b"hi"))]
    body = b"GGUF" + struct.pack("<IQQ", 3, 1, len(kvs))
    for k, v in kvs:
        body += pack_str(k) + v
    body += pack_str(b"w") + struct.pack("<IQIQ", 1, 8, QT.F32, 0)
    body += b"\0" * (-len(body) % 32) + np.arange(8, dtype=np.float32).tobytes()
    src, dst = tmp_path / "hand.gguf", tmp_path / "ours.gguf"
    src.write_bytes(body)

    md = {m["key"]: m for m in info_json(src)["metadata"]}
    assert (md["e.u32"]["element_type"], md["e.u32"]["length"], md["e.u32"]["value"]) == ("uint32", 0, [])
    assert (md["e.str"]["element_type"], md["e.str"]["value"]) == ("string", [])
    assert [(e["element_type"], e["value"]) for e in md["n.arr"]["value"]] == [("uint16", [7, 8]), ("string", ["hi"])]

    run_roundtrip(src, dst)
    assert dst.read_bytes() == body
    r = gguf.GGUFReader(str(dst))
    assert r.fields["e.u32"].contents() == [] and r.fields["e.str"].contents() == []
    assert np.array_equal(r.get_tensor(0).data, np.arange(8, dtype=np.float32))


def test_example_file_info_matches_gguf_py():
    assert EXAMPLE.exists()
    info = info_json(EXAMPLE)
    ref = gguf.GGUFReader(str(EXAMPLE))
    assert [m["key"] for m in info["metadata"]] == [k for k in ref.fields if not k.startswith("GGUF.")]
    for m in info["metadata"]:
        f = ref.fields[m["key"]]
        if m["type"] == "array":
            want = f.contents()
            got = m["value"]
        else:
            want, got = f.contents(), m["value"]
        if isinstance(want, list) and want and isinstance(want[0], float):
            assert np.array_equal(np.float32(got), np.float32(want)), m["key"]
        elif isinstance(want, float):
            assert np.float32(got) == np.float32(want), m["key"]
        else:
            assert got == want, m["key"]
    assert [(t["name"], t["type"], t["shape"], t["bytes"]) for t in info["tensors"]] == [
        (t.name, t.tensor_type.name, [int(d) for d in t.shape], int(t.n_bytes)) for t in ref.tensors]
    params = sum(int(t.n_elements) for t in ref.tensors)
    nbytes = sum(int(t.n_bytes) for t in ref.tensors)
    assert info["totals"]["parameters"] == params
    assert info["totals"]["bits_per_weight"] == pytest.approx(8 * nbytes / params, rel=1e-12)


def test_info_text_summarises_long_arrays():
    r = subprocess.run([str(pj_bin()), "info", str(EXAMPLE)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    tokens = next(l for l in lines if "tokenizer.ggml.tokens" in l)
    assert "string[32]" in tokens and '"<unk>"' in tokens and "... 24 more" in tokens
    emb = next(l for l in lines if l.strip().startswith("token_embd.weight"))
    assert emb.split()[1:] == ["F16", "[64,", "32]", "4096"]
    assert "5 tensors" in lines[-1] and "bits per weight" in lines[-1]
    # Without -v the JSON summarises long arrays too: first items, the length, a marker.
    r = subprocess.run([str(pj_bin()), "info", str(EXAMPLE), "--json"], capture_output=True, text=True)
    md = {m["key"]: m for m in json.loads(r.stdout)["metadata"]}
    assert md["tokenizer.ggml.tokens"]["length"] == 32 and md["tokenizer.ggml.tokens"]["truncated"] is True
    assert md["tokenizer.ggml.tokens"]["value"] == ["<unk>", "<s>", "</s>", "▁", "e", "t", "a", "o"]


def test_info_on_damaged_file_is_one_clear_error(tmp_path):
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(EXAMPLE.read_bytes()[:5000])
    r = subprocess.run([str(pj_bin()), "info", str(cut)], capture_output=True, text=True)
    assert r.returncode == 1
    assert r.stderr.startswith(f"pajamas: error: gguf: {cut}: tensor '") and "extends past end of file" in r.stderr
    assert r.stderr.count("\n") == 1


def test_q8_1_size_follows_ggml(tmp_path):
    # ggml's block_q8_1 is two fp16 + 32 int8 = 36 bytes (static_assert in ggml-common.h); gguf-py 0.19.0
    # still says 40 (the old two-float layout). We follow ggml. If gguf-py changes, re-check this.
    assert gguf.GGML_QUANT_SIZES[QT.Q8_1] == (32, 40)
    # gguf-py refuses to write a 36-byte-block Q8_1 tensor, so pack the file by hand.
    body = b"GGUF" + struct.pack("<IQQ", 3, 1, 0) + pack_str(b"q") + struct.pack("<IQIQ", 1, 64, QT.Q8_1, 0)
    body += b"\0" * (-len(body) % 32) + bytes(72)
    p = tmp_path / "q81.gguf"
    p.write_bytes(body)
    (t,) = info_json(p)["tensors"]
    assert (t["type"], t["shape"], t["bytes"]) == ("Q8_1", [64], 72)


SMOL = REPO / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.mark.skipif(not SMOL.exists(), reason="default model not installed (./setup.sh installs it)")
def test_real_llama_cpp_model_round_trips_byte_identical(tmp_path):
    # A GGUF made by llama.cpp's own tools: we must read it as gguf-py does and rewrite it unchanged.
    info = info_json(SMOL)
    ref = gguf.GGUFReader(str(SMOL))
    assert [(t["name"], t["type"], t["shape"], t["bytes"], info["data_offset"] + t["offset"]) for t in info["tensors"]] == [
        (t.name, t.tensor_type.name, [int(d) for d in t.shape], int(t.n_bytes), int(t.data_offset)) for t in ref.tensors]
    out = tmp_path / "smol.gguf"
    run_roundtrip(SMOL, out)
    assert out.read_bytes() == SMOL.read_bytes()
