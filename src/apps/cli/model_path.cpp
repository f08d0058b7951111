#include "apps/cli/model_path.h"

#include "core/base/error.h"
#include "core/base/file.h"

#include <cstdlib>
#include <filesystem>

namespace pj::cli {

std::string resolve_model_path(const std::string& given) {
  if (!given.empty()) return given;
  if (const char* env = std::getenv("PAJAMAS_MODEL"); env && *env) return env;
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  std::vector<fs::path> candidates;
  if (!ec) candidates.push_back(exe.parent_path().parent_path() / "models" / kDefaultModelFile);
  candidates.push_back(fs::path("models") / kDefaultModelFile);
  for (const auto& c : candidates)
    if (file_exists(c.string())) return c.string();
  fail("no model given (-m) and the default model {} is not installed: run ./setup.sh, or set PAJAMAS_MODEL",
       candidates.front().string());
}

std::string default_model_dir(const std::string& name) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  std::vector<fs::path> candidates;
  if (!ec) candidates.push_back(exe.parent_path().parent_path() / "models" / name);
  candidates.push_back(fs::path("models") / name);
  for (const auto& c : candidates)
    if (is_directory(c.string())) return c.string();
  return "";
}

}  // namespace pj::cli
