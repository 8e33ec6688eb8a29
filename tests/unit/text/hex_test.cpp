#include "core/text/hex.hpp"

#include <gtest/gtest.h>

#include <string>

namespace coibridge::core {
namespace {

TEST(Hex, DigitValues) {
  EXPECT_EQ(hex_digit_value('0'), 0);
  EXPECT_EQ(hex_digit_value('9'), 9);
  EXPECT_EQ(hex_digit_value('a'), 10);
  EXPECT_EQ(hex_digit_value('F'), 15);
  EXPECT_EQ(hex_digit_value('g'), -1);
  EXPECT_EQ(hex_digit_value('%'), -1);
  EXPECT_EQ(lower_hex_digit_value('f'), 15);
  EXPECT_EQ(lower_hex_digit_value('F'), -1);
  EXPECT_EQ(lower_hex_digit_value('7'), 7);
}

TEST(Hex, Append) {
  std::string out;
  append_hex(out, 0x00);
  append_hex(out, 0xab);
  append_hex(out, 0xab, HexCase::kUpper);
  append_hex(out, 0xff);
  EXPECT_EQ(out, "00abABff");
}

}  // namespace
}  // namespace coibridge::core
