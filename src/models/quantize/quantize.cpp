#include "models/quantize/quantize.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <unordered_map>

#include "core/base/error.h"
#include "core/base/half.h"
#include "core/gguf/gguf.h"
#include "core/kernels/context.h"
#include "models/quantize/imatrix_io.h"

namespace pj::quantize {
namespace {

// An integer hyper-parameter that may be stored per layer (an array): the first layer's value.
int int_key(const gguf::File& f, const std::string& key, int fallback) {
  const gguf::Value* v = f.find(key);
  if (!v) return fallback;
  if (const gguf::Array* ap = v->get_if<gguf::Array>()) {
    const gguf::Array& a = *ap;
    if (a.size() == 0) return fallback;
    switch (a.element_type()) {
      case gguf::ValueType::U32: return int(a.get<uint32_t>()[0]);
      case gguf::ValueType::I32: return int(a.get<int32_t>()[0]);
      default: fail("quantize: {}: key {} is an array of an unexpected type", f.path(), key);
    }
  }
  const auto i = v->as_int<int32_t>();
  if (!i) fail("quantize: {}: key {} is not an integer", f.path(), key);
  return *i;
}

ModelInfo model_info(const gguf::File& f) {
  ModelInfo m;
  m.arch = f.get_string_or("general.architecture", "");
  if (m.arch.empty()) fail("quantize: {}: no general.architecture key", f.path());
  m.n_layer = int_key(f, m.arch + ".block_count", 0);
  m.n_head = int_key(f, m.arch + ".attention.head_count", 0);
  m.n_head_kv = int_key(f, m.arch + ".attention.head_count_kv", m.n_head);
  m.n_expert = int_key(f, m.arch + ".expert_count", 0);
  return m;
}

std::string shape_str(const std::vector<uint64_t>& ne) {
  std::string s;
  for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return "[" + s + "]";
}

// Rows of a tensor as f32 (converted from F16/BF16/quantized types through the kernel table).
std::vector<float> to_f32(const KernelContext& ctx, const gguf::Tensor& t) {
  std::vector<float> out(t.n_elements);
  if (t.type == GgmlType::F32) {
    std::memcpy(out.data(), t.data, t.n_bytes);
    return out;
  }
  const TypeTraits& tr = ctx.traits(t.type);
  const uint64_t ne0 = t.ne(0), rows = t.n_elements / ne0;
  const size_t row_bytes = ggml_row_size(t.type, ne0);
  for (uint64_t r = 0; r < rows; ++r) tr.to_float(t.data + r * row_bytes, out.data() + r * ne0, int64_t(ne0));
  return out;
}

}  // namespace

Report quantize_gguf(const Request& req, const std::function<void(const std::string&)>& log_fn) {
  auto log = [&](const std::string& s) {
    if (log_fn) log_fn(s);
  };
  const auto t0 = std::chrono::steady_clock::now();
  const gguf::File in = gguf::File::open(req.input);
  const ModelInfo model = model_info(in);

  ImportanceMatrix imatrix;
  Options opts = req.options;
  if (!req.imatrix_path.empty()) {
    imatrix = read_imatrix(req.imatrix_path);
    opts.has_imatrix = true;
    log(fmt::format("imatrix: {} entries from {}{}", imatrix.weights.size(), req.imatrix_path,
                    imatrix.legacy ? " (legacy format)" : ""));
  }

  std::vector<std::string> names;
  for (const auto& t : in.tensors()) names.push_back(t.name);
  names = tensor_order(names);
  TypeChooser chooser(model, opts, names);

  struct Plan {
    const gguf::Tensor* t;
    GgmlType type;
  };
  std::vector<Plan> plan;
  for (const auto& name : names) {
    const gguf::Tensor& t = in.tensor(name);
    const GgmlType type = chooser.choose(name, t.type, t.shape);
    for (const auto& w : chooser.take_warnings()) log("warning: " + w);
    if (type != t.type && chooser.requires_imatrix(name, type) && !opts.has_imatrix)
      fail("quantize: file type {} needs an importance matrix ({} would be {}): make one with llama.cpp's "
           "llama-imatrix (or `pajamas imatrix` once available) on a calibration text and pass --imatrix FILE",
           file_type_info(opts.ftype).name, name, ggml_type_info(type).name);
    plan.push_back({&t, type});
  }

  KernelContext ctx(KernelContext::Options{.threads = req.threads, .isa = {}});
  // Check every target type has a quantizer before writing anything.
  for (const Plan& p : plan) {
    if (p.type == p.t->type) continue;
    const TypeTraits& tr = ctx.traits(p.type);
    if (!tr.quantize_rows && !tr.from_float_ref)
      fail("quantize: no quantizer for type {} yet (tensor {})", ggml_type_info(p.type).name, p.t->name);
    if (p.t->type != GgmlType::F32) ctx.traits(p.t->type);  // throws if we cannot read the input type
  }

  gguf::Writer w;
  for (const auto& kv : in.metadata()) {
    if (kv.key == "general.quantization_version" || kv.key == "general.file_type" || kv.key.rfind("split.", 0) == 0) continue;
    w.add_kv(kv.key, kv.value);
  }
  w.add_kv("general.quantization_version", uint32_t(kQuantizationVersion));
  w.add_kv("general.file_type", uint32_t(opts.ftype));

  Report rep;
  rep.n_fallback = chooser.n_fallback();
  rep.n_tensors = plan.size();
  size_t index = 0;
  for (const Plan& p : plan) {
    const gguf::Tensor& t = *p.t;
    rep.n_elements += t.n_elements;
    rep.bytes_in += t.n_bytes;
    const uint64_t ne0 = t.ne(0);
    const uint64_t out_bytes = t.n_elements / ne0 * ggml_row_size(p.type, ne0);
    rep.bytes_out += out_bytes;
    ++index;
    if (p.type == t.type) {
      w.add_tensor(t.name, t.type, t.shape, t.bytes());
      log(fmt::format("[{:4}/{:4}] {:<36} {:<18} {:>6}  {:8.3f} MiB (kept)", index, plan.size(), t.name,
                      shape_str(t.shape), ggml_type_info(t.type).name, double(t.n_bytes) / 1048576.0));
      continue;
    }
    if (ggml_type_info(t.type).quantized) {
      if (!req.allow_requantize)
        fail("quantize: {}: tensor {} is already {}; requantizing loses quality, pass --allow-requantize to do it anyway",
             req.input, t.name, ggml_type_info(t.type).name);
      ++rep.n_requantized;
    }
    const float* imat = nullptr;
    if (opts.has_imatrix) {
      auto it = imatrix.weights.find(t.name);
      if (it == imatrix.weights.end()) {
        log(fmt::format("warning: no importance data for {}", t.name));
      } else if (it->second.size() == ne0 * t.ne(2)) {
        imat = it->second.data();
      } else if (t.name != "token_embd.weight" && t.name != "per_layer_token_embd.weight") {
        fail("quantize: imatrix {}: {} values for {}, which needs {} ({} x {})", req.imatrix_path, it->second.size(),
             t.name, ne0 * t.ne(2), ne0, t.ne(2));
      }
    }
    if (!imat && chooser.requires_imatrix(t.name, p.type))  // as llama.cpp: no garbage from a partial imatrix
      fail("quantize: imatrix {} has no importance data for {}, which {} needs ({} is a very low-bit type): make "
           "the imatrix with llama.cpp's llama-imatrix on this model", req.imatrix_path, t.name,
           file_type_info(opts.ftype).name, ggml_type_info(p.type).name);
    const GgmlType type = p.type;
    const std::string line = fmt::format("[{:4}/{:4}] {:<36} {:<18} {:>6} -> {:<7} {:8.3f} MiB -> {:8.3f} MiB", index,
                                         plan.size(), t.name, shape_str(t.shape), ggml_type_info(t.type).name,
                                         ggml_type_info(type).name, double(t.n_bytes) / 1048576.0,
                                         double(out_bytes) / 1048576.0);
    w.add_tensor(t.name, type, t.shape, [&ctx, &t, type, imat, out_bytes, line, &log](gguf::TensorSink& sink) {
      const std::vector<float> src = to_f32(ctx, t);
      const TypeTraits& tr = ctx.traits(type);
      const int64_t ne0 = int64_t(t.ne(0)), rows = int64_t(t.n_elements) / ne0, rows_per_expert = int64_t(t.ne(1));
      const size_t row_bytes = ggml_row_size(type, uint64_t(ne0));
      std::vector<uint8_t> dst(out_bytes);
      ctx.pool().parallel_for(rows, [&](int64_t b, int64_t e, int) {
        // Runs of rows within one expert matrix share that expert's slice of the importance matrix.
        for (int64_t r = b; r < e;) {
          const int64_t expert = r / rows_per_expert;
          const int64_t stop = std::min(e, (expert + 1) * rows_per_expert);
          if (tr.quantize_rows) {
            tr.quantize_rows(src.data() + r * ne0, dst.data() + size_t(r) * row_bytes, stop - r, ne0,
                             imat ? imat + expert * ne0 : nullptr);
          } else {
            for (int64_t i = r; i < stop; ++i) tr.from_float_ref(src.data() + i * ne0, dst.data() + size_t(i) * row_bytes, ne0);
          }
          r = stop;
        }
      });
      sink.write(dst.data(), dst.size());
      log(line);
    });
  }
  if (rep.n_requantized)
    log(fmt::format("warning: {} tensors were requantized from an already quantized type: quality is lower than "
                    "quantizing from F32/F16/BF16", rep.n_requantized));
  w.write(req.output);
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return rep;
}

}  // namespace pj::quantize
