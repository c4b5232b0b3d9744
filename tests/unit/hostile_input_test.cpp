// Hostile inputs: files and requests built to exhaust memory, stack or time. Each test
// asserts the clear error that names the limit, and that the process survives. Socket
// timeouts in the HTTP tests only guard against hangs.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "core/errors.h"
#include "core/json_depth.h"
#include "model_loader/gguf.h"
#include "server/errors.h"
#include "server/http_server.h"
#include "server/openai_protocol.h"
#include "tokenizer/chat_template/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace fs = std::filesystem;
using vllm::ChatTemplate;
using vllm::InvalidArgument;
using vllm::ModelLoadError;

namespace {

// Returns the message of the exception of type E that `action` throws, or fails the test.
template <typename E, typename F>
std::string error_of(F action) {
  try {
    action();
  } catch (const E& error) {
    return error.what();
  }
  ADD_FAILURE() << "no exception of the expected type was thrown";
  return "";
}

// A fresh folder under the system temp folder, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("vllm_hostile_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  std::string write(const std::string& name, const std::string& bytes) const {
    const fs::path file = path_ / name;
    std::ofstream(file, std::ios::binary) << bytes;
    return file.string();
  }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

// Little-endian GGUF pieces, written from the format description independently of the reader.
void put_u32(std::string& out, uint32_t value) { out.append(reinterpret_cast<char*>(&value), 4); }
void put_u64(std::string& out, uint64_t value) { out.append(reinterpret_cast<char*>(&value), 8); }

std::string gguf_header(uint64_t num_tensors, uint64_t num_key_values) {
  std::string out = "GGUF";
  put_u32(out, 3);
  put_u64(out, num_tensors);
  put_u64(out, num_key_values);
  return out;
}

std::string nested_arrays(size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

}  // namespace

// ---- GGUF -------------------------------------------------------------------------------

TEST(HostileGGUF, TensorCountExceedsFile) {
  TempDir dir;
  const std::string path = dir.write("model.gguf", gguf_header(uint64_t{1} << 40, 0));
  const std::string message = error_of<ModelLoadError>([&] { vllm::GGUFFile::open(path); });
  EXPECT_NE(message.find("tensor count 1099511627776"), std::string::npos) << message;
}

TEST(HostileGGUF, KeyLengthExceedsFile) {
  TempDir dir;
  std::string bytes = gguf_header(0, 1);
  put_u64(bytes, 1000);   // key length, but only 20 bytes follow
  bytes += std::string(20, 'k');
  const std::string path = dir.write("model.gguf", bytes);
  const std::string message = error_of<ModelLoadError>([&] { vllm::GGUFFile::open(path); });
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;
  EXPECT_NE(message.find("needs 1000 bytes"), std::string::npos) << message;
}

TEST(HostileGGUF, StringLengthAboveLimit) {
  TempDir dir;
  std::string bytes = gguf_header(0, 1);
  put_u64(bytes, 3);
  bytes += "key";
  put_u32(bytes, 8);                    // STRING
  put_u64(bytes, uint64_t{1} << 62);    // string length
  const std::string path = dir.write("model.gguf", bytes);
  const std::string message = error_of<ModelLoadError>([&] { vllm::GGUFFile::open(path); });
  EXPECT_NE(message.find("above the limit"), std::string::npos) << message;
}

TEST(HostileGGUF, ArrayElementsAboveBudget) {
  // A UINT8 array that the file size allows (one byte per element) but whose elements
  // would take about 48 bytes each in memory: rejected before anything is allocated.
  const uint64_t count = vllm::kGGUFMaxArrayElements + 1;
  TempDir dir;
  std::string bytes = gguf_header(0, 1);
  put_u64(bytes, 1);
  bytes += "a";
  put_u32(bytes, 9);   // ARRAY
  put_u32(bytes, 0);   // of UINT8
  put_u64(bytes, count);
  bytes.append(count, '\0');
  const std::string path = dir.write("model.gguf", bytes);
  const std::string message = error_of<ModelLoadError>([&] { vllm::GGUFFile::open(path); });
  EXPECT_NE(message.find("array 'a' has 16777217 elements"), std::string::npos) << message;
  EXPECT_NE(message.find("limit of 16777216 elements"), std::string::npos) << message;
}

