"""A bounded load test of `pajamas serve` on loopback: 32 concurrent streaming clients in two rounds
(at most about a minute together) against the tiny fixture model. Every stream must end with
[DONE] and no request may fail; the server's resident memory after the second round must not have
grown past the first (a per-request leak would show as growth proportional to the requests)."""
import json
import pathlib
import sys
import threading
import time
import urllib.request

import psutil

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "server"))
from server_harness import PajamasServer, convert_fixture  # noqa: E402

CLIENTS = 32
ROUND_SECONDS = 20  # two rounds: the whole test stops by itself in well under a minute of load
GROWTH_LIMIT = 24 << 20  # bytes: allocator noise is a few MiB; a leak of even 1 KiB/request over ~1000s of requests shows


def stream_once(base, seed):
    body = json.dumps({"model": "qwen2-fixture", "messages": [{"role": "user", "content": f"client {seed}"}],
                       "max_tokens": 24, "temperature": 1.0, "seed": seed, "stream": True}).encode()
    req = urllib.request.Request(base + "/v1/chat/completions", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        assert r.status == 200
        events = [e for e in r.read().decode().split("\n\n") if e.startswith("data: ")]
    assert events[-1] == "data: [DONE]", events[-3:]
    chunks = [json.loads(e[6:]) for e in events[:-1]]
    assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")
    return len(chunks)


def run_round(base, seconds):
    stop_at = time.time() + seconds
    counts, errors = [0] * CLIENTS, []

    def client(i):
        n = 0
        while time.time() < stop_at:
            try:
                stream_once(base, i * 100000 + n)
                counts[i] += 1
            except Exception as e:  # noqa: BLE001 - every failure is reported
                errors.append(repr(e))
            n += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 90)
    assert not any(t.is_alive() for t in threads), "a client hung"
    return sum(counts), errors


def test_32_streaming_clients(tmp_path):
    model_dir = tmp_path / "models"
    model_dir.mkdir()
    convert_fixture("qwen2", model_dir)
    with PajamasServer("--models-dir", str(model_dir), "--parallel", "4", "-t", "2", "--ctx", "256", "-q") as s:
        proc = psutil.Process(s.pid)
        t0 = time.time()
        done1, errors1 = run_round(s.base, ROUND_SECONDS)
        time.sleep(1)
        rss1 = proc.memory_info().rss
        done2, errors2 = run_round(s.base, ROUND_SECONDS)
        time.sleep(1)
        rss2 = proc.memory_info().rss
        elapsed = time.time() - t0
        print(f"\nload: {done1}+{done2} streams by {CLIENTS} clients in {elapsed:.1f} s; "
              f"RSS {rss1 / 2**20:.1f} -> {rss2 / 2**20:.1f} MiB")
        assert errors1 == [] and errors2 == [], (errors1 + errors2)[:5]
        assert done1 >= CLIENTS and done2 >= CLIENTS  # every client finished at least one stream per round
        assert rss2 - rss1 < GROWTH_LIMIT, (rss1, rss2)
        assert elapsed < 120
        with urllib.request.urlopen(s.base + "/metrics") as r:
            metrics = r.read().decode()
        ok = sum(float(l.split()[-1]) for l in metrics.splitlines()
                 if l.startswith('pajamas_requests_total{endpoint="/v1/chat/completions",status="200"}'))
        assert ok == done1 + done2
