#include "drivers/fencer/fence_agent/fence_agent_fencer.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "drivers/fencer/fence_agent/agent_process.h"
#include "freezer/call_deadline.h"

namespace fdr::drivers {
namespace {

constexpr size_t kMaxDetailChars = 400;

// Other drivers' per-node keys: not meant for an agent.
constexpr std::array<std::string_view, 3> kForeignPrefixes = {"ipmi-", "redfish-", "libvirt-"};

bool validKey(const std::string& key) {
  return !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-';
  });
}

// A value must stay on its line: a newline would let it inject other keys.
bool validValue(const std::string& value) {
  return value.find_first_of(std::string("\n\r\0", 3)) == std::string::npos;
}

std::string normalKey(std::string key) {
  std::replace(key.begin(), key.end(), '-', '_');
  return key;
}

bool looksSecret(const std::string& key) {
  std::string k = normalKey(key);
  for (char& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return k.find("pass") != std::string::npos || k.find("secret") != std::string::npos ||
         k.find("token") != std::string::npos || k.find("key") != std::string::npos;
}

bool foreign(const std::string& key) {
  return std::any_of(kForeignPrefixes.begin(), kForeignPrefixes.end(),
                     [&key](std::string_view prefix) { return key.starts_with(prefix); });
}

// Checks the node's extra keys the agent would receive.
Status checkNodeKeys(const Node& node) {
  for (const auto& [key, value] : node.extra) {
    if (foreign(key)) continue;
    if (!validKey(key)) {
      return fail(ErrorCode::kInvalidArgument,
                  "key '" + key + "' cannot be passed to a fence agent (letters, digits, _ and -)");
    }
    if (!validValue(value)) {
      return fail(ErrorCode::kInvalidArgument, "the value of '" + key + "' spans lines");
    }
  }
  if (!validValue(node.fencer_ip) || !validValue(node.fencer_user) ||
      !validValue(node.fencer_password.reveal()) || !validValue(node.domain_name)) {
    return fail(ErrorCode::kInvalidArgument,
                "fencer-ip, fencer-user, fencer-password or domain-name spans lines");
  }
  return {};
}

// Lines worth quoting from an agent's output: its ERROR/Failed lines, else the last line.
std::string agentDetail(const std::string& out, const std::string& err) {
  std::vector<std::string> picked;
  std::string last;
  for (const std::string* stream : {&err, &out}) {
    size_t start = 0;
    while (start < stream->size()) {
      size_t end = stream->find('\n', start);
      if (end == std::string::npos) end = stream->size();
      std::string line = stream->substr(start, end - start);
      start = end + 1;
      while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) {
        line.pop_back();
      }
      if (line.empty() || line.find("DeprecationWarning") != std::string::npos ||
          line.find("from pipes import") != std::string::npos) {
        continue;
      }
      if (line.find("ERROR") != std::string::npos || line.find("Failed") != std::string::npos) {
        // fencing.py prefixes a timestamp: "2026-11-25 09:26:27,378 ERROR: Failed: ..."
        const size_t at = line.find("ERROR: ");
        picked.push_back(at != std::string::npos ? line.substr(at + 7) : line);
      }
      if (last.empty()) last = line;
    }
  }
  std::string detail;
  for (const std::string& line : picked) {
    if (detail.find(line) == std::string::npos) detail += (detail.empty() ? "" : "; ") + line;
  }
  if (detail.empty()) detail = last;
  for (char& c : detail) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  if (detail.size() > kMaxDetailChars) detail = detail.substr(0, kMaxDetailChars) + "...";
  return detail.empty() ? "no output" : detail;
}

// fencing.py's fail() messages say what kind of failure it was; exit code 1 alone does not.
ErrorCode classify(const std::string& detail) {
  auto has = [&detail](const char* text) { return detail.find(text) != std::string::npos; };
  if (has("Connection timed out")) return ErrorCode::kTimedOut;
  if (has("does not have the correct privileges") || has("You have to set login password")) {
    return ErrorCode::kPermissionDenied;
  }
  if (has("Invalid combination of options") || has("required") || has("Please use '-h'") ||
      has("Unknown option")) {
    return ErrorCode::kInvalidArgument;
  }
  return ErrorCode::kUnavailable;
}

std::string mask(std::string text, const std::vector<std::string>& secrets) {
  for (const std::string& secret : secrets) {
    if (secret.size() < 2) continue;  // masking single characters would garble everything
    for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 3)) {
      text.replace(at, secret.size(), "***");
    }
  }
  return text;
}

}  // namespace

struct FenceAgentFencer::Reply {
  ProcessOutcome outcome;
  std::string where;   // "fence-agent fence_ipmilan: node compute-1 (BMC 10.0.0.5:623): off"
  std::string detail;  // quoted output, secrets masked
};

