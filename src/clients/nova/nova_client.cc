#include "clients/nova/nova_client.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <set>

#include "clients/http/json_fields.h"

namespace fdr::nova {

using http::FieldReader;
using http::Json;

namespace {

constexpr const char* kComputeBinary = "nova-compute";

std::string cutUtf8(std::string text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  text.resize(cut);
  return text;
}

// Nova counts characters, not bytes: 255 characters of UTF-8.
std::string cutReason(const std::string& reason) {
  size_t chars = 0;
  for (size_t i = 0; i < reason.size(); ++i) {
    if ((static_cast<unsigned char>(reason[i]) & 0xC0) != 0x80) {
      if (++chars > 255) return cutUtf8(reason, i);
    }
  }
  return reason;
}

bool hostMatches(const std::string& candidate, const std::string& host) {
  return candidate == host || (candidate.size() > host.size() && candidate.starts_with(host) &&
                               candidate[host.size()] == '.');
}

// The URL of the v2.1 version document for a compute endpoint, and the endpoint to call: an
// endpoint with the project id after /v2.1 still serves the API, but its version document is
// at .../v2.1/.
std::string versionDocumentUrl(const std::string& endpoint) {
  const size_t at = endpoint.find("/v2.1");
  if (at == std::string::npos) return http::joinUrl(endpoint, "") + "/";
  return endpoint.substr(0, at + 5) + "/";
}

}  // namespace

std::optional<Microversion> Microversion::parse(std::string_view text) {
  const size_t dot = text.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 >= text.size()) return std::nullopt;
  Microversion v;
  auto [p1, e1] = std::from_chars(text.data(), text.data() + dot, v.major);
  auto [p2, e2] = std::from_chars(text.data() + dot + 1, text.data() + text.size(), v.minor);
  if (e1 != std::errc() || e2 != std::errc() || p1 != text.data() + dot ||
      p2 != text.data() + text.size() || v.major < 0 || v.minor < 0) {
    return std::nullopt;
  }
  return v;
}

std::string Microversion::str() const {
  return std::to_string(major) + "." + std::to_string(minor);
}

