// Asynchronous HTTP/1.1 server on Boost.Asio and Beast. One event loop (run by one or more
// threads) serves every connection; each connection runs on its own strand, so its
// handlers never run concurrently. Connections are kept alive between requests, and the
// limits of HttpLimits bound header and body sizes, idle and slow clients, and the number
// of open connections.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "server/server_args.h"

namespace vllm::server {

class Session;
class Listener;

struct HttpRequest {
  boost::beast::http::request<boost::beast::http::string_body> message;
  std::string path;         // the target without its query string
  std::string remote;       // client address and port, for logs
};

// Returns the request's Content-Type header, empty when absent.
inline std::string_view content_type_of(const HttpRequest& request) {
  const auto value = request.message[boost::beast::http::field::content_type];
  return {value.data(), value.size()};
}

// Sends the response to one request. Every method must run on executor(), the strand of
// the connection. Calls after the response is complete or the client disconnected are
// ignored, so a late engine output cannot corrupt the next response.
class ResponseWriter {
 public:
  ResponseWriter(std::shared_ptr<Session> session, uint64_t request_seq);

  // Sends a whole response and completes the request.
  void send(int status, std::string_view content_type, std::string body,
            const std::vector<std::pair<std::string, std::string>>& extra_headers = {});
  // Sends the headers of a server-sent-event stream (chunked transfer encoding).
  void start_events();
  // Sends one SSE chunk; `data` is the complete event text ("data: ...\n\n").
  void send_event(std::string_view data);
  // Ends the event stream and completes the request.
  void end_events();

  // Registers the callback run (on the strand) when the client disconnects before the
  // response is complete; it replaces any earlier one.
  void on_disconnect(std::function<void()> callback);
  bool is_active() const;
  boost::asio::any_io_executor executor() const;

 private:
  std::shared_ptr<Session> session_;
  uint64_t request_seq_;
};

using RequestHandler =
    std::function<void(HttpRequest request, std::shared_ptr<ResponseWriter> writer)>;

class HttpServer {
 public:
  HttpServer(const std::string& host, int port, HttpLimits limits, RequestHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Runs the event loop on `num_threads` threads until stop(); blocks the caller.
  void run(int num_threads);
  // Stops the event loop; safe to call from any thread or from a signal handler's thread.
  void stop();
  // Closes the listening socket, so that new connections are refused. Open connections
  // finish their current request with "connection: close"; a request that arrives on one
  // afterwards gets 503.
  void stop_accepting();
  int port() const;   // the bound port (useful with port 0)
  boost::asio::io_context& io_context() { return io_context_; }

 private:
  boost::asio::io_context io_context_;
  std::shared_ptr<Listener> listener_;
};

}  // namespace vllm::server
