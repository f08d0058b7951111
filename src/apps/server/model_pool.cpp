#include "apps/server/model_pool.h"

#include "apps/server/api_error.h"
#include "core/base/error.h"
#include "core/gguf/gguf.h"
#include "models/convert/load_any.h"
#include "models/llm/generate.h"
#include "models/tokenizer/gguf_tokenizer.h"

#include <algorithm>
#include <filesystem>
#include <thread>

namespace pj::server {

namespace fs = std::filesystem;

double parse_duration(const std::string& s) {
  if (s.empty()) fail("keep-alive: empty duration");
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(s, &used);
  } catch (const std::exception&) {
    fail("keep-alive: '{}' is not a duration (e.g. 300, 30s, 5m, 1h, -1 for never)", s);
  }
  const std::string unit = s.substr(used);
  if (v < 0) return -1;
  if (unit.empty() || unit == "s") return v;
  if (unit == "m") return v * 60;
  if (unit == "h") return v * 3600;
  fail("keep-alive: '{}' is not a duration (e.g. 300, 30s, 5m, 1h, -1 for never)", s);
}

Lease::~Lease() {
  if (slot_) model_->release(slot_);
}

LoadedModel::LoadedModel(std::string id_, std::string path_, const PoolOptions& o)
    : id(std::move(id_)), path(std::move(path_)) {
  model = convert::load_llm(path);
  const auto& f = model->file();
  if (!f.has("tokenizer.ggml.model")) fail("{}: the model has no tokenizer (tokenizer.ggml.* keys)", path);
  tok = std::make_unique<tok::Tokenizer>(tok::load_gguf_tokenizer(f));
  if (tok->n_vocab() > model->hparams().n_vocab)
    fail("{}: the tokenizer has {} tokens but the model's embedding only {} rows", path, tok->n_vocab(),
         model->hparams().n_vocab);
  const std::string src = f.get_string_or("tokenizer.chat_template", "");
  if (!src.empty()) {
    tmpl = std::make_unique<chat::Template>(src, path + ": chat template");
    template_renders_tools = src.find("tools") != std::string::npos;
  }
  eog = llm::end_of_generation_ids(*tok);
  const int nv = tok->n_vocab();
  token_text.resize(size_t(nv));
  token_plain.resize(size_t(nv));
  for (int id = 0; id < nv; ++id) {
    const auto t = tok->type(id);
    const bool plain = t == tok::TokenType::normal || t == tok::TokenType::byte;
    if (plain) token_text[size_t(id)] = tok->token_bytes(id, false, false);
    token_plain[size_t(id)] = plain && !token_text[size_t(id)].empty();
  }

  const int parallel = std::max(1, o.parallel);
  const int total = o.threads > 0 ? o.threads : int(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 0; i < parallel; ++i) {
    auto s = std::make_unique<Slot>();
    s->index = i;
    KernelContext::Options ko;
    ko.threads = std::max(1, total / parallel);
    s->kctx = std::make_unique<KernelContext>(ko);
    llm::SessionOptions so;
    so.n_ctx = o.ctx;
    so.kv_type = o.kv_f32 ? ops::KvType::f32 : ops::KvType::f16;
    Slot* sp = s.get();
    const int64_t last = model->hparams().n_layer;
    const llm::LlmModel* m = model.get();
    // The last layer's output, through the final norm: the "last hidden state" of transformers.
    so.on_hidden = [sp, last, m](int64_t layer, const float* x, int64_t n) {
      if (!sp->capture || layer != last) return;
      const int64_t E = m->hparams().n_embd;
      sp->hidden_sum.resize(size_t(E), 0.0f);
      sp->norm_row.resize(size_t(E));
      const auto* w = static_cast<const float*>(m->output_norm().data);
      for (int64_t r = 0; r < n; ++r) {
        sp->kctx->ops().rms_norm(x + r * E, w, sp->norm_row.data(), E, m->hparams().norm_eps);
        for (int64_t i = 0; i < E; ++i) sp->hidden_sum[size_t(i)] += sp->norm_row[size_t(i)];
      }
    };
    s->session = std::make_unique<llm::LlmSession>(*model, *s->kctx, so);
    slots_.push_back(std::move(s));
    busy_.push_back(false);
  }
  last_used_ = std::chrono::steady_clock::now();
}

std::optional<Lease> LoadedModel::acquire(const std::vector<int32_t>& prompt, const std::function<bool()>& still_wanted) {
  std::unique_lock lk(mu_);
  const uint64_t me = next_waiter_++;
  waiters_.push_back(me);
  auto free_slot = [&] { return std::find(busy_.begin(), busy_.end(), false) != busy_.end(); };
  while (!(waiters_.front() == me && free_slot())) {
    if (cv_.wait_for(lk, std::chrono::seconds(1)) == std::cv_status::timeout && still_wanted) {
      lk.unlock();
      const bool want = still_wanted();
      lk.lock();
      if (!want) {
        waiters_.erase(std::find(waiters_.begin(), waiters_.end(), me));
        cv_.notify_all();
        return std::nullopt;
      }
    }
  }
  waiters_.pop_front();
  size_t best = 0, best_len = 0;
  bool found = false;
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (busy_[i]) continue;
    const auto& h = slots_[i]->history;
    size_t n = 0;
    while (n < h.size() && n < prompt.size() && h[n] == prompt[n]) ++n;
    if (!found || n > best_len) {
      best = i;
      best_len = n;
      found = true;
    }
  }
  busy_[best] = true;
  last_used_ = std::chrono::steady_clock::now();
  cv_.notify_all();  // the next waiter may take another free slot
  return Lease(shared_from_this(), slots_[best].get());
}

