"""The web UI's speech panel in Debian's Chromium (Playwright): the microphone is Chromium's fake capture
device fed from a WAV of jfk.flac (--use-file-for-fake-audio-capture), the panel records it with
MediaRecorder (WebM/Opus), posts it to /v1/audio/transcriptions and shows segments with timestamps."""
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "server"))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from server_harness import SHARED, SMOLLM2, PajamasServer  # noqa: E402
from test_whisper_cli import MODEL, normalizer  # noqa: E402

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"
pytestmark = [pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="chromium not installed (./setup.sh)"),
              pytest.mark.skipif(not (MODEL / "model.bin").exists(), reason="tiny.en not installed (./setup.sh)"),
              pytest.mark.skipif(not shutil.which("ffmpeg"), reason="ffmpeg tool not installed")]


def test_speech_panel_records_fake_microphone(tmp_path):
    wav = tmp_path / "jfk.wav"  # Chromium's fake capture wants 16-bit PCM WAV; it loops the file
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(SHARED / "data" / "audio" / "jfk.flac"), "-ac", "1", "-ar",
                    "48000", "-c:a", "pcm_s16le", str(wav)], check=True)
    with PajamasServer("--speech-model", str(MODEL), "-m", str(SMOLLM2), "-t", "2") as server:
        with playwright.sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                  args=["--no-sandbox", "--use-fake-ui-for-media-stream",
                                        "--use-fake-device-for-media-stream",
                                        f"--use-file-for-fake-audio-capture={wav}"])
            ctx = b.new_context(permissions=["microphone"], bypass_csp=True)  # the page forbids eval; wait_for_function needs it
            page = ctx.new_page()
            page.goto(server.base + "/#speech")
            page.get_by_test_id("speech-record").click()
            page.wait_for_timeout(12500)  # a little more than the 11 s of jfk
            page.get_by_test_id("speech-stop").click()
            page.wait_for_function("document.getElementById('speech-status').textContent.startsWith('Done')",
                                   timeout=600_000)
            segs = page.locator("[data-testid=speech-segment]")
            texts = [segs.nth(i).inner_text() for i in range(segs.count())]
            page.screenshot(path=str(tmp_path / "speech.png"))
            b.close()
    joined = " ".join(texts)
    print("speech panel:", texts)
    assert texts and all(re.match(r"\[\d\d:\d\d\.\d\d \u2192 \d\d:\d\d\.\d\d\]", t) for t in texts), texts
    norm = normalizer()
    # The recording starts wherever the looping fake device is; the whole sentence must be in it.
    assert "ask not what your country can do for you" in norm(joined), joined
