// A minimal blocking client of an OpenAI-compatible server over plain HTTP/1.1, for the
// `vllm chat` and `vllm complete` commands: one connection per request, JSON bodies and
// server-sent-event streams.
#pragma once

#include <functional>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace vllm::cli {

// A failed request: the server is unreachable, rejected the request or sent an invalid
// response. The message is one line meant for the user.
class ClientError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class OpenAIClient {
 public:
  // `base_url` is "http://HOST[:PORT][/PATH]", as the openai package's base_url, for
  // example http://localhost:8000/v1. Throws ClientError for other schemes.
  OpenAIClient(const std::string& base_url, std::string api_key);

  // GET base_url + path and parse the JSON response. Throws ClientError unless 200.
  nlohmann::json get_json(const std::string& path) const;

  // POST `body` to base_url + path and pass each event's decoded JSON to `on_event`, in
  // order, until "data: [DONE]" or the end of the stream. Throws ClientError unless the
  // status is 200, and when an event carries an "error" object.
  void stream(const std::string& path, const nlohmann::json& body,
              const std::function<void(const nlohmann::json& event)>& on_event) const;

  const std::string& base_url() const { return base_url_; }

 private:
  std::string base_url_;
  std::string host_;
  std::string port_;
  std::string base_path_;   // "/v1" in the default URL; empty for a bare host
  std::string api_key_;
};

}  // namespace vllm::cli
