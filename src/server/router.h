// Routes HTTP requests to the endpoint handlers, checks the API key, and turns every
// exception a handler throws into an error response.
#pragma once

#include <memory>

#include "server/http_server.h"
#include "server/server_context.h"

namespace vllm::server {

class Router {
 public:
  explicit Router(ServerContext& context) : context_(context) {}
  void handle(HttpRequest request, std::shared_ptr<ResponseWriter> writer);

 private:
  void route(const HttpRequest& request, const std::shared_ptr<ResponseWriter>& writer);
  bool is_authorized(const HttpRequest& request) const;
  void reset_prefix_cache(ResponseWriter& writer);

  ServerContext& context_;
};

}  // namespace vllm::server
