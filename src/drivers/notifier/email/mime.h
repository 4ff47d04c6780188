// Internet message building for the e-mail notifier (RFC 5322, MIME RFC 2045-2047): UTF-8
// headers as encoded words, quoted-printable or base64 bodies, a text part with an optional HTML
// alternative, CRLF line ends. Pure functions: no I/O, no clock.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "freezer/clock.h"

namespace fdr::drivers::email {

enum class BodyEncoding { kQuotedPrintable, kBase64 };

struct Mailbox {
  std::string name;     // display name, any UTF-8; may be empty
  std::string address;  // addr-spec: local@domain
};

struct Message {
  Mailbox from;
  std::vector<Mailbox> to;
  std::optional<Mailbox> reply_to;
  std::string subject;  // UTF-8
  TimePoint date;
  std::string message_id;  // without angle brackets: "id@domain"
  std::string thread_id;   // References / In-Reply-To, without brackets; empty = none
  // Extra headers (X-Freezer-Kind, Importance, ...): names are ASCII; values are made safe.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string text;  // UTF-8, '\n' or "\r\n" line ends
  std::string html;  // empty: no HTML alternative
  BodyEncoding encoding = BodyEncoding::kQuotedPrintable;
};

// True for an address this module will put in a header and an SMTP envelope: one '@', a
// non-empty local part and domain, printable ASCII only, none of  <>()[],;:\" or spaces.
[[nodiscard]] bool isValidAddress(std::string_view address);

// The domain of an address ("b.example" for "a@b.example"); "localhost" when there is none.
[[nodiscard]] std::string domainOf(std::string_view address);

// RFC 2047 "B" encoded words for non-ASCII text, each at most 75 characters, never splitting a
// UTF-8 sequence; joined by "\r\n " (folding). ASCII text comes back unchanged.
[[nodiscard]] std::string encodeHeaderText(std::string_view text);

// A mailbox as a header value: `"Display Name" <a@b>`, an encoded word for a non-ASCII name, or
// the bare address when the name is empty.
[[nodiscard]] std::string formatMailbox(const Mailbox& mailbox);

// RFC 5322 date in UTC: "Wed, 25 Nov 2026 09:04:53 +0000".
[[nodiscard]] std::string formatDate(TimePoint t);

// Quoted-printable (RFC 2045 6.7) of text whose lines end in '\n' or "\r\n": lines of at most
// 76 characters with soft breaks, '=' and non-ASCII bytes escaped, trailing spaces protected;
// output lines end in CRLF.
[[nodiscard]] std::string quotedPrintable(std::string_view text);
// Base64 in lines of 76 characters ending in CRLF.
[[nodiscard]] std::string base64Lines(std::string_view data);
[[nodiscard]] std::string base64(std::string_view data);

// Removes CR, LF and other control characters from a header value (header injection).
[[nodiscard]] std::string headerSafe(std::string_view value);

// The complete message, CRLF line ends, ready for SMTP DATA (no dot-stuffing: libcurl does it).
// `boundary_seed` makes the multipart boundary deterministic (tests); any text not in the body.
[[nodiscard]] std::string render(const Message& message, std::string_view boundary_seed);

}  // namespace fdr::drivers::email
