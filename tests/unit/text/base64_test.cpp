#include "core/text/base64.hpp"

#include <gtest/gtest.h>

#include <string>

namespace coibridge::core {
namespace {

TEST(Base64, Rfc4648TestVectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");  // RFC 4648 §10
}

TEST(Base64, BinaryAndNul) {
  EXPECT_EQ(base64_encode(std::string("\xff\xfe\x00", 3)), "//4A");
  // RFC 4616 §4 example: authcid "tim", password "tanstaaftanstaaf".
  EXPECT_EQ(base64_encode(std::string("\0tim\0tanstaaftanstaaf", 21)),
            "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
}

TEST(Base64, LongInputHasNoLineBreaks) {
  const std::string out = base64_encode(std::string(1000, 'x'));
  EXPECT_EQ(out.size(), 1336u);
  EXPECT_EQ(out.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace coibridge::core
