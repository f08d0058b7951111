"""`pajamas template` against jinja2: real chat templates (data/templates) and the tokenizer fixtures'
chat vectors must render byte for byte as jinja2 renders them in the environment Hugging Face uses
(transformers' chat_template_utils: ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
extensions=[loopcontrols]) with raise_exception, strftime_now and a tojson that is json.dumps with
ensure_ascii=False). The expected strings are computed here by jinja2, never written by hand."""

import datetime
import json
import os
import pathlib
import subprocess

import jinja2
import jinja2.ext
import jinja2.sandbox
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
TEMPLATES = REPO / "data" / "templates"
PJ_BIN = os.environ.get("PJ_BIN", str(REPO / "build" / "pajamas"))
NOW = 1722000000  # 2024-07-26 13:20 UTC: the fixed clock for strftime_now on both sides


class TemplateError(Exception):
    pass


def hf_render(source, messages, tools=None, add_generation_prompt=True, bos=None, eos=None, enable_thinking=None):
    def raise_exception(message):
        raise TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return datetime.datetime.fromtimestamp(NOW, tz=datetime.timezone.utc).strftime(fmt)

    env = jinja2.sandbox.ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    kwargs = dict(messages=messages, tools=tools, add_generation_prompt=add_generation_prompt)
    if bos is not None:
        kwargs["bos_token"] = bos
    if eos is not None:
        kwargs["eos_token"] = eos
    if enable_thinking is not None:
        kwargs["enable_thinking"] = enable_thinking
    return env.from_string(source).render(**kwargs)


def run_pajamas(model_dir, messages, tools=None, add_generation_prompt=True, enable_thinking=None, tmp=None):
    msg_file = pathlib.Path(tmp) / "messages.json"
    doc = {"messages": messages}
    if tools is not None:
        doc["tools"] = tools
    msg_file.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    cmd = [PJ_BIN, "template", "-m", str(model_dir), "--messages", str(msg_file), "--now", str(NOW)]
    if not add_generation_prompt:
        cmd.append("--no-generation-prompt")
    if enable_thinking is not None:
        cmd += ["--enable-thinking", "on" if enable_thinking else "off"]
    p = subprocess.run(cmd, capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8")


# ---- conversations -------------------------------------------------------------------------------------

SYSTEM = {"role": "system", "content": "You are a terse assistant. Answer in French when asked — toujours."}
TURNS = [
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "  Paris.  "},
    {"role": "user", "content": "And of Italy? Reply with \"quotes\" and a tab\there."},
]
TOOLS = [{
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city — with units.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. Zürich"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7.5},
            },
            "required": ["city"],
        },
    },
}]
TOOL_CALL_CONV = [
    {"role": "user", "content": "What's the weather in Zürich?"},
    {"role": "assistant", "content": "", "tool_calls": [{
        "id": "call12345", "type": "function",
        "function": {"name": "get_weather", "arguments": {"city": "Zürich", "unit": "celsius", "days": 2}}}]},
    {"role": "tool", "tool_call_id": "call12345", "name": "get_weather", "content": "{\"temp\": 21.5, \"sky\": \"clear\"}"},
    {"role": "assistant", "content": "It is 21.5 °C and clear."},
    {"role": "user", "content": "Thanks!"},
]
QWEN3_THINKING = [
    {"role": "user", "content": "2+2?"},
    {"role": "assistant", "content": "<think>\nAdd them.\n</think>\n\n4"},
    {"role": "user", "content": "3+3?"},
    {"role": "assistant", "content": "<think>\nAgain.\n</think>\n\n6"},
]

# (template file, bos, eos, what it supports)
MODELS = {
    "qwen2.5-instruct": ("", "<|im_end|>", {"system", "tools"}),
    "qwen3": ("", "<|im_end|>", {"system", "tools", "thinking"}),
    "llama-3.1-instruct": ("<|begin_of_text|>", "<|eot_id|>", {"system", "tools"}),
    "llama-3.2-instruct": ("<|begin_of_text|>", "<|eot_id|>", {"system", "tools"}),
    "gemma-2-it": ("<bos>", "<eos>", set()),
    "gemma-3-it": ("<bos>", "<eos>", {"system"}),
    "mistral-7b-instruct-v0.3": ("<s>", "</s>", {"system", "tools"}),
    "smollm2-instruct": ("", "<|im_end|>", {"system"}),
}


