#include "clients/etcd/etcd_client.h"

#include <atomic>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "core/base64.h"

namespace fdr::etcd {
namespace {

using nlohmann::json;

std::string b64(const std::string& s) {
  return base64Encode(s);
}

// etcd's int64 fields come as JSON strings ("123"), absent when zero.
Result<int64_t> number(const json& j, const char* field, const std::string& where) {
  if (!j.contains(field)) return int64_t{0};
  const json& v = j[field];
  try {
    if (v.is_string()) return static_cast<int64_t>(std::stoll(v.get<std::string>()));
    if (v.is_number_integer()) return v.get<int64_t>();
  } catch (const std::exception& e) {
    return std::unexpected(Error{ErrorCode::kInvalidArgument,
                                 fmt::format("{}: field {}: {}", where, field, e.what())});
  }
  return std::unexpected(Error{ErrorCode::kInvalidArgument,
                               fmt::format("{}: field {} is not a number", where, field)});
}

Result<std::string> bytes(const json& j, const char* field, const std::string& where) {
  if (!j.contains(field)) return std::string();
  if (!j[field].is_string()) {
    return std::unexpected(Error{ErrorCode::kInvalidArgument,
                                 fmt::format("{}: field {} is not a string", where, field)});
  }
  auto decoded = base64Decode(j[field].get<std::string>());
  if (!decoded) return withContext(decoded.error(), where + ": field " + field);
  return decoded;
}

Result<KeyValue> keyValue(const json& j, const std::string& where) {
  KeyValue kv;
  auto key = bytes(j, "key", where);
  auto value = bytes(j, "value", where);
  auto create = number(j, "create_revision", where);
  auto mod = number(j, "mod_revision", where);
  auto version = number(j, "version", where);
  auto lease = number(j, "lease", where);
  for (const Error* e : {key ? nullptr : &key.error(), value ? nullptr : &value.error(),
                         create ? nullptr : &create.error(), mod ? nullptr : &mod.error(),
                         version ? nullptr : &version.error(), lease ? nullptr : &lease.error()}) {
    if (e != nullptr) return std::unexpected(*e);
  }
  kv.key = std::move(*key);
  kv.value = std::move(*value);
  kv.create_revision = *create;
  kv.mod_revision = *mod;
  kv.version = *version;
  kv.lease = *lease;
  return kv;
}

Result<RangeResult> rangeResult(const json& j, const std::string& where) {
  RangeResult out;
  if (j.contains("kvs")) {
    if (!j["kvs"].is_array()) {
      return std::unexpected(Error{ErrorCode::kInvalidArgument, where + ": kvs is not an array"});
    }
    for (const json& item : j["kvs"]) {
      auto kv = keyValue(item, where);
      if (!kv) return std::unexpected(kv.error());
      out.kvs.push_back(std::move(*kv));
    }
  }
  auto count = number(j, "count", where);
  if (!count) return std::unexpected(count.error());
  out.count = *count;
  out.more = j.value("more", false);
  if (j.contains("header") && j["header"].is_object()) {
    auto revision = number(j["header"], "revision", where);
    if (!revision) return std::unexpected(revision.error());
    out.revision = *revision;
  }
  return out;
}

json rangeJson(const RangeRequest& r) {
  json j{{"key", b64(r.key)}};
  if (!r.range_end.empty()) j["range_end"] = b64(r.range_end);
  if (r.limit > 0) j["limit"] = std::to_string(r.limit);
  if (r.keys_only) j["keys_only"] = true;
  if (r.count_only) j["count_only"] = true;
  if (r.sort != RangeRequest::Sort::kNone) {
    j["sort_target"] = "KEY";
    j["sort_order"] = r.sort == RangeRequest::Sort::kKeyAscending ? "ASCEND" : "DESCEND";
  }
  return j;
}

json compareJson(const Compare& c) {
  static constexpr const char* kResult[] = {"EQUAL", "GREATER", "LESS", "NOT_EQUAL"};
  json j{{"key", b64(c.key)}, {"result", kResult[static_cast<int>(c.result)]}};
  switch (c.target) {
    case Compare::Target::kVersion:
      j["target"] = "VERSION";
      j["version"] = std::to_string(c.number);
      break;
    case Compare::Target::kCreateRevision:
      j["target"] = "CREATE";
      j["create_revision"] = std::to_string(c.number);
      break;
    case Compare::Target::kModRevision:
      j["target"] = "MOD";
      j["mod_revision"] = std::to_string(c.number);
      break;
    case Compare::Target::kValue:
      j["target"] = "VALUE";
      j["value"] = b64(c.value);
      break;
    case Compare::Target::kLease:
      j["target"] = "LEASE";
      j["lease"] = std::to_string(c.number);
      break;
  }
  return j;
}

json opJson(const Op& op) {
  switch (op.kind) {
    case Op::Kind::kPut: {
      json put{{"key", b64(op.key)}, {"value", b64(op.value)}};
      if (op.lease != 0) put["lease"] = std::to_string(op.lease);
      return {{"request_put", put}};
    }
    case Op::Kind::kDelete: {
      json del{{"key", b64(op.key)}};
      if (!op.range_end.empty()) del["range_end"] = b64(op.range_end);
      return {{"request_delete_range", del}};
    }
    case Op::Kind::kRange: {
      RangeRequest r;
      r.key = op.key;
      r.range_end = op.range_end;
      r.keys_only = op.keys_only;
      return {{"request_range", rangeJson(r)}};
    }
  }
  return {};
}

}  // namespace

Compare Compare::version(std::string key, int64_t v) {
  return {.target = Target::kVersion,
          .result = Result::kEqual,
          .key = std::move(key),
          .number = v,
          .value = {}};
}
Compare Compare::createRevision(std::string key, int64_t rev) {
  return {.target = Target::kCreateRevision,
          .result = Result::kEqual,
          .key = std::move(key),
          .number = rev,
          .value = {}};
}
Compare Compare::modRevision(std::string key, int64_t rev) {
  return {.target = Target::kModRevision,
          .result = Result::kEqual,
          .key = std::move(key),
          .number = rev,
          .value = {}};
}
Compare Compare::valueEquals(std::string key, std::string value) {
  return {.target = Target::kValue,
          .result = Result::kEqual,
          .key = std::move(key),
          .number = 0,
          .value = std::move(value)};
}

RangeRequest RangeRequest::single(std::string key) {
  RangeRequest r;
  r.key = std::move(key);
  return r;
}

RangeRequest RangeRequest::prefix(std::string prefix) {
  RangeRequest r;
  r.range_end = prefixEnd(prefix);
  r.key = std::move(prefix);
  return r;
}

Op Op::put(std::string key, std::string value, int64_t lease) {
  Op op;
  op.kind = Kind::kPut;
  op.key = std::move(key);
  op.value = std::move(value);
  op.lease = lease;
  return op;
}

Op Op::erase(std::string key) {
  Op op;
  op.kind = Kind::kDelete;
  op.key = std::move(key);
  return op;
}

Op Op::erasePrefix(std::string prefix) {
  Op op;
  op.kind = Kind::kDelete;
  op.range_end = prefixEnd(prefix);
  op.key = std::move(prefix);
  return op;
}

Op Op::range(RangeRequest request) {
  Op op;
  op.kind = Kind::kRange;
  op.key = std::move(request.key);
  op.range_end = std::move(request.range_end);
  op.keys_only = request.keys_only;
  return op;
}

std::string prefixEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xFF) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

