// Small URL helpers shared by the OpenStack clients.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fdr::http {

// Percent-encodes everything but unreserved characters (RFC 3986), for a path segment or a
// query value.
[[nodiscard]] std::string urlEncode(std::string_view text);

// `base` and `path` joined with exactly one '/' between them.
[[nodiscard]] std::string joinUrl(std::string_view base, std::string_view path);

using QueryParams = std::vector<std::pair<std::string, std::string>>;
// `url` with `params` appended (encoded), after '?' or '&' as needed.
[[nodiscard]] std::string withQuery(std::string url, const QueryParams& params);

// The path (and query) of `url` without scheme and authority: "/v2.1/servers?x=1". For error
// messages that name the request without repeating the endpoint.
[[nodiscard]] std::string pathOf(std::string_view url);

// scheme://host[:port] of `url`, without userinfo.
[[nodiscard]] std::string originOf(std::string_view url);

}  // namespace fdr::http
