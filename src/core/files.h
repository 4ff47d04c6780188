// Small file helpers with errors as values.
#pragma once

#include <optional>
#include <string>

#include "freezer/result.h"

namespace fdr {

// The whole file, or nullopt if it does not exist. Other failures are errors naming the path.
Result<std::optional<std::string>> readFileIfExists(const std::string& path);

// Replaces `path` atomically and durably: write a temp file beside it, fsync, rename, fsync the
// directory. A crash leaves either the old or the new content, never a mix.
Status writeFileAtomic(const std::string& path, const std::string& content, int mode = 0600);

// Appends one line (a newline is added) with O_APPEND and fsync.
Status appendLine(const std::string& path, const std::string& line);

}  // namespace fdr
