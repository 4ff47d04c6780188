// A third-party library opened when a driver is first created (dlopen), not when the daemon
// starts: the ipmi and libvirt fencers' libraries (FreeIPMI; libvirt with GLib, GnuTLS and ICU)
// are 6 MiB of resident memory and most of the dynamic loader's start-up work, in every
// process, even where neither fencer is configured. The driver binds each function it calls by
// name to a pointer of the function's own declared type (decltype of the header's declaration),
// so a call through the table is checked like a direct one.
//
//   auto library = SharedLibrary::open("libfreeipmi.so.17", "libfreeipmi17");
//   decltype(&::ipmi_ctx_create) create = nullptr;
//   if (auto bound = library->bind(create, "ipmi_ctx_create"); !bound) ...
#pragma once

#include <string>

#include "freezer/result.h"

namespace fdr::core {

class SharedLibrary {
 public:
  // Opens `soname` (RTLD_NOW | RTLD_LOCAL). The error names the library, the Debian package
  // that has it and what the loader said. The library stays loaded until the process exits
  // (its functions may be in use on any thread).
  static Result<SharedLibrary> open(const std::string& soname, const std::string& package);

  // Sets `slot` to the library's `name`; kNotFound naming both when it has no such symbol.
  template <class Pointer>
  Status bind(Pointer& slot, const char* name) const {
    auto address = symbol(name);
    if (!address) return std::unexpected(address.error());
    slot = reinterpret_cast<Pointer>(*address);  // NOLINT: dlsym's documented use
    return {};
  }

  [[nodiscard]] const std::string& soname() const { return soname_; }

 private:
  SharedLibrary(void* handle, std::string soname) : handle_(handle), soname_(std::move(soname)) {}
  [[nodiscard]] Result<void*> symbol(const char* name) const;

  void* handle_;
  std::string soname_;
};

}  // namespace fdr::core
