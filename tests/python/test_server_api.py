"""`pajamas serve` judged by the official `openai` Python client (and raw HTTP where the client would
hide the response): chat (streaming and not), completions, sampling parameters, tool calls, JSON
schema output, embeddings against the transformers reference, errors, the API key, the listening
address, cancellation, keep-alive and metrics. Most tests use the tiny qwen2 fixture converted to GGUF
(a random model, so its text is gibberish but deterministic); one uses SmolLM2 for real answers."""
import base64
import json
import pathlib
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import openai
import psutil
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "server"))
from server_harness import PJ, SHARED, SMOLLM2, PajamasServer, convert_fixture  # noqa: E402

FIXTURE_ID = "qwen2-fixture"


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    convert_fixture("qwen2", d)
    return d


@pytest.fixture(scope="module")
def server(models_dir):
    with PajamasServer("--models-dir", str(models_dir), "--parallel", "2", "-t", "2", "--max-body", "65536",
                       "--ctx", "1024") as s:
        yield s


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.base + "/v1", api_key="unused", max_retries=0, timeout=120)


def http(method, url, body=None, headers=None, raw=None):
    """(status, parsed JSON or text) without raising on 4xx."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    h = {"Content-Type": "application/json"} if data is not None else {}
    h.update(headers or {})
    req = urllib.request.Request(url, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            status, text = r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    try:
        return status, json.loads(text)
    except json.JSONDecodeError:
        return status, text


def assert_error_object(body, status):
    assert isinstance(body, dict) and "error" in body, body
    e = body["error"]
    assert isinstance(e["message"], str) and e["message"], body
    assert e["type"] in ("invalid_request_error", "server_error"), body


def chat(client, text="Hello there", **kw):
    kw.setdefault("temperature", 0)
    kw.setdefault("max_tokens", 12)
    return client.chat.completions.create(model=FIXTURE_ID, messages=[{"role": "user", "content": text}], **kw)


def test_health_and_models_listing(server, client):
    assert http("GET", server.base + "/health") == (200, {"status": "ok"})
    models = client.models.list().data
    ids = [m.id for m in models]
    assert FIXTURE_ID in ids
    m = next(m for m in models if m.id == FIXTURE_ID)
    assert m.object == "model"
    status, one = http("GET", server.base + "/v1/models/" + FIXTURE_ID)
    assert status == 200 and one["id"] == FIXTURE_ID and one["architecture"] == "qwen2" and one["size_bytes"] > 0


def test_non_streaming_chat_matches_the_cli(server, client, models_dir):
    r = chat(client, "Tell me a story", max_tokens=10)
    text = r.choices[0].message.content
    assert r.object == "chat.completion" and r.model == FIXTURE_ID
    assert r.choices[0].message.role == "assistant"
    assert r.usage.completion_tokens <= 10 and r.usage.prompt_tokens > 5
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    assert r.choices[0].finish_reason in ("stop", "length")
    # same model, same template, greedy: the CLI's one-turn chat writes the same text
    cli = subprocess.run([PJ, "chat", "-m", str(models_dir / f"{FIXTURE_ID}.gguf"), "-p", "Tell me a story", "-n", "10",
                          "-q", "-t", "1", "-c", "1024"], capture_output=True, text=True, timeout=120, check=True).stdout
    assert cli.rstrip("\n") == text


def test_streaming_chat_equals_non_streaming(client):
    full = chat(client, "Stream this", max_tokens=16)
    chunks = list(chat(client, "Stream this", max_tokens=16, stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == full.choices[0].message.content
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finals) == 1 and finals[0].choices[0].finish_reason == full.choices[0].finish_reason
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == full.usage.completion_tokens
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) > 1  # really streamed


def test_sse_wire_format_ends_with_done(server):
    body = {"model": FIXTURE_ID, "messages": [{"role": "user", "content": "x"}], "max_tokens": 4, "stream": True}
    status, text = http("POST", server.base + "/v1/chat/completions", body)
    assert status == 200
    events = [e for e in text.split("\n\n") if e.strip()]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"


def test_sampling_parameters(client):
    a = chat(client, "Pick words", temperature=1.0, seed=11, max_tokens=12).choices[0].message.content
    b = chat(client, "Pick words", temperature=1.0, seed=11, max_tokens=12).choices[0].message.content
    c = [chat(client, "Pick words", temperature=1.5, seed=s, max_tokens=12).choices[0].message.content for s in (1, 2, 3)]
    assert a == b  # same seed, same sample
    assert len(set(c)) > 1  # different seeds differ
    r = chat(client, "Count", max_tokens=3)
    assert r.usage.completion_tokens == 3 and r.choices[0].finish_reason == "length"
    # a stop string cuts the text before it, and is not included
    full = chat(client, "Stop test", max_tokens=20).choices[0].message.content
    assert len(full) > 6
    stop = full[4:7]
    cut = chat(client, "Stop test", max_tokens=20, stop=[stop])
    assert cut.choices[0].message.content == full[: full.find(stop)]
    assert cut.choices[0].finish_reason == "stop"
    # penalties change greedy text that repeats
    plain = chat(client, "Repeat", max_tokens=24).choices[0].message.content
    penal = chat(client, "Repeat", max_tokens=24, frequency_penalty=2.0, presence_penalty=2.0).choices[0].message.content
    assert plain != penal


def test_completions(client):
    r = client.completions.create(model=FIXTURE_ID, prompt="Once upon a time", max_tokens=8, temperature=0)
    assert r.object == "text_completion" and r.usage.completion_tokens <= 8
    text = r.choices[0].text
    streamed = "".join(c.choices[0].text for c in client.completions.create(
        model=FIXTURE_ID, prompt="Once upon a time", max_tokens=8, temperature=0, stream=True))
    assert streamed == text
    echo = client.completions.create(model=FIXTURE_ID, prompt="Once upon a time", max_tokens=8, temperature=0, echo=True)
    assert echo.choices[0].text == "Once upon a time" + text


# The fixture is a random model: inside a free string it rarely closes the quote, so its schemas have
# only bounded leaves (enums, integers, booleans, arrays with maxItems), and the constraint must then
# always reach a complete, valid document. Free strings are tested with SmolLM2 below.
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"enum": ["Paris", "Oslo", "Lima"]}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                           "days": {"type": "integer"}},
            "required": ["city", "unit"],
            "additionalProperties": False,
        },
    },
}


def check_weather_args(args):
    assert set(args) <= {"city", "unit", "days"} and {"city", "unit"} <= set(args), args
    assert args["city"] in ("Paris", "Oslo", "Lima") and args["unit"] in ("celsius", "fahrenheit")
    assert "days" not in args or (isinstance(args["days"], int) and not isinstance(args["days"], bool))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_forced_tool_call_is_valid(client, seed):
    r = chat(client, "What is the weather in Paris?", tools=[WEATHER, {"type": "function", "function": {"name": "noop"}}],
             tool_choice={"type": "function", "function": {"name": "get_weather"}}, temperature=1.0, seed=seed,
             max_tokens=500)  # a bound on a complete call: ~16 gaps of <= 12 whitespace bytes, 32-digit numbers
    ch = r.choices[0]
    assert ch.finish_reason == "tool_calls", ch
    call = ch.message.tool_calls[0]
    assert call.type == "function" and call.function.name == "get_weather" and call.id
    check_weather_args(json.loads(call.function.arguments))
    # the answer goes back as a tool message and the conversation continues
    follow = client.chat.completions.create(model=FIXTURE_ID, max_tokens=5, temperature=0, tools=[WEATHER], messages=[
        {"role": "user", "content": "What is the weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "18 C, sunny"}])
    assert follow.choices[0].message.role == "assistant"


def test_streamed_tool_call(client):
    chunks = list(chat(client, "Weather?", tools=[WEATHER], tool_choice="required", stream=True, max_tokens=500))
    calls = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert calls and calls[0].function.name == "get_weather"
    check_weather_args(json.loads(calls[0].function.arguments))
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]


SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"enum": ["Ada", "Alan", "Grace"]},
        "age": {"type": "integer"},
        "member": {"type": "boolean"},
        "colour": {"enum": ["red", "green", "blue"]},
        "scores": {"type": "array", "items": {"type": "number"}, "maxItems": 3},
        "address": {"type": "object", "properties": {"zip": {"type": "integer"}}, "required": ["zip"],
                    "additionalProperties": False},
    },
    "required": ["name", "age", "colour", "address"],
    "additionalProperties": False,
}


def check_schema(v):
    assert set(v) <= set(SCHEMA["properties"]) and set(SCHEMA["required"]) <= set(v), v
    assert v["name"] in ("Ada", "Alan", "Grace")
    assert "member" not in v or isinstance(v["member"], bool)
    assert isinstance(v["age"], int) and not isinstance(v["age"], bool)
    assert v["colour"] in ("red", "green", "blue")
    assert "scores" not in v or (len(v["scores"]) <= 3 and all(isinstance(x, (int, float)) for x in v["scores"]))
    assert set(v["address"]) == {"zip"} and isinstance(v["address"]["zip"], int)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_json_schema_output_always_matches(client, seed):
    # max_tokens above the longest document the schema allows (gaps of <= 12 whitespace bytes, 32-digit numbers)
    r = chat(client, "Describe a person as JSON", temperature=1.0, seed=seed, max_tokens=950,
             response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": SCHEMA, "strict": True}})
    assert r.choices[0].finish_reason == "stop", r.choices[0].message.content
    check_schema(json.loads(r.choices[0].message.content))


def test_json_object_output_parses(client):
    # any object: the random model may ramble inside a string, so greedy decoding with a budget; when it
    # ends the text must parse, and when cut it must still be a prefix the constraint allowed
    finished = 0
    for seed in (5, 6, 7, 8):
        r = chat(client, "JSON please", temperature=0.7, seed=seed, max_tokens=300, response_format={"type": "json_object"})
        text = r.choices[0].message.content
        if r.choices[0].finish_reason == "stop":
            assert isinstance(json.loads(text), dict)
            finished += 1
        else:
            assert text.lstrip().startswith("{")
    print(f"json_object: {finished}/4 finished within 300 tokens")


def read_safetensors(path):
    raw = pathlib.Path(path).read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        dt = {"F32": np.float32, "I64": np.int64}[v["dtype"]]
        out[k] = np.frombuffer(raw[8 + n + a:8 + n + b], dtype=dt).reshape(v["shape"])
    return out


def test_embeddings_match_transformers_last_hidden_state(server, client):
    ref = read_safetensors(SHARED / "fixtures" / "qwen2" / "reference.safetensors")
    ids = [int(x) for x in ref["input_ids"]]
    last = max(int(k.split("_")[1]) for k in ref if k.startswith("hidden_"))
    want = ref[f"hidden_{last}"].astype(np.float64).mean(axis=0)  # after the final norm (HF convention)
    want /= np.linalg.norm(want)
    r = client.embeddings.create(model=FIXTURE_ID, input=[ids, ids[:5]])  # the client asks for base64
    got = np.array(r.data[0].embedding)
    assert r.usage.prompt_tokens == len(ids) + 5 and len(r.data) == 2 and r.data[1].index == 1
    assert abs(np.linalg.norm(got) - 1) < 1e-5
    # F32 forward vs transformers' float64 reference: 1e-4 relative on logits (fixtures README); the
    # mean of normalised states is looser only by summation order
    assert np.max(np.abs(got - want)) < 2e-3, np.max(np.abs(got - want))
    assert float(got @ want) > 0.9999
    status, plain = http("POST", server.base + "/v1/embeddings", {"model": FIXTURE_ID, "input": ids, "encoding_format": "float"})
    assert status == 200 and np.allclose(plain["data"][0]["embedding"], got, atol=1e-7)
    text = client.embeddings.create(model=FIXTURE_ID, input=["hello world", "another text"])
    a, b = (np.array(d.embedding) for d in text.data)
    assert a.shape == (256,) and not np.allclose(a, b)
    short = client.embeddings.create(model=FIXTURE_ID, input="hello world", dimensions=32)
    assert len(short.data[0].embedding) == 32 and abs(np.linalg.norm(short.data[0].embedding) - 1) < 1e-5


def test_errors_are_openai_error_objects(server, client):
    url = server.base + "/v1/chat/completions"
    status, body = http("POST", url, raw=b'{"model": "x", "messages": [')
    assert status == 400
    assert_error_object(body, 400)
    status, body = http("POST", url, raw=b'{"messages": []}', headers={"Content-Type": "text/plain"})
    assert status == 415
    assert_error_object(body, 415)
    with pytest.raises(openai.BadRequestError) as e:
        chat(client, temperature="warm")
    assert e.value.status_code == 400 and e.value.body["param"] == "temperature"
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model=FIXTURE_ID, messages=[{"role": "user", "content": 42}])
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model=FIXTURE_ID, messages="hello")
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])
    assert e.value.body["code"] == "model_not_found"
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="no-such-model", input="x")
    # the context is 1024 tokens here
    with pytest.raises(openai.BadRequestError) as e:
        chat(client, "word " * 1200)
    assert e.value.body["code"] == "context_length_exceeded"
    with pytest.raises(openai.BadRequestError) as e:
        chat(client, "hi", max_tokens=100000)
    assert e.value.body["code"] == "context_length_exceeded"
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model=FIXTURE_ID, input=[[1] * 1100])
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model=FIXTURE_ID, input=[[10 ** 6]])  # outside the vocabulary
    # a body over --max-body (64 KiB)
    status, body = http("POST", url, {"model": FIXTURE_ID, "messages": [{"role": "user", "content": "x" * 100000}]})
    assert status == 413
    assert_error_object(body, 413)
    status, body = http("GET", server.base + "/v1/nothing")
    assert status == 404
    assert_error_object(body, 404)
    status, body = http("POST", server.base + "/v1/completions", {"model": FIXTURE_ID, "prompt": {"a": 1}})
    assert status == 400 and body["error"]["param"] == "prompt"
    # nothing crashed
    assert http("GET", server.base + "/health")[0] == 200
    assert chat(client, max_tokens=2).usage.completion_tokens <= 2


def test_metrics_are_prometheus_text(server, client):
    chat(client, max_tokens=4)
    status, text = http("GET", server.base + "/metrics")
    assert status == 200
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, value = line.rsplit(" ", 1)
        samples[name] = float(value)
    assert samples['pajamas_requests_total{endpoint="/v1/chat/completions",status="200"}'] >= 1
    assert samples["pajamas_completion_tokens_total"] >= 1
    assert samples["pajamas_prompt_tokens_total"] >= 1
    assert f'pajamas_queue_length{{model="{FIXTURE_ID}"}}' in samples
    assert samples["process_resident_memory_bytes"] > 1e6
    assert "pajamas_tokens_per_second" in samples


def test_client_disconnect_cancels_generation(server):
    def cancelled():
        _, t = http("GET", server.base + "/metrics")
        return float(next(l for l in t.splitlines() if l.startswith("pajamas_generations_cancelled_total")).split()[1])

    before = cancelled()
    body = json.dumps({"model": FIXTURE_ID, "messages": [{"role": "user", "content": "go on"}], "max_tokens": 400,
                       "stream": True, "temperature": 1.0, "seed": 3}).encode()
    s = socket.create_connection(("127.0.0.1", server.port))
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    assert b"200" in s.recv(64)
    s.close()
    deadline = time.time() + 30
    while cancelled() <= before and time.time() < deadline:
        time.sleep(0.2)
    assert cancelled() == before + 1


def listening_addresses(pid):
    return {c.laddr.ip for c in psutil.Process(pid).net_connections(kind="inet") if c.status == psutil.CONN_LISTEN}


def test_default_socket_is_loopback_only(models_dir):
    with PajamasServer("--models-dir", str(models_dir)) as s:
        assert listening_addresses(s.pid) == {"127.0.0.1"}
        # and it is not reachable on this machine's other addresses
        others = {a.address for addrs in psutil.net_if_addrs().values() for a in addrs
                  if a.family == socket.AF_INET and not a.address.startswith("127.")}
        for ip in others:
            with pytest.raises(OSError):
                socket.create_connection((ip, s.port), timeout=2).close()


def test_every_endpoint_needs_the_key(models_dir):
    with PajamasServer("--models-dir", str(models_dir), "--api-key", "s3cret") as s:
        calls = [("GET", "/health", None), ("GET", "/metrics", None), ("GET", "/v1/models", None),
                 ("GET", f"/v1/models/{FIXTURE_ID}", None),
                 ("POST", "/v1/chat/completions", {"model": FIXTURE_ID, "messages": [{"role": "user", "content": "x"}], "max_tokens": 1}),
                 ("POST", "/v1/completions", {"model": FIXTURE_ID, "prompt": "x", "max_tokens": 1}),
                 ("POST", "/v1/embeddings", {"model": FIXTURE_ID, "input": "x"}),
                 ("POST", "/v1/nothing", {})]
        for method, path, body in calls:
            for hdr in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}, {"Authorization": "Bearer s3cre"}):
                status, resp = http(method, s.base + path, body, headers=hdr)
                assert status == 401, (method, path, hdr, status)
                assert resp["error"]["code"] == "invalid_api_key"
            status, _ = http(method, s.base + path, body, headers={"Authorization": "Bearer s3cret"})
            assert status == (404 if path == "/v1/nothing" else 200), (method, path, status)
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=s.base + "/v1", api_key="nope", max_retries=0).models.list()
        ok = openai.OpenAI(base_url=s.base + "/v1", api_key="s3cret", max_retries=0)
        assert FIXTURE_ID in [m.id for m in ok.models.list().data]
        # the page itself holds no data and loads without the key (it asks for the key)
        assert http("GET", s.base + "/")[0] == 200


def test_models_load_on_first_use_and_unload_after_keep_alive(models_dir):
    with PajamasServer("--models-dir", str(models_dir), "--keep-alive", "1s") as s:
        c = openai.OpenAI(base_url=s.base + "/v1", api_key="x", max_retries=0)
        loaded = lambda: http("GET", s.base + f"/v1/models/{FIXTURE_ID}")[1]["loaded"]  # noqa: E731
        assert loaded() is False
        chat(c, max_tokens=2)
        assert loaded() is True
        deadline = time.time() + 15
        while loaded() and time.time() < deadline:
            time.sleep(0.25)
        assert loaded() is False
        chat(c, max_tokens=2)  # and loads again
        assert loaded() is True


@pytest.mark.skipif(not SMOLLM2.exists(), reason="default model not installed (./setup.sh --deps-only)")
def test_smollm2_answers_and_follows_a_schema():
    with PajamasServer("-m", str(SMOLLM2), "-t", "2") as s:
        c = openai.OpenAI(base_url=s.base + "/v1", api_key="x", max_retries=0, timeout=300)
        mid = SMOLLM2.stem
        r = c.chat.completions.create(model=mid, temperature=0, max_tokens=24,
                                      messages=[{"role": "user", "content": "Which city is the capital of France? Answer with the city name."}])
        assert "Paris" in r.choices[0].message.content
        stream = c.chat.completions.create(model=mid, temperature=0, max_tokens=24, stream=True,
                                           messages=[{"role": "user", "content": "Which city is the capital of France? Answer with the city name."}])
        assert "".join(ch.choices[0].delta.content or "" for ch in stream if ch.choices) == r.choices[0].message.content
        schema = {"type": "object", "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
                  "required": ["city", "country"], "additionalProperties": False}
        j = c.chat.completions.create(model=mid, temperature=0, max_tokens=60,
                                      messages=[{"role": "user", "content": "Name the capital of France as JSON."}],
                                      response_format={"type": "json_schema", "json_schema": {"name": "c", "schema": schema}})
        v = json.loads(j.choices[0].message.content)
        assert set(v) == {"city", "country"} and all(isinstance(x, str) for x in v.values())
        free = {"type": "function", "function": {"name": "get_weather", "parameters": {
            "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": False}}}
        t = c.chat.completions.create(model=mid, temperature=0, max_tokens=100, tools=[free], tool_choice="required",
                                      messages=[{"role": "user", "content": "What is the weather in Paris?"}])
        assert t.choices[0].finish_reason == "tool_calls"
        args = json.loads(t.choices[0].message.tool_calls[0].function.arguments)
        assert set(args) == {"city"} and isinstance(args["city"], str)
