#include "drivers/fencer/ipmi/ipmi_fencer.h"

#include <freeipmi/freeipmi.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/shared_library.h"
#include "freezer/call_deadline.h"

namespace fdr::drivers {
namespace {

constexpr int kDefaultPort = 623;

// FreeIPMI, opened when the first ipmi fencer is created (core/shared_library.h): what this
// driver calls, each bound to its declared type.
#define FDR_FREEIPMI_FUNCTIONS(X)        \
  X(ipmi_ctx_create)                     \
  X(ipmi_ctx_close)                      \
  X(ipmi_ctx_destroy)                    \
  X(ipmi_ctx_errnum)                     \
  X(ipmi_ctx_errormsg)                   \
  X(ipmi_ctx_open_outofband_2_0)         \
  X(ipmi_completion_code_strerror_cmd_r) \
  X(ipmi_cmd_chassis_control)            \
  X(ipmi_cmd_get_chassis_status)         \
  X(fiid_obj_create)                     \
  X(fiid_obj_destroy)                    \
  X(fiid_obj_errormsg)                   \
  X(FIID_OBJ_GET)

struct FreeIpmi {
#define FDR_DECLARE(name) decltype(&::name) name = nullptr;
  FDR_FREEIPMI_FUNCTIONS(FDR_DECLARE)
#undef FDR_DECLARE
  // The response templates are data: their address is the template.
  fiid_field_t* tmpl_cmd_chassis_control_rs = nullptr;
  fiid_field_t* tmpl_cmd_get_chassis_status_rs = nullptr;
};

Result<FreeIpmi> loadFreeIpmi() {
  auto library = core::SharedLibrary::open(FDR_FREEIPMI_SONAME, "libfreeipmi17");
  if (!library) return std::unexpected(library.error());
  FreeIpmi api;
  for (Status bound : {
#define FDR_BIND(name) library->bind(api.name, #name),
           FDR_FREEIPMI_FUNCTIONS(FDR_BIND)
#undef FDR_BIND
               library->bind(api.tmpl_cmd_chassis_control_rs, "tmpl_cmd_chassis_control_rs"),
           library->bind(api.tmpl_cmd_get_chassis_status_rs, "tmpl_cmd_get_chassis_status_rs"),
       }) {
    if (!bound) return std::unexpected(bound.error());
  }
  return api;
}

// Loaded once per process; a failure is kept too (the library does not appear later).
Result<const FreeIpmi*> freeIpmi() {
  static const Result<FreeIpmi> loaded = loadFreeIpmi();
  if (!loaded) return withContext(loaded.error(), "fencer ipmi");
  return &*loaded;
}

// The settings one session is opened with: the driver options, overridden per node.
struct SessionSettings {
  uint8_t cipher_suite = 3;
  uint8_t privilege_level = IPMI_PRIVILEGE_LEVEL_ADMIN;
  unsigned int workaround_flags = 0;
};

// Cipher suites FreeIPMI implements (IPMI 2.0 §22.15.2 plus the SHA-256 ones of errata 4).
constexpr std::array<int, 12> kCipherSuites = {0, 1, 2, 3, 6, 7, 8, 11, 12, 15, 16, 17};

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

Result<uint8_t> parseCipherSuite(const std::string& text) {
  const std::optional<int64_t> value = parseInt(text);
  if (!value ||
      std::find(kCipherSuites.begin(), kCipherSuites.end(), *value) == kCipherSuites.end()) {
    return fail(ErrorCode::kInvalidArgument,
                "cipher suite '" + text +
                    "' is not one of 0, 1, 2, 3, 6, 7, 8, 11, 12, 15, 16, 17 (3 is the usual one)");
  }
  return static_cast<uint8_t>(*value);
}

Result<uint8_t> parsePrivilegeLevel(const std::string& text) {
  const std::string word = lower(text);
  if (word == "user") return static_cast<uint8_t>(IPMI_PRIVILEGE_LEVEL_USER);
  if (word == "operator") return static_cast<uint8_t>(IPMI_PRIVILEGE_LEVEL_OPERATOR);
  if (word == "administrator" || word == "admin") {
    return static_cast<uint8_t>(IPMI_PRIVILEGE_LEVEL_ADMIN);
  }
  return fail(ErrorCode::kInvalidArgument, "privilege level '" + text +
                                               "' is not one of user, operator, administrator "
                                               "(power control needs operator or administrator)");
}

// FreeIPMI's workaround names (ipmipower -W), for IPMI 2.0 sessions.
Result<unsigned int> parseWorkarounds(const std::vector<std::string>& names) {
  static const std::map<std::string, unsigned int> kFlags = {
      {"authcap", IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_AUTHENTICATION_CAPABILITIES},
      {"intel20", IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_INTEL_2_0_SESSION},
      {"supermicro20", IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_SUPERMICRO_2_0_SESSION},
      {"sun20", IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_SUN_2_0_SESSION},
      {"opensesspriv", IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_OPEN_SESSION_PRIVILEGE},
      {"integritycheckvalue", IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_NON_EMPTY_INTEGRITY_CHECK_VALUE},
      {"nochecksumcheck", IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_NO_CHECKSUM_CHECK},
  };
  unsigned int flags = 0;
  for (const std::string& name : names) {
    auto it = kFlags.find(lower(name));
    if (it == kFlags.end()) {
      std::string valid;
      for (const auto& [known, flag] : kFlags) valid += (valid.empty() ? "" : ", ") + known;
      return fail(ErrorCode::kInvalidArgument,
                  "unknown IPMI workaround '" + name + "' (known: " + valid + ")");
    }
    flags |= it->second;
  }
  return flags;
}

// The driver options with a node's ipmi-* keys applied.
Result<SessionSettings> settingsFor(const SessionSettings& defaults, const Node& node) {
  SessionSettings settings = defaults;
  if (auto it = node.extra.find("ipmi-cipher-suite"); it != node.extra.end()) {
    auto suite = parseCipherSuite(it->second);
    if (!suite) return withContext(suite.error(), "ipmi-cipher-suite");
    settings.cipher_suite = *suite;
  }
  if (auto it = node.extra.find("ipmi-privilege-level"); it != node.extra.end()) {
    auto level = parsePrivilegeLevel(it->second);
    if (!level) return withContext(level.error(), "ipmi-privilege-level");
    settings.privilege_level = *level;
  }
  if (auto it = node.extra.find("ipmi-workarounds"); it != node.extra.end()) {
    auto flags = parseWorkarounds(splitList(it->second));
    if (!flags) return withContext(flags.error(), "ipmi-workarounds");
    settings.workaround_flags = *flags;
  }
  return settings;
}

using Clock = std::chrono::steady_clock;

struct CtxDeleter {
  const FreeIpmi* api = nullptr;
  void operator()(ipmi_ctx* ctx) const {
    // Sends Close Session when a session is open (bounded by the session timeout).
    api->ipmi_ctx_close(ctx);
    api->ipmi_ctx_destroy(ctx);
  }
};
using CtxPtr = std::unique_ptr<ipmi_ctx, CtxDeleter>;

struct ObjDeleter {
  const FreeIpmi* api = nullptr;
  void operator()(fiid_obj_t obj) const { api->fiid_obj_destroy(obj); }
};
using ObjPtr = std::unique_ptr<std::remove_pointer_t<fiid_obj_t>, ObjDeleter>;

class IpmiFencer final : public Fencer {
 public:
  struct Config {
    Duration timeout;
    Duration retransmission_timeout;
    int port = kDefaultPort;
    SessionSettings defaults;
  };