Result<FenceAgentFencer::Reply> FenceAgentFencer::run(const Node& node, const std::string& action) {
  const std::string agent_name = config_.agent_path.substr(config_.agent_path.rfind('/') + 1);
  std::string bmc = node.fencer_ip;
  if (node.fencer_port != 0) bmc += ":" + std::to_string(node.fencer_port);
  Reply reply;
  reply.where = "fence-agent " + agent_name + ": node " + node.hostname +
                (bmc.empty() ? "" : " (BMC " + bmc + ")") + ": " + action;
  if (Status ok = checkNodeKeys(node); !ok) {
    return withContext(ok.error(),
                       reply.where + (node.source.empty() ? "" : " (" + node.source + ")"));
  }

  // Keys in the agent's spelling ('_'), each once; later sources override earlier ones.
  std::vector<std::pair<std::string, std::string>> ordered;
  std::map<std::string, size_t> index;
  auto set = [&](const std::string& key, const std::string& value) {
    const std::string k = normalKey(key);
    if (auto it = index.find(k); it != index.end()) {
      ordered[it->second].second = value;
    } else {
      index[k] = ordered.size();
      ordered.emplace_back(k, value);
    }
  };
  for (const auto& [key, value] : config_.agent_options) set(key, value);
  if (!node.fencer_ip.empty()) set("ip", node.fencer_ip);
  if (node.fencer_port != 0) set("ipport", std::to_string(node.fencer_port));
  if (!node.fencer_user.empty()) set("username", node.fencer_user);
  if (!node.fencer_password.empty()) set("password", node.fencer_password.reveal());
  if (!node.domain_name.empty()) set("plug", node.domain_name);
  for (const auto& [key, value] : node.extra) {
    if (!foreign(key)) set(key, value);
  }
  set("action", action);

  std::vector<std::string> secrets;
  std::string input;
  for (const auto& [key, value] : ordered) {
    input += key + "=" + value + "\n";
    if (looksSecret(key)) secrets.push_back(value);
  }

  ProcessRun process;
  process.argv = {config_.agent_path};
  // Python 3.11 warns about every agent's `import pipes` on stderr; that is noise, not failure.
  process.env = {"PYTHONWARNINGS=ignore::DeprecationWarning", "LC_ALL=C"};
  process.stdin_data = std::move(input);
  // The agent is killed at its timeout or at the deadline of the call, whichever comes first.
  process.timeout = CallDeadline::bound(config_.timeout);
  const bool deadline_bounds = process.timeout < config_.timeout;
  if (process.timeout.count() <= 0) {
    return fail(ErrorCode::kTimedOut,
                reply.where + ": the call's deadline passed before the agent was started", true);
  }
  auto outcome = runProcess(process);
  if (!outcome) return withContext(outcome.error(), reply.where);
  reply.outcome = std::move(*outcome);
  reply.detail = mask(agentDetail(reply.outcome.out, reply.outcome.err), secrets);
  if (reply.outcome.timed_out) {
    const std::string limit =
        deadline_bounds ? "the call's deadline (" + std::to_string(process.timeout.count()) +
                              " ms left of it when the agent started)"
                        : "the timeout (" + std::to_string(config_.timeout.count()) + " ms)";
    return fail(ErrorCode::kTimedOut,
                reply.where + ": the agent ran past " + limit +
                    " and was killed with its process group; last output: " + reply.detail,
                true);
  }
  if (reply.outcome.signal != 0) {
    return fail(ErrorCode::kUnavailable,
                reply.where + ": the agent was killed by signal " +
                    std::to_string(reply.outcome.signal) + " (" +
                    sigdescr_np(reply.outcome.signal) + "); last output: " + reply.detail,
                true);
  }
  return reply;
}

namespace {

Error agentFailure(const std::string& where, int exit_code, const std::string& detail) {
  if (exit_code == 1) {
    const ErrorCode code = classify(detail);
    return {code, where + ": failed (exit 1): " + detail,
            code == ErrorCode::kUnavailable || code == ErrorCode::kTimedOut};
  }
  // Agents exit 0, 1 or (status) 2: anything else is not the protocol.
  return {ErrorCode::kCorruption,
          where + ": the agent broke the fence-agent protocol (exit " + std::to_string(exit_code) +
              "): " + detail,
          false};
}

// "Status: ON" / "Status: OFF" as fencing.py prints it, if present.
std::optional<PowerState> printedStatus(const std::string& out) {
  const size_t at = out.rfind("Status: ");
  if (at == std::string::npos) return std::nullopt;
  const std::string word = out.substr(at + 8, 3);
  if (word.starts_with("ON")) return PowerState::kOn;
  if (word == "OFF") return PowerState::kOff;
  return std::nullopt;
}

}  // namespace

Status FenceAgentFencer::powerOff(const Node& node) {
  auto reply = run(node, "off");
  if (!reply) return std::unexpected(reply.error());
  if (reply->outcome.exit_code == 0) return {};
  return std::unexpected(agentFailure(reply->where, reply->outcome.exit_code, reply->detail));
}

Status FenceAgentFencer::powerOn(const Node& node) {
  auto reply = run(node, "on");
  if (!reply) return std::unexpected(reply.error());
  if (reply->outcome.exit_code == 0) return {};
  return std::unexpected(agentFailure(reply->where, reply->outcome.exit_code, reply->detail));
}

