#include "models/imatrix/driver.h"

#include "core/base/error.h"
#include "models/imatrix/chunks.h"
#include "models/imatrix/collector.h"
#include "models/imatrix/perplexity.h"

namespace pj::imatrix {

int32_t chunk_bos(const tok::Tokenizer& tok) {
  const auto& sp = tok.spec();
  return sp.add_bos && sp.bos_id >= 0 ? sp.bos_id : -1;
}

quantize::RawImatrix merge_files(const std::vector<std::string>& in_files, int64_t chunk_size) {
  if (in_files.empty()) fail("imatrix: no text and no --in-file to combine");
  Collector c(chunk_size, false);
  for (const auto& f : in_files) c.add(quantize::read_imatrix_raw(f, chunk_size), f);
  return c.data();
}

ImatrixResult compute_imatrix(const llm::LlmModel& model, const tok::Tokenizer& tok, KernelContext& kctx,
                              const ImatrixRequest& r) {
  Collector c(r.n_ctx, r.process_output);
  for (const auto& f : r.in_files) c.add(quantize::read_imatrix_raw(f, r.n_ctx), f);
  ChunkPlan plan = plan_chunks(tokenize_text(tok, r.text), r.n_ctx, r.n_chunks, chunk_bos(tok),
                               "imatrix: " + r.dataset);
  ImatrixResult res;
  res.n_tokens = int64_t(plan.tokens.size());
  res.n_chunk = plan.n_chunk;
  Perplexity ppl;
  const int64_t V = model.hparams().n_vocab;
  Progress progress("imatrix", plan.n_chunk, plan.n_ctx, r.progress);
  run_chunks(
      model, kctx, plan, r.compute_ppl || r.process_output,  // llama.cpp outputs every row
      [&](std::string_view w, const float* x, int64_t n, int64_t k) { c.observe(w, x, n, k); },
      [&](int64_t, const std::vector<int32_t>& toks, const float* logits) {
        if (logits) ppl.add_chunk(logits, toks, V);
      },
      &progress);
  res.seconds = progress.seconds();
  if (!r.dataset.empty()) c.add_dataset(r.dataset);
  res.matrix = c.data();
  if (r.compute_ppl) {
    res.ppl = ppl.ppl();
    res.ppl_err = ppl.ppl_uncertainty();
  }
  return res;
}

}  // namespace pj::imatrix