class EtcdClient::Impl {
 public:
  Impl(const EtcdOptions& options, Clock& clock)
      : options_(options), http_(httpOptions(options), clock) {}

  // POSTs `body` to `path` on the endpoint that last answered, then on the others in turn while
  // the transport fails or the member says it cannot serve (5xx). Returns the parsed answer.
  Result<json> call(const std::string& path, const json& body, bool idempotent) {
    const size_t n = options_.endpoints.size();
    const size_t first = preferred_.load();
    Error last{ErrorCode::kUnavailable, "no etcd endpoint"};
    const std::string text = body.dump();
    for (size_t k = 0; k < n; ++k) {
      const size_t i = (first + k) % n;
      const std::string& endpoint = options_.endpoints[i];
      http::Request request;
      request.method = http::Method::kPost;
      request.url = endpoint + path;
      request.body = text;
      request.idempotent = idempotent;
      request.label = "etcd " + path;
      request.deadline = std::chrono::steady_clock::now() + options_.request_timeout;
      auto response = http_.send(request);
      if (!response) {
        last = response.error();
        last.message = fmt::format("etcd {} {}: {}", endpoint, path, last.message);
        continue;
      }
      const auto answer = json::parse(response->body, nullptr, /*allow_exceptions=*/false);
      if (!response->ok()) {
        std::string message =
            answer.is_object() ? answer.value("message", answer.value("error", "")) : "";
        if (message.empty()) message = http::serverMessage(response->body);
        Error e{ErrorCode::kInvalidArgument,
                fmt::format("etcd {} {}: HTTP {}: {}", endpoint, path, response->status, message)};
        if (message.find("lease not found") != std::string::npos ||
            message.find("requested lease not found") != std::string::npos) {
          e.code = ErrorCode::kNotFound;
          return std::unexpected(e);
        }
        if (response->status >= 500 || message.find("no leader") != std::string::npos ||
            message.find("timed out") != std::string::npos) {
          e.code = ErrorCode::kUnavailable;
          e.retryable = true;
          last = e;
          continue;  // another member may have a leader
        }
        return std::unexpected(e);
      }
      if (!answer.is_object()) {
        return std::unexpected(
            Error{ErrorCode::kInvalidArgument,
                  fmt::format("etcd {} {}: the answer is not a JSON object", endpoint, path)});
      }
      preferred_ = i;
      return answer;
    }
    return std::unexpected(last);
  }

