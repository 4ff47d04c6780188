#include "drivers/notifier/email/mime.h"

#include <array>
#include <cstdint>
#include <ctime>
#include <functional>

#include <fmt/format.h>

#include "core/base64.h"

namespace fdr::drivers::email {
namespace {

constexpr std::string_view kCrlf = "\r\n";
// 36 bytes: 48 base64 characters + 12 = a 60-character word, so that "Subject: " and the first
// word stay within the 78 columns RFC 5322 recommends (words themselves may be 75).
constexpr size_t kEncodedWordMaxBytes = 36;
constexpr size_t kFoldAt = 70;
constexpr size_t kQpLine = 76;

bool isAscii(std::string_view text) {
  for (unsigned char c : text) {
    if (c >= 0x80) return false;
  }
  return true;
}

// Length of the UTF-8 sequence starting with `lead` (1 for a stray continuation byte).
size_t utf8Length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 1;
}

// Folds ASCII text at spaces so that no line is much longer than kFoldAt.
std::string foldAscii(std::string_view text) {
  std::string out;
  size_t line = 0;
  size_t start = 0;
  while (start <= text.size()) {
    size_t space = text.find(' ', start);
    if (space == std::string_view::npos) space = text.size();
    const std::string_view word = text.substr(start, space - start);
    if (start > 0) {
      if (line + 1 + word.size() > kFoldAt && line > 0) {
        out += kCrlf;
        out += ' ';
        line = 1;
      } else {
        out += ' ';
        ++line;
      }
    }
    out += word;
    line += word.size();
    start = space + 1;
  }
  return out;
}

bool isAtextOrSpace(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view(" !#$%&'*+-/=?^_`{|}~.").find(c) != std::string_view::npos;
}

}  // namespace

bool isValidAddress(std::string_view address) {
  if (address.empty() || address.size() > 254) return false;
  const size_t at = address.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 >= address.size()) return false;
  if (address.find('@', at + 1) != std::string_view::npos) return false;
  for (unsigned char c : address) {
    if (c <= 0x20 || c >= 0x7F) return false;
    if (std::string_view("<>()[],;:\\\"").find(static_cast<char>(c)) != std::string_view::npos) {
      return false;
    }
  }
  return true;
}

std::string domainOf(std::string_view address) {
  const size_t at = address.rfind('@');
  if (at == std::string_view::npos || at + 1 >= address.size()) return "localhost";
  return std::string(address.substr(at + 1));
}

std::string headerSafe(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u == '\r' || u == '\n' || u == '\t') {
      out += ' ';
    } else if (u >= 0x20 && u != 0x7F) {
      out += c;
    }
  }
  return out;
}

std::string base64(std::string_view data) {
  return base64Encode(data);
}

std::string base64Lines(std::string_view data) {
  const std::string encoded = base64(data);
  std::string out;
  for (size_t i = 0; i < encoded.size(); i += kQpLine) {
    out += encoded.substr(i, kQpLine);
    out += kCrlf;
  }
  return out;
}

std::string encodeHeaderText(std::string_view raw) {
  const std::string text = headerSafe(raw);
  if (isAscii(text)) return foldAscii(text);
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t end = i;
    while (end < text.size()) {
      const size_t n =
          std::min(utf8Length(static_cast<unsigned char>(text[end])), text.size() - end);
      if (end - i + n > kEncodedWordMaxBytes) break;
      end += n;
    }
    if (!out.empty()) {
      out += kCrlf;
      out += ' ';
    }
    out += "=?UTF-8?B?" + base64(std::string_view(text).substr(i, end - i)) + "?=";
    i = end;
  }
  return out;
}

std::string formatMailbox(const Mailbox& mailbox) {
  const std::string name = headerSafe(mailbox.name);
  const std::string address = "<" + headerSafe(mailbox.address) + ">";
  if (name.empty()) return address.substr(1, address.size() - 2);
  if (!isAscii(name)) return encodeHeaderText(name) + " " + address;
  bool plain = true;
  for (char c : name) plain = plain && isAtextOrSpace(c);
  if (plain) return name + " " + address;
  std::string quoted = "\"";
  for (char c : name) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "\" " + address;
}

