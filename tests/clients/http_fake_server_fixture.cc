#include "clients/http_fake_server_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <stdexcept>

namespace fdr::testing {

namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

std::string percentDecode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      out +=
          static_cast<char>(std::strtol(std::string(text.substr(i + 1, 2)).c_str(), nullptr, 16));
      i += 2;
    } else if (text[i] == '+') {
      out += ' ';
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string reasonPhrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 300: return "Multiple Choices";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 409: return "Conflict";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
  }
}

bool sendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

std::string FakeRequest::header(std::string_view name) const {
  auto it = headers.find(lower(name));
  return it == headers.end() ? std::string() : it->second;
}

bool FakeRequest::hasParam(std::string_view name) const {
  std::string_view q = query;
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    std::string_view key = pair.substr(0, pair.find('='));
    if (percentDecode(key) == name) return true;
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return false;
}

std::string FakeRequest::param(std::string_view name) const {
  std::string_view q = query;
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    if (percentDecode(key) == name) {
      return eq == std::string_view::npos ? std::string() : percentDecode(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return {};
}

nlohmann::json FakeRequest::json() const {
  auto doc = nlohmann::json::parse(body, nullptr, false);
  return doc.is_discarded() ? nlohmann::json() : doc;
}

FakeReply FakeReply::json(int status, const nlohmann::json& body) {
  FakeReply r;
  r.status = status;
  r.body = body.dump();
  r.headers.emplace_back("Content-Type", "application/json");
  return r;
}

FakeReply FakeReply::text(int status, std::string body) {
  FakeReply r;
  r.status = status;
  r.body = std::move(body);
  r.headers.emplace_back("Content-Type", "text/plain");
  return r;
}

FakeReply FakeReply::empty(int status) {
  FakeReply r;
  r.status = status;
  return r;
}

FakeReply FakeReply::drop() {
  FakeReply r;
  r.mode = Mode::kDrop;
  return r;
}

FakeReply FakeReply::truncated(int status, std::string body, size_t cut) {
  FakeReply r = text(status, std::move(body));
  r.headers.front().second = "application/json";
  r.mode = Mode::kTruncate;
  r.cut = cut;
  return r;
}

FakeReply& FakeReply::header(std::string name, std::string value) {
  headers.emplace_back(std::move(name), std::move(value));
  return *this;
}

FakeReply& FakeReply::after(Duration d) {
  delay = d;
  return *this;
}

// ---------------------------------------------------------------------------------------------

FakeHttpServer::FakeHttpServer(int port) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::runtime_error("fake server: socket() failed");
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(listen_fd_, 64) != 0) {
    ::close(listen_fd_);
    throw std::runtime_error("fake server: cannot listen on 127.0.0.1:" + std::to_string(port));
  }
  socklen_t len = sizeof(addr);
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { acceptLoop(); });
}

FakeHttpServer::~FakeHttpServer() {
  stop();
}

void FakeHttpServer::stop() {
  if (stopping_.exchange(true)) return;
  cv_.notify_all();
  if (acceptor_.joinable()) acceptor_.join();
  ::close(listen_fd_);
  std::vector<std::thread> workers;
  {
    std::lock_guard lock(mutex_);
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    workers.swap(workers_);
  }
  cv_.notify_all();
  for (auto& t : workers) t.join();
}

std::string FakeHttpServer::url(std::string_view path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
}

void FakeHttpServer::on(std::string method, std::string path, FakeHandler handler) {
  std::lock_guard lock(mutex_);
  auto key = std::make_pair(std::move(method), std::move(path));
  for (auto& [route, h] : routes_) {
    if (route == key) {
      h = std::move(handler);
      return;
    }
  }
  routes_.emplace_back(std::move(key), std::move(handler));
}

void FakeHttpServer::onJson(std::string method, std::string path, int status, nlohmann::json body) {
  on(std::move(method), std::move(path), [status, body = std::move(body)](const FakeRequest&) {
    return FakeReply::json(status, body);
  });
}

void FakeHttpServer::enqueue(std::string method, std::string path, FakeReply reply) {
  std::lock_guard lock(mutex_);
  queued_[{std::move(method), std::move(path)}].push_back(std::move(reply));
}

std::vector<FakeRequest> FakeHttpServer::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

size_t FakeHttpServer::count(std::string_view method, std::string_view path) const {
  std::lock_guard lock(mutex_);
  return static_cast<size_t>(std::count_if(requests_.begin(), requests_.end(), [&](const auto& r) {
    return r.method == method && r.path == path;
  }));
}

void FakeHttpServer::clearRequests() {
  std::lock_guard lock(mutex_);
  requests_.clear();
}

bool FakeHttpServer::waitFor(Duration d) {
  std::unique_lock lock(mutex_);
  return !cv_.wait_for(lock, d, [this] { return stopping_.load(); });
}

