"""`pajamas evaluate` end to end on a converted fixture model (fast) and, when installed, the default
SmolLM2 model. The judges are outside the binary: jinja2 renders the model's own chat template, a Python
re-statement of the strict rule re-scores every raw output, numpy recomputes the latency statistics,
`pajamas generate` must produce the same greedy reply for the same messages, and html.parser reads the
HTML report."""
import html.parser
import json
import math
import os
import pathlib
import re
import shutil
import subprocess

import jinja2
import jinja2.ext
import jinja2.sandbox
import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
PJ = os.environ.get("PJ_BIN", str(ROOT / "build" / "pajamas"))
DATA = ROOT / "data" / "eval"
DEFAULT_MODEL = ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
ENV = {**os.environ, "PAJAMAS_DATA": str(ROOT / "data")}


def run(*args, check=True, timeout=900):
    p = subprocess.run([PJ, *args], capture_output=True, text=True, timeout=timeout, env=ENV)
    if check and p.returncode != 0:
        raise AssertionError(f"{args} failed ({p.returncode}): {p.stderr}")
    return p


def strip_reasoning(s):
    """The strict rule, restated: cut complete <think> blocks, then an unclosed one to the end, then up to
    an orphan </think>; trim ASCII whitespace."""
    s = re.sub(r"<think>.*?</think>", "", s, flags=re.S)
    if "<think>" in s:
        s = s[: s.index("<think>")]
    if "</think>" in s:
        s = s[s.rindex("</think>") + len("</think>"):]
    return s.strip(" \t\r\n\f\v")


def strict(expected, qtype, parsed):
    if qtype == "tool_args":
        try:
            return json.loads(parsed) == json.loads(expected)
        except ValueError:
            return False
    return parsed == expected


def wilson(c, n, z=1.959963984540054):
    p = c / n
    d = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / d
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, centre - half), min(1.0, centre + half)


def render_hf(template, messages, **extra):
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                                       extensions=[jinja2.ext.loopcontrols])
    return env.from_string(template).render(messages=messages, add_generation_prompt=True, tools=None, **extra)


@pytest.fixture(scope="module")
def fixture_model(tmp_path_factory):
    d = tmp_path_factory.mktemp("evalmodel")
    out = d / "qwen2-fixture.gguf"
    run("convert", str(SHARED / "fixtures" / "qwen2"), "-o", str(out), "--outtype", "f32")
    return out


def check_evaluation(j, n, max_tokens):
    for k in ("format", "model_path", "evaluation_mode", "accuracy", "correct", "total", "avg_time",
              "category_stats", "results", "timestamp"):
        assert k in j, k
    res = j["results"]
    assert j["total"] == len(res) == n
    assert j["correct"] == sum(r["correct"] for r in res)
    assert j["accuracy"] == pytest.approx(j["correct"] / n, abs=1e-12)
    for r in res:
        assert r["parsed_answer"] == strip_reasoning(r["raw_output"]), r["id"]
        assert r["strict_correct"] == strict(r["expected"], r["type"], r["parsed_answer"]), r["id"]
        assert r["correct"] == (r["strict_correct"] if j["evaluation_mode"] == "strict" else r["lenient_correct"])
        assert 0 <= r["generated_tokens"] <= max_tokens
        assert r["finish_reason"] in ("stop", "length")
        assert 0 < r["ttft"] <= r["time"]
    times = np.array([r["time"] for r in res])
    lat = j["latency_seconds"]
    assert lat["mean"] == pytest.approx(times.mean(), rel=1e-9)
    assert lat["median"] == pytest.approx(np.percentile(times, 50), rel=1e-9)
    assert lat["p95"] == pytest.approx(np.percentile(times, 95), rel=1e-9)
    assert j["avg_time"] == pytest.approx(times.mean(), rel=1e-9)
    lo, hi = wilson(j["correct"], n)
    assert j["accuracy_ci95"] == pytest.approx([lo, hi], abs=1e-12)
    gen = sum(r["generated_tokens"] for r in res) / sum(r["generate_seconds"] for r in res)
    assert j["generation_tokens_per_second"] == pytest.approx(gen, rel=1e-9)
    for cat, st in j["category_stats"].items():
        rs = [r for r in res if r["category"] == cat]
        assert st["total"] == len(rs) and st["correct"] == sum(r["correct"] for r in rs)
    assert 1 << 20 < j["peak_rss_bytes"] < 1 << 36