std::string formatDate(TimePoint t) {
  static constexpr std::array<std::string_view, 7> kDays = {"Sun", "Mon", "Tue", "Wed",
                                                            "Thu", "Fri", "Sat"};
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t seconds = static_cast<std::time_t>(toMillis(t) / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  return fmt::format("{}, {:02d} {} {:04d} {:02d}:{:02d}:{:02d} +0000", kDays.at(tm.tm_wday),
                     tm.tm_mday, kMonths.at(tm.tm_mon), tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                     tm.tm_sec);
}

std::string quotedPrintable(std::string_view text) {
  static constexpr std::string_view kHex = "0123456789ABCDEF";
  std::string out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t newline = text.find('\n', start);
    const bool last = newline == std::string_view::npos;
    if (last) newline = text.size();
    std::string_view line = text.substr(start, newline - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (last && line.empty() && start > 0) break;  // text ended with a newline
    size_t width = 0;
    for (size_t i = 0; i < line.size(); ++i) {
      const auto c = static_cast<unsigned char>(line[i]);
      const bool at_end = i + 1 == line.size();
      std::string token;
      if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !at_end)) {
        token = std::string(1, static_cast<char>(c));
      } else {
        token = {'=', kHex[c >> 4], kHex[c & 15]};
      }
      // A soft break ("=" at the end of a line) keeps every line within 76 characters; the
      // last token of the line may use the 76th column itself.
      const size_t limit = at_end ? kQpLine : kQpLine - 1;
      if (width + token.size() > limit) {
        out += "=\r\n";
        width = 0;
      }
      out += token;
      width += token.size();
    }
    out += kCrlf;
    if (last) break;
    start = newline + 1;
  }
  return out;
}

std::string render(const Message& m, std::string_view boundary_seed) {
  std::string out;
  auto header = [&](std::string_view name, const std::string& value) {
    out += name;
    out += ": ";
    out += value;
    out += kCrlf;
  };
  header("From", formatMailbox(m.from));
  std::string to;
  for (const Mailbox& mailbox : m.to) {
    if (!to.empty()) to += ",\r\n ";
    to += formatMailbox(mailbox);
  }
  header("To", to);
  if (m.reply_to) header("Reply-To", formatMailbox(*m.reply_to));
  header("Subject", encodeHeaderText(m.subject));
  header("Date", formatDate(m.date));
  header("Message-ID", "<" + headerSafe(m.message_id) + ">");
  if (!m.thread_id.empty()) {
    header("In-Reply-To", "<" + headerSafe(m.thread_id) + ">");
    header("References", "<" + headerSafe(m.thread_id) + ">");
  }
  header("MIME-Version", "1.0");
  for (const auto& [name, value] : m.headers) header(headerSafe(name), encodeHeaderText(value));

  const std::string_view cte = m.encoding == BodyEncoding::kBase64 ? "base64" : "quoted-printable";
  auto encode = [&](std::string_view body) {
    return m.encoding == BodyEncoding::kBase64 ? base64Lines(body) : quotedPrintable(body);
  };
  if (m.html.empty()) {
    header("Content-Type", "text/plain; charset=UTF-8");
    header("Content-Transfer-Encoding", std::string(cte));
    out += kCrlf;
    out += encode(m.text);
    return out;
  }
  // "=_" never occurs in quoted-printable or base64 output, so the boundary cannot either.
  const std::string boundary =
      fmt::format("=_freezer-dr_{:016x}", std::hash<std::string_view>{}(boundary_seed));
  header("Content-Type", "multipart/alternative; boundary=\"" + boundary + "\"");
  out += kCrlf;
  out += "This is a multi-part message in MIME format.\r\n";
  for (const auto& [type, body] :
       {std::pair<std::string_view, const std::string*>{"text/plain", &m.text},
        std::pair<std::string_view, const std::string*>{"text/html", &m.html}}) {
    out += "\r\n--" + boundary + "\r\n";
    out += "Content-Type: " + std::string(type) + "; charset=UTF-8\r\n";
    out += "Content-Transfer-Encoding: " + std::string(cte) + "\r\n\r\n";
    out += encode(*body);
  }
  out += "\r\n--" + boundary + "--\r\n";
  return out;
}

}  // namespace fdr::drivers::email
