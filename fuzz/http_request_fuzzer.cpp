// Fuzz target for the server's request path short of the engine: the input is the raw bytes
// a client sends. Beast's request parser reads them with the server's default header and
// body limits, configured as in http_server.cpp. A complete POST to /v1/completions or
// /v1/chat/completions then goes through the OpenAI body parsing and validation.
// Rejections must be parser error codes, HttpError, InvalidArgument or a JSON type error
// (which the server also maps to 400). Anything else would be a 500 or a crash.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "fuzz/fuzz_support.h"
#include "server/errors.h"
#include "server/openai_protocol.h"
#include "server/server_args.h"

namespace {

namespace http = boost::beast::http;
using nlohmann::ordered_json;

// Feeds `bytes` to the parser as one buffer the way a read loop does: repeated put() calls,
// each consuming what it can, then end of file. Returns the request when it is complete.
std::optional<http::request<http::string_body>> parse_request(
    std::string_view bytes, const vllm::server::HttpLimits& limits) {
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<uint32_t>(limits.max_header_bytes));
  parser.body_limit(static_cast<uint64_t>(limits.max_request_body_bytes));
  parser.eager(true);

  boost::system::error_code ec;
  size_t offset = 0;
  while (!parser.is_done() && offset < bytes.size()) {
    const size_t used =
        parser.put(boost::asio::buffer(bytes.data() + offset, bytes.size() - offset), ec);
    if (ec == http::error::need_more) {
      ec = {};
      if (used == 0) break;  // a read loop would wait for more bytes here
    } else if (ec) {
      return std::nullopt;
    }
    offset += used;
  }
  if (!parser.is_done()) {
    parser.put_eof(ec);
    if (ec || !parser.is_done()) return std::nullopt;
  }
  // The server checks Content-Length against the body limit after the headers as well.
  const auto content_length = parser.content_length();
  if (content_length && *content_length > static_cast<uint64_t>(limits.max_request_body_bytes)) {
    return std::nullopt;
  }
  return parser.release();
}

void validate_body(std::string_view path, const std::string& body,
                   const vllm::server::HttpLimits& limits) {
  const bool chat = path == "/v1/chat/completions";
  if (!chat && path != "/v1/completions") return;
  try {
    const ordered_json json_body = vllm::server::parse_json_body(body, limits.max_json_depth);
    (void)vllm::server::unknown_fields(json_body, chat);
    vllm::SamplingParams params;
    if (chat) {
      params = vllm::server::parse_chat_request(json_body).params;
    } else {
      params = vllm::server::parse_completion_request(json_body).params;
    }
    // A prompt length derived from the body, so both sides of the context check run.
    vllm::server::check_context_length(params, static_cast<int64_t>(body.size() % 5000),
                                       /*max_model_len=*/4096);
  } catch (const vllm::server::HttpError&) {
  } catch (const vllm::InvalidArgument&) {
  } catch (const nlohmann::json::type_error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vllm::fuzz::silence_logs();
  const vllm::server::HttpLimits limits;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto request = parse_request(bytes, limits);
  if (!request) return 0;
  const std::string_view target(request->target().data(), request->target().size());
  const std::string_view path = target.substr(0, target.find('?'));
  if (request->method() != http::verb::post) return 0;
  validate_body(path, request->body(), limits);
  return 0;
}
