#include "apps/server/speech_api.h"

#include <algorithm>
#include <filesystem>

#include "apps/server/api_error.h"
#include "core/audio/audio.h"
#include "core/base/error.h"
#include "core/base/file.h"
#include "core/kernels/context.h"
#include "models/whisper/transcribe.h"

namespace pj::server {

struct SpeechModel {
  whisper::Model model;
  whisper::Tokenizer tok;
};

namespace {
std::string model_id(const std::string& path) {
  std::filesystem::path p(path);
  while (!p.empty() && p.filename().empty()) p = p.parent_path();
  return p.filename().string();
}
}  // namespace

SpeechApi::SpeechApi(std::vector<std::string> model_paths, const std::string& default_path, int threads) {
  if (model_paths.empty() && !default_path.empty() && is_directory(default_path)) model_paths.push_back(default_path);
  for (const auto& p : model_paths) paths_[model_id(p)] = p;
  KernelContext::Options o;
  o.threads = threads;
  ctx_ = std::make_unique<KernelContext>(o);
}

SpeechApi::~SpeechApi() = default;

SpeechModel& SpeechApi::model_for(const std::string& id) {
  if (paths_.empty()) throw ApiError(404, "No speech model is loaded (pajamas serve --speech-model PATH).", "invalid_request_error", "model", "model_not_found");
  // OpenAI clients send "whisper-1"; any name we do not know maps to the only model when there is one.
  auto it = paths_.find(id);
  if (it == paths_.end()) {
    if (paths_.size() == 1 && (id.empty() || id.rfind("whisper", 0) == 0)) it = paths_.begin();
    else throw ApiError(404, "The model '" + id + "' does not exist.", "invalid_request_error", "model", "model_not_found");
  }
  auto& slot = loaded_[it->first];
  if (!slot) {
    whisper::Model m = whisper::Model::load(it->second);
    whisper::Tokenizer t = whisper::Tokenizer::for_model(m);
    slot.reset(new SpeechModel{std::move(m), std::move(t)});
  }
  return *slot;
}

SpeechResponse SpeechApi::transcribe(const SpeechRequest& r) {
  static const char* kFormats[] = {"json", "text", "srt", "vtt", "verbose_json"};
  if (std::find(std::begin(kFormats), std::end(kFormats), r.response_format) == std::end(kFormats))
    throw bad_param("response_format", "response_format must be one of json, text, srt, vtt, verbose_json");
  if (r.audio.empty()) throw bad_param("file", "The audio file is empty or missing.");
  if (r.temperature > 1.0f) throw bad_param("temperature", "temperature must be between 0 and 1");
  bool words = false;
  for (const std::string& g : r.timestamp_granularities) {
    if (g == "word") words = true;
    else if (g != "segment") throw bad_param("timestamp_granularities", "timestamp_granularities must be segment or word");
  }
  if (words && r.response_format != "verbose_json")
    throw bad_param("timestamp_granularities", "timestamp_granularities needs response_format verbose_json");
  std::vector<float> audio;
  try {
    audio = audio::decode_memory(r.audio.data(), r.audio.size(), r.filename.empty() ? "file" : r.filename);
  } catch (const Error& e) {
    throw bad_param("file", e.what());
  }
  std::lock_guard lk(mu_);
  SpeechModel& sm = model_for(r.model);
  whisper::TranscribeOptions o;
  o.language = r.language.empty() ? "auto" : r.language;
  o.translate = r.translate;
  o.initial_prompt = r.prompt;
  o.word_timestamps = words;
  if (r.temperature >= 0) {
    // OpenAI: temperature 0 lets the model raise it (fallback); a positive value is used as given.
    if (r.temperature > 0) o.temperatures = {r.temperature};
  }
  if (!sm.tok.multilingual()) {
    if (!o.language.empty() && o.language != "auto" && o.language != "en" && o.language != "english")
      throw bad_param("language", "The model '" + model_id(sm.model.source) + "' is English-only.");
    if (o.translate) throw bad_param("model", "The model '" + model_id(sm.model.source) + "' is English-only and cannot translate.");
  } else if (o.language != "auto" && sm.tok.language_token(o.language) < 0) {
    throw bad_param("language", "Unknown language '" + o.language + "'.");
  }
  whisper::Transcriber tr(*ctx_, sm.model, sm.tok);
  whisper::Transcript t = tr.transcribe(audio.data(), audio.size(), o);
  // OpenAI's text in json/text responses has no leading space.
  std::string text = t.text;
  const size_t b = text.find_first_not_of(" \t\n");
  text = b == std::string::npos ? "" : text.substr(b);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  t.text = text;
  if (r.response_format == "text") return {text + "\n", "text/plain; charset=utf-8"};
  if (r.response_format == "srt") return {whisper::format_transcript(t, "srt"), "text/plain; charset=utf-8"};
  if (r.response_format == "vtt") return {whisper::format_transcript(t, "vtt"), "text/vtt; charset=utf-8"};
  if (r.response_format == "verbose_json") {
    nlohmann::json j = nlohmann::json::parse(whisper::format_transcript(t, "verbose_json"));
    if (r.translate) j["task"] = "translate";
    return {j.dump(), "application/json"};
  }
  return {nlohmann::json{{"text", text}}.dump(), "application/json"};
}

}  // namespace pj::server
