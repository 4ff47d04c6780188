// Libraries a driver opens when it is first created (core/shared_library.h): a missing library
// or symbol is an error naming it and the package, a present one binds to the declared type.
#include "core/shared_library.h"

#include <gtest/gtest.h>

#include <cstring>

namespace fdr::core {
namespace {

TEST(SharedLibraryTest, BindsAFunctionToItsDeclaredType) {
  auto libc = SharedLibrary::open("libc.so.6", "libc6");
  ASSERT_TRUE(libc) << libc.error().message;
  decltype(&::strlen) length = nullptr;
  ASSERT_TRUE(libc->bind(length, "strlen"));
  ASSERT_NE(length, nullptr);
  EXPECT_EQ(length("fence"), 5U);
  EXPECT_EQ(libc->soname(), "libc.so.6");
}

TEST(SharedLibraryTest, AMissingLibraryIsAnErrorNamingItAndItsPackage) {
  auto missing = SharedLibrary::open("libfdr-no-such-library.so.7", "libfdr-no-such7");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(missing.error().message.find("cannot load libfdr-no-such-library.so.7"),
            std::string::npos)
      << missing.error().message;
  EXPECT_NE(missing.error().message.find("Debian package libfdr-no-such7"), std::string::npos)
      << missing.error().message;
}

TEST(SharedLibraryTest, AMissingSymbolIsAnErrorNamingIt) {
  auto libc = SharedLibrary::open("libc.so.6", "libc6");
  ASSERT_TRUE(libc) << libc.error().message;
  void (*function)() = nullptr;
  auto bound = libc->bind(function, "fdr_no_such_function");
  ASSERT_FALSE(bound);
  EXPECT_EQ(bound.error().code, ErrorCode::kNotFound);
  EXPECT_NE(bound.error().message.find("libc.so.6 has no symbol fdr_no_such_function"),
            std::string::npos)
      << bound.error().message;
  EXPECT_EQ(function, nullptr);
}

}  // namespace
}  // namespace fdr::core
