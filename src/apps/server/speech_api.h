// Speech endpoint of `pajamas serve` (OpenAI's audio API):
//   POST /v1/audio/transcriptions   multipart/form-data: file (any audio FFmpeg decodes), model,
//        language, prompt, response_format (json | text | srt | vtt | verbose_json), temperature,
//        timestamp_granularities[] (segment | word: word times, in verbose_json only, as OpenAI)
//   POST /v1/audio/translations     the same, translated into English
// Whisper models are given with --speech-model (GGUF, Hugging Face or CTranslate2 folders); without one
// the default tiny.en that setup.sh installs is used. Models load on first use; one request decodes at a
// time on the shared kernel context.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace pj {
class KernelContext;
}

namespace pj::server {

struct SpeechModel;

struct SpeechRequest {
  std::string audio;      // the uploaded file's bytes
  std::string filename;   // for messages
  std::string model, language, prompt, response_format = "json";
  float temperature = -1;  // < 0: not given
  std::vector<std::string> timestamp_granularities;  // "segment", "word"
  bool translate = false;
};

struct SpeechResponse {
  std::string body;
  std::string content_type;
};

class SpeechApi {
 public:
  // model_paths may be empty: then `default_path` (if it exists) is the one model.
  SpeechApi(std::vector<std::string> model_paths, const std::string& default_path, int threads);
  ~SpeechApi();
  const std::map<std::string, std::string>& models() const { return paths_; }
  // ApiError 400 for a bad request or undecodable audio, 404 for an unknown model.
  SpeechResponse transcribe(const SpeechRequest& r);

 private:
  SpeechModel& model_for(const std::string& id);
  std::map<std::string, std::string> paths_;
  std::map<std::string, std::unique_ptr<SpeechModel>> loaded_;
  std::unique_ptr<KernelContext> ctx_;
  std::mutex mu_;
};

}  // namespace pj::server
