// The text helpers behind parse and compose: RFC 3676 format=flowed, Delta Chat's
// simplification (src/simplify.rs) and the HTML fallback.

#include "connectors/coi/mime/flowed.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "connectors/coi/mime/simplify.hpp"

namespace coibridge::connectors::coi::mime {
namespace {

TEST(Flowed, UnformatJoinsSoftBreaks) {
  EXPECT_EQ(unformat_flowed("a long \nline\nhard", false), "a long line\nhard");
  EXPECT_EQ(unformat_flowed("split \nword", true), "splitword");  // RFC 3676 §4.5 DelSp
  EXPECT_EQ(unformat_flowed("  stuffed", false), " stuffed");     // §4.4
  EXPECT_EQ(unformat_flowed("> quoted \n> more", false), "> quoted more");
  EXPECT_EQ(unformat_flowed("-- \nsig", false), "-- \nsig");  // §4.3: not flowed
  EXPECT_EQ(unformat_flowed("", false), "");
  EXPECT_EQ(unformat_flowed("\n\n", false), "\n\n");
}

TEST(Flowed, FormatWrapsAndStuffs) {
  EXPECT_EQ(format_flowed("short"), "short");
  EXPECT_EQ(format_flowed("From me\n leading"), " From me\n  leading");
  EXPECT_EQ(format_flowed("> a quote stays as it is"), "> a quote stays as it is");
  const std::string line = "aaaa bbbb >cccc";
  EXPECT_EQ(format_flowed(line, 10), "aaaa bbbb \n >cccc");  // a continuation's '>' is stuffed
  EXPECT_EQ(unformat_flowed(format_flowed(line, 10), false), line);
}

TEST(Flowed, OnlyTextWithoutTrailingSpaceIsFlowed) {
  EXPECT_TRUE(can_format_flowed("a\nb"));
  EXPECT_FALSE(can_format_flowed("a \nb"));
  EXPECT_FALSE(can_format_flowed("a\t\nb"));
  EXPECT_FALSE(can_format_flowed("ends "));
}

TEST(Simplify, ChatMessageSplitsQuoteAndFooter) {
  const auto s = simplify("> quoted\n> lines\n\nanswer\n\n-- \nstatus", true);
  EXPECT_EQ(s.top_quote, "quoted\nlines");
  EXPECT_EQ(s.text, "answer");
  EXPECT_EQ(s.footer, "status");
}

TEST(Simplify, ChatMessageKeepsDashLinesAndBottomQuotes) {
  const auto s = simplify("Hi!\n\n---\n\nI am good.\n> not removed in chats", true);
  EXPECT_EQ(s.text, "Hi!\n\n---\n\nI am good.\n> not removed in chats");
}

TEST(Simplify, EmailDropsNonStandardFooterAndBottomQuote) {
  EXPECT_EQ(simplify("Thanks\n\n____________\nSent from my phone", false).text, "Thanks");
  const auto s = simplify("Yes.\n\nOn Monday, X wrote:\n> Question?\n", false);
  EXPECT_EQ(s.text, "Yes.");
  EXPECT_EQ(s.top_quote, "Question?");
}

TEST(Simplify, ForwardedAndNearlyStandardFooter) {
  const auto fwd = simplify(
      "---------- Forwarded message ----------\nFrom: a@b\n\nForwarded text\n-- \nSig", false);
  EXPECT_TRUE(fwd.is_forwarded);
  EXPECT_EQ(fwd.text, "Forwarded text");
  EXPECT_EQ(fwd.footer, "Sig");
  // "-- " turned into "--" by a provider: accepted between an empty and a non-empty line.
  EXPECT_EQ(simplify("text\n\n--\nsig", true).footer, "sig");
}

TEST(Simplify, FooterMarksEscapeRoundTrip) {
  const std::string text = "-- first\nmiddle\n-- \nlast";
  const std::string escaped = escape_footer_marks(text);
  EXPECT_EQ(escaped, "-\u200B- first\nmiddle\n-\u200B- \nlast");
  EXPECT_EQ(unescape_footer_marks(escaped), text);
  EXPECT_EQ(simplify(escaped, true).text, text);
  EXPECT_FALSE(simplify(escaped, true).footer);
}

TEST(HtmlToText, BlocksEntitiesAndScripts) {
  EXPECT_EQ(html_to_text("<p>a &amp; b</p><p>c<br>d</p>"), "a & b\n\nc\nd");
  EXPECT_EQ(html_to_text("<script>x<y</script>z"), "z");
  EXPECT_EQ(html_to_text("<!-- a > b -->visible"), "visible");
  EXPECT_EQ(html_to_text("&#128512;&#x1F600;&bogus;&"), "\U0001F600\U0001F600&bogus;&");
  EXPECT_EQ(html_to_text("unterminated <b"), "unterminated");
  EXPECT_EQ(html_to_text(std::string(10000, '&')), std::string(10000, '&'));
}

}  // namespace
}  // namespace coibridge::connectors::coi::mime
