#include "cli/openai_client.h"

#include <array>
#include <cstdint>
#include <limits>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <fmt/format.h>

namespace vllm::cli {

namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using json = nlohmann::json;

namespace {

// The user-facing reason of a non-200 response: OpenAI's error.message when the body has
// one, vLLM's bare {"error": "Unauthorized"} for a wrong API key, else the raw body.
std::string error_message(int status, const std::string& body) {
  std::string detail = body;
  try {
    const json parsed = json::parse(body);
    if (parsed.contains("error")) {
      const json& error = parsed["error"];
      if (error.is_object() && error.contains("message")) {
        detail = error["message"].get<std::string>();
      } else if (error.is_string()) {
        detail = error.get<std::string>();
      }
    } else if (parsed.contains("detail") && parsed["detail"].is_string()) {
      detail = parsed["detail"].get<std::string>();
    }
  } catch (const json::exception&) {
    // Not JSON: the raw body is the best description.
  }
  if (status == 401) {
    return fmt::format("the server rejected the API key (401 {}). Pass --api-key or set "
                       "OPENAI_API_KEY.",
                       detail);
  }
  return fmt::format("the server responded {}: {}", status, detail);
}

// One request on its own connection. The response body is read in pieces so that a
// stream is handed on as it arrives.
class Exchange {
 public:
  Exchange(const std::string& host, const std::string& port, const std::string& base_url)
      : socket_(io_context_), base_url_(base_url) {
    boost::system::error_code ec;
    tcp::resolver resolver(io_context_);
    const auto endpoints = resolver.resolve(host, port, ec);
    if (!ec) net::connect(socket_, endpoints, ec);
    if (ec) {
      throw ClientError(fmt::format("could not connect to the server at {}: {}. Start it with "
                                    "`vllm serve` or pass --url.",
                                    base_url_, ec.message()));
    }
  }

  template <class Request>
  void send(Request& request) {
    boost::system::error_code ec;
    http::write(socket_, request, ec);
    if (ec) throw ClientError(fmt::format("sending a request to {} failed: {}", base_url_,
                                          ec.message()));
    // Streams have no fixed length. An explicit maximum, because boost::none compares as
    // exceeded against Content-Length in Boost 1.74's Beast parser.
    parser_.body_limit(std::numeric_limits<std::uint64_t>::max());
    http::read_header(socket_, buffer_, parser_, ec);
    if (ec) throw ClientError(fmt::format("reading the response of {} failed: {}", base_url_,
                                          ec.message()));
  }

  int status() const { return parser_.get().result_int(); }

  // Passes each received piece of the body to `on_data` until the body ends.
  void read_body(const std::function<void(std::string_view data)>& on_data) {
    std::array<char, 8192> chunk;
    while (!parser_.is_done()) {
      parser_.get().body().data = chunk.data();
      parser_.get().body().size = chunk.size();
      boost::system::error_code ec;
      http::read(socket_, buffer_, parser_, ec);
      if (ec == http::error::need_buffer) ec = {};
      if (ec) {
        throw ClientError(fmt::format("reading the response of {} failed: {}", base_url_,
                                      ec.message()));
      }
      const size_t num_bytes = chunk.size() - parser_.get().body().size;
      if (num_bytes > 0) on_data(std::string_view(chunk.data(), num_bytes));
    }
  }

  std::string read_all() {
    std::string body;
    read_body([&body](std::string_view data) { body.append(data); });
    return body;
  }

 private:
  net::io_context io_context_;
  tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
  http::response_parser<http::buffer_body> parser_;
  std::string base_url_;
};

}  // namespace

OpenAIClient::OpenAIClient(const std::string& base_url, std::string api_key)
    : base_url_(base_url), api_key_(std::move(api_key)) {
  constexpr std::string_view kScheme = "http://";
  if (!base_url.starts_with(kScheme)) {
    throw ClientError(fmt::format("invalid --url {}: only http:// URLs are supported, for "
                                  "example http://localhost:8000/v1.",
                                  base_url));
  }
  std::string rest = base_url.substr(kScheme.size());
  const size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  base_path_ = slash == std::string::npos ? "" : rest.substr(slash);
  while (!base_path_.empty() && base_path_.back() == '/') base_path_.pop_back();
  const size_t colon = authority.rfind(':');
  const bool has_port = colon != std::string::npos && authority.find(']', colon) == std::string::npos;
  host_ = has_port ? authority.substr(0, colon) : authority;
  port_ = has_port ? authority.substr(colon + 1) : "80";
  if (host_.size() >= 2 && host_.front() == '[' && host_.back() == ']') {
    host_ = host_.substr(1, host_.size() - 2);   // an IPv6 literal
  }
  if (host_.empty() || port_.empty()) {
    throw ClientError(fmt::format("invalid --url {}: it has no host or port.", base_url));
  }
}

json OpenAIClient::get_json(const std::string& path) const {
  Exchange exchange(host_, port_, base_url_);
  http::request<http::empty_body> request{http::verb::get, base_path_ + path, 11};
  request.set(http::field::host, host_ + ":" + port_);
  request.set(http::field::authorization, "Bearer " + api_key_);
  request.set(http::field::accept, "application/json");
  request.set(http::field::connection, "close");
  exchange.send(request);
  const std::string body = exchange.read_all();
  if (exchange.status() != 200) throw ClientError(error_message(exchange.status(), body));
  try {
    return json::parse(body);
  } catch (const json::exception& error) {
    throw ClientError(fmt::format("the server sent invalid JSON for {}: {}", path,
                                  error.what()));
  }
}

void OpenAIClient::stream(const std::string& path, const json& body,
                          const std::function<void(const json& event)>& on_event) const {
  Exchange exchange(host_, port_, base_url_);
  http::request<http::string_body> request{http::verb::post, base_path_ + path, 11};
  request.set(http::field::host, host_ + ":" + port_);
  request.set(http::field::authorization, "Bearer " + api_key_);
  request.set(http::field::content_type, "application/json");
  request.set(http::field::accept, "text/event-stream");
  request.set(http::field::connection, "close");
  request.body() = body.dump();
  request.prepare_payload();
  exchange.send(request);
  if (exchange.status() != 200) {
    throw ClientError(error_message(exchange.status(), exchange.read_all()));
  }

  // Events end with a blank line; only their "data:" lines matter here.
  std::string pending;
  bool done = false;
  exchange.read_body([&](std::string_view data) {
    if (done) return;
    pending.append(data);
    size_t end;
    while (!done && (end = pending.find("\n\n")) != std::string::npos) {
      const std::string event = pending.substr(0, end);
      pending.erase(0, end + 2);
      if (!event.starts_with("data:")) continue;
      std::string payload = event.substr(5);
      if (!payload.empty() && payload.front() == ' ') payload.erase(0, 1);
      if (payload == "[DONE]") {
        done = true;
        return;
      }
      json parsed;
      try {
        parsed = json::parse(payload);
      } catch (const json::exception& error) {
        throw ClientError(fmt::format("the server sent an invalid stream event: {}",
                                      error.what()));
      }
      if (parsed.contains("error")) {
        throw ClientError(error_message(parsed["error"].value("code", 500), payload));
      }
      on_event(parsed);
    }
  });
}

}  // namespace vllm::cli
