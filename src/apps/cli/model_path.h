// Where models are found when -m is not given: $PAJAMAS_MODEL, else the default model that setup.sh
// installs into <repo>/models (next to the build folder that holds the binary).
#pragma once

#include <string>

namespace pj::cli {

inline constexpr const char* kDefaultModelFile = "SmolLM2-135M-Instruct.Q4_1.gguf";
// The default speech model (Whisper tiny.en, CTranslate2 folder) that setup.sh installs.
inline constexpr const char* kDefaultSpeechModelDir = "whisper-tiny.en";

// `given` if non-empty, else the default; pj::Error with set-up advice if there is none.
std::string resolve_model_path(const std::string& given);

// <repo>/models/<name> (next to the build folder of the binary) or ./models/<name> if it is a folder,
// else "".
std::string default_model_dir(const std::string& name);

}  // namespace pj::cli