  IpmiFencer(const FreeIpmi& api, Config config) : api_(api), config_(config) {}

  // Fencer
  Status powerOff(const Node& node) override {
    auto session = open(node, "power-off");
    if (!session) return std::unexpected(session.error());
    Status sent = control(node, session->get(), IPMI_CHASSIS_CONTROL_POWER_DOWN, "power-off");
    if (sent || sent.error().code == ErrorCode::kTimedOut) return sent;
    // Some BMCs refuse a power-down when the chassis is already off ("not in present state"):
    // that is success for a fencer. Anything else stays an error. (Not after a timeout: the
    // call's time is spent.)
    auto state = chassisPower(node, session->get(), "power-off");
    if (state && *state == PowerState::kOff) return {};
    return sent;
  }

  Status powerOn(const Node& node) override {
    auto session = open(node, "power-on");
    if (!session) return std::unexpected(session.error());
    Status sent = control(node, session->get(), IPMI_CHASSIS_CONTROL_POWER_UP, "power-on");
    if (sent || sent.error().code == ErrorCode::kTimedOut) return sent;
    auto state = chassisPower(node, session->get(), "power-on");
    if (state && *state == PowerState::kOn) return {};
    return sent;
  }

  Result<PowerState> powerStatus(const Node& node) override {
    auto session = open(node, "power-status");
    if (!session) return std::unexpected(session.error());
    return chassisPower(node, session->get(), "power-status");
  }