Status FenceAgentFencer::monitor(const Node& node) {
  auto reply = run(node, "monitor");
  if (!reply) return std::unexpected(reply.error());
  if (reply->outcome.exit_code == 0) return {};
  return std::unexpected(agentFailure(reply->where, reply->outcome.exit_code, reply->detail));
}

Result<PowerState> FenceAgentFencer::powerStatus(const Node& node) {
  auto reply = run(node, "status");
  if (!reply) return std::unexpected(reply.error());
  const int code = reply->outcome.exit_code;
  if (code != 0 && code != 2) {
    return std::unexpected(agentFailure(reply->where, code, reply->detail));
  }
  const PowerState state = code == 0 ? PowerState::kOn : PowerState::kOff;
  // An agent whose words contradict its exit code cannot be believed either way.
  if (auto printed = printedStatus(reply->outcome.out); printed && *printed != state) {
    return fail(ErrorCode::kCorruption,
                reply->where + ": the agent exited " + std::to_string(code) + " (" +
                    std::string(toString(state)) + ") but printed '" + reply->detail + "'");
  }
  return state;
}

namespace {

Result<std::string> resolveAgent(const std::string& agent, const std::string& dir) {
  std::string path;
  if (agent.find('/') != std::string::npos) {
    if (!agent.starts_with('/')) {
      return fail(ErrorCode::kInvalidArgument,
                  "agent '" + agent + "' must be a name (fence_ipmilan) or an absolute path");
    }
    path = agent;
  } else {
    if (!agent.starts_with("fence_") || !validKey(agent)) {
      return fail(ErrorCode::kInvalidArgument,
                  "agent '" + agent + "' is not a fence agent name (fence_<something>)");
    }
    path = dir + (dir.ends_with('/') ? "" : "/") + agent;
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return fail(ErrorCode::kNotFound,
                "fence agent " + path + " not found (is the fence-agents package installed?)");
  }
  if (::access(path.c_str(), X_OK) != 0) {
    return fail(ErrorCode::kPermissionDenied, "fence agent " + path + " is not executable");
  }
  return path;
}

Result<FencerPtr> create(const Options& options, DriverContext& context) {
  FenceAgentFencer::Config config;
  auto path = resolveAgent(options.getString("agent"), options.getString("agent-dir"));
  if (!path) return withContext(path.error(), "fencer fence-agent");
  config.agent_path = *path;
  config.timeout = options.getDuration("timeout");
  if (config.timeout.count() <= 0) {
    return fail(ErrorCode::kInvalidArgument, "fencer fence-agent: timeout must be positive");
  }
  for (const std::string& item : options.getList("agent-options")) {
    const size_t eq = item.find('=');
    std::string key = item.substr(0, eq);
    std::string value = eq == std::string::npos ? "1" : item.substr(eq + 1);
    while (!key.empty() && std::isspace(static_cast<unsigned char>(key.back()))) key.pop_back();
    if (!validKey(key) || !validValue(value)) {
      return fail(ErrorCode::kInvalidArgument,
                  "fencer fence-agent: agent-options: '" + item + "' is not key=value");
    }
    if (normalKey(key) == "action") {
      return fail(ErrorCode::kInvalidArgument,
                  "fencer fence-agent: agent-options: the action is chosen by freezer-dr");
    }
    config.agent_options.emplace_back(std::move(key), std::move(value));
  }
  std::string problems;
  for (const Node& node : context.nodes) {
    if (Status ok = checkNodeKeys(node); !ok) {
      problems += (problems.empty() ? "" : "; ") + node.hostname +
                  (node.source.empty() ? "" : " (" + node.source + ")") + ": " + ok.error().message;
    }
  }
  if (!problems.empty()) {
    return fail(ErrorCode::kInvalidArgument, "fencer fence-agent: inventory: " + problems);
  }
  return std::make_unique<FenceAgentFencer>(std::move(config));
}

}  // namespace

Status registerFenceAgentFencer(Registry& registry) {
  return registry.fencers.add(DriverFactory<Fencer>{
      .name = "fence-agent",
      .aliases = {},
      .description = "any ClusterLabs fence_* agent through its stdin key=value protocol",
      .schema =
          {
              {.name = "agent",
               .type = OptionType::kString,
               .required = true,
               .default_value = {},
               .help = "the agent: a name looked up in agent-dir (fence_ipmilan) or an absolute "
                       "path"},
              {.name = "agent-dir",
               .type = OptionType::kPath,
               .default_value = "/usr/sbin",
               .help = "where the fence-agents package installs the agents"},
              {.name = "timeout",
               .type = OptionType::kDuration,
               .default_value = "60s",
               .help = "the agent is killed (with its process group) after this; allow for its "
                       "own power_wait + power_timeout"},
              {.name = "agent-options",
               .type = OptionType::kList,
               .default_value = "",
               .help = "key=value items given to the agent on every call, e.g. "
                       "'lanplus=1, cipher=3'; the node's inventory keys override them"},
          },
      .create = create,
  });
}

}  // namespace fdr::drivers
