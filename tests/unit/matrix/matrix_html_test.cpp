// Matrix message HTML: plain text for mail, the sanitiser (client-server API v1.13,
// "m.room.message msgtypes"), and HTML for plain text. Inputs include hostile ones.

#include "connectors/matrix/matrix_html.hpp"

#include <gtest/gtest.h>

#include "core/text/utf8.hpp"

namespace coibridge::connectors::matrix {
namespace {

std::string text(std::string_view html) {
  auto r = html_to_text(html);
  EXPECT_TRUE(r.ok()) << html;
  return r.ok() ? *r : std::string("<error>");
}

std::string clean(std::string_view html) {
  auto r = sanitize_html(html);
  EXPECT_TRUE(r.ok()) << html;
  return r.ok() ? *r : std::string("<error>");
}

TEST(HtmlToText, InlineTextAndEntities) {
  EXPECT_EQ(text("Hello <b>bold</b> and <i>it</i>&amp;&lt;x&gt; &quot;q&quot; &eacute; &#x1F600;"),
            "Hello bold and it&<x> \"q\" é 😀");
  EXPECT_EQ(text("  lots   of\n\twhitespace  "), "lots of whitespace");
  EXPECT_EQ(text(""), "");
  EXPECT_EQ(text("a&bogus;b"), "a&bogus;b");
}

TEST(HtmlToText, BlocksAndLineBreaks) {
  EXPECT_EQ(text("<p>one</p><p>two</p>"), "one\n\ntwo");
  EXPECT_EQ(text("line<br>next<br/>third"), "line\nnext\nthird");
  EXPECT_EQ(text("a<br><br><br><br>b"), "a\n\nb");
  EXPECT_EQ(text("<div>a</div><div>b</div>"), "a\nb");
  EXPECT_EQ(text("<h1>Title</h1>body"), "Title\n\nbody");
  EXPECT_EQ(text("<p>x</p><hr><p>y</p>"), "x\n\n---\n\ny");
  EXPECT_EQ(text("<p></p><div></div><p>only</p><p></p>"), "only");
}

TEST(HtmlToText, Lists) {
  EXPECT_EQ(text("<ul><li>a</li><li>b</li></ul>"), "- a\n- b");
  EXPECT_EQ(text("intro<ol><li>one</li><li>two<ul><li>deep</li></ul></li></ol>after"),
            "intro\n\n- one\n- two\n  - deep\n\nafter");
  EXPECT_EQ(text("<ul><li>first<br>continued</li></ul>"), "- first\n  continued");
}

TEST(HtmlToText, Quotes) {
  EXPECT_EQ(text("<blockquote>quoted</blockquote>reply"), "> quoted\n\nreply");
  EXPECT_EQ(text("before<blockquote><p>a</p><p>b</p></blockquote>"), "before\n\n> a\n>\n> b");
  EXPECT_EQ(text("<blockquote>outer<blockquote>inner</blockquote></blockquote>"),
            "> outer\n>\n> > inner");
}

TEST(HtmlToText, Links) {
  EXPECT_EQ(text("<a href=\"https://example.org/x\">the site</a>"),
            "the site (https://example.org/x)");
  EXPECT_EQ(text("<a href=\"https://example.org/x\">https://example.org/x</a>"),
            "https://example.org/x");
  EXPECT_EQ(text("<a href=\"mailto:bob@example.org\">bob@example.org</a>"), "bob@example.org");
  EXPECT_EQ(text("<a href=\"https://example.org/\"></a>"), "https://example.org/");
  // Mention pills keep the name only; unsafe schemes are not shown.
  EXPECT_EQ(text("hi <a href=\"https://matrix.to/#/@alice:example.org\">Alice</a>!"), "hi Alice!");
  EXPECT_EQ(text("<a href=\"javascript:alert(1)\">click</a>"), "click");
  EXPECT_EQ(text("see <a href=\"https://e.org\">here</a>."), "see here (https://e.org).");
}

TEST(HtmlToText, PreformattedKeepsWhitespace) {
  EXPECT_EQ(text("<pre><code>int  x;\n\n  y();\n</code></pre>after"), "int  x;\n\n  y();\n\nafter");
  EXPECT_EQ(text("<blockquote><pre>a\n\nb</pre></blockquote>"), "> a\n>\n> b");
}

TEST(HtmlToText, DropsReplyFallbackScriptsAndStyles) {
  EXPECT_EQ(
      text("<mx-reply><blockquote><a href=\"https://matrix.to/#/!r:s/$e\">In reply to</a> "
           "<a href=\"https://matrix.to/#/@a:s\">@a:s</a><br>parent</blockquote></mx-reply>the "
           "answer"),
      "the answer");
  EXPECT_EQ(text("a<script>alert('x')</script>b<style>p{color:red}</style>c"), "abc");
  EXPECT_EQ(text("<html><head><title>T</title></head><body>content</body></html>"), "content");
  EXPECT_EQ(text("x<!-- hidden -->y"), "xy");
}

TEST(HtmlToText, ImagesTablesAndUnknownTags) {
  EXPECT_EQ(text("look: <img src=\"mxc://s/m\" alt=\"a cat\">"), "look: a cat");
  EXPECT_EQ(text("<table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>"),
            "a | b\n1 | 2");
  EXPECT_EQ(text("<custom-tag>kept</custom-tag> <span data-mx-spoiler>secret</span>"),
            "kept secret");
}

TEST(HtmlToText, GarbageDoesNotBreakIt) {
  EXPECT_EQ(text("<b><i>unclosed"), "unclosed");
  EXPECT_EQ(text("a < b > c"), "a < b > c");
  EXPECT_EQ(text("</p></div>stray closers"), "stray closers");
  EXPECT_EQ(text("<<<>>>"), "<<<>>>");
  // Ill-formed UTF-8 and NUL come out as U+FFFD.
  EXPECT_EQ(text(std::string("a\xff"
                             "b\0c",
                             5)),
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD"
            "c");
  std::string deep;
  for (int i = 0; i < 5000; ++i) deep += "<blockquote><div><ul><li>";
  deep += "bottom";
  const std::string out = text(deep);
  EXPECT_TRUE(core::is_valid_utf8(out));
  EXPECT_LT(out.size(), 1000U);  // markers stop growing; libxml2 caps the depth
}

TEST(HtmlToText, RefusesHugeInput) {
  const auto r = html_to_text(std::string(kMaxHtmlBytes + 1, 'a'));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, core::ErrorKind::kInvalidArgument);
  EXPECT_EQ(r.error().field, "html");
  EXPECT_TRUE(html_to_text(std::string(kMaxHtmlBytes, 'a')).ok());
}

TEST(SanitizeHtml, KeepsPermittedFormatting) {
  EXPECT_EQ(clean("<b>bold</b> <em>em</em> <code class=\"language-cpp\">x</code>"),
            "<b>bold</b> <em>em</em> <code class=\"language-cpp\">x</code>");
  EXPECT_EQ(clean("plain text"), "plain text");  // no paragraph is added around it
  EXPECT_EQ(clean("<p>a<br>b</p><hr><ol start=\"3\"><li>x</li></ol>"),
            "<p>a<br>b</p><hr><ol start=\"3\"><li>x</li></ol>");
  EXPECT_EQ(clean("<span data-mx-color=\"#ff0000\" data-mx-bg-color=\"#00FF00\" "
                  "data-mx-spoiler=\"why\">s</span>"),
            "<span data-mx-color=\"#ff0000\" data-mx-bg-color=\"#00FF00\" "
            "data-mx-spoiler=\"why\">s</span>");
  EXPECT_EQ(clean("<font color=\"#123456\">f</font><strike>old</strike><del>d</del>"),
            "<font color=\"#123456\">f</font><strike>old</strike><del>d</del>");
  EXPECT_EQ(clean("<details><summary>more</summary>hidden</details>"),
            "<details><summary>more</summary>hidden</details>");
  EXPECT_EQ(clean("<table><tr><td>1</td></tr></table>"), "<table><tr><td>1</td></tr></table>");
}

TEST(SanitizeHtml, DropsScriptsHandlersAndUnknownTags) {
  EXPECT_EQ(clean("<script>alert(1)</script>ok"), "ok");
  EXPECT_EQ(clean("<b onclick=\"steal()\" style=\"font-size:999px\" class=\"x\">b</b>"),
            "<b>b</b>");
  EXPECT_EQ(clean("<iframe src=\"https://evil\">x</iframe><object>y</object>z"), "z");
  EXPECT_EQ(clean("<marquee><blink>still text</blink></marquee>"), "still text");
  EXPECT_EQ(clean("<svg><script>alert(1)</script></svg>after"), "after");
  EXPECT_EQ(clean("<style>body{display:none}</style>x"), "x");
  EXPECT_EQ(clean("<mx-reply><blockquote>old</blockquote></mx-reply>new"), "new");
  EXPECT_EQ(clean("<span data-mx-color=\"red\" data-mx-bg-color=\"#12345\">c</span>"),
            "<span>c</span>");
  EXPECT_EQ(clean("<code class=\"language-js evil\">c</code><ol start=\"x\"><li>i</li></ol>"),
            "<code class=\"language-js\">c</code><ol><li>i</li></ol>");
}

TEST(SanitizeHtml, LinksOnlyWithSafeSchemes) {
  EXPECT_EQ(clean("<a href=\"https://example.org/?a=1&amp;b=2\" target=\"_blank\">x</a>"),
            "<a href=\"https://example.org/?a=1&amp;b=2\" target=\"_blank\">x</a>");
  EXPECT_EQ(clean("<a href=\"mailto:bob@example.org\">m</a>"),
            "<a href=\"mailto:bob@example.org\">m</a>");
  for (const char* evil : {"javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)",
                           "&#106;avascript:alert(1)", "java&#x09;script:alert(1)",
                           "data:text/html;base64,PHNjcmlwdD4=", "vbscript:x", "//evil.example/x",
                           "/relative", "http:", "ftp://x"}) {
    EXPECT_EQ(clean(std::string("<a href=\"") + evil + "\">x</a>"), "<a>x</a>") << evil;
  }
  EXPECT_EQ(clean("<a href=\"https://e.org\" target=\"_top\" name=\"n\">x</a>"),
            "<a href=\"https://e.org\">x</a>");
}

TEST(SanitizeHtml, ImagesOnlyFromTheContentRepository) {
  EXPECT_EQ(
      clean(
          "<img src=\"mxc://matrix.org/abc\" alt=\"a\" width=\"10\" height=\"x\" onerror=\"e()\">"),
      "<img src=\"mxc://matrix.org/abc\" alt=\"a\" width=\"10\">");
  EXPECT_EQ(clean("a<img src=\"https://tracker.example/pixel.gif\">b"), "ab");
  EXPECT_EQ(clean("a<img>b<img src=\"mxc://matrix.org/../x\">c"), "abc");
}

TEST(SanitizeHtml, EscapesTextAndAttributes) {
  EXPECT_EQ(clean("1 &lt; 2 &amp;&amp; 3 &gt; 2 &quot;q&quot;"),
            "1 &lt; 2 &amp;&amp; 3 &gt; 2 \"q\"");
  EXPECT_EQ(clean("<img src=\"mxc://m.org/a\" alt='x\"&gt;<script>'>"),
            "<img src=\"mxc://m.org/a\" alt=\"x&quot;&gt;&lt;script&gt;\">");
  EXPECT_EQ(clean("a < b"), "a &lt; b");
  EXPECT_EQ(clean("<b>unclosed <i>tags"), "<b>unclosed <i>tags</i></b>");
}

TEST(SanitizeHtml, NestingIsCappedAtOneHundred) {
  std::string deep;
  for (int i = 0; i < 150; ++i) deep += "<b>";
  deep += "x";
  const std::string out = clean(deep);
  std::size_t opened = 0;
  for (std::size_t pos = out.find("<b>"); pos != std::string::npos; pos = out.find("<b>", pos + 1))
    ++opened;
  EXPECT_EQ(opened, 100U);
  EXPECT_NE(out.find('x'), std::string::npos);
}

TEST(SanitizeHtml, OutputIsWellFormedUtf8) {
  for (const std::string& input :
       {std::string("\xff\xfe<b>\xc3</b>"), std::string("&#xD800;&#0;&#x110000;&#128;"),
        std::string("<a href=\"https://e.org/\xff\">x</a>")}) {
    EXPECT_TRUE(core::is_valid_utf8(clean(input))) << input;
    EXPECT_TRUE(core::is_valid_utf8(text(input))) << input;
  }
}

TEST(SanitizeHtml, RefusesHugeInput) {
  const auto r = sanitize_html(std::string(300 * 1024, '<'));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().field, "html");
}

TEST(TextToHtml, EscapesAndBreaksLines) {
  EXPECT_EQ(text_to_html("a & b < c > d \"e\"\nline\r\nCRLF"),
            "a &amp; b &lt; c &gt; d &quot;e&quot;<br>line<br>CRLF");
  EXPECT_EQ(text_to_html(""), "");
  EXPECT_EQ(text(text_to_html("x <y>\nz")), "x <y>\nz");
}

TEST(SafeLink, Schemes) {
  EXPECT_TRUE(is_safe_link("https://example.org"));
  EXPECT_TRUE(is_safe_link("HTTP://example.org"));
  EXPECT_TRUE(is_safe_link("mailto:a@b"));
  EXPECT_FALSE(is_safe_link("https://exa mple.org"));
  EXPECT_FALSE(is_safe_link("https://example.org/\n"));
  EXPECT_FALSE(is_safe_link("mailto:"));
  EXPECT_FALSE(is_safe_link("magnet:?xt=urn:btih:x"));
}

}  // namespace
}  // namespace coibridge::connectors::matrix
