#include "server/http_server.h"

#include <atomic>
#include <chrono>
#include <deque>
#include <optional>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <fmt/format.h>

#include "core/errors.h"
#include "core/logging.h"
#include "server/errors.h"

namespace vllm::server {

namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

namespace {

// Bytes a connection may buffer from the client while its request is being processed
// (pipelined requests); reading pauses beyond this.
constexpr size_t kMaxPipelinedBytes = 64 << 10;

std::chrono::steady_clock::duration seconds(double value) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(value));
}

std::string status_line(int status) {
  const auto reason = http::obsolete_reason(http::int_to_status(status));
  return fmt::format("HTTP/1.1 {} {}\r\n", status, std::string_view(reason.data(), reason.size()));
}

constexpr std::string_view kContinueResponse = "HTTP/1.1 100 Continue\r\n\r\n";

// Whether the client sent "Expect: 100-continue" (RFC 9110, section 10.1.1), which HTTP/1.0
// clients may not use.
bool expects_continue(const http::request<http::string_body>& message) {
  if (message.version() < 11) return false;
  const auto it = message.find(http::field::expect);
  if (it == message.end()) return false;
  return boost::beast::iequals(it->value(), "100-continue");
}

}  // namespace

// Accepts connections and keeps their number at or below max_connections: at the cap it
// stops accepting, so further clients wait in the kernel's backlog.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(net::io_context& io_context, const tcp::endpoint& endpoint, HttpLimits limits,
           RequestHandler handler)
      : io_context_(io_context),
        acceptor_(net::make_strand(io_context)),
        limits_(limits),
        handler_(std::move(handler)) {
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(net::socket_base::max_listen_connections);
  }

  void start() {
    net::post(acceptor_.get_executor(), [self = shared_from_this()] { self->do_accept(); });
  }
  // Closes the listening socket. With `draining`, open sessions reject requests that arrive
  // from now on with 503 and close their connections after the current response.
  void stop(bool draining = false) {
    if (draining) draining_ = true;
    net::post(acceptor_.get_executor(), [self = shared_from_this()] {
      error_code ignored;
      self->acceptor_.close(ignored);
    });
  }
  int port() const { return acceptor_.local_endpoint().port(); }
  const HttpLimits& limits() const { return limits_; }
  const RequestHandler& handler() const { return handler_; }
  bool draining() const { return draining_; }

  // Called by each session when it ends.
  void release_connection() {
    net::post(acceptor_.get_executor(), [self = shared_from_this()] {
      --self->num_connections_;
      if (self->accept_paused_) {
        self->accept_paused_ = false;
        self->do_accept();
      }
    });
  }

 private:
  void do_accept();

  net::io_context& io_context_;
  tcp::acceptor acceptor_;
  HttpLimits limits_;
  RequestHandler handler_;
  int num_connections_ = 0;   // touched only on the acceptor's strand
  bool accept_paused_ = false;
  std::atomic<bool> draining_ = false;  // read by every session's strand
};

// One client connection. Reads a request, hands it to the handler, writes the response
// through ResponseWriter, then reads the next one. While a request is being processed, it
// keeps a read pending, so that a client that closes the connection is noticed at once
// and its request can be aborted.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<Listener> listener)
      : socket_(std::move(socket)),
        listener_(std::move(listener)),
        read_timer_(socket_.get_executor()),
        write_timer_(socket_.get_executor()) {
    error_code ec;
    const tcp::endpoint endpoint = socket_.remote_endpoint(ec);
    if (!ec) remote_ = fmt::format("{}:{}", endpoint.address().to_string(), endpoint.port());
  }
  ~Session() { listener_->release_connection(); }

  void start() {
    net::dispatch(socket_.get_executor(), [self = shared_from_this()] { self->do_read(); });
  }

  // ResponseWriter's operations; `seq` identifies the request they belong to.
  bool is_active(uint64_t seq) const { return busy_ && !closed_ && seq == request_seq_; }
  void send(uint64_t seq, int status, std::string_view content_type, std::string body,
            const std::vector<std::pair<std::string, std::string>>& extra_headers);
  void start_events(uint64_t seq);
  void send_event(uint64_t seq, std::string_view data);
  void end_events(uint64_t seq);
  void on_disconnect(uint64_t seq, std::function<void()> callback) {
    if (is_active(seq)) disconnect_callback_ = std::move(callback);
  }
  net::any_io_executor executor() { return socket_.get_executor(); }

 private:
  void do_read();
  void on_header(error_code ec);
  void read_body();
  void on_body(error_code ec);
  void start_watch();
  void on_watch(error_code ec, size_t num_bytes);
  void enqueue(std::string bytes, bool completes_response);
  void do_write();
  void on_write(error_code ec);
  void finish_request();
  void arm_read_timer(double timeout_s);
  void reject(int status, const std::string& message);
  void close();
  void handle_disconnect();
  void drain();

  tcp::socket socket_;
  std::shared_ptr<Listener> listener_;
  net::steady_timer read_timer_;
  net::steady_timer write_timer_;
  boost::beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string remote_;

  std::deque<std::string> write_queue_;
  bool writing_ = false;
  bool response_complete_ = false;   // the last bytes of the response are queued
  bool watching_ = false;            // a read that detects disconnects is pending
  bool busy_ = false;                // a request is being processed
  bool keep_alive_ = true;
  bool closed_ = false;
  uint64_t request_seq_ = 0;
  std::function<void()> disconnect_callback_;
};

