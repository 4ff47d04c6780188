// From a parsed Config to running parts: the drivers chosen in the config, created through the
// registry with their options checked against each driver's schema, and the engine's policy.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app/config/config.h"
#include "core/engine.h"
#include "freezer/diagnostics.h"
#include "freezer/isolation.h"
#include "freezer/registry.h"

namespace fdr::app {

// The drivers of one pipeline; owns them.
struct Pipeline {
  std::vector<MonitorPtr> monitors;
  std::vector<std::pair<std::string, FencerPtr>> fencers;  // levels, in order
  EvacuatorPtr evacuator;
  std::vector<std::pair<std::string, NotifierPtr>> notifiers;
  // The isolation check's TCP reference points; null when none is configured.
  IsolationCheckPtr isolation;
  // Indexes into `monitors` of those whose poll counts as a reference point (nova).
  std::vector<size_t> reference_monitors;

  [[nodiscard]] core::EngineDrivers drivers() const;
};

// Checks every driver choice (name and options) against the registry and reports each problem
// to `diag`. With `create`, also creates the drivers; returns nullopt on any error.
std::optional<Pipeline> buildPipeline(const config::Config& config, const Registry& registry,
                                      DriverContext& context, Diagnostics& diag, bool create);

core::EnginePolicy policyFrom(const config::Config& config);
// The workers of each executor lane (core/executor.h): one per monitor (a monitor is polled once
// at a time), 16 for the fencers (nodes fenced at once; a hung BMC holds one), the evacuation
// requests in flight plus 4 for the cloud's other calls, 4 per notifier, 1 for the isolation check.
core::LaneSizes laneSizes(const config::Config& config);

}  // namespace fdr::app
