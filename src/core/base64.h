// Base64 (RFC 4648, standard alphabet, padded): MIME bodies, etcd's JSON gateway.
#pragma once

#include <string>
#include <string_view>

#include "freezer/result.h"

namespace fdr {

[[nodiscard]] std::string base64Encode(std::string_view data);
// kInvalidArgument for a character outside the alphabet or a length that is not a multiple of 4.
[[nodiscard]] Result<std::string> base64Decode(std::string_view text);

}  // namespace fdr