void Listener::do_accept() {
  if (num_connections_ >= limits_.max_connections) {
    accept_paused_ = true;
    VLLM_LOG_DEBUG("connection limit {} reached, accepting paused", limits_.max_connections);
    return;
  }
  acceptor_.async_accept(
      net::make_strand(io_context_),
      [self = shared_from_this()](error_code ec, tcp::socket socket) {
        if (ec == net::error::operation_aborted || !self->acceptor_.is_open()) return;
        if (ec) {
          VLLM_LOG_WARN("accepting a connection failed: {}", ec.message());
        } else {
          ++self->num_connections_;
          std::make_shared<Session>(std::move(socket), self)->start();
        }
        self->do_accept();
      });
}

void Session::arm_read_timer(double timeout_s) {
  read_timer_.expires_after(seconds(timeout_s));
  read_timer_.async_wait([self = shared_from_this()](error_code ec) {
    if (ec == net::error::operation_aborted) return;
    VLLM_LOG_DEBUG("connection {} timed out while reading, closing it", self->remote_);
    self->close();
  });
}

void Session::do_read() {
  if (closed_) return;
  if (listener_->draining()) {
    // Shutting down: an idle keep-alive connection gets no further request.
    close();
    return;
  }
  const HttpLimits& limits = listener_->limits();
  parser_.emplace();
  parser_->header_limit(static_cast<uint32_t>(limits.max_header_bytes));
  parser_->body_limit(static_cast<uint64_t>(limits.max_request_body_bytes));
  // The idle limit covers the wait for the next request and the receipt of its headers.
  arm_read_timer(limits.keep_alive_timeout_s);
  http::async_read_header(socket_, buffer_, *parser_,
                          [self = shared_from_this()](error_code ec, size_t) {
                            self->on_header(ec);
                          });
}

void Session::on_header(error_code ec) {
  // Beast compares Content-Length with the body limit while parsing the headers.
  if (ec == http::error::body_limit) {
    reject(413, fmt::format("The request body exceeds the limit of {} bytes.",
                            listener_->limits().max_request_body_bytes));
    return;
  }
  if (ec == http::error::header_limit) {
    reject(431, fmt::format("The request headers exceed the limit of {} bytes.",
                            listener_->limits().max_header_bytes));
    return;
  }
  if (ec) {
    if (ec != http::error::end_of_stream && ec != net::error::operation_aborted &&
        ec != net::error::eof) {
      VLLM_LOG_DEBUG("reading from {} failed: {}", remote_, ec.message());
      if (ec.category() == http::make_error_code(http::error::bad_target).category() && !closed_) {
        reject(400, fmt::format("Invalid HTTP request: {}.", ec.message()));
        return;
      }
    }
    close();
    return;
  }
  const int64_t max_body = listener_->limits().max_request_body_bytes;
  const auto content_length = parser_->content_length();
  if (content_length.has_value() && *content_length > static_cast<uint64_t>(max_body)) {
    reject(413, fmt::format("The request body of {} bytes exceeds the limit of {} bytes.",
                            *content_length, max_body));
    return;
  }
  arm_read_timer(listener_->limits().request_read_timeout_s);
  if (expects_continue(parser_->get()) && !parser_->is_done()) {
    // The client waits for this interim response before sending the body (curl waits up
    // to one second). No response is being written at this point, because the previous
    // one was complete before this request's headers were read.
    net::async_write(socket_, net::buffer(kContinueResponse),
                     [self = shared_from_this()](error_code ec, size_t) {
                       if (ec) {
                         self->handle_disconnect();
                         return;
                       }
                       self->read_body();
                     });
    return;
  }
  read_body();
}

void Session::read_body() {
  http::async_read(socket_, buffer_, *parser_,
                   [self = shared_from_this()](error_code ec, size_t) { self->on_body(ec); });
}