void FakeHttpServer::acceptLoop() {
  while (!stopping_) {
    pollfd pfd{listen_fd_, POLLIN, 0};
    int ready = ::poll(&pfd, 1, 20);
    if (ready <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    const int connection = ++connections_;
    std::lock_guard lock(mutex_);
    if (stopping_) {
      ::close(fd);
      break;
    }
    open_fds_.push_back(fd);
    workers_.emplace_back([this, fd, connection] { serve(fd, connection); });
  }
}

FakeReply FakeHttpServer::dispatch(const FakeRequest& request) {
  FakeHandler handler;
  {
    std::lock_guard lock(mutex_);
    requests_.push_back(request);
    auto q = queued_.find({request.method, request.path});
    if (q != queued_.end() && !q->second.empty()) {
      FakeReply reply = std::move(q->second.front());
      q->second.pop_front();
      return reply;
    }
    for (const auto& [route, h] : routes_) {
      const auto& [method, path] = route;
      if (method != request.method) continue;
      const bool match = (!path.empty() && path.back() == '*')
                             ? request.path.starts_with(path.substr(0, path.size() - 1))
                             : request.path == path;
      if (match) {
        handler = h;
        break;
      }
    }
  }
  if (!handler) {
    return FakeReply::json(
        404, {{"itemNotFound",
               {{"code", 404},
                {"message", "fake server: no route for " + request.method + " " + request.path}}}});
  }
  return handler(request);
}

void FakeHttpServer::serve(int fd, int connection) {
  std::string buffer;
  auto closeFd = [&] {
    std::lock_guard lock(mutex_);
    open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), fd), open_fds_.end());
    ::close(fd);
  };
  // Reads until `buffer` holds at least `want` bytes (or the header terminator if want == 0).
  auto fill = [&](size_t want) -> bool {
    while (!stopping_) {
      if (want == 0 ? buffer.find("\r\n\r\n") != std::string::npos : buffer.size() >= want) {
        return true;
      }
      pollfd pfd{fd, POLLIN, 0};
      int ready = ::poll(&pfd, 1, 20);
      if (ready == 0) continue;
      if (ready < 0 && errno == EINTR) continue;
      if (ready < 0) return false;
      char chunk[8192];
      ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      buffer.append(chunk, static_cast<size_t>(n));
    }
    return false;
  };

  while (!stopping_) {
    if (!fill(0)) break;
    const size_t header_end = buffer.find("\r\n\r\n");
    std::string_view head(buffer.data(), header_end);
    FakeRequest request;
    request.connection = connection;
    size_t line_end = head.find("\r\n");
    std::string_view request_line = head.substr(0, line_end);
    size_t sp1 = request_line.find(' ');
    size_t sp2 = request_line.rfind(' ');
    if (sp1 == std::string_view::npos || sp2 <= sp1) break;
    request.method = std::string(request_line.substr(0, sp1));
    request.target = std::string(request_line.substr(sp1 + 1, sp2 - sp1 - 1));
    size_t qmark = request.target.find('?');
    request.path = request.target.substr(0, qmark);
    request.query = qmark == std::string::npos ? std::string() : request.target.substr(qmark + 1);
    std::string_view rest =
        line_end == std::string_view::npos ? std::string_view() : head.substr(line_end + 2);
    while (!rest.empty()) {
      size_t eol = rest.find("\r\n");
      std::string_view line = rest.substr(0, eol);
      size_t colon = line.find(':');
      if (colon != std::string_view::npos) {
        request.headers[lower(trim(line.substr(0, colon)))] =
            std::string(trim(line.substr(colon + 1)));
      }
      if (eol == std::string_view::npos) break;
      rest.remove_prefix(eol + 2);
    }
    size_t content_length = 0;
    if (auto it = request.headers.find("content-length"); it != request.headers.end()) {
      content_length = std::strtoul(it->second.c_str(), nullptr, 10);
    }
    if (lower(request.header("expect")) == "100-continue") {
      sendAll(fd, "HTTP/1.1 100 Continue\r\n\r\n");
    }
    if (!fill(header_end + 4 + content_length)) break;
    request.body = buffer.substr(header_end + 4, content_length);
    buffer.erase(0, header_end + 4 + content_length);
    const bool client_closes = lower(request.header("connection")) == "close";

    FakeReply reply = dispatch(request);
    if (reply.delay.count() > 0 && !waitFor(reply.delay)) break;
    if (reply.mode == FakeReply::Mode::kDrop) break;

    std::string out =
        "HTTP/1.1 " + std::to_string(reply.status) + " " + reasonPhrase(reply.status) + "\r\n";
    for (const auto& [name, value] : reply.headers) out += name + ": " + value + "\r\n";
    const bool close_after = reply.mode != FakeReply::Mode::kNormal || client_closes;
    if (reply.mode != FakeReply::Mode::kCloseDelimited) {
      out += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n";
    }
    out += close_after ? "Connection: close\r\n" : "Connection: keep-alive\r\n";
    out += "\r\n";
    if (reply.mode == FakeReply::Mode::kTruncate) {
      out += reply.body.substr(0, std::min(reply.cut, reply.body.size()));
    } else if (request.method != "HEAD") {
      out += reply.body;
    }
    if (!sendAll(fd, out) || close_after) break;
  }
  closeFd();
}

}  // namespace fdr::testing