def test_fixture_model_run_is_recorded_and_scored(fixture_model, tmp_path):
    out = tmp_path / "e.json"
    run("evaluate", "llm", "-m", str(fixture_model), "--num-questions", "6", "-n", "6", "-t", "1", "-o", str(out))
    j = json.loads(out.read_text())
    check_evaluation(j, 6, 6)
    assert j["evaluation_mode"] == "strict" and j["complete"] and j["thinking"] == "off"
    assert j["quant_type"] == "F32" and j["model_size_bytes"] == fixture_model.stat().st_size
    # one question from each of the six categories
    assert sorted(r["category"] for r in j["results"]) == sorted(
        ["knowledge", "common_sense", "math", "reasoning", "truthfulness", "tool_calling"])
    template = json.loads((SHARED / "fixtures" / "qwen2" / "tokenizer_config.json").read_text())["chat_template"]
    for r in j["results"][:3]:
        msgs = [{"role": "system", "content": r["system_prompt"]}, {"role": "user", "content": r["user_prompt"]}]
        assert r["prompt"] == render_hf(template, msgs)  # the model's own template, rendered as HF does
        # the same greedy reply as `pajamas generate` with the same messages
        g = run("generate", "-m", str(fixture_model), "-s", r["system_prompt"], "-p", r["user_prompt"], "-n", "6",
                "-t", "1", "-q")
        assert g.stdout[:-1] == r["raw_output"]


def test_interrupted_run_resumes(fixture_model, tmp_path):
    whole = tmp_path / "whole.json"
    run("evaluate", "llm", "-m", str(fixture_model), "--num-questions", "4", "-n", "4", "-t", "1", "-o", str(whole))
    j = json.loads(whole.read_text())
    partial = dict(j, results=j["results"][:2])
    part = tmp_path / "part.json"
    part.write_text(json.dumps(partial))
    p = run("evaluate", "llm", "-m", str(fixture_model), "--num-questions", "4", "-n", "4", "-t", "1", "-o", str(part))
    assert "resuming after 2 of 4" in p.stderr
    k = json.loads(part.read_text())
    assert k["results"][:2] == j["results"][:2]  # kept as they were, timings included
    assert [r["raw_output"] for r in k["results"]] == [r["raw_output"] for r in j["results"]]
    check_evaluation(k, 4, 4)
    # a complete run is not asked again
    done = part.read_text()
    p = run("evaluate", "llm", "-m", str(fixture_model), "--num-questions", "4", "-n", "4", "-t", "1", "-o", str(part))
    assert "already complete (4 questions)" in p.stderr and part.read_text() == done
    assert f"strict accuracy {100 * k['accuracy']:.1f}% ({k['correct']}/4" in p.stdout
    # other settings on the same file: refused, file untouched
    before = part.read_text()
    p = run("evaluate", "llm", "-m", str(fixture_model), "--num-questions", "4", "-n", "4", "-t", "1", "--thinking",
            "on", "-o", str(part), check=False)
    assert p.returncode == 1 and "part.json" in p.stderr and "thinking" in p.stderr and p.stderr.count("\n") == 1
    assert part.read_text() == before


@pytest.mark.parametrize("name,n,cat", [("gsm8k_example.jsonl", 3, "gsm8k"), ("mmlu_example.csv", 4, "mmlu"),
                                        ("mmlu_example.jsonl", 4, "mmlu"), ("custom_example.jsonl", 5, None)])
def test_external_question_files(fixture_model, tmp_path, name, n, cat):
    out = tmp_path / "e.json"
    run("evaluate", "llm", "-m", str(fixture_model), "--questions", str(DATA / name), "-n", "3", "-t", "1", "-o",
        str(out))
    j = json.loads(out.read_text())
    check_evaluation(j, n, 3)
    if cat:
        assert set(j["category_stats"]) == {cat}
    if name == "gsm8k_example.jsonl":
        assert [r["expected"] for r in j["results"]] == ["14", "950", "1280"]


def test_compare_reports(fixture_model, tmp_path):
    folder = tmp_path / "quants"
    folder.mkdir()
    shutil.copy(fixture_model, folder / "a-F32.gguf")
    run("convert", str(SHARED / "fixtures" / "qwen2"), "-o", str(folder / "b-F16.gguf"), "--outtype", "f16")
    p = run("evaluate", "compare", "--all", str(folder), "--num-questions", "3", "-n", "3", "-t", "1",
            "-o", str(tmp_path / "report"))
    assert "model 2/2" in p.stderr
    evals = sorted(folder.glob("*.evaluation.json"))
    assert [e.name for e in evals] == ["a-F32.evaluation.json", "b-F16.evaluation.json"]
    md = (tmp_path / "report.md").read_text()
    for e in evals:
        j = json.loads(e.read_text())
        check_evaluation(j, 3, 3)
        row = next(line for line in md.splitlines() if line.startswith(f"| {j['model_name']} |"))
        assert f"{100 * j['accuracy']:.1f}% ({j['correct']}/3)" in row
        assert f"{j['model_size_bytes'] / 1e6:.1f} MB" in row
    # sorted by size: F32 first
    assert md.index("| a-F32 |") < md.index("| b-F16 |")

    class Checker(html.parser.HTMLParser):
        def __init__(self):
            super().__init__()
            self.stack, self.svgs, self.external = [], 0, []

        def handle_starttag(self, tag, attrs):
            if tag == "svg":
                self.svgs += 1
            self.external += [v for k, v in attrs if k in ("src", "href")]
            if tag not in ("meta", "br"):  # HTML void elements; SVG ones are written <x/>
                self.stack.append(tag)

        def handle_startendtag(self, tag, attrs):  # <rect .../>: opens and closes
            self.external += [v for k, v in attrs if k in ("src", "href")]

        def handle_endtag(self, tag):
            assert self.stack and self.stack[-1] == tag, (tag, self.stack[-3:])
            self.stack.pop()

    c = Checker()
    c.feed((tmp_path / "report.html").read_text())
    assert c.svgs >= 4 and not c.external and c.stack == []
    # compare again from the folder alone, no evaluation: same Markdown
    run("evaluate", "compare", str(folder), "-o", str(tmp_path / "again"))
    assert (tmp_path / "again.md").read_text() == md


