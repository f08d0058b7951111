// An error the API returns to the client: an HTTP status and an OpenAI error object
// ({"error": {"message", "type", "param", "code"}}). Thrown by request parsing and handlers, turned
// into the response in one place (server.cpp).
#pragma once

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

namespace pj::server {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string message, std::string type = "invalid_request_error", std::string param = "",
           std::string code = "")
      : std::runtime_error(message), status(status), type(std::move(type)), param(std::move(param)),
        code(std::move(code)) {}

  nlohmann::json body() const {
    nlohmann::json e = {{"message", what()}, {"type", type}, {"param", nullptr}, {"code", nullptr}};
    if (!param.empty()) e["param"] = param;
    if (!code.empty()) e["code"] = code;
    return {{"error", e}};
  }

  int status;
  std::string type, param, code;
};

// 400 invalid_request_error about one parameter.
inline ApiError bad_param(const std::string& param, const std::string& message) {
  return ApiError(400, message, "invalid_request_error", param);
}

}  // namespace pj::server