// ---- JSON nesting -----------------------------------------------------------------------

TEST(JsonDepth, FlatTextPasses) {
  // Four levels: the object, the outer array, the inner object, the inner array.
  EXPECT_FALSE(vllm::find_json_depth_excess(R"({"a": [1, {"b": []}]})", 4).has_value());
}

TEST(JsonDepth, ExcessOffset) {
  EXPECT_EQ(vllm::find_json_depth_excess(R"({"a": [[1]]})", 2), 7u);
}

TEST(JsonDepth, BracketsInStringsIgnored) {
  EXPECT_FALSE(vllm::find_json_depth_excess(R"(["[[[[", "\"[[[["])", 1).has_value());
}

TEST(JsonDepth, EscapedBackslashEndsString) {
  // The string is a single backslash, so the brackets after it are real nesting.
  EXPECT_EQ(vllm::find_json_depth_excess(R"(["\\", [[]]])", 2), 8u);
}

TEST(JsonDepth, StrayCloserKeepsCount) {
  EXPECT_EQ(vllm::find_json_depth_excess("]]]][[", 1), 5u);
}

TEST(HostileTokenizerJson, DeepNesting) {
  TempDir dir;
  const std::string path = dir.write("tokenizer.json", nested_arrays(100'000));
  const std::string message = error_of<ModelLoadError>([&] { vllm::load_hf_tokenizer(path); });
  EXPECT_NE(message.find("deeper than 512 levels"), std::string::npos) << message;
}

TEST(HostileTokenizerJson, UnclosedNesting) {
  TempDir dir;
  const std::string path = dir.write("tokenizer.json", std::string(100'000, '{'));
  const std::string message = error_of<ModelLoadError>([&] { vllm::load_hf_tokenizer(path); });
  EXPECT_NE(message.find("deeper than 512 levels"), std::string::npos) << message;
}

TEST(HostileTokenizerJson, HugeVocabId) {
  // The token table is sized by the largest id: 2^31 - 1 would ask for 64 GiB.
  TempDir dir;
  const std::string path = dir.write(
      "tokenizer.json", R"({"model": {"type": "BPE", "vocab": {"a": 2147483647}, "merges": []},
                           "decoder": {"type": "ByteLevel"}})");
  const std::string message = error_of<ModelLoadError>([&] { vllm::load_hf_tokenizer(path); });
  EXPECT_NE(message.find("invalid id 2147483647"), std::string::npos) << message;
}

TEST(HostileTokenizerJson, HugeAddedTokenId) {
  TempDir dir;
  const std::string path = dir.write(
      "tokenizer.json", R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
                           "decoder": {"type": "ByteLevel"},
                           "added_tokens": [{"id": 2000000000, "content": "<x>"}]})");
  const std::string message = error_of<ModelLoadError>([&] { vllm::load_hf_tokenizer(path); });
  EXPECT_NE(message.find("added token '<x>' has invalid id 2000000000"), std::string::npos)
      << message;
}

TEST(HostileRequestBody, DeepNesting) {
  const std::string body = R"({"prompt": )" + nested_arrays(100'000) + "}";
  try {
    vllm::server::parse_json_body(body);
    ADD_FAILURE() << "a body nested 100,000 deep was accepted";
  } catch (const vllm::server::HttpError& error) {
    EXPECT_EQ(error.status(), 400);
    EXPECT_NE(std::string(error.what()).find("deeper than 512 levels"), std::string::npos)
        << error.what();
  }
}

TEST(HostileRequestBody, DepthFlagApplies) {
  const std::string body = R"({"a": [[[1]]]})";
  EXPECT_NO_THROW(vllm::server::parse_json_body(body, 4));
  EXPECT_THROW(vllm::server::parse_json_body(body, 3), vllm::server::HttpError);
}

// ---- Chat templates ---------------------------------------------------------------------

TEST(HostileTemplate, EndlessRecursion) {
  const ChatTemplate chat_template(
      "{% macro loop(n) %}{{ loop(n + 1) }}{% endmacro %}{{ loop(0) }}");
  const std::string message = error_of<InvalidArgument>(
      [&] { chat_template.render(nlohmann::json::array(), false); });
  EXPECT_NE(message.find("kMaxRecursionDepth"), std::string::npos) << message;
}

TEST(HostileTemplate, OutputExplodes) {
  // 1,000 iterations of a 1 MB string: 1 GB of output unless the renderer stops it.
  const ChatTemplate chat_template(
      "{% set chunk = 'x' * 1000000 %}{% for i in range(1000) %}{{ chunk }}{% endfor %}");
  const std::string message = error_of<InvalidArgument>(
      [&] { chat_template.render(nlohmann::json::array(), false); });
  EXPECT_NE(message.find("kMaxOutputBytes"), std::string::npos) << message;
}

TEST(HostileTemplate, StringDoublingStops) {
  // Doubling a string 64 times would need 2^64 bytes.
  const ChatTemplate chat_template(
      "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}"
      "{% endfor %}{{ ns.s | length }}");
  const std::string message = error_of<InvalidArgument>(
      [&] { chat_template.render(nlohmann::json::array(), false); });
  EXPECT_NE(message.find("kMaxOutputBytes"), std::string::npos) << message;
}

TEST(HostileTemplate, DeepSourceNesting) {
  std::string source;
  // 10,000 levels in 130 KB, which is below kMaxTemplateSourceBytes.
  for (int i = 0; i < 10'000; ++i) source += "{% if true %}";
  const std::string message = error_of<InvalidArgument>([&] { ChatTemplate{source}; });
  EXPECT_NE(message.find("kMaxRecursionDepth"), std::string::npos) << message;
}

// ---- HTTP server ------------------------------------------------------------------------

namespace {

// Runs an HttpServer on 127.0.0.1 with an ephemeral port and a handler that answers 200
// with the body size, on one event-loop thread.
class TestServer {
 public:
  explicit TestServer(vllm::server::HttpLimits limits)
      : server_("127.0.0.1", 0, limits,
                [this](vllm::server::HttpRequest request,
                       std::shared_ptr<vllm::server::ResponseWriter> writer) {
                  ++num_handled_;
                  writer->send(200, "text/plain", std::to_string(request.message.body().size()));
                }),
        thread_([this] { server_.run(1); }) {}
  ~TestServer() {
    server_.stop();
    thread_.join();
  }
  int port() const { return server_.port(); }
  int num_handled() const { return num_handled_; }

 private:
  std::atomic<int> num_handled_{0};
  vllm::server::HttpServer server_;
  std::thread thread_;
};

// A blocking client socket whose reads give up after `timeout_s`.
class Client {
 public:
  Client(int port, double timeout_s) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval timeout{static_cast<time_t>(timeout_s),
                    static_cast<suseconds_t>((timeout_s - static_cast<int>(timeout_s)) * 1e6)};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  }
  ~Client() { ::close(fd_); }
  bool connected() const { return connected_; }
  bool send(const std::string& bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }
  // Reads until the server closes the connection, an error, or the timeout.
  // `closed` tells whether the server closed it (as opposed to a timeout).
  std::string read_all(bool* closed = nullptr) {
    std::string out;
    char buffer[4096];
    while (true) {
      const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
      if (n > 0) {
        out.append(buffer, static_cast<size_t>(n));
        continue;
      }
      if (closed != nullptr) *closed = n == 0 || errno == ECONNRESET;
      return out;
    }
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

vllm::server::HttpLimits small_limits() {
  vllm::server::HttpLimits limits;
  limits.max_request_body_bytes = 1 << 20;
  limits.max_header_bytes = 4 << 10;
  limits.keep_alive_timeout_s = 1.0;
  limits.request_read_timeout_s = 1.0;
  limits.write_timeout_s = 5.0;
  return limits;
}

}  // namespace

TEST(HostileHttp, GigabyteContentLength) {
  TestServer server(small_limits());
  Client client(server.port(), 10.0);
  ASSERT_TRUE(client.connected());
  // Only the headers are sent: a server that waited for the body would hit the timeout.
  ASSERT_TRUE(client.send("POST /v1/completions HTTP/1.1\r\nhost: x\r\n"
                          "content-type: application/json\r\ncontent-length: 1073741824\r\n\r\n"));
  const auto start = std::chrono::steady_clock::now();
  const std::string response = client.read_all();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(response.rfind("HTTP/1.1 413", 0), 0u) << response;
  EXPECT_NE(response.find("exceeds the limit of 1048576 bytes"), std::string::npos) << response;
  EXPECT_LT(seconds, 0.9);   // answered before the 1 s read timeout, not by it
  EXPECT_EQ(server.num_handled(), 0);
}

TEST(HostileHttp, OversizedHeaders) {
  TestServer server(small_limits());
  Client client(server.port(), 10.0);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.send("GET /health HTTP/1.1\r\nx-padding: " + std::string(8 << 10, 'a') +
                          "\r\n\r\n"));
  const std::string response = client.read_all();
  EXPECT_EQ(response.rfind("HTTP/1.1 431", 0), 0u) << response.substr(0, 200);
  EXPECT_EQ(server.num_handled(), 0);
}

TEST(HostileHttp, SlowBodyTimesOut) {
  TestServer server(small_limits());
  Client client(server.port(), 10.0);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.send("POST /x HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\nabc"));
  const auto start = std::chrono::steady_clock::now();
  bool closed = false;
  client.read_all(&closed);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_TRUE(closed);
  EXPECT_LT(seconds, 5.0);
  EXPECT_EQ(server.num_handled(), 0);
}

TEST(HostileHttp, IdleConnectionTimesOut) {
  TestServer server(small_limits());
  Client client(server.port(), 10.0);
  ASSERT_TRUE(client.connected());
  const auto start = std::chrono::steady_clock::now();
  bool closed = false;
  client.read_all(&closed);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_TRUE(closed);
  EXPECT_LT(seconds, 5.0);
}

TEST(HostileHttp, ConnectionCapQueuesClients) {
  vllm::server::HttpLimits limits = small_limits();
  limits.max_connections = 1;
  limits.keep_alive_timeout_s = 30.0;
  TestServer server(limits);
  Client first(server.port(), 10.0);
  ASSERT_TRUE(first.connected());
  ASSERT_TRUE(first.send("GET /a HTTP/1.1\r\nhost: x\r\n\r\n"));
  // The first connection stays open (keep-alive), so the second waits in the backlog and
  // gets no answer until the first closes.
  Client second(server.port(), 0.5);
  ASSERT_TRUE(second.connected());
  ASSERT_TRUE(second.send("GET /b HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"));
  bool closed = false;
  EXPECT_EQ(second.read_all(&closed), "");
  EXPECT_FALSE(closed);
  EXPECT_EQ(server.num_handled(), 1);
}

TEST(HostileHttp, MalformedRequestLine) {
  TestServer server(small_limits());
  Client client(server.port(), 10.0);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.send("\x01\x02 garbage\r\n\r\n"));
  bool closed = false;
  const std::string response = client.read_all(&closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(server.num_handled(), 0);
  if (!response.empty()) {
    EXPECT_EQ(response.rfind("HTTP/1.1 400", 0), 0u) << response;
  }
}
