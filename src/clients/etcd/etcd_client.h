// A client of etcd v3 through its HTTP/JSON gateway (etcd 3.4+: /v3/kv/range, /v3/kv/txn,
// /v3/lease/grant, /v3/lease/keepalive, /v3/lease/revoke), over the project's one HTTP stack
// (clients/http: libcurl, TLS verified unless configured otherwise, client certificates,
// redaction, the call's deadline). Why the gateway and not gRPC: docs/adr/0002-controller-ha.md.
//
// - Keys and values are bytes (base64 on the wire, as the gateway wants); 64-bit numbers are
//   JSON strings on the wire and integers here.
// - Several endpoints (the members of one cluster): a request goes to the endpoint that last
//   answered, and on a transport failure or a 5xx to the next one, within the call's deadline.
//   etcd's own errors (a compare that failed is not one: Txn::succeeded) come back as kConflict
//   for a failed precondition, kNotFound for a lease that is gone, kUnavailable for no leader /
//   no quorum, kInvalidArgument otherwise, each naming the endpoint and etcd's message.
// - No call retries a write on its own after it may have reached the server: a txn or a lease
//   grant whose answer was lost fails (kUnavailable); the caller reads back.
//
// Thread-safe (the HTTP client is).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "clients/http/http_client.h"
#include "freezer/clock.h"
#include "freezer/result.h"

namespace fdr::etcd {

struct EtcdOptions {
  std::vector<std::string> endpoints;  // "http://127.0.0.1:2379", "https://…"
  http::TlsOptions tls;                // CA, client certificate and key; verified by default
  Duration request_timeout{std::chrono::seconds(2)};  // one request, connect included
  Duration connect_timeout{std::chrono::milliseconds(500)};
};

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;
  int64_t lease = 0;
};

// One comparison of a transaction ("compare" in etcd's TxnRequest).
struct Compare {
  enum class Target { kVersion, kCreateRevision, kModRevision, kValue, kLease };
  enum class Result { kEqual, kGreater, kLess, kNotEqual };
  Target target = Target::kVersion;
  Result result = Result::kEqual;
  std::string key;
  int64_t number = 0;  // kVersion, kCreateRevision, kModRevision, kLease
  std::string value;   // kValue

  static Compare version(std::string key, int64_t v);
  static Compare createRevision(std::string key, int64_t rev);
  static Compare modRevision(std::string key, int64_t rev);
  static Compare valueEquals(std::string key, std::string value);
};

// A range read: one key, or every key in [key, range_end); prefix() makes the range of a prefix.
struct RangeRequest {
  std::string key;
  std::string range_end;  // empty: only `key`
  int64_t limit = 0;      // 0: no limit
  bool keys_only = false;
  bool count_only = false;
  enum class Sort { kNone, kKeyAscending, kKeyDescending } sort = Sort::kNone;

  static RangeRequest single(std::string key);
  static RangeRequest prefix(std::string prefix);
};

struct RangeResult {
  std::vector<KeyValue> kvs;
  int64_t count = 0;     // how many keys are in the range (all of them, whatever the limit)
  bool more = false;     // limit cut the answer short
  int64_t revision = 0;  // the store's revision when it was read
};

// One operation of a transaction's success or failure branch.
struct Op {
  enum class Kind { kPut, kDelete, kRange } kind = Kind::kPut;
  std::string key;
  std::string value;       // kPut
  int64_t lease = 0;       // kPut: attach the key to this lease (0: none)
  std::string range_end;   // kDelete / kRange: a range instead of one key
  bool keys_only = false;  // kRange

  static Op put(std::string key, std::string value, int64_t lease = 0);
  static Op erase(std::string key);
  static Op erasePrefix(std::string prefix);
  static Op range(RangeRequest request);
};

struct Txn {
  std::vector<Compare> compare;
  std::vector<Op> success;
  std::vector<Op> failure;
};

struct TxnResult {
  bool succeeded = false;  // every comparison held: the success branch ran
  int64_t revision = 0;    // the store's revision after the transaction
  // One per operation of the branch that ran, in order: a range's answer (empty for others).
  std::vector<RangeResult> ranges;
};

struct Lease {
  int64_t id = 0;
  int64_t ttl_seconds = 0;  // as granted (or, from keepAlive, as renewed)
};

// The end of a prefix's range: the prefix with its last byte incremented (etcd's "range_end").
[[nodiscard]] std::string prefixEnd(const std::string& prefix);

class EtcdClient {
 public:
  // Fails (kInvalidArgument) without endpoints or with an endpoint that is not an http(s) URL.
  [[nodiscard]] static Result<std::unique_ptr<EtcdClient>> create(EtcdOptions options,
                                                                  Clock& clock);
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  [[nodiscard]] Result<RangeResult> range(const RangeRequest& request);
  [[nodiscard]] Result<TxnResult> txn(const Txn& txn);
  [[nodiscard]] Result<int64_t> put(const std::string& key, const std::string& value);  // revision
  [[nodiscard]] Result<Lease> grantLease(int64_t ttl_seconds);
  // Renews the lease once. kNotFound once it has expired or was revoked.
  [[nodiscard]] Result<Lease> keepAlive(int64_t lease_id);
  [[nodiscard]] Status revokeLease(int64_t lease_id);

  [[nodiscard]] const EtcdOptions& options() const { return options_; }

 private:
  EtcdClient(EtcdOptions options, Clock& clock);
  class Impl;
  EtcdOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fdr::etcd