  std::string where(const std::string& path) const {
    return "etcd " + options_.endpoints[preferred_.load() % options_.endpoints.size()] + " " + path;
  }

 private:
  static http::ClientOptions httpOptions(const EtcdOptions& options) {
    http::ClientOptions o;
    o.tls = options.tls;
    o.connect_timeout = options.connect_timeout;
    o.timeout = options.request_timeout;
    o.retry.max_attempts = 1;  // the next endpoint instead, within the same deadline
    o.user_agent = "freezer-dr-etcd";
    return o;
  }

  const EtcdOptions& options_;
  http::Client http_;
  std::atomic<size_t> preferred_{0};
};

Result<std::unique_ptr<EtcdClient>> EtcdClient::create(EtcdOptions options, Clock& clock) {
  if (options.endpoints.empty()) {
    return std::unexpected(Error{ErrorCode::kInvalidArgument, "no etcd endpoint given"});
  }
  for (std::string& e : options.endpoints) {
    if (!e.starts_with("http://") && !e.starts_with("https://")) {
      return std::unexpected(Error{ErrorCode::kInvalidArgument,
                                   "etcd endpoint '" + e + "' is not an http:// or https:// URL"});
    }
    while (e.ends_with('/')) e.pop_back();
  }
  return std::unique_ptr<EtcdClient>(new EtcdClient(std::move(options), clock));
}

EtcdClient::EtcdClient(EtcdOptions options, Clock& clock)
    : options_(std::move(options)), impl_(std::make_unique<Impl>(options_, clock)) {}

EtcdClient::~EtcdClient() = default;

Result<RangeResult> EtcdClient::range(const RangeRequest& request) {
  auto answer = impl_->call("/v3/kv/range", rangeJson(request), /*idempotent=*/true);
  if (!answer) return std::unexpected(answer.error());
  return rangeResult(*answer, impl_->where("/v3/kv/range"));
}

