#include "drivers/fencer/libvirt/libvirt_fencer.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

#include "core/shared_library.h"

namespace fdr::drivers {
namespace {

// libvirt, opened when the first libvirt fencer is created (core/shared_library.h): what this
// driver calls, each bound to its declared type. Every call below runs after create() loaded it.
#define FDR_LIBVIRT_FUNCTIONS(X) \
  X(virSetErrorFunc)             \
  X(virConnectOpen)              \
  X(virConnectClose)             \
  X(virConnectIsAlive)           \
  X(virDomainLookupByName)       \
  X(virDomainFree)               \
  X(virDomainGetState)           \
  X(virDomainDestroy)            \
  X(virDomainCreate)             \
  X(virGetLastError)             \
  X(virResetLastError)

struct Libvirt {
#define FDR_DECLARE(name) decltype(&::name) name = nullptr;
  FDR_LIBVIRT_FUNCTIONS(FDR_DECLARE)
#undef FDR_DECLARE
};

Result<Libvirt> loadLibvirt() {
  auto library = core::SharedLibrary::open(FDR_LIBVIRT_SONAME, "libvirt0");
  if (!library) return std::unexpected(library.error());
  Libvirt api;
  for (Status bound : {
#define FDR_BIND(name) library->bind(api.name, #name),
           FDR_LIBVIRT_FUNCTIONS(FDR_BIND)
#undef FDR_BIND
       }) {
    if (!bound) return std::unexpected(bound.error());
  }
  // libvirt prints every error on stderr unless told otherwise; errors here are values.
  api.virSetErrorFunc(nullptr, [](void*, virErrorPtr) {});
  return api;
}

// Loaded once per process; a failure is kept too (the library does not appear later).
const Result<Libvirt>& loaded() {
  static const Result<Libvirt> library = loadLibvirt();
  return library;
}

// Only called once create() has succeeded, so loaded() holds the library.
const Libvirt& api() {
  return *loaded();
}

// An open connection, shared by the calls (and the worker threads) that use it.
class Connection {
 public:
  explicit Connection(virConnectPtr conn) : conn_(conn) {}
  ~Connection() { api().virConnectClose(conn_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  [[nodiscard]] virConnectPtr get() const { return conn_; }

 private:
  virConnectPtr conn_;
};
using ConnectionPtr = std::shared_ptr<Connection>;

struct DomainDeleter {
  void operator()(virDomainPtr domain) const { api().virDomainFree(domain); }
};
using DomainPtr = std::unique_ptr<virDomain, DomainDeleter>;

// The calling thread's last libvirt error as an Error. `broken` is set when the connection
// itself failed, so that it is reopened next time.
Error lastError(const std::string& what, bool* broken = nullptr) {
  virErrorPtr error = api().virGetLastError();
  if (error == nullptr) return {ErrorCode::kInternal, what + ": failed without an error", false};
  const std::string detail = error->message != nullptr ? error->message : "unknown error";
  Error out{ErrorCode::kUnavailable, what + ": " + detail, true};
  switch (error->code) {
    case VIR_ERR_NO_DOMAIN:
      out.code = ErrorCode::kNotFound;
      out.retryable = false;
      break;
    case VIR_ERR_AUTH_FAILED:
    case VIR_ERR_AUTH_CANCELLED:
    case VIR_ERR_AUTH_UNAVAILABLE:
    case VIR_ERR_ACCESS_DENIED:
      out.code = ErrorCode::kPermissionDenied;
      out.retryable = false;
      break;
    case VIR_ERR_OPERATION_TIMEOUT: out.code = ErrorCode::kTimedOut; break;
    case VIR_ERR_OPERATION_INVALID: out.code = ErrorCode::kConflict; break;
    case VIR_ERR_INVALID_ARG:
    case VIR_ERR_NO_SUPPORT:
    case VIR_ERR_INVALID_CONN:
      out.code = ErrorCode::kInvalidArgument;
      out.retryable = false;
      break;
    case VIR_ERR_NO_CONNECT:
    case VIR_ERR_SYSTEM_ERROR:
    case VIR_ERR_RPC:
      if (broken != nullptr) *broken = true;
      break;
    default: break;
  }
  api().virResetLastError();
  return out;
}

PowerState powerOf(int state) {
  switch (state) {
    case VIR_DOMAIN_SHUTOFF: return PowerState::kOff;
    case VIR_DOMAIN_RUNNING:
    case VIR_DOMAIN_BLOCKED:
    case VIR_DOMAIN_PAUSED:
    case VIR_DOMAIN_SHUTDOWN:  // being shut down: still running
    case VIR_DOMAIN_CRASHED:   // still holds its resources; destroy turns it off
    case VIR_DOMAIN_PMSUSPENDED: return PowerState::kOn;
    default: return PowerState::kUnknown;
  }
}

// Runs `work` on its own thread and waits for it until `timeout`. After that the caller gets
// kTimedOut and the thread is left to finish on its own: everything it touches is owned by the
// closure (shared pointers and copies), never by the caller's frame.
template <class T>
Result<T> runBounded(Duration timeout, const std::string& what, std::function<Result<T>()> work) {
  struct Shared {
    std::mutex mutex;
    std::condition_variable done;
    std::optional<Result<T>> result;
  };
  auto shared = std::make_shared<Shared>();
  try {
    std::thread([shared, work = std::move(work)] {
      Result<T> result = work();
      std::lock_guard lock(shared->mutex);
      shared->result.emplace(std::move(result));
      shared->done.notify_all();
    }).detach();
  } catch (const std::system_error& e) {
    return fail(ErrorCode::kUnavailable, what + ": cannot start a worker thread: " + e.what(),
                true);
  }
  std::unique_lock lock(shared->mutex);
  if (!shared->done.wait_for(lock, timeout, [&] { return shared->result.has_value(); })) {
    return fail(ErrorCode::kTimedOut,
                what + ": libvirt did not answer within " + std::to_string(timeout.count()) + " ms",
                true);
  }
  return std::move(*shared->result);
}

// What one call works on, copied into its worker.
struct Call {
  std::string uri;
  std::string domain;
  std::string what;  // "libvirt: node compute-1 (domain vm-1 at test:///default): power-off"
};

// The open connections, by URI. Shared with the worker threads, which may outlive the fencer.
class ConnectionPool {
 public:
  Result<DomainPtr> lookUp(const Call& call) {
    auto conn = connection(call);
    if (!conn) return std::unexpected(conn.error());
    virDomainPtr domain = api().virDomainLookupByName((*conn)->get(), call.domain.c_str());
    if (domain == nullptr) return std::unexpected(failed(call, "virDomainLookupByName"));
    return DomainPtr(domain);
  }

  // The calling thread's last libvirt error; forgets the connection when it broke.
  Error failed(const Call& call, const std::string& function) {
    bool broken = false;
    Error error = lastError(call.what + ": " + function, &broken);
    if (broken) {
      std::lock_guard lock(mutex_);
      connections_.erase(call.uri);
    }
    return error;
  }

 private:
  Result<ConnectionPtr> connection(const Call& call) {
    {
      std::lock_guard lock(mutex_);
      auto it = connections_.find(call.uri);
      if (it != connections_.end()) {
        if (api().virConnectIsAlive(it->second->get()) == 1) return it->second;
        connections_.erase(it);
      }
    }
    // Opened outside the lock: opening a remote URI may take long.
    virConnectPtr conn = api().virConnectOpen(call.uri.empty() ? nullptr : call.uri.c_str());
    if (conn == nullptr) return std::unexpected(lastError(call.what + ": virConnectOpen"));
    auto opened = std::make_shared<Connection>(conn);
    std::lock_guard lock(mutex_);
    auto [it, inserted] = connections_.emplace(call.uri, opened);
    return it->second;  // another call may have opened one meanwhile: use the first
  }

  std::mutex mutex_;
  std::map<std::string, ConnectionPtr> connections_;  // GUARDED_BY(mutex_)
};

class LibvirtFencer final : public Fencer {
 public:
  LibvirtFencer(std::string uri, Duration timeout)
      : uri_(std::move(uri)), timeout_(timeout), pool_(std::make_shared<ConnectionPool>()) {}

  // Fencer
  Status powerOff(const Node& node) override {
    return change(node, "power-off (destroy)", PowerState::kOff);
  }

  Status powerOn(const Node& node) override {
    return change(node, "power-on (start)", PowerState::kOn);
  }

  Result<PowerState> powerStatus(const Node& node) override {
    auto call = prepare(node, "power-status");
    if (!call) return std::unexpected(call.error());
    return runBounded<PowerState>(
        timeout_, call->what, [pool = pool_, call = *call]() -> Result<PowerState> {
          auto domain = pool->lookUp(call);
          if (!domain) return std::unexpected(domain.error());
          int state = VIR_DOMAIN_NOSTATE;
          int reason = 0;
          if (api().virDomainGetState(domain->get(), &state, &reason, 0) < 0) {
            return std::unexpected(pool->failed(call, "virDomainGetState"));
          }
          return powerOf(state);
        });
  }

 private:
  Result<Call> prepare(const Node& node, const std::string& action) const {
    Call call;
    call.uri = uri_;
    if (auto it = node.extra.find("libvirt-uri"); it != node.extra.end()) call.uri = it->second;
    call.domain = node.domain_name;
    if (call.domain.empty()) {
      return fail(ErrorCode::kInvalidArgument,
                  "libvirt: node " + node.hostname +
                      (node.source.empty() ? "" : " (" + node.source + ")") +
                      ": no domain-name in the inventory");
    }
    const std::string at = call.uri.empty() ? "the default URI" : call.uri;
    call.what =
        "libvirt: node " + node.hostname + " (domain " + call.domain + " at " + at + "): " + action;
    return call;
  }

  Status change(const Node& node, const std::string& action, PowerState wanted) {
    auto call = prepare(node, action);
    if (!call) return std::unexpected(call.error());
    auto done = runBounded<bool>(
        timeout_, call->what, [pool = pool_, call = *call, wanted]() -> Result<bool> {
          auto domain = pool->lookUp(call);
          if (!domain) return std::unexpected(domain.error());
          const bool off = wanted == PowerState::kOff;
          if ((off ? api().virDomainDestroy(domain->get())
                   : api().virDomainCreate(domain->get())) == 0) {
            return true;
          }
          Error error = pool->failed(call, off ? "virDomainDestroy" : "virDomainCreate");
          // "Domain is not running" / "is already running" (an operation-invalid error in the
          // qemu driver, an internal error in the test driver): fine in the wanted state.
          int state = VIR_DOMAIN_NOSTATE;
          int reason = 0;
          if (api().virDomainGetState(domain->get(), &state, &reason, 0) == 0 &&
              powerOf(state) == wanted) {
            return true;
          }
          api().virResetLastError();
          return std::unexpected(std::move(error));
        });
    if (!done) return std::unexpected(done.error());
    return {};
  }

  std::string uri_;
  Duration timeout_;
  std::shared_ptr<ConnectionPool> pool_;
};

// The driver options, checked (by `validate` through the factory's check, and at start-up),
// and libvirt installed.
Result<std::pair<std::string, Duration>> readConfig(const Options& options) {
  if (!loaded()) return withContext(loaded().error(), "fencer libvirt");
  const Duration timeout = options.getDuration("timeout");
  if (timeout.count() <= 0) {
    return fail(ErrorCode::kInvalidArgument, "fencer libvirt: timeout must be positive");
  }
  std::string uri = options.getString("uri");
  const std::string legacy = options.getString("name");
  if (!uri.empty() && !legacy.empty() && uri != legacy) {
    return fail(ErrorCode::kInvalidArgument,
                "fencer libvirt: both uri and name (its old spelling) are set, to different "
                "values");
  }
  if (uri.empty()) uri = legacy;
  return std::pair{uri, timeout};
}

Result<FencerPtr> create(const Options& options, DriverContext&) {
  auto config = readConfig(options);
  if (!config) return std::unexpected(config.error());
  return std::make_unique<LibvirtFencer>(config->first, config->second);
}

}  // namespace

Status registerLibvirtFencer(Registry& registry) {
  return registry.fencers.add(DriverFactory<Fencer>{
      .name = "libvirt",
      .aliases = {"freezer_dr.fencers.drivers.libvirt.driver.LibvirtDriver"},
      .description = "libvirt domains (virtual compute nodes): destroy, start, state",
      .schema =
          {
              {.name = "uri",
               .type = OptionType::kString,
               .default_value = "",
               .help = "libvirt connection URI, e.g. qemu+ssh://hv1/system (empty: libvirt's "
                       "default); per node: libvirt-uri"},
              {.name = "name",
               .type = OptionType::kString,
               .default_value = "",
               .help = "the original freezer-dr's name for uri"},
              {.name = "timeout",
               .type = OptionType::kDuration,
               .default_value = "10s",
               .help = "bound of one call (connecting included)"},
          },
      .check = [](const Options& options) -> Status {
        auto config = readConfig(options);
        if (!config) return std::unexpected(config.error());
        return {};
      },
      .create = create,
  });
}

}  // namespace fdr::drivers
