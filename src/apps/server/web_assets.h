// The web UI's files (src/apps/web), compiled into the binary by src/apps/web/embed.cmake.
#pragma once

#include <string_view>
#include <vector>

namespace pj::server {

struct WebAsset {
  std::string_view path;  // "/index.html"
  std::string_view mime;
  std::string_view bytes;
};

// Immutable after first use (a function-local constant), so no mutable global state.
const std::vector<WebAsset>& web_assets();

}  // namespace pj::server
