#include "models/imatrix/chunks.h"

#include <algorithm>
#include <cstdio>

#include "core/base/error.h"
#include "models/llm/session.h"

namespace pj::imatrix {

std::vector<int32_t> ChunkPlan::chunk(int64_t i) const {
  std::vector<int32_t> c(tokens.begin() + i * n_ctx, tokens.begin() + (i + 1) * n_ctx);
  if (bos >= 0) c[0] = bos;
  return c;
}

std::vector<int32_t> tokenize_text(const tok::Tokenizer& t, std::string_view text) {
  const std::vector<int> ids = t.encode(text, /*parse_special=*/false, /*add_special=*/true);
  return {ids.begin(), ids.end()};
}

int64_t tokens_needed(int64_t n_ctx, int64_t n_chunks) { return std::max<int64_t>(2, n_chunks) * n_ctx; }

ChunkPlan plan_chunks(std::vector<int32_t> tokens, int64_t n_ctx, int64_t n_chunks, int32_t bos,
                      const std::string& what) {
  if (n_ctx < 2) fail("{}: the context must be at least 2 tokens (got {})", what, n_ctx);
  const int64_t need = tokens_needed(n_ctx, n_chunks);
  if (int64_t(tokens.size()) < need)
    fail("{}: the text has {} tokens, but a context of {} with {} chunks needs at least {} tokens", what,
         tokens.size(), n_ctx, n_chunks > 0 ? std::to_string(n_chunks) : std::string("at least 2"), need);
  ChunkPlan p;
  p.n_ctx = n_ctx;
  p.n_chunk = int64_t(tokens.size()) / n_ctx;
  if (n_chunks > 0) p.n_chunk = std::min(p.n_chunk, n_chunks);
  p.bos = bos;
  p.tokens = std::move(tokens);
  return p;
}

Progress::Progress(std::string label, int64_t n_chunk, int64_t tokens_per_chunk, bool enabled)
    : label_(std::move(label)), n_chunk_(n_chunk), tokens_per_chunk_(tokens_per_chunk), enabled_(enabled),
      start_(std::chrono::steady_clock::now()) {}

double Progress::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::update(int64_t done) {
  if (!enabled_) return;
  const double s = seconds();
  const double tps = s > 0 ? double(done * tokens_per_chunk_) / s : 0;
  const double eta = done > 0 ? s / double(done) * double(n_chunk_ - done) : 0;
  constexpr int kWidth = 30;
  const int fill = n_chunk_ > 0 ? int(kWidth * done / n_chunk_) : kWidth;
  std::string bar(size_t(fill), '=');
  bar.resize(kWidth, ' ');
  std::fprintf(stderr, "\r%s [%s] %lld/%lld chunks, %.0f tok/s, %d:%02d left ", label_.c_str(), bar.c_str(),
               (long long)done, (long long)n_chunk_, tps, int(eta) / 60, int(eta) % 60);
  std::fflush(stderr);
}

void Progress::finish() {
  if (enabled_) std::fprintf(stderr, "\n");
}

void run_chunks(const llm::LlmModel& model, KernelContext& kctx, const ChunkPlan& plan, bool need_logits,
                const MatmulObserver& observer, const ChunkCallback& on_chunk, Progress* progress) {
  llm::SessionOptions so;
  so.n_ctx = plan.n_ctx;
  so.kv_type = ops::KvType::f16;
  so.on_matmul = observer;
  llm::LlmSession session(model, kctx, so);
  if (session.n_ctx() < plan.n_ctx)
    fail("the model's training context is {} tokens, less than the requested --ctx {}", session.n_ctx(), plan.n_ctx);
  if (progress) progress->update(0);
  for (int64_t i = 0; i < plan.n_chunk; ++i) {
    session.truncate(0);
    const std::vector<int32_t> c = plan.chunk(i);
    auto logits = session.decode(c, need_logits);
    on_chunk(i, c, need_logits ? logits.data() : nullptr);
    if (progress) progress->update(i + 1);
  }
  if (progress) progress->finish();
}

}  // namespace pj::imatrix
