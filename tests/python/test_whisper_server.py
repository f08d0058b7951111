"""POST /v1/audio/transcriptions in `pajamas serve`, judged by the official `openai` client
(client.audio.transcriptions.create), with Whisper tiny.en (the default speech model setup.sh installs)
on real speech; word error rate with Whisper's English normaliser as in test_whisper_cli.py."""
import json
import pathlib
import sys
import urllib.request

import openai
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "server"))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from server_harness import SHARED, SMOLLM2, PajamasServer  # noqa: E402
from test_whisper_cli import MODEL, normalizer, reference_transcripts, wer  # noqa: E402

pytestmark = pytest.mark.skipif(not (MODEL / "model.bin").exists(), reason="tiny.en not installed (./setup.sh)")
JFK = SHARED / "data" / "audio" / "jfk.flac"


@pytest.fixture(scope="module")
def server():
    with PajamasServer("--speech-model", str(MODEL), "-m", str(SMOLLM2), "-t", "2") as s:
        yield s


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.base + "/v1", api_key="unused", max_retries=0, timeout=600)


def test_transcription_verbose_json(client):
    with open(JFK, "rb") as f:
        r = client.audio.transcriptions.create(model="whisper-1", file=f, response_format="verbose_json",
                                               language="en", timestamp_granularities=["word", "segment"])
    norm = normalizer()
    w = wer(norm(reference_transcripts()["audio/jfk.flac"]), norm(r.text))
    print(f"server jfk: WER {w:.3f}: {r.text!r}")
    assert w <= 0.10
    assert r.language == "english" and abs(r.duration - 11.0) < 0.1
    starts = [s.start for s in r.segments]
    assert starts == sorted(starts) and r.segments[-1].end <= 11.5
    # timestamp_granularities[]=word: OpenAI's top-level words, in order (their agreement with
    # faster-whisper is tested in test_whisper_words.py)
    words = r.words
    assert [w.word for w in words][:3] == ["And", "so,", "my"], words
    assert len(words) == 22
    for a, b in zip(words, words[1:]):
        assert a.start <= a.end <= b.start + 1e-6


def test_text_and_srt_formats(client):
    with open(SHARED / "data" / "audio" / "espeak_local_models.wav", "rb") as f:
        data = f.read()
    txt = client.audio.transcriptions.create(model="whisper-tiny.en", file=("speech.wav", data),
                                             response_format="text")
    assert "local models" in str(txt).lower()
    srt = client.audio.transcriptions.create(model="whisper-1", file=("speech.wav", data), response_format="srt",
                                             prompt="Local models.", temperature=0)
    assert str(srt).startswith("1\n00:00:0")


def test_errors(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.audio.transcriptions.create(model="whisper-1", file=("x.mp3", b"not audio at all"))
    assert "x.mp3" in str(e.value)
    with pytest.raises(openai.BadRequestError):
        client.audio.transcriptions.create(model="whisper-1", file=("x.wav", b""))
    with open(JFK, "rb") as f:
        with pytest.raises(openai.BadRequestError) as e:
            client.audio.transcriptions.create(model="whisper-1", file=f, response_format="docx")
    with open(JFK, "rb") as f:
        with pytest.raises(openai.BadRequestError) as e:
            client.audio.transcriptions.create(model="whisper-1", file=f, language="de")
    assert "English-only" in str(e.value)
    with open(JFK, "rb") as f:
        with pytest.raises(openai.BadRequestError) as e:
            client.audio.transcriptions.create(model="whisper-1", file=f, timestamp_granularities=["word"])
    assert "verbose_json" in str(e.value)
    with open(JFK, "rb") as f:
        with pytest.raises(openai.NotFoundError):
            client.audio.transcriptions.create(model="nope-model", file=f)


def test_not_multipart(server):
    req = urllib.request.Request(server.base + "/v1/audio/transcriptions", data=b"{}", method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(req, timeout=60)
        assert False, "expected 400"
    except urllib.error.HTTPError as e:
        assert e.code == 400
        assert "multipart" in json.loads(e.read())["error"]["message"]
