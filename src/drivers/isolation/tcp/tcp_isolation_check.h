// The TCP isolation check: one TCP connect per reference point ("10.0.0.1:22", "[fd00::1]:443"),
// all at once, each bounded by `timeout`. A point is reachable when its host answers: an accepted
// connection, and also a refused one (a reset comes back only over a working path). No answer
// within the timeout, or "network unreachable", means unreachable.
//
// Numeric IPv4/IPv6 addresses only: a name would need DNS, which a cut-off controller may not
// reach, and a DNS lookup has no bounded time.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "freezer/clock.h"
#include "freezer/isolation.h"
#include "freezer/result.h"

namespace fdr::drivers {

struct TcpReferencePoint {
  std::string address;  // numeric IPv4 or IPv6, without brackets
  int port = 0;
  [[nodiscard]] std::string name() const;  // "10.0.0.1:22", "[fd00::1]:443"
};

// Parses "ADDRESS:PORT" ("[IPV6]:PORT" for IPv6). kInvalidArgument says what is wrong.
[[nodiscard]] Result<TcpReferencePoint> parseReferencePoint(std::string_view text);

class TcpIsolationCheck final : public IsolationCheck {
 public:
  TcpIsolationCheck(std::vector<TcpReferencePoint> points, Duration timeout)
      : points_(std::move(points)), timeout_(timeout) {}

  // IsolationCheck
  [[nodiscard]] std::vector<ReferencePointResult> probe() override;
  [[nodiscard]] size_t size() const override { return points_.size(); }

 private:
  std::vector<TcpReferencePoint> points_;
  Duration timeout_;
};

}  // namespace fdr::drivers
