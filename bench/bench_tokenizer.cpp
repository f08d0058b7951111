// Encode throughput of the tokenizers: pajamas tokenizer MB/s on a large text.
//   bench_tokenizer MODEL_DIR [TEXT_FILE] [--repeat N] [--ids OUT]
// Without TEXT_FILE the text is every fixture test string of the four tokenizers, joined by newlines
// and repeated to about 4 MB. Prints one JSON line per model; --ids writes the ids (one per line) so
// that bench/tokenizer_vs_hf.py can check them against the reference on the same text.
#include "core/base/error.h"
#include "core/base/file.h"
#include "models/tokenizer/hf_tokenizer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#ifndef PJ_SHARED_DIR
#define PJ_SHARED_DIR "../shared"
#endif

namespace {

std::string default_text() {
  std::string unit;
  for (const char* name : {"qwen", "llama3", "gemma", "mistral"}) {
    const auto v = nlohmann::json::parse(
        pj::read_text_file(std::string(PJ_SHARED_DIR) + "/fixtures/tokenizers/" + name + "/vectors.json"));
    for (const auto& c : v["cases"]) unit += c["text"].get<std::string>() + "\n";
  }
  std::string text;
  while (text.size() < (4u << 20)) text += unit;
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_tokenizer MODEL_DIR [TEXT_FILE] [--repeat N] [--ids OUT]\n");
    return 2;
  }
  try {
    std::string model = argv[1], file, ids_out;
    int repeat = 3;
    for (int i = 2; i < argc; ++i) {
      if (!std::strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = std::max(1, std::atoi(argv[++i]));
      else if (!std::strcmp(argv[i], "--ids") && i + 1 < argc) ids_out = argv[++i];
      else file = argv[i];
    }
    const std::string text = file.empty() ? default_text() : pj::read_text_file(file);
    const auto t0 = std::chrono::steady_clock::now();
    const pj::tok::Tokenizer tok = pj::tok::load_hf_tokenizer(model);
    const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::vector<int> ids;
    double best = 1e30;
    for (int r = 0; r < repeat; ++r) {
      const auto a = std::chrono::steady_clock::now();
      ids = tok.encode(text, /*parse_special=*/true);  // HF encode() always matches added tokens
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count());
    }
    const auto a = std::chrono::steady_clock::now();
    const std::string back = tok.decode(ids);
    const double decode_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count();
    std::printf(
        "{\"model\": \"%s\", \"bytes\": %zu, \"tokens\": %zu, \"load_s\": %.4f, \"encode_s\": %.4f, "
        "\"encode_mb_s\": %.2f, \"decode_mb_s\": %.2f, \"roundtrip\": %s}\n",
        model.c_str(), text.size(), ids.size(), load_s, best, text.size() / best / 1e6,
        text.size() / decode_s / 1e6, back == text ? "true" : "false");
    if (!ids_out.empty()) {
      std::string s;
      for (int id : ids) s += std::to_string(id) + "\n";
      pj::AtomicFileWriter w(ids_out);
      w.write(s);
      w.commit();
    }
  } catch (const pj::Error& e) {
    std::fprintf(stderr, "bench_tokenizer: %s\n", e.what());
    return 1;
  }
  return 0;
}
