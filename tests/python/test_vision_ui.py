"""The web UI's vision panel in Debian's Chromium (headless, Playwright): pick an image, the page posts it to
/v1/images/classify and shows the top classes; they must be the ones `pajamas classify` prints for the
same file (ImageNet names, same probabilities to the 2 decimals shown). Screenshot in the tmp folder."""
import json
import os
import pathlib
import subprocess
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "server"))
from server_harness import PajamasServer  # noqa: E402

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"
SHARED = pathlib.Path(__file__).resolve().parents[3] / "shared"
VIT = SHARED / "fixtures" / "vit"
IMAGE = SHARED / "data" / "images" / "dog.jpg"
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="chromium not installed (./setup.sh)")


def test_vision_panel_classifies_a_picked_image(tmp_path):
    if "PJ_BIN" not in os.environ:
        pytest.skip("PJ_BIN is not set")
    cli = subprocess.run([os.environ["PJ_BIN"], "classify", "-m", str(VIT), str(IMAGE), "--top-k", "5", "--json"],
                         capture_output=True, text=True, check=True)
    want = json.loads(cli.stdout)[0]["results"]
    with PajamasServer("--vision-model", str(VIT), "-t", "2") as s:
        with playwright.sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            page = b.new_page(viewport={"width": 1280, "height": 900})
            page.goto(s.base + "/#vision")
            page.get_by_test_id("vision-file").set_input_files(str(IMAGE))
            rows = page.get_by_test_id("vision-results").locator(".vision-row")
            rows.nth(4).wait_for(timeout=30000)
            got = [rows.nth(i).inner_text() for i in range(5)]
            for g, w in zip(got, want):
                assert w["label"] in g and f"{100 * w['score']:.2f}%" in g, (g, w)
            assert page.get_by_test_id("vision-canvas").is_visible()
            page.screenshot(path=str(tmp_path / "vision.png"))
            b.close()