 private:
  [[nodiscard]] int portOf(const Node& node) const {
    return node.fencer_port != 0 ? node.fencer_port : config_.port;
  }

  [[nodiscard]] std::string bmcAddress(const Node& node) const {
    const std::string& host = node.fencer_ip;
    const bool ipv6 = host.find(':') != std::string::npos && host.front() != '[';
    return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(portOf(node));
  }

  // "ipmi: node compute-1 (BMC 10.0.0.5:623, user admin): power-off". Never the password.
  [[nodiscard]] std::string where(const Node& node, const std::string& action) const {
    std::string out = "ipmi: node " + node.hostname + " (BMC " + bmcAddress(node);
    if (!node.fencer_user.empty()) out += ", user " + node.fencer_user;
    return out + "): " + action;
  }

  Result<CtxPtr> open(const Node& node, const std::string& action) const {
    if (node.fencer_ip.empty()) {
      return fail(ErrorCode::kInvalidArgument,
                  "ipmi: node " + node.hostname + ": no fencer-ip (BMC address) in the inventory" +
                      (node.source.empty() ? "" : " (" + node.source + ")"));
    }
    auto settings = settingsFor(config_.defaults, node);
    if (!settings) return withContext(settings.error(), where(node, action));
    if (CallDeadline::bound(config_.timeout).count() <= 0) {
      return fail(
          ErrorCode::kTimedOut,
          where(node, action) + ": the call's deadline passed before the session was opened", true);
    }

    CtxPtr ctx(api_.ipmi_ctx_create(), CtxDeleter{&api_});
    if (!ctx) return fail(ErrorCode::kInternal, where(node, action) + ": ipmi_ctx_create failed");
    const std::string host = bmcAddress(node);
    const std::string& password = node.fencer_password.reveal();
    const auto [session_ms, retransmission_ms] = timeouts();
    const int rc = api_.ipmi_ctx_open_outofband_2_0(
        ctx.get(), host.c_str(), node.fencer_user.empty() ? nullptr : node.fencer_user.c_str(),
        password.empty() ? nullptr : password.c_str(), /*k_g=*/nullptr, /*k_g_len=*/0,
        settings->privilege_level, settings->cipher_suite, session_ms, retransmission_ms,
        settings->workaround_flags, IPMI_FLAGS_DEFAULT);
    if (rc < 0) {
      return std::unexpected(
          sessionError(node, ctx.get(), action + ": opening the session", settings->cipher_suite));
    }
    return ctx;
  }

  // FreeIPMI's session timeout bounds each exchange from the last packet received, and the
  // retransmission timeout is how long it waits before resending. A call is one session set-up,
  // one or two commands and a close on a BMC that answers in milliseconds, so most of `timeout`
  // goes to the session timeout; the rest covers a BMC that stops answering mid-call. `timeout`
  // is shortened to what is left of the call's deadline, if one is in force.
  [[nodiscard]] std::pair<unsigned int, unsigned int> timeouts() const {
    const int64_t total_ms = std::max<int64_t>(CallDeadline::bound(config_.timeout).count(), 100);
    const int64_t session_ms = std::max<int64_t>(total_ms * 2 / 3, 50);
    const int64_t retransmission_ms =
        std::clamp<int64_t>(config_.retransmission_timeout.count(), 10, session_ms / 2);
    return {static_cast<unsigned int>(session_ms), static_cast<unsigned int>(retransmission_ms)};
  }

