#include "server/errors.h"

#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "core/logging.h"

namespace vllm::server {

HttpError bad_request(std::string message, std::optional<std::string> param) {
  return HttpError(400, std::move(message), std::move(param));
}

HttpError not_found(std::string message) { return HttpError(404, std::move(message)); }

std::string error_type_name(int status) {
  switch (status) {
    case 400: return "BadRequestError";
    case 401: return "UnauthorizedError";
    case 404: return "NotFoundError";
    case 405: return "MethodNotAllowedError";
    case 409: return "ConflictError";
    case 413: return "RequestEntityTooLargeError";
    case 431: return "RequestHeaderFieldsTooLargeError";
    case 503: return "ServiceUnavailableError";
    default: return status >= 500 ? "InternalServerError" : "BadRequestError";
  }
}

std::string error_body(int status, const std::string& message,
                       const std::optional<std::string>& param) {
  nlohmann::ordered_json error = {
      {"message", message},
      {"type", error_type_name(status)},
      {"param", param.has_value() ? nlohmann::ordered_json(*param) : nullptr},
      {"code", status},
  };
  nlohmann::ordered_json body = {{"error", std::move(error)}};
  // Replacement keeps invalid UTF-8 from user input from throwing while serializing.
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

ErrorResponse error_response(const std::exception& error, const std::string& request_id) {
  if (const auto* http_error = dynamic_cast<const HttpError*>(&error)) {
    VLLM_LOG_DEBUG("request {} failed with {}: {}", request_id, http_error->status(),
                   http_error->what());
    return {http_error->status(),
            error_body(http_error->status(), http_error->what(), http_error->param())};
  }
  if (dynamic_cast<const InvalidArgument*>(&error) != nullptr ||
      dynamic_cast<const nlohmann::json::exception*>(&error) != nullptr) {
    VLLM_LOG_DEBUG("request {} failed with 400: {}", request_id, error.what());
    return {400, error_body(400, error.what())};
  }
  VLLM_LOG_ERROR("request {} failed with an internal error: {}", request_id, error.what());
  return {500, error_body(500, error.what())};
}

}  // namespace vllm::server
