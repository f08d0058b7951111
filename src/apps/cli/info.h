// `pajamas info`: describe a model file or folder. One printer per format; cmd_info.cpp picks by what
// the path is (GGUF magic, safetensors header, or a directory).
#pragma once

#include <string>

namespace pj::cli {

struct InfoOptions {
  bool json = false;
  int verbosity = 0;
};

void info_gguf(const std::string& path, const InfoOptions& o);         // info_gguf.cpp
void info_safetensors(const std::string& path, const InfoOptions& o);  // info_hf.cpp
void info_hf_folder(const std::string& path, const InfoOptions& o);    // info_hf.cpp

}  // namespace pj::cli
