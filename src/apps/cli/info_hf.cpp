// `pajamas info` for safetensors files and Hugging Face model folders. Text output summarises long
// lists (-v shows everything); --json always holds the complete tensor table (and with -v the complete
// SentencePiece piece list) so scripts can compare it against other tools.
#include "apps/cli/info.h"
#include "core/base/error.h"
#include "core/hf/hf_folder.h"
#include "core/safetensors/safetensors.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <map>

namespace pj::cli {

namespace {

using json = nlohmann::ordered_json;
namespace st = pj::safetensors;

constexpr size_t kTextListLimit = 16;  // rows of a long list shown without -v

std::string dump(const json& j, int indent = -1) {
  // Names in untrusted files may hold invalid UTF-8; replace rather than throw.
  return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

std::string human_bytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, ++u;
  return u == 0 ? fmt::format("{} B", n) : fmt::format("{:.2f} {}", v, units[u]);
}

struct Totals {
  uint64_t parameters = 0, bytes = 0;
  std::map<std::string, uint64_t> dtype_counts;
  double bits_per_weight() const { return parameters ? 8.0 * static_cast<double>(bytes) / static_cast<double>(parameters) : 0; }
};

Totals totals_of(const std::vector<const st::TensorInfo*>& ts) {
  Totals t;
  for (const auto* x : ts) {
    t.parameters += x->n_elements();
    t.bytes += x->nbytes;
    t.dtype_counts[std::string(st::dtype_name(x->dtype))]++;
  }
  return t;
}

json tensors_json(const std::vector<const st::TensorInfo*>& ts) {
  json arr = json::array();
  for (const auto* t : ts)
    arr.push_back({{"name", t->name}, {"dtype", st::dtype_name(t->dtype)}, {"shape", t->shape}, {"bytes", t->nbytes}, {"offset", t->offset}});
  return arr;
}

json totals_json(const Totals& t) {
  return {{"parameters", t.parameters}, {"bytes", t.bytes}, {"bits_per_weight", t.bits_per_weight()}, {"dtypes", t.dtype_counts}};
}

void print_tensor_table(const std::vector<const st::TensorInfo*>& ts, const Totals& tot, int verbosity) {
  size_t w = 4;
  for (const auto* t : ts) w = std::max(w, t->name.size());
  w = std::min<size_t>(w, 60);
  std::printf("  %-*s  %-7s  %-20s  %s\n", static_cast<int>(w), "name", "dtype", "shape", "bytes");
  size_t shown = verbosity > 0 ? ts.size() : std::min(ts.size(), kTextListLimit);
  for (size_t i = 0; i < shown; ++i) {
    const auto* t = ts[i];
    std::printf("  %-*s  %-7s  %-20s  %llu\n", static_cast<int>(w), t->name.c_str(), std::string(st::dtype_name(t->dtype)).c_str(),
                fmt::format("[{}]", fmt::join(t->shape, ", ")).c_str(), static_cast<unsigned long long>(t->nbytes));
  }
  if (shown < ts.size()) std::printf("  ... %zu more tensors (-v shows all)\n", ts.size() - shown);
  std::string dtypes;
  for (const auto& [d, n] : tot.dtype_counts) dtypes += fmt::format("{}{} x{}", dtypes.empty() ? "" : ", ", d, n);
  std::printf("  total: %zu tensors, %llu parameters, %s, %.2f bits per weight (%s)\n", ts.size(),
              static_cast<unsigned long long>(tot.parameters), human_bytes(tot.bytes).c_str(), tot.bits_per_weight(), dtypes.c_str());
}

json rope_json(const hf::RopeParams& r) {
  return {{"rope_type", r.type}, {"rope_theta", r.theta}, {"factor", r.factor},
          {"original_max_position_embeddings", r.original_max_position_embeddings}, {"raw", json::parse(r.raw.dump())}};
}

json config_json(const hf::ModelConfig& c) {
  json j = {{"architectures", c.architectures}, {"model_type", c.model_type}, {"dtype", c.dtype}};
  json hp = json::object();
  auto put = [&](const char* k, int64_t v) { if (v) hp[k] = v; };
  put("vocab_size", c.vocab_size);
  put("hidden_size", c.hidden_size);
  put("intermediate_size", c.intermediate_size);
  put("num_hidden_layers", c.num_hidden_layers);
  put("num_attention_heads", c.num_attention_heads);
  put("num_key_value_heads", c.num_key_value_heads);
  put("head_dim", c.head_dim);
  put("max_position_embeddings", c.max_position_embeddings);
  put("sliding_window", c.sliding_window);
  if (c.norm_eps) hp["norm_eps"] = c.norm_eps;
  hp["tie_word_embeddings"] = c.tie_word_embeddings;
  // Models outside the decoder family (whisper, vit): their own scalar keys, as given.
  if (!c.hidden_size)
    for (auto it = c.raw.begin(); it != c.raw.end(); ++it)
      if (it.value().is_number() && !hp.contains(it.key())) hp[it.key()] = json::parse(it.value().dump());
  j["hyperparameters"] = hp;
  if (!c.layer_types.empty()) j["layer_types"] = c.layer_types;
  json rope = json::object();
  for (const auto& [k, r] : c.rope) rope[k.empty() ? "all" : k] = rope_json(r);
  if (!rope.empty()) j["rope"] = rope;
  j["bos_token_id"] = c.bos_token_ids;
  j["eos_token_id"] = c.eos_token_ids;
  if (c.pad_token_id) j["pad_token_id"] = *c.pad_token_id;
  for (const auto& [k, sub] : c.sub_configs) j["sub_configs"][k] = config_json(sub);
  return j;
}

json spm_json(const hf::SpmModel& m, int verbosity) {
  json j = {{"model_type", hf::spm_model_type_name(m.model_type)}, {"pieces", m.pieces.size()},
            {"unk_id", m.unk_id}, {"bos_id", m.bos_id}, {"eos_id", m.eos_id}, {"pad_id", m.pad_id},
            {"byte_fallback", m.byte_fallback}, {"split_digits", m.split_digits},
            {"treat_whitespace_as_suffix", m.treat_whitespace_as_suffix}, {"normalizer", m.normalizer_name},
            {"add_dummy_prefix", m.add_dummy_prefix}, {"remove_extra_whitespaces", m.remove_extra_whitespaces},
            {"escape_whitespaces", m.escape_whitespaces}, {"precompiled_charsmap_bytes", m.precompiled_charsmap.size()}};
  if (verbosity > 0) {
    json pieces = json::array();
    for (const auto& p : m.pieces) pieces.push_back({p.piece, p.score, static_cast<int>(p.type)});
    j["piece_list"] = pieces;  // [piece, score, type]
  }
  return j;
}

json tokenizer_json(const hf::TokenizerFiles& t, int verbosity) {
  json j = {{"kind", t.kind()}, {"vocab_size", t.vocab_size()}, {"bos_token", t.bos_token}, {"eos_token", t.eos_token},
            {"unk_token", t.unk_token}, {"pad_token", t.pad_token}, {"has_chat_template", !t.chat_template.empty()}};
  j["add_bos_token"] = t.add_bos_token ? json(*t.add_bos_token) : json(nullptr);
  j["add_eos_token"] = t.add_eos_token ? json(*t.add_eos_token) : json(nullptr);
  json added = json::array();
  for (const auto& [id, a] : t.added_tokens) added.push_back({{"id", id}, {"content", a.content}, {"special", a.special}});
  j["added_tokens"] = added;
  if (t.spm) j["sentencepiece"] = spm_json(*t.spm, verbosity);
  return j;
}

void print_config(const json& c, const std::string& indent) {
  std::printf("%sarchitecture: %s  model_type: %s  dtype: %s\n", indent.c_str(),
              c["architectures"].empty() ? "-" : c["architectures"][0].get<std::string>().c_str(),
              c["model_type"].get<std::string>().c_str(), c["dtype"].get<std::string>().c_str());
  std::string hp;
  for (auto it = c["hyperparameters"].begin(); it != c["hyperparameters"].end(); ++it)
    hp += fmt::format("{}{}={}", hp.empty() ? "" : " ", it.key(), dump(it.value()));
  std::printf("%s  %s\n", indent.c_str(), hp.c_str());
  if (c.contains("layer_types")) std::printf("%s  layer_types: %s\n", indent.c_str(), dump(c["layer_types"]).c_str());
  if (c.contains("rope"))
    for (auto it = c["rope"].begin(); it != c["rope"].end(); ++it)
      std::printf("%s  rope[%s]: %s\n", indent.c_str(), it.key().c_str(), dump(it.value()["raw"]).c_str());
  if (c.contains("sub_configs"))
    for (auto it = c["sub_configs"].begin(); it != c["sub_configs"].end(); ++it) {
      std::printf("%s  %s:\n", indent.c_str(), it.key().c_str());
      print_config(it.value(), indent + "    ");
    }
}

}  // namespace

void info_safetensors(const std::string& path, const InfoOptions& o) {
  auto f = st::File::open(path);
  std::vector<const st::TensorInfo*> ts;
  for (const auto& t : f.tensors()) ts.push_back(&t);
  Totals tot = totals_of(ts);
  if (o.json) {
    json j = {{"format", "safetensors"}, {"path", path}, {"file_bytes", f.file_size()}, {"header_bytes", f.header_size()},
              {"metadata", f.metadata()}, {"tensor_count", ts.size()}, {"totals", totals_json(tot)}, {"tensors", tensors_json(ts)}};
    std::printf("%s\n", dump(j, 2).c_str());
    return;
  }
  std::printf("%s: safetensors, %s, header %llu bytes\n", path.c_str(), human_bytes(f.file_size()).c_str(),
              static_cast<unsigned long long>(f.header_size()));
  for (const auto& [k, v] : f.metadata()) std::printf("  metadata %s = %s\n", k.c_str(), v.c_str());
  print_tensor_table(ts, tot, o.verbosity);
}

void info_hf_folder(const std::string& path, const InfoOptions& o) {
  auto f = hf::open_folder(path);
  json j = {{"format", "hf-folder"}, {"path", path}};
  if (f.config) j["config"] = config_json(*f.config);
  if (f.generation) j["generation_config"] = json::parse(f.generation->raw.dump());
  if (f.tokenizer.present()) j["tokenizer"] = tokenizer_json(f.tokenizer, o.verbosity);
  Totals tot;
  if (f.weights) {
    tot = totals_of(f.weights->tensors());
    json files = json::array();
    for (const auto& s : f.weights->files()) files.push_back(s.path());
    j["weights"] = {{"files", files}, {"index", f.weights->index_path()}, {"tensor_count", f.weights->tensors().size()},
                    {"totals", totals_json(tot)}, {"tensors", tensors_json(f.weights->tensors())}};
  }
  if (o.json) {
    std::printf("%s\n", dump(j, 2).c_str());
    return;
  }
  std::printf("%s: Hugging Face model folder\n", path.c_str());
  if (f.config) {
    std::printf("config:\n");
    print_config(j["config"], "  ");
  }
  if (f.generation) {
    std::string g;
    for (auto it = j["generation_config"].begin(); it != j["generation_config"].end(); ++it)
      if (it.key() != "transformers_version" && it.key() != "_from_model_config")
        g += fmt::format("{}{}={}", g.empty() ? "" : " ", it.key(), dump(it.value()));
    std::printf("generation: %s\n", g.c_str());
  }
  if (f.tokenizer.present()) {
    const json& t = j["tokenizer"];
    std::printf("tokenizer: %s, %lld ids, bos %s, eos %s, add_bos %s, chat template: %s\n", t["kind"].get<std::string>().c_str(),
                static_cast<long long>(t["vocab_size"].get<int64_t>()), dump(t["bos_token"]).c_str(), dump(t["eos_token"]).c_str(),
                dump(t["add_bos_token"]).c_str(), t["has_chat_template"].get<bool>() ? "yes" : "no");
    if (t.contains("sentencepiece")) {
      const json& s = t["sentencepiece"];
      std::printf("  sentencepiece: %s, %zu pieces, byte_fallback %s, add_dummy_prefix %s, normalizer %s\n",
                  s["model_type"].get<std::string>().c_str(), s["pieces"].get<size_t>(), dump(s["byte_fallback"]).c_str(),
                  dump(s["add_dummy_prefix"]).c_str(), dump(s["normalizer"]).c_str());
    }
    const json& added = t["added_tokens"];
    size_t shown = o.verbosity > 0 ? added.size() : std::min(added.size(), kTextListLimit);
    std::string list;
    for (size_t i = 0; i < shown; ++i) list += fmt::format("{}{}={}", i ? " " : "", added[i]["id"].get<int64_t>(), dump(added[i]["content"]));
    if (!added.empty())
      std::printf("  added tokens (%zu): %s%s\n", added.size(), list.c_str(), shown < added.size() ? " ..." : "");
  }
  if (f.weights) {
    std::printf("weights: %zu file(s)%s\n", f.weights->files().size(),
                f.weights->index_path().empty() ? "" : (", index " + f.weights->index_path()).c_str());
    print_tensor_table(f.weights->tensors(), tot, o.verbosity);
  }
}

}  // namespace pj::cli
