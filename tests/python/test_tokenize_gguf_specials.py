"""Control tokens of a SentencePiece ("llama") GGUF vocabulary are parsed in the text when asked to
(`tokenize --special`, the chat-template path of generate/chat/evaluate), as llama.cpp does. Until this
test they were only parsed for byte-level BPE ("gpt2") vocabularies, so every Gemma chat prompt
(<bos><start_of_turn>user ...) was tokenized as plain text. The judge is llama.cpp's own tokenizer
(llama-cpp-python, vocabulary only) on the same GGUF: the converted Gemma-3 fixture always, and the
Gemma-3-270M hub file when installed."""
import json
import os
import pathlib
import subprocess

import pytest

llama_cpp = pytest.importorskip("llama_cpp")

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
PJ = os.environ.get("PJ_BIN", str(ROOT / "build" / "pajamas"))
HUB = ROOT / "models" / "gemma-3-270m-Q4_K_M.gguf"

TEXTS = [
    "<bos><start_of_turn>user\nWhich planet is the largest?\n\nA. Saturn\nB. Jupiter<end_of_turn>\n"
    "<start_of_turn>model\n",
    "<start_of_turn>user\nYou are taking a test.\n\nHi<end_of_turn>\n<start_of_turn>model\nB<end_of_turn>\n",
    "text with <start_of_turn> and <end_of_turn> inside, then <eos>",
]


def ours(model, text, special):
    args = [PJ, "tokenize", "-m", str(model), "--json", "--text", text] + (["--special"] if special else [])
    return json.loads(subprocess.run(args, capture_output=True, text=True, check=True).stdout)


def check(model, control):
    ref = llama_cpp.Llama(model_path=str(model), vocab_only=True, verbose=False)
    start = ref.tokenize(b"<start_of_turn>", add_bos=False, special=True)
    assert len(start) == 1  # one token to llama.cpp
    for text in TEXTS:
        assert ours(model, text, True) == ref.tokenize(text.encode(), add_bos=False, special=True), text
        assert start[0] in ours(model, text, True)  # parsed as the token, not spelled out
        if control:  # a control token is text when specials are not parsed
            assert ours(model, text, False) == ref.tokenize(text.encode(), add_bos=False, special=False), text
            assert start[0] not in ours(model, text, False)


def test_converted_gemma3_fixture(tmp_path):
    gg = tmp_path / "gemma3.gguf"
    subprocess.run([PJ, "convert", str(SHARED / "fixtures" / "gemma3"), "-o", str(gg), "--outtype", "f32"],
                   check=True, capture_output=True)
    # The fixture's tokenizer.model makes <start_of_turn>/<end_of_turn> user-defined pieces (type 4) and
    # <bos>/<eos>/<pad> control ones: the specials-parsed path is compared. (Without parsing, llama.cpp
    # spells user-defined pieces out where SentencePiece matches them; a known difference, not this test's.)
    check(gg, control=False)


@pytest.mark.skipif(not HUB.exists(), reason="Gemma-3-270M not installed (setup.sh fetches it)")
def test_gemma3_270m_hub_file():
    check(HUB, control=True)  # llama.cpp's converter made the turn markers control tokens (type 3)
