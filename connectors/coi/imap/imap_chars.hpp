#pragma once
// Character classes of the IMAP grammar (RFC 3501 §9), shared by the response parser and
// the argument encoder.

namespace coibridge::connectors::coi::imap {

// atom-specials: "(" ")" "{" SP CTL list-wildcards ("%" "*") quoted-specials (DQUOTE "\")
// resp-specials ("]"); also anything outside 7-bit CHAR.
inline bool is_atom_special(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u <= 0x20 || u >= 0x7f) return true;
  switch (c) {
    case '(':
    case ')':
    case '{':
    case '%':
    case '*':
    case '"':
    case '\\':
    case ']':
      return true;
    default:
      return false;
  }
}

}  // namespace coibridge::connectors::coi::imap