void Session::on_body(error_code ec) {
  if (ec == http::error::body_limit) {
    reject(413, fmt::format("The request body exceeds the limit of {} bytes.",
                            listener_->limits().max_request_body_bytes));
    return;
  }
  if (ec) {
    if (ec != net::error::operation_aborted) {
      VLLM_LOG_DEBUG("reading a request body from {} failed: {}", remote_, ec.message());
    }
    // A body that breaks HTTP's framing, such as a bad chunk size, gets a 400 before the
    // connection closes. A client that left in the middle of the body gets nothing.
    const bool malformed =
        ec.category() == http::make_error_code(http::error::bad_chunk).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message;
    if (malformed && !closed_) {
      reject(400, fmt::format("Invalid HTTP request body: {}.", ec.message()));
      return;
    }
    close();
    return;
  }
  read_timer_.cancel();

  HttpRequest request;
  request.message = parser_->release();
  parser_.reset();
  const auto target_view = request.message.target();
  const std::string_view target(target_view.data(), target_view.size());
  request.path = std::string(target.substr(0, target.find('?')));
  request.remote = remote_;
  keep_alive_ = request.message.keep_alive();
  if (listener_->draining()) {
    reject(503, "The server is shutting down and accepts no new requests; send the request "
                "to another instance or again after the restart.");
    return;
  }
  busy_ = true;
  response_complete_ = false;
  ++request_seq_;
  start_watch();

  auto writer = std::make_shared<ResponseWriter>(shared_from_this(), request_seq_);
  listener_->handler()(std::move(request), std::move(writer));
}

void Session::start_watch() {
  if (watching_ || closed_) return;
  watching_ = true;
  socket_.async_read_some(buffer_.prepare(4096),
                          [self = shared_from_this()](error_code ec, size_t num_bytes) {
                            self->on_watch(ec, num_bytes);
                          });
}

void Session::drain() {
  buffer_.clear();
  socket_.async_read_some(buffer_.prepare(16 << 10),
                          [self = shared_from_this()](error_code ec, size_t) {
                            if (ec) {
                              self->close();
                            } else {
                              self->drain();
                            }
                          });
}

void Session::on_watch(error_code ec, size_t num_bytes) {
  watching_ = false;
  if (closed_) return;
  if (!busy_ && !keep_alive_) {
    drain();
    return;
  }
  if (ec == net::error::operation_aborted && !busy_) {
    // finish_request() cancelled this read to parse the next request.
    do_read();
    return;
  }
  if (ec) {
    VLLM_LOG_DEBUG("client {} disconnected: {}", remote_, ec.message());
    handle_disconnect();
    return;
  }
  buffer_.commit(num_bytes);
  if (!busy_) {
    do_read();
  } else if (buffer_.size() < kMaxPipelinedBytes) {
    start_watch();
  }
}

void Session::send(uint64_t seq, int status, std::string_view content_type, std::string body,
                   const std::vector<std::pair<std::string, std::string>>& extra_headers) {
  if (!is_active(seq) || response_complete_) return;
  if (listener_->draining()) keep_alive_ = false;
  std::string bytes = status_line(status);
  fmt::format_to(std::back_inserter(bytes), "content-type: {}\r\ncontent-length: {}\r\n",
                 content_type, body.size());
  for (const auto& [name, value] : extra_headers) {
    fmt::format_to(std::back_inserter(bytes), "{}: {}\r\n", name, value);
  }
  bytes += keep_alive_ ? "connection: keep-alive\r\n\r\n" : "connection: close\r\n\r\n";
  bytes += body;
  enqueue(std::move(bytes), /*completes_response=*/true);
}

void Session::start_events(uint64_t seq) {
  if (!is_active(seq) || response_complete_) return;
  if (listener_->draining()) keep_alive_ = false;
  std::string bytes = status_line(200);
  bytes +=
      "content-type: text/event-stream; charset=utf-8\r\ncache-control: no-cache\r\n"
      "transfer-encoding: chunked\r\n";
  bytes += keep_alive_ ? "connection: keep-alive\r\n\r\n" : "connection: close\r\n\r\n";
  enqueue(std::move(bytes), false);
}

void Session::send_event(uint64_t seq, std::string_view data) {
  if (!is_active(seq) || response_complete_ || data.empty()) return;
  enqueue(fmt::format("{:x}\r\n{}\r\n", data.size(), data), false);
}

void Session::end_events(uint64_t seq) {
  if (!is_active(seq) || response_complete_) return;
  enqueue("0\r\n\r\n", true);
}

void Session::enqueue(std::string bytes, bool completes_response) {
  response_complete_ = response_complete_ || completes_response;
  write_queue_.push_back(std::move(bytes));
  if (!writing_) do_write();
}

