#include "core/text/percent.hpp"

#include <gtest/gtest.h>

#include <string>

namespace coibridge::core {
namespace {

TEST(Percent, EncodesAllButUnreserved) {
  EXPECT_EQ(url_encode("!room:ex.org/@a b"), "%21room%3Aex.org%2F%40a%20b");
  EXPECT_EQ(url_encode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(url_encode("\xc3\xbc"), "%C3%BC");
  EXPECT_EQ(url_encode(std::string("\0", 1)), "%00");
}

TEST(Percent, DecodesEitherCase) {
  EXPECT_EQ(percent_decode("%40alice%3aexample.org"), "@alice:example.org");
  EXPECT_EQ(percent_decode("%C3%bc"), "\xc3\xbc");
  EXPECT_EQ(percent_decode(url_encode("!room:ex.org/@a b")), "!room:ex.org/@a b");
}

TEST(Percent, MalformedEscapesStayAsTheyAre) {
  EXPECT_EQ(percent_decode("100%"), "100%");
  EXPECT_EQ(percent_decode("%4"), "%4");
  EXPECT_EQ(percent_decode("%zz%41"), "%zzA");
  EXPECT_EQ(percent_decode("a+b"), "a+b");  // '+' means space only in forms, not in paths
}

}  // namespace
}  // namespace coibridge::core