  Error sessionError(const Node& node, ipmi_ctx_t ctx, const std::string& step,
                     uint8_t cipher_suite) const {
    const int errnum = api_.ipmi_ctx_errnum(ctx);
    std::string detail = api_.ipmi_ctx_errormsg(ctx);
    Error error{ErrorCode::kUnavailable, "", /*retryable=*/true};
    switch (errnum) {
      case IPMI_ERR_USERNAME_INVALID:
      case IPMI_ERR_PASSWORD_INVALID:
      case IPMI_ERR_K_G_INVALID:
      case IPMI_ERR_PRIVILEGE_LEVEL_INSUFFICIENT:
      case IPMI_ERR_PRIVILEGE_LEVEL_CANNOT_BE_OBTAINED:
      case IPMI_ERR_AUTHENTICATION_TYPE_UNAVAILABLE:
      case IPMI_ERR_BAD_RMCPPLUS_STATUS_CODE:
      case IPMI_ERR_PERMISSION:
        error = {ErrorCode::kPermissionDenied, "", false};
        if (errnum == IPMI_ERR_PRIVILEGE_LEVEL_CANNOT_BE_OBTAINED) {
          detail += " (if the BMC is known to grant it, try the 'opensesspriv' workaround)";
        }
        break;
      case IPMI_ERR_CIPHER_SUITE_ID_UNAVAILABLE:
        error = {ErrorCode::kInvalidArgument, "", false};
        detail += " (cipher suite " + std::to_string(cipher_suite) + ")";
        break;
      case IPMI_ERR_IPMI_2_0_UNAVAILABLE:
      case IPMI_ERR_HOSTNAME_INVALID:
      case IPMI_ERR_PARAMETERS: error = {ErrorCode::kInvalidArgument, "", false}; break;
      case IPMI_ERR_CONNECTION_TIMEOUT:
      case IPMI_ERR_SESSION_TIMEOUT:
      case IPMI_ERR_MESSAGE_TIMEOUT:
      case IPMI_ERR_PASSWORD_VERIFICATION_TIMEOUT:
        error = {ErrorCode::kTimedOut, "", true};
        if (const auto left = CallDeadline::remaining(); left && *left < config_.timeout) {
          detail += " (no answer within the time left before the call's deadline)";
        } else {
          detail += " (no answer within " + std::to_string(config_.timeout.count()) + " ms)";
        }
        break;
      case IPMI_ERR_IPMI_ERROR: error = {ErrorCode::kCorruption, "", true}; break;
      case IPMI_ERR_OUT_OF_MEMORY:
      case IPMI_ERR_INTERNAL_ERROR:
      case IPMI_ERR_CTX_NULL:
      case IPMI_ERR_CTX_INVALID: error = {ErrorCode::kInternal, "", false}; break;
      case IPMI_ERR_COMMAND_INVALID_OR_UNSUPPORTED:
        error = {ErrorCode::kUnavailable, "", false};
        break;
      default:  // BMC busy, bad completion code, system (socket) errors: worth retrying
        break;
    }
    error.message = where(node, step) + ": " + detail;
    return error;
  }

  // The completion code's meaning for a command that got a bad one.
  [[nodiscard]] std::string completionCode(fiid_obj_t response) const {
    std::array<char, IPMI_ERR_STR_MAX_LEN> text{};
    if (api_.ipmi_completion_code_strerror_cmd_r(response, IPMI_NET_FN_CHASSIS_RQ, text.data(),
                                                 text.size()) < 0) {
      return "";
    }
    return text.data();
  }

  Status control(const Node& node, ipmi_ctx_t ctx, uint8_t command,
                 const std::string& action) const {
    ObjPtr response(api_.fiid_obj_create(api_.tmpl_cmd_chassis_control_rs), ObjDeleter{&api_});
    if (!response) return fail(ErrorCode::kInternal, where(node, action) + ": out of memory");
    if (api_.ipmi_cmd_chassis_control(ctx, command, response.get()) < 0) {
      Error error = sessionError(node, ctx, action, 0);
      if (api_.ipmi_ctx_errnum(ctx) == IPMI_ERR_BAD_COMPLETION_CODE) {
        const std::string meaning = completionCode(response.get());
        if (!meaning.empty()) error.message += ": " + meaning;
        error.message = "the BMC refused the command: " + error.message;
      }
      return std::unexpected(std::move(error));
    }
    return {};
  }

  Result<PowerState> chassisPower(const Node& node, ipmi_ctx_t ctx,
                                  const std::string& action) const {
    ObjPtr response(api_.fiid_obj_create(api_.tmpl_cmd_get_chassis_status_rs), ObjDeleter{&api_});
    if (!response) return fail(ErrorCode::kInternal, where(node, action) + ": out of memory");
    if (api_.ipmi_cmd_get_chassis_status(ctx, response.get()) < 0) {
      Error error = sessionError(node, ctx, action + ": get chassis status", 0);
      if (api_.ipmi_ctx_errnum(ctx) == IPMI_ERR_BAD_COMPLETION_CODE) {
        const std::string meaning = completionCode(response.get());
        if (!meaning.empty()) error.message += ": " + meaning;
      }
      return std::unexpected(std::move(error));
    }
    uint64_t power_is_on = 0;
    if (api_.FIID_OBJ_GET(response.get(), "current_power_state.power_is_on", &power_is_on) < 0) {
      return fail(ErrorCode::kCorruption,
                  where(node, action) + ": the chassis status answer has no power state: " +
                      api_.fiid_obj_errormsg(response.get()),
                  true);
    }
    return power_is_on != 0 ? PowerState::kOn : PowerState::kOff;
  }

