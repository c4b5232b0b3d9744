// HTTP errors of the OpenAI-compatible server and the one place that maps exceptions to
// status codes. Bodies follow vLLM's ErrorResponse:
//   {"error": {"message": "...", "type": "BadRequestError", "param": null, "code": 400}}
#pragma once

#include <exception>
#include <optional>
#include <stdexcept>
#include <string>

namespace vllm::server {

// An error with a known HTTP status, thrown by handlers for invalid requests.
class HttpError : public std::runtime_error {
 public:
  HttpError(int status, std::string message, std::optional<std::string> param = std::nullopt)
      : std::runtime_error(std::move(message)), status_(status), param_(std::move(param)) {}
  int status() const { return status_; }
  const std::optional<std::string>& param() const { return param_; }

 private:
  int status_;
  std::optional<std::string> param_;
};

// Shorthands for the common statuses.
HttpError bad_request(std::string message, std::optional<std::string> param = std::nullopt);
HttpError not_found(std::string message);

// The error type name vLLM puts in "type" for a status: 400 BadRequestError,
// 404 NotFoundError, 500 InternalServerError, ...
std::string error_type_name(int status);

// Serializes vLLM's ErrorResponse body.
std::string error_body(int status, const std::string& message,
                       const std::optional<std::string>& param = std::nullopt);

struct ErrorResponse {
  int status;
  std::string body;
};

// Maps an exception to its response: HttpError keeps its status, InvalidArgument and
// nlohmann::json type errors are 400, everything else is 500 with the message logged.
ErrorResponse error_response(const std::exception& error, const std::string& request_id);

}  // namespace vllm::server