void Session::do_write() {
  writing_ = true;
  write_timer_.expires_after(seconds(listener_->limits().write_timeout_s));
  write_timer_.async_wait([self = shared_from_this()](error_code ec) {
    if (ec == net::error::operation_aborted) return;
    VLLM_LOG_DEBUG("writing to {} timed out, closing the connection", self->remote_);
    self->handle_disconnect();
  });
  net::async_write(socket_, net::buffer(write_queue_.front()),
                   [self = shared_from_this()](error_code ec, size_t) { self->on_write(ec); });
}

void Session::on_write(error_code ec) {
  write_timer_.cancel();
  if (ec) {
    if (!closed_) VLLM_LOG_DEBUG("writing to {} failed: {}", remote_, ec.message());
    handle_disconnect();
    return;
  }
  write_queue_.pop_front();
  if (!write_queue_.empty()) {
    do_write();
    return;
  }
  writing_ = false;
  if (response_complete_ && busy_) finish_request();
}

void Session::finish_request() {
  busy_ = false;
  disconnect_callback_ = nullptr;
  if (!keep_alive_) {
    // Closing with unread request bytes makes the kernel send a reset, which can destroy
    // the response before the client reads it, so the rest of the request is discarded
    // until the client closes or the read timeout fires.
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    arm_read_timer(listener_->limits().request_read_timeout_s);
    if (!watching_) drain();
    return;
  }
  if (watching_) {
    // The pending read completes with operation_aborted and then parses the next request.
    error_code ignored;
    socket_.cancel(ignored);
  } else {
    do_read();
  }
}

// Responds to a request that could not be read (too large, malformed) and closes the
// connection, because the rest of the request is still unread.
void Session::reject(int status, const std::string& message) {
  VLLM_LOG_DEBUG("rejecting a request from {} with {}: {}", remote_, status, message);
  read_timer_.cancel();
  keep_alive_ = false;
  busy_ = true;
  response_complete_ = false;
  ++request_seq_;
  send(request_seq_, status, "application/json", error_body(status, message), {});
}

void Session::close() {
  if (closed_) return;
  closed_ = true;
  read_timer_.cancel();
  write_timer_.cancel();
  error_code ignored;
  socket_.close(ignored);
}

void Session::handle_disconnect() {
  if (closed_) return;
  std::function<void()> callback = std::move(disconnect_callback_);
  disconnect_callback_ = nullptr;
  const bool was_busy = busy_;
  close();
  if (was_busy && callback) callback();
}

ResponseWriter::ResponseWriter(std::shared_ptr<Session> session, uint64_t request_seq)
    : session_(std::move(session)), request_seq_(request_seq) {}

void ResponseWriter::send(int status, std::string_view content_type, std::string body,
                          const std::vector<std::pair<std::string, std::string>>& headers) {
  session_->send(request_seq_, status, content_type, std::move(body), headers);
}
void ResponseWriter::start_events() { session_->start_events(request_seq_); }
void ResponseWriter::send_event(std::string_view data) {
  session_->send_event(request_seq_, data);
}
void ResponseWriter::end_events() { session_->end_events(request_seq_); }
void ResponseWriter::on_disconnect(std::function<void()> callback) {
  session_->on_disconnect(request_seq_, std::move(callback));
}
bool ResponseWriter::is_active() const { return session_->is_active(request_seq_); }
net::any_io_executor ResponseWriter::executor() const { return session_->executor(); }

HttpServer::HttpServer(const std::string& host, int port, HttpLimits limits,
                       RequestHandler handler) {
  error_code ec;
  const net::ip::address address = net::ip::make_address(host, ec);
  if (ec) {
    throw InvalidArgument(fmt::format("Invalid --host {}: {}. Pass an IPv4 or IPv6 address.",
                                      host, ec.message()));
  }
  try {
    listener_ = std::make_shared<Listener>(io_context_, tcp::endpoint(address, port), limits,
                                           std::move(handler));
  } catch (const boost::system::system_error& error) {
    throw InvalidArgument(
        fmt::format("Binding to {}:{} failed: {}.", host, port, error.code().message()));
  }
  listener_->start();
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::run(int num_threads) {
  std::vector<std::thread> threads;
  for (int i = 1; i < num_threads; ++i) threads.emplace_back([this] { io_context_.run(); });
  io_context_.run();
  for (std::thread& thread : threads) thread.join();
}

void HttpServer::stop() {
  listener_->stop();
  io_context_.stop();
}

void HttpServer::stop_accepting() { listener_->stop(/*draining=*/true); }

int HttpServer::port() const { return listener_->port(); }

}  // namespace vllm::server