def test_bad_input_is_one_line_error(fixture_model, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "2+2?", "answer": "4"}\n{"prompt": "x"}\n')
    cases = [(["--questions", str(tmp_path / "none.json")], "none.json"),
             (["--questions", str(bad)], "bad.jsonl: line 2: missing \"answer\""),
             (["--categories", "maths"], "unknown category 'maths'")]
    for extra, msg in cases:
        p = run("evaluate", "llm", "-m", str(fixture_model), "-o", str(tmp_path / "x.json"), *extra, check=False)
        assert p.returncode == 1 and p.stderr.startswith("pajamas: error: ") and p.stderr.count("\n") == 1, p.stderr
        assert msg in p.stderr
    p = run("evaluate", "compare", str(tmp_path / "nothing.gguf"), check=False)
    assert p.returncode == 1 and "no evaluation found" in p.stderr


def test_chat_template_option(fixture_model, tmp_path):
    """--chat-template replaces the model's template (base models carry none): a Jinja file, or a
    tokenizer_config.json holding one; recorded in the settings, so a resume with another one is refused."""
    cases = [(ROOT / "data" / "templates" / "gemma-3-it.jinja", None),
             (SHARED / "fixtures" / "gemma3" / "tokenizer_config.json", "chat_template")]
    for path, key in cases:
        out = tmp_path / f"{path.stem}.json"
        run("evaluate", "llm", "-m", str(fixture_model), "--num-questions", "2", "-n", "2", "-t", "1",
            "--chat-template", str(path), "-o", str(out))
        j = json.loads(out.read_text())
        check_evaluation(j, 2, 2)
        assert j["settings"]["chat_template"] == str(path)
        template = json.loads(path.read_text())[key] if key else path.read_text()
        for r in j["results"]:
            msgs = [{"role": "system", "content": r["system_prompt"]}, {"role": "user", "content": r["user_prompt"]}]
            # the fixture (Qwen2) has no BOS token: bos_token is undefined, which renders as nothing
            assert r["prompt"] == render_hf(template, msgs)
            assert r["prompt"].startswith("<start_of_turn>")
    # resuming with the model's own template: refused, naming the difference
    p = run("evaluate", "llm", "-m", str(fixture_model), "--num-questions", "2", "-n", "2", "-t", "1",
            "-o", str(tmp_path / "gemma-3-it.json"), check=False)
    assert p.returncode == 1 and "chat template" in p.stderr and p.stderr.count("\n") == 1, p.stderr
    no_tpl = tmp_path / "tokenizer_config.json"
    no_tpl.write_text('{"bos_token": "<s>"}')
    empty = tmp_path / "empty.jinja"
    empty.write_text("\n")
    for f, msg in [(no_tpl, 'no "chat_template" field'), (empty, "empty template"),
                   (tmp_path / "missing.jinja", "missing.jinja")]:
        p = run("evaluate", "llm", "-m", str(fixture_model), "--chat-template", str(f), "-o", str(tmp_path / "y.json"),
                check=False)
        assert p.returncode == 1 and p.stderr.startswith("pajamas: error: ") and msg in p.stderr, p.stderr


@pytest.mark.skipif(not DEFAULT_MODEL.exists(), reason="default model not installed (./setup.sh --deps-only)")
def test_default_model_strict_and_lenient(tmp_path):
    out = tmp_path / "smol.json"
    run("evaluate", "llm", "-m", str(DEFAULT_MODEL), "--categories", "knowledge,math", "--num-questions", "4",
        "-n", "24", "-o", str(out), "--lenient")
    j = json.loads(out.read_text())
    check_evaluation(j, 4, 24)
    assert j["evaluation_mode"] == "lenient"
    assert j["lenient_correct"] >= j["strict_correct"]  # strict can only be harder
    assert j["quant_type"] == "Q4_1"
