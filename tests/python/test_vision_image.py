"""Image decoding and resampling judged by Pillow (the library transformers' image processors use).

`image_tool` (tests/image/tools, built next to pajamas) decodes/resizes with our code and writes the raw
RGB bytes; Pillow does the same from the same file. Tolerances:
  * PNG, BMP, GIF, lossless WebP: exact (no arithmetic beyond palette/bit-depth conversion).
  * JPEG: both sides run libjpeg-turbo's default islow IDCT and fancy upsampling, so exact is expected;
    we allow a max difference of 1 level in case Pillow's bundled libjpeg-turbo differs from Debian's.
  * resize (nearest/bilinear/bicubic): exact; our coefficients follow Pillow's fixed-point scheme.
"""
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

PIL = pytest.importorskip("PIL")
from PIL import Image, ImageOps  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
IMAGES = REPO.parent / "shared" / "data" / "images"
FIXTURES = REPO.parent / "shared" / "fixtures"


def tool() -> Path:
    if "PJ_BIN" not in os.environ:
        pytest.skip("PJ_BIN is not set (scripts/test.sh sets it to the pajamas binary)")
    p = Path(os.environ["PJ_BIN"]).parent / "image_tool"
    assert p.exists(), f"{p} missing: build the image_tool target (tests/image/tools)"
    return p


def ours(path, tmp_path, *ops):
    out = tmp_path / "out.raw"
    r = subprocess.run([str(tool()), str(path), str(out), *ops], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    data = out.read_bytes()
    head, raw = data.split(b"\n", 1)
    w, h = map(int, head.split())
    return np.frombuffer(raw, np.uint8).reshape(h, w, 3), r.stdout


def maxdiff(a, b):
    assert a.shape == b.shape, (a.shape, b.shape)
    return int(np.abs(a.astype(int) - b.astype(int)).max())


@pytest.mark.parametrize("name", sorted(p.name for p in IMAGES.iterdir()))
def test_decode_shared_images_like_pillow(name, tmp_path):
    got, _ = ours(IMAGES / name, tmp_path)
    want = np.asarray(ImageOps.exif_transpose(Image.open(IMAGES / name)).convert("RGB"))
    assert maxdiff(got, want) <= (1 if name.endswith(".jpg") else 0)


@pytest.mark.parametrize("fmt,kw,tol", [
    ("png", {}, 0),
    ("gif", {}, 0),
    ("webp", {"lossless": True}, 0),
    ("webp", {"quality": 80}, 2),  # lossy: libwebp versions may differ in rounding of the YUV->RGB step
    ("bmp", {}, 0),
])
def test_decode_formats_written_by_pillow(fmt, kw, tol, tmp_path):
    src = Image.open(FIXTURES / "inputs" / "image2.png").convert("RGB")
    path = tmp_path / f"img.{fmt}"
    src.save(path, **kw)
    got, _ = ours(path, tmp_path)
    want = np.asarray(Image.open(path).convert("RGB"))
    assert maxdiff(got, want) <= tol


def test_decode_png_with_alpha_palette_and_grey(tmp_path):
    src = Image.open(FIXTURES / "inputs" / "image2.png").convert("RGB")
    for mode in ["RGBA", "P", "L", "LA", "1"]:
        path = tmp_path / f"{mode}.png"
        src.convert(mode).save(path)
        got, _ = ours(path, tmp_path)
        assert maxdiff(got, np.asarray(Image.open(path).convert("RGB"))) == 0, mode


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_like_pillow(orientation, tmp_path):
    src = Image.open(IMAGES / "giraffe.jpg").resize((120, 80))
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "o.jpg"
    src.save(path, exif=exif.tobytes(), quality=95)
    got, _ = ours(path, tmp_path)
    want = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))
    assert maxdiff(got, want) <= 1
    raw, _ = ours(path, tmp_path, "noexif")
    assert raw.shape == (80, 120, 3)


@pytest.mark.parametrize("filt,pil", [("nearest", Image.NEAREST), ("bilinear", Image.BILINEAR),
                                      ("bicubic", Image.BICUBIC)])
@pytest.mark.parametrize("size", [(224, 224), (50, 37), (801, 333), (612, 128), (7, 1000)])
def test_resize_equals_pillow(filt, pil, size, tmp_path):
    path = FIXTURES / "inputs" / "image.png"
    got, _ = ours(path, tmp_path, "resize", str(size[0]), str(size[1]), filt)
    want = np.asarray(Image.open(path).convert("RGB").resize(size, pil))
    assert maxdiff(got, want) == 0


def test_truncated_files_fail_with_the_file_name(tmp_path):
    for name in ["dog.jpg", "cat.bmp"]:
        data = (IMAGES / name).read_bytes()
        bad = tmp_path / name
        bad.write_bytes(data[: len(data) // 3])
        r = subprocess.run([str(tool()), str(bad), str(tmp_path / "o.raw")], capture_output=True, text=True)
        assert r.returncode == 1
        assert name in r.stderr and "truncated" in r.stderr, r.stderr
    src = Image.open(FIXTURES / "inputs" / "image2.png")
    for fmt in ["png", "gif", "webp"]:
        path = tmp_path / f"t.{fmt}"
        src.save(path)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        r = subprocess.run([str(tool()), str(path), str(tmp_path / "o.raw")], capture_output=True, text=True)
        assert r.returncode == 1 and f"t.{fmt}" in r.stderr, (fmt, r.stderr)
