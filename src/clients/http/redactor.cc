#include "clients/http/redactor.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace fdr::http {

namespace {

bool iequalsAt(std::string_view text, size_t pos, std::string_view word) {
  if (pos + word.size() > text.size()) return false;
  for (size_t i = 0; i < word.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[pos + i])) !=
        std::tolower(static_cast<unsigned char>(word[i]))) {
      return false;
    }
  }
  return true;
}

// JSON keys whose string value is a secret. Compared case-insensitively, as the whole key.
constexpr std::array<std::string_view, 8> kSecretKeys = {
    "password", "secret",     "adminpass",    "admin_pass",
    "token",    "auth_token", "x-auth-token", "application_credential_secret"};

bool isSecretKey(std::string_view key) {
  return std::any_of(kSecretKeys.begin(), kSecretKeys.end(), [&](std::string_view k) {
    return k.size() == key.size() && iequalsAt(key, 0, k);
  });
}

// Masks "key": "value" where key is a secret key. Handles escaped quotes inside the value.
std::string maskJsonMembers(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '"') {
      out += text[i++];
      continue;
    }
    // A quoted string: find its end.
    size_t end = i + 1;
    while (end < text.size() && text[end] != '"') end += (text[end] == '\\') ? 2 : 1;
    if (end >= text.size()) {
      out.append(text.substr(i));
      break;
    }
    std::string_view key = text.substr(i + 1, end - i - 1);
    out.append(text.substr(i, end - i + 1));
    i = end + 1;
    if (!isSecretKey(key)) continue;
    // Look for `: "` after the key.
    size_t j = i;
    while (j < text.size() && std::isspace(static_cast<unsigned char>(text[j]))) ++j;
    if (j >= text.size() || text[j] != ':') continue;
    ++j;
    while (j < text.size() && std::isspace(static_cast<unsigned char>(text[j]))) ++j;
    if (j >= text.size() || text[j] != '"') continue;
    size_t vend = j + 1;
    while (vend < text.size() && text[vend] != '"') vend += (text[vend] == '\\') ? 2 : 1;
    out.append(text.substr(i, j - i));
    out += '"';
    out += kRedacted;
    out += '"';
    i = std::min(vend + 1, text.size());
  }
  return out;
}

// Masks the value of header-like "X-Auth-Token: value" / "X-Subject-Token: value" up to the end
// of the line.
std::string maskHeaders(std::string text) {
  static constexpr std::array<std::string_view, 3> kHeaders = {
      "x-auth-token:", "x-subject-token:", "authorization:"};
  for (std::string_view header : kHeaders) {
    size_t pos = 0;
    while (pos < text.size()) {
      size_t found = std::string::npos;
      for (size_t k = pos; k + header.size() <= text.size(); ++k) {
        if (iequalsAt(text, k, header)) {
          found = k;
          break;
        }
      }
      if (found == std::string::npos) break;
      size_t start = found + header.size();
      while (start < text.size() && text[start] == ' ') ++start;
      size_t end = start;
      while (end < text.size() && text[end] != '\r' && text[end] != '\n' && text[end] != ',' &&
             text[end] != ';') {
        ++end;
      }
      text.replace(start, end - start, kRedacted);
      pos = start + kRedacted.size();
    }
  }
  return text;
}

// Masks the password in scheme://user:password@host.
std::string maskUrlUserinfo(std::string text) {
  size_t pos = 0;
  while ((pos = text.find("://", pos)) != std::string::npos) {
    size_t start = pos + 3;
    size_t end = start;
    while (end < text.size() && text[end] != '/' && text[end] != '@' &&
           !std::isspace(static_cast<unsigned char>(text[end]))) {
      ++end;
    }
    if (end < text.size() && text[end] == '@') {
      size_t colon = text.find(':', start);
      if (colon != std::string::npos && colon < end) {
        text.replace(colon + 1, end - colon - 1, kRedacted);
      }
    }
    pos = start;
  }
  return text;
}

}  // namespace

std::string scrubPatterns(std::string_view text) {
  return maskUrlUserinfo(maskHeaders(maskJsonMembers(text)));
}

void Redactor::add(const Secret& secret) {
  add(secret.reveal());
}

void Redactor::add(std::string_view value) {
  if (value.size() < 4) return;
  std::lock_guard lock(mutex_);
  if (std::find(values_.begin(), values_.end(), value) != values_.end()) return;
  values_.emplace_back(value);
  while (values_.size() > kMaxValues) values_.pop_front();
}

std::string Redactor::scrub(std::string_view text) const {
  std::string out(text);
  {
    std::lock_guard lock(mutex_);
    for (const auto& value : values_) {
      size_t pos = 0;
      while ((pos = out.find(value, pos)) != std::string::npos) {
        out.replace(pos, value.size(), kRedacted);
        pos += kRedacted.size();
      }
    }
  }
  return scrubPatterns(out);
}

}  // namespace fdr::http