def cases():
    for name, (bos, eos, feats) in MODELS.items():
        yield name, "plain", TURNS, None, {}
        yield name, "plain-no-gen", TURNS[:2], None, {"add_generation_prompt": False}
        if "system" in feats:
            yield name, "system", [SYSTEM] + TURNS, None, {}
        if "tools" in feats:
            conv = TOOL_CALL_CONV
            if name.startswith("llama-3"):
                # Llama 3.x folds the tools into the first user message and takes one call at a time
                conv = [SYSTEM] + TOOL_CALL_CONV
            yield name, "tools", conv, TOOLS, {}
            yield name, "tool-defs-only", [SYSTEM] + TURNS if name != "mistral-7b-instruct-v0.3" else TURNS, TOOLS, {}
        if "thinking" in feats:
            yield name, "thinking-off", TURNS, None, {"enable_thinking": False}
            yield name, "thinking-on", TURNS, None, {"enable_thinking": True}
            yield name, "thinking-history", QWEN3_THINKING + [{"role": "user", "content": "4+4?"}], None, {}
            yield name, "thinking-last-turn", QWEN3_THINKING, None, {"add_generation_prompt": False}
        if name.startswith("qwen"):
            # OpenAI-style calls carry the arguments as a JSON string
            conv = json.loads(json.dumps(TOOL_CALL_CONV))
            conv[1]["tool_calls"][0]["function"]["arguments"] = '{"city": "Zürich"}'
            conv.insert(3, dict(conv[2], content="second result"))
            yield name, "tools-string-args", conv, TOOLS, {}


def make_model(tmp, source, bos, eos):
    d = pathlib.Path(tmp) / "model"
    d.mkdir(exist_ok=True)
    cfg = {"chat_template": source, "eos_token": eos}
    cfg["bos_token"] = bos if bos else None
    (d / "tokenizer_config.json").write_text(json.dumps(cfg), encoding="utf-8")
    return d


@pytest.mark.parametrize("name,label,messages,tools,opts", list(cases()),
                         ids=[f"{c[0]}-{c[1]}" for c in cases()])
def test_real_template_matches_jinja2(tmp_path, name, label, messages, tools, opts):
    source = (TEMPLATES / f"{name}.jinja").read_text(encoding="utf-8")
    bos, eos, _ = MODELS[name]
    agp = opts.get("add_generation_prompt", True)
    think = opts.get("enable_thinking")
    expected = hf_render(source, messages, tools, agp, bos or None, eos, think)
    model = make_model(tmp_path, source, bos, eos)
    rc, out, err = run_pajamas(model, messages, tools, agp, think, tmp_path)
    assert rc == 0, err
    assert out == expected


def test_real_templates_are_all_covered():
    assert sorted(p.stem for p in TEMPLATES.glob("*.jinja")) == sorted(MODELS)


@pytest.mark.parametrize("family", ["gemma", "llama3", "mistral", "qwen"])
def test_tokenizer_fixture_chat_vectors(tmp_path, family):
    folder = SHARED / "fixtures" / "tokenizers" / family
    chat = json.loads((folder / "vectors.json").read_text(encoding="utf-8"))["chat"]
    rc, out, err = run_pajamas(folder, chat["messages"], None, chat["add_generation_prompt"], None, tmp_path)
    assert rc == 0, err
    assert out == chat["rendered"]


def test_raise_exception_is_an_error_naming_the_line(tmp_path):
    # Gemma 2 refuses a system message with raise_exception on line 1
    source = (TEMPLATES / "gemma-2-it.jinja").read_text(encoding="utf-8")
    with pytest.raises(TemplateError):
        hf_render(source, [SYSTEM] + TURNS, bos="<bos>")
    model = make_model(tmp_path, source, "<bos>", "<eos>")
    rc, out, err = run_pajamas(model, [SYSTEM] + TURNS, tmp=tmp_path)
    assert rc == 1 and out == ""
    assert "line 1" in err and "System role not supported" in err


def test_unsupported_construct_is_an_error(tmp_path):
    source = "{{ messages[0].content }}\n{% include 'other.jinja' %}"
    model = make_model(tmp_path, source, "", "")
    rc, out, err = run_pajamas(model, TURNS, tmp=tmp_path)
    assert rc == 1 and out == ""
    assert "line 2" in err and "include" in err


def test_chat_template_list_form(tmp_path):
    d = tmp_path / "model"
    d.mkdir()
    cfg = {"chat_template": [{"name": "default", "template": "{{ bos_token }}D{{ messages|length }}"},
                             {"name": "tool_use", "template": "T"}], "bos_token": "<s>"}
    (d / "tokenizer_config.json").write_text(json.dumps(cfg))
    rc, out, err = run_pajamas(d, TURNS, tmp=tmp_path)
    assert rc == 0, err
    assert out == hf_render(cfg["chat_template"][0]["template"], TURNS, bos="<s>")
