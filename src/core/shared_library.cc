#include "core/shared_library.h"

#include <dlfcn.h>

namespace fdr::core {

Result<SharedLibrary> SharedLibrary::open(const std::string& soname, const std::string& package) {
  void* handle = ::dlopen(soname.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    return fail(ErrorCode::kUnavailable, "cannot load " + soname + " (Debian package " + package +
                                             "): " + (why != nullptr ? why : "unknown error"));
  }
  return SharedLibrary(handle, soname);
}

Result<void*> SharedLibrary::symbol(const char* name) const {
  ::dlerror();  // clears an earlier error
  void* address = ::dlsym(handle_, name);
  if (address == nullptr) {
    const char* why = ::dlerror();
    return fail(ErrorCode::kNotFound, soname_ + " has no symbol " + name +
                                          (why != nullptr ? std::string(": ") + why : ""));
  }
  return address;
}

}  // namespace fdr::core
