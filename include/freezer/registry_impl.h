// Template definitions for registry.h. Include registry.h, not this file.
#pragma once

#include <algorithm>

#include "freezer/diagnostics.h"
#include "freezer/registry.h"

namespace fdr {

template <class Interface>
Status DriverRegistry<Interface>::add(DriverFactory<Interface> factory) {
  if (factories_.contains(factory.name) || alias_to_name_.contains(factory.name)) {
    return fail(ErrorCode::kInvalidArgument,
                stage_ + " driver '" + factory.name + "' is registered twice");
  }
  for (const auto& alias : factory.aliases) {
    if (factories_.contains(alias) || alias_to_name_.contains(alias)) {
      return fail(ErrorCode::kInvalidArgument,
                  stage_ + " driver alias '" + alias + "' is registered twice");
    }
  }
  for (const auto& alias : factory.aliases) alias_to_name_[alias] = factory.name;
  std::string name = factory.name;
  factories_.emplace(std::move(name), std::move(factory));
  return {};
}

template <class Interface>
void DriverRegistry<Interface>::addPlanned(PlannedDriver planned) {
  planned_.push_back(std::move(planned));
}

template <class Interface>
Result<const DriverFactory<Interface>*> DriverRegistry<Interface>::find(
    const std::string& name) const {
  std::string canonical = name;
  if (auto alias = alias_to_name_.find(name); alias != alias_to_name_.end()) {
    canonical = alias->second;
  }
  if (auto it = factories_.find(canonical); it != factories_.end()) return &it->second;
  for (const auto& planned : planned_) {
    if (planned.name == name ||
        std::find(planned.aliases.begin(), planned.aliases.end(), name) != planned.aliases.end()) {
      return fail(ErrorCode::kNotSupported,
                  stage_ + " driver '" + name + "' (freezer-dr name '" + planned.name +
                      "') is not supported by this build yet: " + planned.note);
    }
  }
  std::vector<std::string> valid = names();
  std::string list;
  for (const auto& n : valid) list += (list.empty() ? "" : ", ") + n;
  std::string message = "unknown " + stage_ + " driver '" + name + "'";
  if (auto guess = closestMatch(name, valid); !guess.empty()) {
    message += " (did you mean '" + guess + "'?)";
  }
  message += "; valid drivers: " + list;
  return fail(ErrorCode::kNotFound, std::move(message));
}

template <class Interface>
std::vector<std::string> DriverRegistry<Interface>::names() const {
  std::vector<std::string> out;
  out.reserve(factories_.size());
  for (const auto& [name, factory] : factories_) out.push_back(name);
  return out;
}

}  // namespace fdr