  const FreeIpmi& api_;
  Config config_;
};

// The driver options, checked (by `validate` through the factory's check, and at start-up).
Result<IpmiFencer::Config> readConfig(const Options& options) {
  IpmiFencer::Config config;
  config.timeout = options.getDuration("timeout");
  config.retransmission_timeout = options.getDuration("retransmission-timeout");
  if (config.timeout.count() <= 0) {
    return fail(ErrorCode::kInvalidArgument, "fencer ipmi: timeout must be positive");
  }
  const int64_t port = options.getInt("port");
  if (port <= 0 || port > 65535) {
    return fail(ErrorCode::kInvalidArgument,
                "fencer ipmi: port " + std::to_string(port) + " is not a UDP port");
  }
  config.port = static_cast<int>(port);
  auto suite = parseCipherSuite(std::to_string(options.getInt("cipher-suite")));
  if (!suite) return withContext(suite.error(), "fencer ipmi: cipher-suite");
  auto level = parsePrivilegeLevel(options.getString("privilege-level"));
  if (!level) return withContext(level.error(), "fencer ipmi: privilege-level");
  auto flags = parseWorkarounds(options.getList("workarounds"));
  if (!flags) return withContext(flags.error(), "fencer ipmi: workarounds");
  config.defaults = {*suite, *level, *flags};
  return config;
}

Status check(const Options& options) {
  auto config = readConfig(options);
  if (!config) return std::unexpected(config.error());
  auto api = freeIpmi();  // FreeIPMI installed: said by validate, not at the first fencing
  if (!api) return std::unexpected(api.error());
  return {};
}

Result<FencerPtr> create(const Options& options, DriverContext& context) {
  auto api = freeIpmi();
  if (!api) return std::unexpected(api.error());
  auto read = readConfig(options);
  if (!read) return std::unexpected(read.error());
  const IpmiFencer::Config& config = *read;

  // Per-node overrides are checked now, at start-up, not at fencing time.
  std::string problems;
  for (const Node& node : context.nodes) {
    if (auto settings = settingsFor(config.defaults, node); !settings) {
      problems += (problems.empty() ? "" : "; ") + node.hostname +
                  (node.source.empty() ? "" : " (" + node.source + ")") + ": " +
                  settings.error().message;
    }
  }
  if (!problems.empty()) {
    return fail(ErrorCode::kInvalidArgument, "fencer ipmi: inventory: " + problems);
  }
  return std::make_unique<IpmiFencer>(**api, config);
}

}  // namespace

Status registerIpmiFencer(Registry& registry) {
  return registry.fencers.add(DriverFactory<Fencer>{
      .name = "ipmi",
      .aliases = {"freezer_dr.fencers.drivers.ipmi.driver.IpmiDriver"},
      .description = "IPMI 2.0 over LAN (lanplus) through FreeIPMI: chassis power off/on/status",
      .schema =
          {
              {.name = "timeout",
               .type = OptionType::kDuration,
               .default_value = "10s",
               .help = "bound of one call (session set-up, command, close)"},
              {.name = "retransmission-timeout",
               .type = OptionType::kDuration,
               .default_value = "500ms",
               .help = "wait before resending an unanswered packet (UDP)"},
              {.name = "cipher-suite",
               .type = OptionType::kInt,
               .default_value = "3",
               .help = "RMCP+ cipher suite id (3: HMAC-SHA1, AES-CBC-128); per node: "
                       "ipmi-cipher-suite"},
              {.name = "privilege-level",
               .type = OptionType::kString,
               .default_value = "administrator",
               .help = "user, operator or administrator; per node: ipmi-privilege-level"},
              {.name = "workarounds",
               .type = OptionType::kList,
               .default_value = "",
               .help = "FreeIPMI workarounds for broken BMCs: authcap, intel20, supermicro20, "
                       "sun20, opensesspriv, integritycheckvalue, nochecksumcheck; per node: "
                       "ipmi-workarounds"},
              {.name = "port",
               .type = OptionType::kInt,
               .default_value = "623",
               .help = "BMC UDP port when the inventory gives no fencer-port"},
          },
      .check = check,
      .create = create,
  });
}

}  // namespace fdr::drivers
