// An in-tree fake HTTP/1.1 server for client tests: a real socket server on 127.0.0.1 (port 0 =
// any free port) with its own threads, scriptable per route. A reply can be delayed, dropped
// (connection closed without an answer), truncated (Content-Length promises more than is sent),
// or carry any status, headers and body. Keep-alive is supported, so connection reuse can be
// observed through connectionsAccepted().
//
//   FakeHttpServer server;
//   server.onJson("GET", "/v2.1/os-services", 200, {{"services", json::array()}});
//   server.enqueue("GET", "/v2.1/os-services", FakeReply::status(503));  // first call only
//   ... client.get(server.url("/v2.1/os-services")) ...
//   EXPECT_EQ(server.count("GET", "/v2.1/os-services"), 2);
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "freezer/clock.h"

namespace fdr::testing {

struct FakeRequest {
  std::string method;
  std::string target;                          // as sent: path and query
  std::string path;                            // without the query
  std::string query;                           // without '?'
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  int connection = 0;  // which accepted connection carried it (1-based)

  [[nodiscard]] std::string header(std::string_view name) const;
  // The decoded value of a query parameter; empty if absent. hasParam tells absent from empty.
  [[nodiscard]] std::string param(std::string_view name) const;
  [[nodiscard]] bool hasParam(std::string_view name) const;
  // The body parsed as JSON (null if it is not JSON).
  [[nodiscard]] nlohmann::json json() const;
};

struct FakeReply {
  enum class Mode {
    kNormal,
    kDrop,            // close the connection without sending anything
    kTruncate,        // send headers claiming the full body, then only `cut` bytes, then close
    kCloseDelimited,  // no Content-Length: send the body and close
  };
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  Duration delay{0};  // before anything is sent (interrupted when the server stops)
  Mode mode = Mode::kNormal;
  size_t cut = 0;

  static FakeReply json(int status, const nlohmann::json& body);
  static FakeReply text(int status, std::string body);
  static FakeReply empty(int status);
  static FakeReply drop();
  static FakeReply truncated(int status, std::string body, size_t cut);
  FakeReply& header(std::string name, std::string value);
  FakeReply& after(Duration d);
};

using FakeHandler = std::function<FakeReply(const FakeRequest&)>;

class FakeHttpServer {
 public:
  // Binds 127.0.0.1:`port` (0 = any free port) and starts serving.
  explicit FakeHttpServer(int port = 0);
  ~FakeHttpServer();
  FakeHttpServer(const FakeHttpServer&) = delete;
  FakeHttpServer& operator=(const FakeHttpServer&) = delete;

  // Stops accepting, closes every connection, interrupts delays and joins the threads.
  void stop();

  [[nodiscard]] int port() const { return port_; }
  // "http://127.0.0.1:<port>" + path.
  [[nodiscard]] std::string url(std::string_view path = "") const;

  // The handler for (method, path); a path ending in '*' matches any path with that prefix.
  // Replaces a previous handler for the same route. Unrouted requests get 404.
  void on(std::string method, std::string path, FakeHandler handler);
  void onJson(std::string method, std::string path, int status, nlohmann::json body);
  // One-shot replies for (method, exact path), used in order before the route's handler.
  void enqueue(std::string method, std::string path, FakeReply reply);

  [[nodiscard]] std::vector<FakeRequest> requests() const;
  [[nodiscard]] size_t count(std::string_view method, std::string_view path) const;
  [[nodiscard]] int connectionsAccepted() const { return connections_.load(); }
  void clearRequests();

 private:
  void acceptLoop();
  void serve(int fd, int connection);
  FakeReply dispatch(const FakeRequest& request);
  bool waitFor(Duration d);  // false if stopped meanwhile

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::thread acceptor_;

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::pair<std::pair<std::string, std::string>, FakeHandler>> routes_;
  std::map<std::pair<std::string, std::string>, std::deque<FakeReply>> queued_;
  std::vector<FakeRequest> requests_;
  std::vector<std::thread> workers_;
  std::vector<int> open_fds_;
};

}  // namespace fdr::testing
