"""The web UI in Debian's Chromium (headless, driven by Playwright): the page loads with nothing from
outside the server, a message gets a streamed answer, the stop button stops it, the model picker
switches models, conversations survive a reload, and the models page and placeholders render.
Screenshots (desktop light and dark, phone width, models page) are saved in the test's tmp folder."""
import json
import os
import pathlib
import shutil
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "server"))
from server_harness import SMOLLM2, PajamasServer, convert_fixture  # noqa: E402

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"
pytestmark = [pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="chromium not installed (./setup.sh)"),
              pytest.mark.skipif(not SMOLLM2.exists(), reason="default model not installed (./setup.sh --deps-only)")]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    fixture = convert_fixture("qwen2", d)
    with PajamasServer("-m", str(SMOLLM2), "-m", str(fixture), "-t", "2", "--ctx", "1024") as s:
        yield s


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


def shot(page, tmp_path, name):
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path))
    if os.environ.get("PJ_ARTIFACTS"):  # CI or a developer can collect them
        os.makedirs(os.environ["PJ_ARTIFACTS"], exist_ok=True)
        shutil.copy(path, os.path.join(os.environ["PJ_ARTIFACTS"], path.name))
    return path


def test_chat_streams_switches_model_and_keeps_history(server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 820}, bypass_csp=True)
    outside, bodies = [], []
    page.on("request", lambda r: None if r.url.startswith(server.base) else outside.append(r.url))
    page.on("request", lambda r: bodies.append(json.loads(r.post_data)) if r.url.endswith("/chat/completions") else None)
    # the page's own policy forbids loading anything from elsewhere (Playwright's probes bypass it)
    resp = page.goto(server.base + "/")
    assert "default-src 'self'" in resp.headers["content-security-policy"]
    assert page.title() == "LlamaPajamas"
    picker = page.get_by_test_id("model-picker")
    page.wait_for_function("document.querySelectorAll('#model option').length >= 2")
    options = picker.locator("option").all_inner_texts()
    assert any(o.startswith(SMOLLM2.stem) for o in options) and any(o.startswith("qwen2-fixture") for o in options)
    picker.select_option(SMOLLM2.stem)
    page.get_by_test_id("settings-toggle").click()
    page.eval_on_selector("#s-temp", "e => { e.value = '0'; e.dispatchEvent(new Event('input')); }")
    assert page.locator("#o-temp").inner_text() == "0.00"
    page.fill("#s-max", "48")
    page.get_by_test_id("settings-toggle").click()

    page.get_by_test_id("input").fill("Which city is the capital of France? Answer with the city name.")
    page.get_by_test_id("send").click()
    # while streaming: a growing answer with a cursor, and the stop button
    page.wait_for_selector("[data-testid=assistant-streaming] .bubble .cursor")
    assert page.get_by_test_id("stop").is_visible()
    page.wait_for_selector("[data-testid=assistant-done]", timeout=120000)
    answer = page.locator("[data-testid=assistant-done] .bubble").inner_text()
    assert "Paris" in answer
    assert bodies[-1]["model"] == SMOLLM2.stem and bodies[-1]["stream"] is True and bodies[-1]["temperature"] == 0
    shot(page, tmp_path, "chat-light")

    # switch model: the next request goes to the fixture
    picker.select_option("qwen2-fixture")
    page.get_by_test_id("input").fill("Hello fixture")
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelectorAll('[data-testid=assistant-done]').length >= 2", timeout=60000)
    assert bodies[-1]["model"] == "qwen2-fixture"
    assert [m["role"] for m in bodies[-1]["messages"]] == ["user", "assistant", "user"]

    # history survives a reload (localStorage)
    page.reload()
    page.wait_for_selector(".msg.user")
    assert page.locator(".msg.user .bubble").first.inner_text() == "Which city is the capital of France? Answer with the city name."
    assert page.get_by_test_id("history").locator("li").count() == 1

    page.get_by_test_id("theme").click()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    shot(page, tmp_path, "chat-dark")
    assert outside == [], outside


def test_stop_button_stops_a_long_answer(server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 820}, bypass_csp=True)
    page.goto(server.base + "/")
    page.wait_for_function("document.querySelectorAll('#model option').length >= 2")
    page.get_by_test_id("model-picker").select_option(SMOLLM2.stem)
    page.get_by_test_id("input").fill("Write a very long essay about the history of bread.")
    page.get_by_test_id("send").click()
    page.wait_for_selector("[data-testid=assistant-streaming] .bubble .cursor")
    page.wait_for_function("document.querySelector('[data-testid=assistant-streaming] .bubble').innerText.length > 20",
                           timeout=60000)
    page.get_by_test_id("stop").click()
    page.wait_for_selector("[data-testid=assistant-done]", timeout=10000)
    assert page.locator("#statusline").inner_text() == "Stopped."
    assert page.get_by_test_id("send").is_visible()


def test_models_page_placeholders_and_phone_width(server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 820}, bypass_csp=True)
    page.goto(server.base + "/#models")
    rows = page.get_by_test_id("models-table").locator("tbody tr")
    rows.first.wait_for()
    text = page.get_by_test_id("models-table").inner_text()
    assert "Q4_1" in text and "llama" in text and "qwen2" in text and "MiB" in text
    shot(page, tmp_path, "models")
    for view, title in (("quantize", "Quantize"), ("evaluate", "Evaluate")):  # vision: test_vision_ui.py
        page.click(f".nav a[data-view={view}]")
        assert page.locator("#ph-title").inner_text() == title

    phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, bypass_csp=True)
    phone.goto(server.base + "/")
    assert not phone.locator("#sidebar").is_visible() or phone.locator("#sidebar").bounding_box()["x"] < 0
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    phone.click("#menu")
    phone.wait_for_timeout(300)
    assert phone.locator("#sidebar").bounding_box()["x"] >= 0
    shot(phone, tmp_path, "phone-menu")
    phone.click("#scrim", position={"x": 370, "y": 400})
    phone.wait_for_timeout(300)
    phone.get_by_test_id("input").fill("Hi")
    shot(phone, tmp_path, "phone")