Result<TxnResult> EtcdClient::txn(const Txn& txn) {
  json body{{"compare", json::array()}, {"success", json::array()}, {"failure", json::array()}};
  for (const Compare& c : txn.compare) body["compare"].push_back(compareJson(c));
  for (const Op& op : txn.success) body["success"].push_back(opJson(op));
  for (const Op& op : txn.failure) body["failure"].push_back(opJson(op));
  auto answer = impl_->call("/v3/kv/txn", body, /*idempotent=*/false);
  if (!answer) return std::unexpected(answer.error());
  const std::string where = impl_->where("/v3/kv/txn");
  TxnResult out;
  out.succeeded = answer->value("succeeded", false);
  if (answer->contains("header") && (*answer)["header"].is_object()) {
    auto revision = number((*answer)["header"], "revision", where);
    if (!revision) return std::unexpected(revision.error());
    out.revision = *revision;
  }
  if (answer->contains("responses") && (*answer)["responses"].is_array()) {
    for (const json& r : (*answer)["responses"]) {
      if (r.contains("response_range")) {
        auto range = rangeResult(r["response_range"], where);
        if (!range) return std::unexpected(range.error());
        out.ranges.push_back(std::move(*range));
      } else {
        out.ranges.emplace_back();
      }
    }
  }
  return out;
}

Result<int64_t> EtcdClient::put(const std::string& key, const std::string& value) {
  auto answer = impl_->call("/v3/kv/put", json{{"key", b64(key)}, {"value", b64(value)}},
                            /*idempotent=*/true);
  if (!answer) return std::unexpected(answer.error());
  if (!answer->contains("header")) return int64_t{0};
  return number((*answer)["header"], "revision", impl_->where("/v3/kv/put"));
}

Result<Lease> EtcdClient::grantLease(int64_t ttl_seconds) {
  auto answer = impl_->call("/v3/lease/grant", json{{"TTL", std::to_string(ttl_seconds)}},
                            /*idempotent=*/false);
  if (!answer) return std::unexpected(answer.error());
  const std::string where = impl_->where("/v3/lease/grant");
  if (answer->contains("error") && (*answer)["error"].is_string() &&
      !(*answer)["error"].get<std::string>().empty()) {
    return std::unexpected(
        Error{ErrorCode::kUnavailable, where + ": " + (*answer)["error"].get<std::string>(), true});
  }
  auto id = number(*answer, "ID", where);
  auto ttl = number(*answer, "TTL", where);
  if (!id) return std::unexpected(id.error());
  if (!ttl) return std::unexpected(ttl.error());
  if (*id == 0 || *ttl <= 0) {
    return std::unexpected(Error{ErrorCode::kInvalidArgument, where + ": no lease in the answer"});
  }
  return Lease{.id = *id, .ttl_seconds = *ttl};
}

Result<Lease> EtcdClient::keepAlive(int64_t lease_id) {
  auto answer = impl_->call("/v3/lease/keepalive", json{{"ID", std::to_string(lease_id)}},
                            /*idempotent=*/true);
  if (!answer) return std::unexpected(answer.error());
  const std::string where = impl_->where("/v3/lease/keepalive");
  // A stream of one answer: {"result": {...}}, or {"error": {...}}.
  if (answer->contains("error")) {
    return std::unexpected(
        Error{ErrorCode::kUnavailable, where + ": " + (*answer)["error"].dump(), true});
  }
  const json& result = answer->contains("result") ? (*answer)["result"] : *answer;
  auto ttl = number(result, "TTL", where);
  if (!ttl) return std::unexpected(ttl.error());
  if (*ttl <= 0) {
    return std::unexpected(
        Error{ErrorCode::kNotFound,
              fmt::format("{}: lease {:x} expired or was revoked", where, lease_id)});
  }
  return Lease{.id = lease_id, .ttl_seconds = *ttl};
}

Status EtcdClient::revokeLease(int64_t lease_id) {
  auto answer = impl_->call("/v3/lease/revoke", json{{"ID", std::to_string(lease_id)}},
                            /*idempotent=*/true);
  if (!answer) return std::unexpected(answer.error());
  return {};
}

}  // namespace fdr::etcd
