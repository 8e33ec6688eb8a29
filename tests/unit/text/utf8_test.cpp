#include "core/text/utf8.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace coibridge::core {
namespace {

const std::vector<std::string> kIllFormed = {
    "\xff",              // never a UTF-8 byte
    "\xc0\xaf",          // overlong "/"
    "\xe0\x80\xaf",      // overlong, three bytes
    "\xed\xa0\x80",      // surrogate U+D800
    "\xf4\x90\x80\x80",  // above U+10FFFF
    "\xc3",              // truncated
    "a\xe2\x82",         // truncated at the end
};

TEST(Utf8, ValidationAndRepair) {
  EXPECT_TRUE(is_valid_utf8("plain ü € 😀"));
  for (const auto& bad : kIllFormed) {
    EXPECT_FALSE(is_valid_utf8(bad));
    EXPECT_TRUE(is_valid_utf8(repair_utf8(bad)));
  }
  EXPECT_EQ(repair_utf8("a\xff"
                        "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(repair_utf8(std::string("a\0b", 3)),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(repair_utf8("ok ü"), "ok ü");
}

TEST(Utf8, APrefixNeverCutsACodePoint) {
  const std::string text = "ab\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";  // ab é € 😀
  EXPECT_EQ(utf8_prefix(text, 100), text);
  EXPECT_EQ(utf8_prefix(text, 2), "ab");
  EXPECT_EQ(utf8_prefix(text, 3), "ab");  // é is two bytes
  EXPECT_EQ(utf8_prefix(text, 4), "ab\xC3\xA9");
  EXPECT_EQ(utf8_prefix(text, 6), "ab\xC3\xA9");
  EXPECT_EQ(utf8_prefix(text, 10), "ab\xC3\xA9\xE2\x82\xAC");
  EXPECT_EQ(utf8_prefix(text, 0), "");
}

TEST(Utf8, DecodeToCodePoints) {
  const auto cps = decode_utf8("a\xc3\xbc\xe2\x82\xac\xf0\x9f\x98\x80");  // a ü € 😀
  ASSERT_TRUE(cps);
  EXPECT_EQ(*cps, (std::vector<char32_t>{U'a', 0xFC, 0x20AC, 0x1F600}));
  EXPECT_TRUE(decode_utf8("")->empty());
  for (const auto& bad : kIllFormed) EXPECT_FALSE(decode_utf8(bad)) << bad.size();
}

TEST(Utf8, AppendIsTheInverseOfDecode) {
  for (char32_t cp : {0x1u, 0x7Fu, 0x80u, 0x7FFu, 0x800u, 0xFFFDu, 0x10000u, 0x10FFFFu}) {
    std::string out;
    append_utf8(out, cp);
    const auto back = decode_utf8(out);
    ASSERT_TRUE(back) << std::hex << static_cast<unsigned>(cp);
    EXPECT_EQ(*back, std::vector<char32_t>{cp});
  }
}

}  // namespace
}  // namespace coibridge::core
