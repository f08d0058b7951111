// Splitting a text into evaluation chunks the way llama-imatrix and llama-perplexity do
// (tools/imatrix/imatrix.cpp, tools/perplexity/perplexity.cpp in llama.cpp): the whole text is
// tokenized once (BOS prepended when the model adds one, special tokens not parsed), cut into
// n_chunk = n_tokens / n_ctx consecutive windows of n_ctx tokens (or fewer with --chunks), and the
// first token of every window is replaced by BOS when the model adds one. Each window is evaluated
// from an empty KV cache.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/kernels/context.h"
#include "models/llm/model.h"
#include "models/tokenizer/tokenizer.h"

namespace pj::imatrix {

struct ChunkPlan {
  std::vector<int32_t> tokens;  // the whole tokenized text
  int64_t n_ctx = 0;            // tokens per chunk
  int64_t n_chunk = 0;
  int32_t bos = -1;             // substituted for each chunk's first token; -1: none
  // Tokens of chunk i (BOS substituted).
  std::vector<int32_t> chunk(int64_t i) const;
};

// The text's tokens as llama.cpp's common_tokenize(ctx, text, add_special=true, parse_special=false).
std::vector<int32_t> tokenize_text(const tok::Tokenizer& t, std::string_view text);

// n_chunks <= 0: as many as fit. Refuses (pj::Error naming `what`, the token count and the count
// needed) when there are fewer than max(2, n_chunks) * n_ctx tokens; llama.cpp needs 2 * n_ctx.
ChunkPlan plan_chunks(std::vector<int32_t> tokens, int64_t n_ctx, int64_t n_chunks, int32_t bos,
                      const std::string& what);

// Tokens needed for n_chunks chunks of n_ctx (at least 2 * n_ctx, llama.cpp's minimum).
int64_t tokens_needed(int64_t n_ctx, int64_t n_chunks);

// A progress line on stderr: chunks done, a bar, tokens/s and the estimated time left.
class Progress {
 public:
  Progress(std::string label, int64_t n_chunk, int64_t tokens_per_chunk, bool enabled);
  void update(int64_t chunks_done);
  void finish();
  double seconds() const;

 private:
  std::string label_;
  int64_t n_chunk_, tokens_per_chunk_;
  bool enabled_;
  std::chrono::steady_clock::time_point start_;
};

using MatmulObserver = std::function<void(std::string_view weight, const float* x, int64_t n_rows, int64_t n_cols)>;
// logits: [n_ctx, n_vocab] when need_logits, else empty.
using ChunkCallback = std::function<void(int64_t chunk, const std::vector<int32_t>& tokens, const float* logits)>;

// Evaluates every chunk of `plan` in a fresh session over `model` (F16 KV cache, like llama.cpp's
// default), calling `observer` before each weight matmul and `on_chunk` after each chunk.
void run_chunks(const llm::LlmModel& model, KernelContext& kctx, const ChunkPlan& plan, bool need_logits,
                const MatmulObserver& observer, const ChunkCallback& on_chunk, Progress* progress);

}  // namespace pj::imatrix
