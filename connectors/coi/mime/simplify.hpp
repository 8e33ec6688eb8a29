#pragma once
// Plain-text clean-up the way Delta Chat does it (chatmail/core src/simplify.rs), so that a
// bridged message reads as it does in Delta Chat: the leading quote of an explicit reply
// and the "-- " footer are split off; for ordinary mail also trailing quotes and
// non-standard signature separators. Input and output use "\n" line ends.

#include <optional>
#include <string>
#include <string_view>

namespace coibridge::connectors::coi::mime {

struct SimplifiedText {
  std::string text;
  std::optional<std::string> top_quote;  // without the "> " marks
  std::optional<std::string> footer;
  bool is_forwarded = false;
};

SimplifiedText simplify(std::string_view input, bool is_chat_message);

// Delta Chat protects user lines starting with "-- " from being taken for the footer
// separator by inserting U+200B ZERO WIDTH SPACE between the dashes; receivers remove it.
std::string escape_footer_marks(std::string_view text);
std::string unescape_footer_marks(std::string_view text);

// A readable plain rendering of HTML for mail that has no text/plain part: tags dropped,
// block elements and <br> as line breaks, entities decoded, script/style removed.
std::string html_to_text(std::string_view html);

}  // namespace coibridge::connectors::coi::mime
