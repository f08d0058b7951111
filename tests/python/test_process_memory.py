"""Resident memory of the LLM commands (issue 11: peak RSS within model file + KV cache + 64 MiB).

Two regressions this guards against: FFmpeg's libraries (and their ~130 dependent shared libraries,
~25 MiB resident) being mapped by commands that never decode audio (core/audio dlopens them on the first
decode), and the process overhead beyond the weights growing past the 64 MiB budget (the tokenizer of a
262k-token vocabulary once took ~40 MiB of it)."""
import mmap
import os
import pathlib
import shutil
import struct
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PJ = os.environ.get("PJ_BIN", str(ROOT / "build" / "pajamas"))
MODELS = [ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf", ROOT / "models" / "gemma-3-270m-Q4_K_M.gguf"]
FFMPEG_LIBS = ("libavformat", "libavcodec", "libavutil", "libswresample", "libavfilter", "libavdevice")


def sanitized():
    """An ASan build keeps shadow memory and quarantined allocations: its RSS says nothing about ours."""
    return b"__asan_init" in pathlib.Path(PJ).read_bytes()


def gguf_ints(path):
    """The integer metadata of a GGUF file, read directly (the layout in core/gguf/gguf.h): gguf-py's reader
    takes ~15 s on Gemma-3's 262k-string vocabulary, this loop well under one."""
    with open(path, "rb") as f:
        data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)  # only the metadata pages are read
    fixed = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, data, pos)[0]
        pos += struct.calcsize(fmt)
        return v

    def string():
        nonlocal pos
        n = take("<Q")
        pos += n
        return bytes(data[pos - n:pos]).decode("utf-8", "replace")

    def skip(t):
        nonlocal pos
        if t == 8:
            n = take("<Q")
            pos += n
        elif t == 9:
            et, n = take("<I"), take("<Q")
            if et in fixed:
                pos += n * struct.calcsize(fixed[et])
            else:
                for _ in range(n):
                    skip(et)
        else:
            pos += struct.calcsize(fixed[t])

    assert data[:4] == b"GGUF"
    pos = 8
    _, n_kv = take("<Q"), take("<Q")
    out = {}
    for _ in range(n_kv):
        key, t = string(), take("<I")
        if t == 8:
            out[key] = string()
        elif t in fixed and t not in (6, 7, 12):
            out[key] = take(fixed[t])
        else:
            skip(t)
    return out


def kv_bytes(path, n_ctx):
    """F16 K and V for n_ctx positions, as bench/run_all.py's gguf_kv_bytes (the issue's KV term)."""
    kv = gguf_ints(path)
    arch = kv["general.architecture"]
    n_head, n_embd = kv[f"{arch}.attention.head_count"], kv[f"{arch}.embedding_length"]
    n_kv = kv.get(f"{arch}.attention.head_count_kv", n_head)
    hd_k = kv.get(f"{arch}.attention.key_length", n_embd // n_head)
    hd_v = kv.get(f"{arch}.attention.value_length", n_embd // n_head)
    return kv[f"{arch}.block_count"] * n_ctx * n_kv * (hd_k + hd_v) * 2


@pytest.mark.parametrize("model", MODELS, ids=lambda p: p.name)
def test_llm_command_does_not_map_ffmpeg(model):
    if not model.exists():
        pytest.skip(f"{model.name} not installed (./setup.sh)")
    # Interactive chat loads the model, then waits on stdin: its mappings can be read while it waits.
    p = subprocess.Popen([PJ, "chat", "-m", str(model), "-t", "1", "-c", "128"], stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        maps = ""
        deadline = time.monotonic() + 120
        while str(model) not in maps:  # mapped by the load, after every library of the executable
            assert p.poll() is None, f"chat exited early ({p.returncode}): {p.stderr.read().decode()}"
            assert time.monotonic() < deadline, "the model was not loaded within 120 s"
            time.sleep(0.05)
            maps = pathlib.Path(f"/proc/{p.pid}/maps").read_text()
        libs = sorted({line.split()[-1] for line in maps.splitlines() if ".so" in line})
        assert not [l for l in libs if any(f"/{n}.so" in l for n in FFMPEG_LIBS)], libs
        # The rest are few (libc, libstdc++, image codecs, cpp-httplib with OpenSSL): not FFmpeg's tree.
        assert len(libs) < 40, libs
    finally:
        p.stdin.close()  # end of input: chat exits
        p.wait(timeout=60)
    assert p.returncode == 0, p.stderr.read().decode()


@pytest.mark.parametrize("model", MODELS, ids=lambda p: p.name)
def test_bench_peak_rss_within_file_kv_and_64_mib(model):
    if not model.exists():
        pytest.skip(f"{model.name} not installed (./setup.sh)")
    if sanitized():
        pytest.skip("sanitizer build: its RSS includes shadow memory")
    time_bin = shutil.which("time", path="/usr/bin")
    if not time_bin:
        pytest.skip("/usr/bin/time missing (setup.sh installs it)")
    # docs/performance.md's peak-RSS setting: pp64 / tg16 at context 80, one thread. /usr/bin/time is the
    # parent, not this Python process, whose high-water mark a forked child would inherit in ru_maxrss.
    out = subprocess.run([time_bin, "-f", "%M", PJ, "bench", "-m", str(model), "-t", "1", "-p", "64", "-n", "16",
                          "-r", "1", "-c", "80"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    peak = int(out.stderr.split()[-1]) * 1024
    limit = model.stat().st_size + kv_bytes(model, 80) + 64 * 2**20
    assert peak <= limit, f"peak RSS {peak / 2**20:.1f} MiB > limit {limit / 2**20:.1f} MiB"