void LoadedModel::release(Slot* s) {
  std::lock_guard lk(mu_);
  busy_[size_t(s->index)] = false;
  last_used_ = std::chrono::steady_clock::now();
  cv_.notify_all();
}

int LoadedModel::queued() const {
  std::lock_guard lk(mu_);
  return int(waiters_.size());
}

int LoadedModel::busy() const {
  std::lock_guard lk(mu_);
  return int(std::count(busy_.begin(), busy_.end(), true));
}

std::chrono::steady_clock::time_point LoadedModel::last_used() const {
  std::lock_guard lk(mu_);
  return last_used_;
}

ModelPool::ModelPool(PoolOptions o) : opts_(std::move(o)) {
  if (!opts_.models_dir.empty() && !fs::is_directory(opts_.models_dir))
    fail("serve: models folder {}: not a directory", opts_.models_dir);
  for (const auto& p : opts_.models)
    if (!fs::exists(p)) fail("serve: model {}: no such file or folder", p);
}

std::vector<ModelPool::Entry> ModelPool::scan() {
  std::vector<Entry> out;
  auto add = [&](const fs::path& p) {
    std::error_code ec;
    const bool dir = fs::is_directory(p, ec);
    std::string id = dir ? p.filename().string() : p.stem().string();
    if (id.empty()) id = p.parent_path().filename().string();  // "folder/"
    for (const auto& e : out)
      if (e.id == id) return;
    out.push_back({id, p.string(), dir ? "hf" : "gguf"});
  };
  for (const auto& p : opts_.models) add(fs::path(p));
  if (!opts_.models_dir.empty()) {
    std::error_code ec;
    std::vector<fs::path> found;
    for (const auto& e : fs::directory_iterator(opts_.models_dir, ec)) {
      const fs::path& p = e.path();
      if (e.is_regular_file(ec) && p.extension() == ".gguf") found.push_back(p);
      else if (e.is_directory(ec) && fs::exists(p / "config.json", ec)) found.push_back(p);
    }
    std::sort(found.begin(), found.end());
    for (const auto& p : found) add(p);
  }
  return out;
}

std::vector<ModelInfo> ModelPool::list() {
  std::vector<ModelInfo> out;
  for (const auto& e : scan()) {
    ModelInfo info;
    {
      std::lock_guard lk(mu_);
      auto it = info_cache_.find(e.path);
      if (it != info_cache_.end()) info = it->second;
    }
    if (info.id.empty()) {
      info.id = e.id;
      info.path = e.path;
      info.format = e.format;
      std::error_code ec;
      if (e.format == "gguf") {
        info.size_bytes = fs::file_size(e.path, ec);
        try {
          auto f = gguf::File::open(e.path);
          info.arch = f.get_string_or("general.architecture", "");
          std::map<GgmlType, uint64_t> bytes;
          for (const auto& t : f.tensors())
            if (t.shape.size() >= 2) bytes[t.type] += t.n_bytes;
          uint64_t most = 0;
          for (const auto& [ty, b] : bytes)
            if (b > most) {
              most = b;
              info.quant = std::string(ggml_type_info(ty).name);
            }
        } catch (const Error& err) {
          info.arch = "unreadable";
        }
      } else {
        for (const auto& f : fs::directory_iterator(e.path, ec))
          if (f.is_regular_file(ec)) info.size_bytes += f.file_size(ec);
        info.quant = "safetensors";
      }
      std::lock_guard lk(mu_);
      info_cache_[e.path] = info;
    }
    std::lock_guard lk(mu_);
    auto it = loaded_.find(e.id);
    info.loaded = it != loaded_.end();
    if (info.loaded) {
      info.n_ctx = it->second->model ? opts_.ctx : 0;
      info.busy_slots = it->second->busy();
      info.queued = it->second->queued();
    }
    out.push_back(info);
  }
  return out;
}

std::shared_ptr<LoadedModel> ModelPool::get(const std::string& id) {
  {
    std::lock_guard lk(mu_);
    if (auto it = loaded_.find(id); it != loaded_.end()) return it->second;
  }
  const auto entries = scan();
  const Entry* e = nullptr;
  for (const auto& x : entries)
    if (x.id == id || (id.empty() && !e)) e = &x;
  if (!e) {
    if (id.empty()) throw ApiError(404, "no models are available (give -m or --models-dir)", "invalid_request_error", "model", "model_not_found");
    throw ApiError(404, "The model '" + id + "' does not exist", "invalid_request_error", "model", "model_not_found");
  }
  std::lock_guard load_lk(load_mu_);
  {
    std::lock_guard lk(mu_);
    if (auto it = loaded_.find(e->id); it != loaded_.end()) return it->second;
  }
  std::shared_ptr<LoadedModel> m;
  try {
    m = std::make_shared<LoadedModel>(e->id, e->path, opts_);
  } catch (const Error& err) {
    throw ApiError(500, std::string("loading the model failed: ") + err.what(), "server_error", "model");
  }
  std::lock_guard lk(mu_);
  loaded_[e->id] = m;
  return m;
}

int ModelPool::unload_idle() {
  if (opts_.keep_alive_s < 0) return 0;
  const auto now = std::chrono::steady_clock::now();
  std::vector<std::shared_ptr<LoadedModel>> dropped;  // destroyed outside the lock
  {
    std::lock_guard lk(mu_);
    for (auto it = loaded_.begin(); it != loaded_.end();) {
      const auto& m = it->second;
      const double idle = std::chrono::duration<double>(now - m->last_used()).count();
      if (idle >= opts_.keep_alive_s && m->busy() == 0 && m->queued() == 0) {
        dropped.push_back(m);
        it = loaded_.erase(it);
      } else {
        ++it;
      }
    }
  }
  return int(dropped.size());
}

}  // namespace pj::server
