"""Starts `pajamas serve` on a free loopback port for the Python tests (tests/python/test_server_*.py)
and stops it, checking that it exits cleanly."""
import os
import pathlib
import re
import signal
import subprocess
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
PJ = os.environ.get("PJ_BIN", str(ROOT / "build" / "pajamas"))
SMOLLM2 = ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"


def convert_fixture(name, out_dir):
    """The tiny random fixture model `name` as GGUF (fast enough for load tests)."""
    out = pathlib.Path(out_dir) / f"{name}-fixture.gguf"
    if not out.exists():
        subprocess.run([PJ, "convert", str(SHARED / "fixtures" / name), "-o", str(out)], check=True,
                       capture_output=True, timeout=300)
    return out


class PajamasServer:
    def __init__(self, *args, env=None, ready_timeout=120):
        e = dict(os.environ)
        # keep AddressSanitizer's quarantine small so that memory measurements mean something
        e["ASAN_OPTIONS"] = (e.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=8").lstrip(":")
        e.update(env or {})
        self.args = [PJ, "serve", "--port", "0", *args]
        self.proc = subprocess.Popen(self.args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=e, text=True)
        self.log = []
        deadline = time.time() + ready_timeout
        self.port = None
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.log.append(line)
            m = re.search(r"listening on http://([^:]+):(\d+)", line)
            if m:
                self.host, self.port = m.group(1), int(m.group(2))
                break
        if self.port is None:
            self.proc.kill()
            raise RuntimeError(f"server did not start: {''.join(self.log)}")
        # keep draining stderr so that the server never blocks on a full pipe
        self._drain = threading.Thread(target=self._read_log, daemon=True)
        self._drain.start()
        self.base = f"http://127.0.0.1:{self.port}"

    def _read_log(self):
        for line in self.proc.stderr:
            self.log.append(line)

    @property
    def pid(self):
        return self.proc.pid

    def stop(self, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("server did not stop on SIGINT")
        self._drain.join(5)
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        rc = self.stop()
        if exc[0] is None:
            assert rc == 0, f"server exited with {rc}: {''.join(self.log[-30:])}"