Instance Server::toInstance() const {
  Instance out;
  out.id = id;
  out.name = name;
  out.project_id = project_id;
  out.user_id = user_id;
  out.host = host;
  out.status = status;
  out.task_state = task_state;
  out.metadata = metadata;
  out.boot_from_volume = boot_from_volume;
  out.image_id = image_id;
  out.fault = fault;
  // The embedded flavor (2.47+) gives the size; Placement counts the root disk only when it is
  // local, swap in MB rounded up to GiB.
  if (flavor.vcpus && flavor.ram_mb && flavor.disk_gb) {
    const int64_t swap_gb = (flavor.swap_mb.value_or(0) + 1023) / 1024;
    out.size = Resources{.vcpus = *flavor.vcpus,
                         .memory_mb = *flavor.ram_mb,
                         .disk_gb = (boot_from_volume ? 0 : *flavor.disk_gb) +
                                    flavor.ephemeral_gb.value_or(0) + swap_gb};
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Parsers

Result<ComputeService> parseService(const Json& json, const std::string& what,
                                    const std::string& path) {
  FieldReader r(json, what, path);
  ComputeService s;
  s.id = r.idString("id");
  s.binary = r.string("binary");
  s.host = r.string("host");
  s.zone = r.optString("zone").value_or("");
  s.status = r.string("status");
  s.state = r.string("state");
  s.disabled_reason = r.optString("disabled_reason").value_or("");
  s.forced_down = r.optBoolean("forced_down").value_or(false);
  s.updated_at = r.optString("updated_at").value_or("");
  if (!r.ok()) return std::unexpected(r.error());
  return s;
}

Result<Server> parseServer(const Json& json, const std::string& what, const std::string& path) {
  FieldReader r(json, what, path);
  Server s;
  s.id = r.string("id");
  s.status = r.string("status");
  if (!r.ok()) return std::unexpected(r.error());
  if (s.status == "UNKNOWN" && !json.contains("name")) {
    return fail(ErrorCode::kUnavailable,
                what + ": server " + s.id +
                    " is in a cell Nova cannot reach (status UNKNOWN, details missing)",
                /*retryable=*/true);
  }
  s.name = r.string("name");
  s.project_id = r.string("tenant_id");
  s.user_id = r.string("user_id");
  if (!r.ok()) return std::unexpected(r.error());
  if (!json.contains("OS-EXT-SRV-ATTR:host")) {
    r.fail("OS-EXT-SRV-ATTR:host", "is missing (only an admin sees it: check the role)");
    return std::unexpected(r.error());
  }
  if (!json.contains("OS-EXT-STS:task_state")) {
    r.fail("OS-EXT-STS:task_state", "is missing");
    return std::unexpected(r.error());
  }
  s.host = r.optString("OS-EXT-SRV-ATTR:host").value_or("");
  s.hypervisor_hostname = r.optString("OS-EXT-SRV-ATTR:hypervisor_hostname").value_or("");
  s.task_state = r.optString("OS-EXT-STS:task_state").value_or("");
  s.vm_state = r.string("OS-EXT-STS:vm_state");
  s.power_state = r.integer("OS-EXT-STS:power_state");
  if (!json.contains("metadata")) r.fail("metadata", "is missing");
  s.metadata = r.optStringMap("metadata");
  s.created = r.optString("created").value_or("");
  s.updated = r.optString("updated").value_or("");
  const Json* flavor = r.object("flavor");
  if (!r.ok()) return std::unexpected(r.error());

  FieldReader f(*flavor, what, r.fieldPath("flavor"));
  s.flavor.id = f.optString("id").value_or("");
  s.flavor.name = f.optString("original_name").value_or("");
  s.flavor.vcpus = f.optInteger("vcpus");
  s.flavor.ram_mb = f.optInteger("ram");
  s.flavor.disk_gb = f.optInteger("disk");
  s.flavor.ephemeral_gb = f.optInteger("ephemeral");
  s.flavor.swap_mb = f.optInteger("swap");
  if (f.ok() && s.flavor.id.empty() && s.flavor.name.empty()) {
    f.fail("id", "and 'original_name' are both missing");
  }
  if (!f.ok()) return std::unexpected(f.error());

  // "image": "" when booted from volume, else {"id": ..., "links": [...]}.
  auto image = json.find("image");
  if (image == json.end()) {
    r.fail("image", "is missing");
  } else if (image->is_string()) {
    if (!image->get<std::string>().empty())
      r.fail("image", "is a non-empty string, expected \"\" or object");
    s.boot_from_volume = true;
  } else if (image->is_object()) {
    FieldReader i(*image, what, r.fieldPath("image"));
    s.image_id = i.optString("id").value_or("");
    if (!i.ok()) return std::unexpected(i.error());
    s.boot_from_volume = s.image_id.empty();
  } else if (image->is_null()) {
    s.boot_from_volume = true;
  } else {
    r.fail("image",
           "has type " + std::string(http::typeName(*image)) + ", expected string or object");
  }
  if (const Json* volumes = r.optArray("os-extended-volumes:volumes_attached")) {
    for (size_t i = 0; i < volumes->size(); ++i) {
      FieldReader v(volumes->at(i), what,
                    r.fieldPath("os-extended-volumes:volumes_attached[" + std::to_string(i) + "]"));
      s.volumes.push_back(v.string("id"));
      if (!v.ok()) return std::unexpected(v.error());
    }
  }
  // "fault" ({code, message, created[, details]}) only on a server in ERROR (or once failed).
  if (const Json* fault = r.optObject("fault")) {
    FieldReader fr(*fault, what, r.fieldPath("fault"));
    s.fault = fr.optString("message").value_or("");
    if (!fr.ok()) return std::unexpected(fr.error());
  }
  if (!r.ok()) return std::unexpected(r.error());
  return s;
}

namespace {

Result<Hypervisor> parseHypervisor(const Json& json, const std::string& what,
                                   const std::string& path) {
  FieldReader r(json, what, path);
  Hypervisor h;
  h.id = r.idString("id");
  h.hostname = r.string("hypervisor_hostname");
  h.state = r.optString("state").value_or("");
  h.status = r.optString("status").value_or("");
  h.type = r.optString("hypervisor_type").value_or("");
  h.running_vms = r.optInteger("running_vms");
  if (const Json* service = r.optObject("service")) {
    FieldReader s(*service, what, r.fieldPath("service"));
    h.service_id = s.optIdString("id").value_or("");
    h.service_host = s.optString("host").value_or("");
    if (!s.ok()) return std::unexpected(s.error());
  }
  if (!r.ok()) return std::unexpected(r.error());
  return h;
}

Result<Migration> parseMigration(const Json& json, const std::string& what,
                                 const std::string& path) {
  FieldReader r(json, what, path);
  Migration m;
  m.id = r.idString("id");
  m.uuid = r.optString("uuid").value_or("");
  m.instance_uuid = r.string("instance_uuid");
  m.source_compute = r.optString("source_compute").value_or("");
  m.dest_compute = r.optString("dest_compute").value_or("");
  m.source_node = r.optString("source_node").value_or("");
  m.dest_node = r.optString("dest_node").value_or("");
  m.status = r.string("status");
  m.migration_type = r.optString("migration_type").value_or("");
  m.created_at = r.optString("created_at").value_or("");
  m.updated_at = r.optString("updated_at").value_or("");
  if (!r.ok()) return std::unexpected(r.error());
  return m;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

NovaClient::NovaClient(keystone::KeystoneClient& keystone, NovaOptions options)
    : keystone_(keystone), options_(std::move(options)) {
  if (options_.page_size < 1) options_.page_size = 1;
  if (options_.max_pages < 1) options_.max_pages = 1;
}

Result<NovaClient::Negotiated> NovaClient::negotiate() {
  std::lock_guard lock(mutex_);
  if (negotiated_) return *negotiated_;
  std::string endpoint = options_.endpoint_override;
  if (endpoint.empty()) {
    auto found = keystone_.endpoint("compute", options_.interface, options_.region);
    if (!found) return withContext(found.error(), "nova");
    endpoint = *found;
  }
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();

  http::Request request;
  request.url = versionDocumentUrl(endpoint);
  request.label = "nova GET " + http::pathOf(request.url) + " (version document)";
  auto response = keystone_.call(request);
  if (!response) return std::unexpected(response.error());
  auto doc = http::parseJson(response->body, request.label);
  if (!doc) return std::unexpected(doc.error());

  const Json* version = nullptr;
  std::string path = "version";
  if (doc->is_object() && doc->contains("version")) {
    FieldReader root(*doc, request.label);
    version = root.object("version");
    if (!root.ok()) return std::unexpected(root.error());
  } else {
    // An unversioned root: {"versions": [{"id": "v2.1", ...}, ...]}.
    FieldReader root(*doc, request.label);
    const Json* versions = root.array("versions");
    if (!root.ok()) return std::unexpected(root.error());
    for (size_t i = 0; i < versions->size(); ++i) {
      FieldReader v(versions->at(i), request.label, "versions[" + std::to_string(i) + "]");
      if (v.string("id") == "v2.1") {
        version = &versions->at(i);
        path = "versions[" + std::to_string(i) + "]";
        endpoint = http::joinUrl(endpoint, "v2.1");
        break;
      }
      if (!v.ok()) return std::unexpected(v.error());
    }
    if (version == nullptr) {
      return fail(ErrorCode::kNotSupported,
                  request.label + ": the compute endpoint offers no v2.1 API");
    }
  }
  FieldReader v(*version, request.label, path);
  const std::string max_text = v.string("version");
  const std::string min_text = v.optString("min_version").value_or("");
  if (!v.ok()) return std::unexpected(v.error());
  if (max_text.empty()) {
    return fail(
        ErrorCode::kNotSupported,
        request.label + ": the compute API has no microversions (v2.0); 2.1 or later is needed");
  }
  auto server_max = Microversion::parse(max_text);
  auto server_min =
      min_text.empty() ? std::optional<Microversion>(kMinVersion) : Microversion::parse(min_text);
  if (!server_max || !server_min) {
    return fail(ErrorCode::kCorruption, request.label + ": field '" + path +
                                            ".version' or 'min_version' is not a microversion: '" +
                                            max_text + "', '" + min_text + "'");
  }
  const Microversion chosen = std::min(*server_max, options_.max_version);
  if (chosen < *server_min || chosen < kMinVersion) {
    return fail(ErrorCode::kNotSupported, request.label + ": the server supports microversions " +
                                              server_min->str() + " to " + server_max->str() +
                                              ", this client " + kMinVersion.str() + " to " +
                                              options_.max_version.str());
  }
  negotiated_ = Negotiated{endpoint, chosen};
  spdlog::info("nova: {} speaks compute API up to {}; using {}", http::originOf(endpoint),
               server_max->str(), chosen.str());
  return *negotiated_;
}

Result<Microversion> NovaClient::microversion() {
  auto n = negotiate();
  if (!n) return std::unexpected(n.error());
  return n->version;
}

Result<std::string> NovaClient::endpoint() {
  auto n = negotiate();
  if (!n) return std::unexpected(n.error());
  return n->base;
}

Result<http::Response> NovaClient::call(http::Method method, const std::string& path,
                                        const http::QueryParams& query, const std::string& body,
                                        std::optional<Microversion> version, bool allow_404) {
  auto n = negotiate();
  if (!n) return std::unexpected(n.error());
  const Microversion v = version.value_or(n->version);
  http::Request request;
  request.method = method;
  request.url = http::withQuery(http::joinUrl(n->base, path), query);
  request.body = body;
  request.label = "nova " + std::string(http::toString(method)) + " " +
                  http::withQuery("/" + path, query) + " @" + v.str();
  request.headers.push_back({"OpenStack-API-Version", "compute " + v.str()});
  request.headers.push_back({"X-OpenStack-Nova-API-Version", v.str()});
  auto response = keystone_.send(request);
  if (!response) return response;
  if (allow_404 && response->status == 404) return response;
  if (auto ok = http::checkStatus(request, *response, keystone_.http().redactor()); !ok) {
    return std::unexpected(ok.error());
  }
  return response;
}

Result<Json> NovaClient::getJson(const std::string& path, const http::QueryParams& query,
                                 std::string& what, bool allow_404, bool* not_found) {
  auto response = call(http::Method::kGet, path, query, "", std::nullopt, allow_404);
  auto n = negotiate();
  what = "nova GET " + http::withQuery("/" + path, query) +
         (n ? " @" + n->version.str() : std::string());
  if (!response) return std::unexpected(response.error());
  if (not_found != nullptr) *not_found = response->status == 404;
  if (response->status == 404) return Json();
  return http::parseJson(response->body, what);
}

// --- services ---------------------------------------------------------------------------------

Result<std::vector<ComputeService>> NovaClient::listComputeServices(const http::QueryParams& query,
                                                                    const std::string* host) {
  auto response = call(http::Method::kGet, "os-services", query, "");
  auto n = negotiate();
  const std::string what = "nova GET " + http::withQuery("/os-services", query) +
                           (n ? " @" + n->version.str() : std::string());
  if (!response) return std::unexpected(response.error());
  std::vector<ComputeService> out;
  if (host == nullptr) {
    const size_t expected = last_listed_.load(std::memory_order_relaxed);
    out.reserve(expected + expected / 64);
  }
  const Status read = http::forEachElement(
      response->body, what, "services", [&](const http::Json& element, size_t i) -> Status {
        auto s = parseService(element, what, "services[" + std::to_string(i) + "]");
        if (!s) return std::unexpected(s.error());
        if (s->binary == kComputeBinary && (host == nullptr || s->host == *host)) {
          out.push_back(std::move(*s));
        }
        return {};
      });
  if (!read) return std::unexpected(read.error());
  if (host == nullptr) last_listed_.store(out.size(), std::memory_order_relaxed);
  return out;
}

Result<std::vector<ComputeService>> NovaClient::computeServices(const std::string& host) {
  return listComputeServices({{"binary", kComputeBinary}, {"host", host}}, &host);
}

Result<std::vector<ComputeService>> NovaClient::allComputeServices() {
  return listComputeServices({{"binary", kComputeBinary}}, nullptr);
}

Result<ComputeService> NovaClient::computeService(const std::string& host) {
  auto services = computeServices(host);
  if (!services) return std::unexpected(services.error());
  if (services->empty()) {
    return fail(ErrorCode::kNotFound, "nova: no nova-compute service on host '" + host + "'");
  }
  if (services->size() > 1) {
    return fail(ErrorCode::kConflict, "nova: " + std::to_string(services->size()) +
                                          " nova-compute services on host '" + host +
                                          "' (one per cell?); refusing to guess");
  }
  return services->front();
}

Status NovaClient::updateService(const std::string& host, const Json& v253_body,
                                 const std::string& legacy_action, Json legacy_body,
                                 Microversion legacy_min) {
  auto version = microversion();
  if (!version) return std::unexpected(version.error());
  auto service = computeService(host);
  if (!service) return std::unexpected(service.error());
  const std::string context = "nova: host '" + host + "'";
  if (*version >= Microversion{2, 53}) {
    auto body = http::dumpJson(v253_body, context);
    if (!body) return std::unexpected(body.error());
    const std::string path = "os-services/" + http::urlEncode(service->id);
    auto response = call(http::Method::kPut, path, {}, *body);
    if (!response) return std::unexpected(response.error());
    const std::string what = "nova PUT /" + path;
    auto doc = http::parseJson(response->body, what);
    if (!doc) return std::unexpected(doc.error());
    FieldReader root(*doc, what);
    const Json* updated = root.object("service");
    if (!root.ok()) return std::unexpected(root.error());
    auto parsed = parseService(*updated, what, "service");
    if (!parsed) return std::unexpected(parsed.error());
    if (auto it = v253_body.find("forced_down");
        it != v253_body.end() && parsed->forced_down != it->get<bool>()) {
      return fail(ErrorCode::kInternal,
                  what + ": forced_down is still " + (parsed->forced_down ? "true" : "false"));
    }
    if (auto it = v253_body.find("status");
        it != v253_body.end() && parsed->status != it->get<std::string>()) {
      return fail(ErrorCode::kInternal, what + ": status is still " + parsed->status);
    }
    return {};
  }
  if (*version < legacy_min) {
    return fail(ErrorCode::kNotSupported, context + ": " + legacy_action + " needs compute API " +
                                              legacy_min.str() + ", the server offers " +
                                              version->str());
  }
  legacy_body["host"] = host;
  legacy_body["binary"] = kComputeBinary;
  auto body = http::dumpJson(legacy_body, context);
  if (!body) return std::unexpected(body.error());
  auto response = call(http::Method::kPut, "os-services/" + legacy_action, {}, *body);
  if (!response) return std::unexpected(response.error());
  return {};
}

Status NovaClient::forceDown(const std::string& host) {
  return updateService(host, Json{{"forced_down", true}}, "force-down", Json{{"forced_down", true}},
                       Microversion{2, 11});
}

Status NovaClient::unforceDown(const std::string& host) {
  return updateService(host, Json{{"forced_down", false}}, "force-down",
                       Json{{"forced_down", false}}, Microversion{2, 11});
}

Status NovaClient::disable(const std::string& host, const std::string& reason) {
  const std::string cut = cutReason(reason);
  if (cut.empty()) {
    return updateService(host, Json{{"status", "disabled"}}, "disable", Json::object(),
                         kMinVersion);
  }
  return updateService(host, Json{{"status", "disabled"}, {"disabled_reason", cut}},
                       "disable-log-reason", Json{{"disabled_reason", cut}}, kMinVersion);
}

Status NovaClient::enable(const std::string& host) {
  return updateService(host, Json{{"status", "enabled"}}, "enable", Json::object(), kMinVersion);
}

// --- hypervisors ------------------------------------------------------------------------------

Result<std::vector<Hypervisor>> NovaClient::hypervisors(const std::string& host) {
  auto version = microversion();
  if (!version) return std::unexpected(version.error());
  std::string what;
  bool not_found = false;
  Result<Json> doc = *version >= Microversion{2, 53}
                         ? getJson("os-hypervisors/detail", {{"hypervisor_hostname_pattern", host}},
                                   what, true, &not_found)
                         : getJson("os-hypervisors/" + http::urlEncode(host) + "/search", {}, what,
                                   true, &not_found);
  if (!doc) return std::unexpected(doc.error());
  std::vector<Hypervisor> out;
  if (not_found) return out;  // Nova answers 404 when nothing matches the pattern
  FieldReader root(*doc, what);
  const Json* list = root.array("hypervisors");
  if (!root.ok()) return std::unexpected(root.error());
  for (size_t i = 0; i < list->size(); ++i) {
    auto h = parseHypervisor(list->at(i), what, "hypervisors[" + std::to_string(i) + "]");
    if (!h) return std::unexpected(h.error());
    if (hostMatches(h->hostname, host) || h->service_host == host) out.push_back(std::move(*h));
  }
  return out;
}

Result<std::vector<Hypervisor>> NovaClient::allHypervisors() {
  auto version = microversion();
  if (!version) return std::unexpected(version.error());
  const bool paged = *version >= Microversion{2, 33};
  std::vector<Hypervisor> out;
  std::set<std::string> seen;
  std::string marker;
  for (int page = 0;; ++page) {
    if (page >= options_.max_pages) {
      return fail(ErrorCode::kInternal, "nova: more than " + std::to_string(options_.max_pages) +
                                            " pages of hypervisors; stopping");
    }
    http::QueryParams query;
    if (paged) query.emplace_back("limit", std::to_string(options_.page_size));
    if (!marker.empty()) query.emplace_back("marker", marker);
    std::string what;
    auto doc = getJson("os-hypervisors/detail", query, what);
    if (!doc) return std::unexpected(doc.error());
    FieldReader root(*doc, what);
    const Json* list = root.array("hypervisors");
    const Json* links = root.optArray("hypervisors_links");
    if (!root.ok()) return std::unexpected(root.error());
    for (size_t i = 0; i < list->size(); ++i) {
      auto h = parseHypervisor(list->at(i), what, "hypervisors[" + std::to_string(i) + "]");
      if (!h) return std::unexpected(h.error());
      if (!seen.insert(h->id).second) continue;
      out.push_back(std::move(*h));
    }
    bool has_next = false;
    if (links != nullptr) {
      for (size_t i = 0; i < links->size(); ++i) {
        FieldReader l(links->at(i), what, "hypervisors_links[" + std::to_string(i) + "]");
        if (l.optString("rel").value_or("") == "next") has_next = true;
        if (!l.ok()) return std::unexpected(l.error());
      }
    }
    if (!paged || !has_next || list->empty()) break;
    const std::string next = out.back().id;
    if (next == marker) {
      return fail(ErrorCode::kCorruption, what + ": the page after marker " + marker +
                                              " ends with the marker again; pagination stuck");
    }
    marker = next;
  }
  return out;
}

// --- servers ----------------------------------------------------------------------------------

Result<std::vector<Server>> NovaClient::serversOnHost(const std::string& host) {
  auto all = servers({{"all_tenants", "1"}, {"host", host}});
  if (!all) return all;
  // The host filter is exact in Nova; filter again in case a proxy or policy ignored it.
  std::erase_if(*all, [&](const Server& s) { return s.host != host; });
  return all;
}

Result<std::vector<Server>> NovaClient::servers(const http::QueryParams& filters) {
  std::vector<Server> out;
  std::set<std::string> seen;
  std::string marker;
  for (int page = 0;; ++page) {
    if (page >= options_.max_pages) {
      return fail(ErrorCode::kInternal, "nova: more than " + std::to_string(options_.max_pages) +
                                            " pages of servers; stopping");
    }
    http::QueryParams query = filters;
    query.emplace_back("limit", std::to_string(options_.page_size));
    if (!marker.empty()) query.emplace_back("marker", marker);
    std::string what;
    auto doc = getJson("servers/detail", query, what);
    if (!doc) return std::unexpected(doc.error());
    FieldReader root(*doc, what);
    const Json* list = root.array("servers");
    const Json* links = root.optArray("servers_links");
    if (!root.ok()) return std::unexpected(root.error());
    for (size_t i = 0; i < list->size(); ++i) {
      auto s = parseServer(list->at(i), what, "servers[" + std::to_string(i) + "]");
      if (!s) return std::unexpected(s.error());
      if (!seen.insert(s->id).second) continue;  // a page boundary shifted: already have it
      out.push_back(std::move(*s));
    }
    bool has_next = false;
    if (links != nullptr) {
      for (size_t i = 0; i < links->size(); ++i) {
        FieldReader l(links->at(i), what, "servers_links[" + std::to_string(i) + "]");
        if (l.optString("rel").value_or("") == "next") has_next = true;
        if (!l.ok()) return std::unexpected(l.error());
      }
    }
    if (!has_next || list->empty()) break;
    const std::string next = list->back().value("id", std::string());
    if (next == marker) {
      return fail(ErrorCode::kCorruption, what + ": the page after marker " + marker +
                                              " ends with the marker again; pagination stuck");
    }
    marker = next;
  }
  return out;
}

Result<Server> NovaClient::server(const std::string& id) {
  std::string what;
  auto doc = getJson("servers/" + http::urlEncode(id), {}, what);
  if (!doc) return std::unexpected(doc.error());
  FieldReader root(*doc, what);
  const Json* s = root.object("server");
  if (!root.ok()) return std::unexpected(root.error());
  return parseServer(*s, what, "server");
}

Status NovaClient::evacuate(const std::string& server_id, const EvacuateOptions& options) {
  auto negotiated = microversion();
  if (!negotiated) return std::unexpected(negotiated.error());
  const Microversion v = std::min(*negotiated, kMaxEvacuate);
  Json evacuate = Json::object();
  if (options.host && !options.host->empty()) evacuate["host"] = *options.host;
  if (v < Microversion{2, 14}) evacuate["onSharedStorage"] = options.on_shared_storage;
  if (options.force) {
    if (!options.host || options.host->empty()) {
      spdlog::warn("nova: evacuate {}: force ignored without a target host", server_id);
    } else if (v >= Microversion{2, 29} && v < Microversion{2, 68}) {
      evacuate["force"] = true;
    } else {
      spdlog::warn(
          "nova: evacuate {}: force not available at compute API {}; the scheduler "
          "checks the target host",
          server_id, v.str());
    }
  }
  const std::string what = "nova: evacuate server " + server_id;
  auto body = http::dumpJson(Json{{"evacuate", evacuate}}, what);
  if (!body) return std::unexpected(body.error());
  auto response =
      call(http::Method::kPost, "servers/" + http::urlEncode(server_id) + "/action", {}, *body, v);
  if (!response) return std::unexpected(response.error());
  // Before 2.14 the answer may carry the new admin password: keep it out of every log.
  if (auto doc = Json::parse(response->body, nullptr, false);
      doc.is_object() && doc.contains("adminPass") && doc["adminPass"].is_string()) {
    keystone_.http().redactor().add(doc["adminPass"].get<std::string>());
  }
  spdlog::info(
      "nova: evacuation of {} accepted{}{}", server_id,
      options.host ? " towards " + *options.host : std::string(),
      response->request_id.empty() ? std::string() : " (request " + response->request_id + ")");
  return {};
}

Result<std::vector<Migration>> NovaClient::evacuations(const std::string& server_id) {
  std::string what;
  auto doc = getJson("os-migrations",
                     {{"instance_uuid", server_id}, {"migration_type", "evacuation"}}, what);
  if (!doc) return std::unexpected(doc.error());
  FieldReader root(*doc, what);
  const Json* list = root.array("migrations");
  if (!root.ok()) return std::unexpected(root.error());
  std::vector<Migration> out;
  for (size_t i = 0; i < list->size(); ++i) {
    auto m = parseMigration(list->at(i), what, "migrations[" + std::to_string(i) + "]");
    if (!m) return std::unexpected(m.error());
    if (m->instance_uuid != server_id) continue;
    if (!m->migration_type.empty() && m->migration_type != "evacuation") continue;
    out.push_back(std::move(*m));
  }
  std::stable_sort(out.begin(), out.end(), [](const Migration& a, const Migration& b) {
    return a.created_at < b.created_at;
  });
  return out;
}

Result<std::vector<InstanceAction>> NovaClient::instanceActions(const std::string& server_id) {
  std::string what;
  auto doc = getJson("servers/" + http::urlEncode(server_id) + "/os-instance-actions", {}, what);
  if (!doc) return std::unexpected(doc.error());
  FieldReader root(*doc, what);
  const Json* list = root.array("instanceActions");
  if (!root.ok()) return std::unexpected(root.error());
  std::vector<InstanceAction> out;
  for (size_t i = 0; i < list->size(); ++i) {
    FieldReader r(list->at(i), what, "instanceActions[" + std::to_string(i) + "]");
    InstanceAction a;
    a.action = r.string("action");
    a.request_id = r.optString("request_id").value_or("");
    a.user_id = r.optString("user_id").value_or("");
    a.project_id = r.optString("project_id").value_or("");
    a.start_time = r.optString("start_time").value_or("");
    a.message = r.optString("message").value_or("");
    if (!r.ok()) return std::unexpected(r.error());
    out.push_back(std::move(a));
  }
  return out;
}

// --- lab helpers ------------------------------------------------------------------------------

Result<std::string> NovaClient::createServer(const CreateServerRequest& request) {
  auto version = microversion();
  if (!version) return std::unexpected(version.error());
  Json server{
      {"name", request.name}, {"imageRef", request.image_id}, {"flavorRef", request.flavor_id}};
  if (!request.network_id.empty()) {
    server["networks"] = Json::array({Json{{"uuid", request.network_id}}});
  } else if (*version >= Microversion{2, 37}) {
    server["networks"] = "none";
  }
  if (!request.availability_zone.empty()) server["availability_zone"] = request.availability_zone;
  if (!request.metadata.empty()) server["metadata"] = request.metadata;
  const std::string what = "nova: create server '" + request.name + "'";
  auto body = http::dumpJson(Json{{"server", server}}, what);
  if (!body) return std::unexpected(body.error());
  auto response = call(http::Method::kPost, "servers", {}, *body);
  if (!response) return std::unexpected(response.error());
  const std::string label = "nova POST /servers";
  auto doc = http::parseJson(response->body, label);
  if (!doc) return std::unexpected(doc.error());
  FieldReader root(*doc, label);
  const Json* created = root.object("server");
  if (!root.ok()) return std::unexpected(root.error());
  FieldReader s(*created, label, "server");
  std::string id = s.string("id");
  if (auto pass = s.optString("adminPass")) keystone_.http().redactor().add(*pass);
  if (!s.ok()) return std::unexpected(s.error());
  return id;
}

Status NovaClient::deleteServer(const std::string& id) {
  auto response = call(http::Method::kDelete, "servers/" + http::urlEncode(id), {}, "",
                       std::nullopt, /*allow_404=*/true);
  if (!response) return std::unexpected(response.error());
  return {};
}

}  // namespace fdr::nova
