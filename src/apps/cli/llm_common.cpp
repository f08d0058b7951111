#include "apps/cli/llm_common.h"

#include "apps/cli/model_path.h"
#include "core/base/error.h"
#include "models/convert/load_any.h"
#include "models/tokenizer/gguf_tokenizer.h"

namespace pj::cli {

void add_llm_options(CLI::App* cmd, LlmOptions& o, const char* default_kv) {
  o.kv_type = default_kv;
  cmd->add_option("-m,--model", o.model, "GGUF file or Hugging Face folder (default: the model setup.sh installs)");
  cmd->add_option("-t,--threads", o.threads, "Threads (default: all cores)")->check(CLI::Range(0, 1024));
  cmd->add_option("-c,--ctx", o.ctx, "Context length (KV cache positions)")->check(CLI::Range(16, 1 << 22));
  cmd->add_option("--kv-type", o.kv_type, "KV cache element type")->check(CLI::IsMember({"f16", "f32"}))->capture_default_str();
}

void add_sample_options(CLI::App* cmd, SampleOptions& o) {
  cmd->add_option("-n,--max-tokens", o.max_tokens, "Tokens to generate at most")->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--temp", o.temperature, "Sampling temperature (0: greedy)")->check(CLI::Range(0.0, 10.0));
  cmd->add_option("--top-k", o.top_k, "Keep the K most likely tokens (0: off)")->check(CLI::Range(0, 1 << 24));
  cmd->add_option("--top-p", o.top_p, "Nucleus sampling mass (1: off)")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--min-p", o.min_p, "Drop tokens below min-p times the top probability")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--repeat-penalty", o.repeat_penalty, "Divide logits of tokens already generated (1: off)")->check(CLI::Range(0.0, 10.0));
  cmd->add_option("--presence-penalty", o.presence_penalty, "Subtract from logits of tokens already generated")->check(CLI::Range(-2.0, 2.0));
  cmd->add_option("--frequency-penalty", o.frequency_penalty, "Subtract, times their count, from logits of generated tokens")->check(CLI::Range(-2.0, 2.0));
  cmd->add_option("--seed", o.seed, "Random seed");
  cmd->add_option("--stop", o.stop, "Stop string (repeatable; not included in the output)");
}

LoadedLlm load_llm(const LlmOptions& o) {
  LoadedLlm l;
  l.path = resolve_model_path(o.model);
  l.model = convert::load_llm(l.path);
  const auto& f = l.model->file();
  if (!f.has("tokenizer.ggml.model")) fail("{}: the model has no tokenizer (tokenizer.ggml.* keys)", l.path);
  l.tok = std::make_unique<tok::Tokenizer>(tok::load_gguf_tokenizer(f));
  if (l.tok->n_vocab() > l.model->hparams().n_vocab)
    fail("{}: the tokenizer has {} tokens but the model's embedding only {} rows", l.path, l.tok->n_vocab(),
         l.model->hparams().n_vocab);
  KernelContext::Options ko;
  ko.threads = o.threads;
  l.kctx = std::make_unique<KernelContext>(ko);
  llm::SessionOptions so;
  so.n_ctx = o.ctx;
  so.kv_type = o.kv_type == "f32" ? ops::KvType::f32 : ops::KvType::f16;
  l.session = std::make_unique<llm::LlmSession>(*l.model, *l.kctx, so);
  const std::string src = f.get_string_or("tokenizer.chat_template", "");
  if (!src.empty()) l.tmpl = std::make_unique<chat::Template>(src, l.path + ": chat template");
  return l;
}

llm::Sampler make_sampler(const SampleOptions& o) {
  llm::SamplerParams p;
  p.temperature = o.temperature;
  p.top_k = o.top_k;
  p.top_p = o.top_p;
  p.min_p = o.min_p;
  p.repeat_penalty = o.repeat_penalty;
  p.presence_penalty = o.presence_penalty;
  p.frequency_penalty = o.frequency_penalty;
  p.seed = o.seed;
  return llm::Sampler(p);
}

llm::GenerateOptions make_generate_options(const SampleOptions& o) {
  llm::GenerateOptions g;
  g.max_tokens = o.max_tokens;
  g.stop = o.stop;
  return g;
}

std::vector<int32_t> tokenize_prompt(const tok::Tokenizer& t, const std::string& text, bool parse_special) {
  const auto& sp = t.spec();
  // Chat templates often start with the BOS token as text ("<s>", "<bos>"). A SentencePiece tokenizer
  // never matches control tokens in text, so take it off here and add the id below.
  std::string_view body = text;
  bool bos_text = false;
  if (parse_special && sp.bos_id >= 0) {
    const std::string_view b = t.token(sp.bos_id);
    if (!b.empty() && body.substr(0, b.size()) == b) {
      body.remove_prefix(b.size());
      bos_text = true;
    }
  }
  std::vector<int> ids = t.encode(body, parse_special, false);
  if (bos_text && (ids.empty() || ids.front() != sp.bos_id)) ids.insert(ids.begin(), sp.bos_id);
  if (sp.add_bos && sp.bos_id >= 0 && (ids.empty() || ids.front() != sp.bos_id)) ids.insert(ids.begin(), sp.bos_id);
  return {ids.begin(), ids.end()};
}

std::string render_chat(const LoadedLlm& l, const nlohmann::ordered_json& messages, bool enable_thinking) {
  if (!l.tmpl)
    fail("{}: the model has no chat template (tokenizer.chat_template); use 'pajamas generate --raw'", l.path);
  nlohmann::ordered_json ctx = {{"messages", messages}, {"add_generation_prompt", true}, {"tools", nullptr},
                        {"enable_thinking", enable_thinking}};
  const auto& sp = l.tok->spec();
  if (sp.bos_id >= 0) ctx["bos_token"] = std::string(l.tok->token(sp.bos_id));
  if (sp.eos_id >= 0) ctx["eos_token"] = std::string(l.tok->token(sp.eos_id));
  return l.tmpl->render(ctx);
}

}  // namespace pj::cli
