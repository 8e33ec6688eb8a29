#pragma once
// IMAP response parser (RFC 3501 §7, RFC 9051 §7): pure, no I/O, incremental.
//
// Bytes from the server go in with feed(); next() hands out complete responses. The input is
// untrusted, so every size is bounded (ParserLimits): a line segment, a literal, a whole
// response, list nesting and the number of values. Anything the grammar does not allow is an
// error, and the error is sticky: the stream cannot be resynchronised after garbage (a literal
// length may have been lost), so the caller drops the connection.
//
// The parser knows the response *syntax* only: it splits a response into its tag, status,
// response code, number, keyword and a generic value tree (atoms, numbers, strings, NIL,
// parenthesised lists). The decode_* helpers below turn the responses the session uses into
// typed data. Literals ({n}, {n+} and BINARY's ~{n}) are read by the framing layer, so a
// literal may contain CRLF, parentheses or quotes without disturbing the structure.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "connectors/coi/imap/imap_types.hpp"
#include "core/model/result.hpp"

namespace coibridge::connectors::coi::imap {

struct ParserLimits {
  // One line segment (the text between two literals), CRLF excluded. RFC 7162 §4 asks
  // clients to accept lines of at least 8192 octets; 1 MiB leaves room for long FLAGS,
  // CAPABILITY or VANISHED lines.
  std::size_t max_line_bytes = 1024 * 1024;
  // One literal: the largest message body accepted.
  std::size_t max_literal_bytes = 64 * 1024 * 1024;
  // All line segments and literals of one response together.
  std::size_t max_response_bytes = 66 * 1024 * 1024;
  // Parenthesised list nesting (FETCH and LIST need 2; BODYSTRUCTURE more).
  std::size_t max_depth = 64;
  // Values (atoms, numbers, strings, NIL, lists) in one response, which bounds the tree's
  // memory independently of how compactly the server wrote it.
  std::size_t max_values = 100000;
};

// One value of the generic tree.
struct Value {
  enum class Type : std::uint8_t { kNil, kAtom, kNumber, kString, kList };

  Type type = Type::kNil;
  bool literal = false;      // a kString that arrived as a literal
  std::uint64_t number = 0;  // kNumber
  std::string text;          // kAtom (as sent), kNumber (its digits), kString (unescaped)
  std::vector<Value> items;  // kList

  bool is_nil() const { return type == Type::kNil; }
  bool is_list() const { return type == Type::kList; }
  bool is_number() const { return type == Type::kNumber; }
  // An atom equal to `word`, ASCII case-insensitively.
  bool is_atom(std::string_view word) const;
  // The value as an IMAP astring (RFC 3501 §9: atom or string; a number is an atom made of
  // digits): its text, or nullopt for NIL and lists.
  std::optional<std::string_view> as_astring() const;
};

enum class ResponseKind : std::uint8_t { kContinuation, kTagged, kUntagged };
// The status of a status response (RFC 3501 §7.1); kNone for data and continuations.
enum class Condition : std::uint8_t { kNone, kOk, kNo, kBad, kPreauth, kBye };

// "[NAME args]" in a status response (RFC 3501 §7.1 resp-text-code).
struct ResponseCode {
  std::string name;         // upper-cased
  std::string raw_args;     // the text after the name, as sent
  std::vector<Value> args;  // raw_args tokenised; empty when it is not valid IMAP syntax
};

struct Response {
  ResponseKind kind = ResponseKind::kUntagged;
  std::string tag;  // kTagged
  Condition condition = Condition::kNone;
  std::optional<ResponseCode> code;     // status responses and continuations
  std::string text;                     // status responses and continuations: human text
  std::optional<std::uint32_t> number;  // "* 12 EXISTS" -> 12
  std::string name;                     // upper-cased keyword: OK, EXISTS, FETCH, LIST, ...
  std::vector<Value> data;              // untagged data after the keyword

  bool is_status() const { return condition != Condition::kNone; }
};

class ResponseParser {
 public:
  explicit ResponseParser(ParserLimits limits = {});

  // Appends bytes read from the server. Never fails; problems show up in next().
  void feed(std::string_view bytes);
  // The next complete response, nullopt when more bytes are needed, or an error
  // (kInvalidArgument, field "imap") for input that is not IMAP. After an error every call
  // returns the same error.
  core::Result<std::optional<Response>> next();

  // Bytes fed that are not yet part of a returned response. After the tagged OK to STARTTLS
  // this must be 0: bytes the server sent before the TLS handshake must not be read as if
  // they came over TLS (the STARTTLS command injection, CVE-2011-0411 / RFC 3501 §6.2.1).
  std::size_t pending_bytes() const;
  bool failed() const { return error_.has_value(); }

 private:
  core::Error fail(std::string message);
  core::Result<Response> finish();
  void compact();

  ParserLimits limits_;
  std::string in_;
  std::size_t in_pos_ = 0;    // first unconsumed byte of in_
  std::size_t scan_pos_ = 0;  // where the search for the next LF resumes
  bool in_literal_ = false;
  std::size_t literal_left_ = 0;
  std::size_t response_bytes_ = 0;
  bool literals_allowed_ = false;
  std::vector<std::string> lines_;
  std::vector<std::string> literals_;    // literals_[i] follows lines_[i]
  std::vector<std::size_t> marker_pos_;  // where in lines_[i] its literal marker starts
  std::optional<core::Error> error_;
};

// ---- Decoding the responses the session uses. -------------------------------------------

// Capability names (upper-cased) from "* CAPABILITY ..." data or a [CAPABILITY ...] code.
std::vector<std::string> decode_capabilities(const std::vector<Value>& values);

// One "* n FETCH (...)" response (RFC 3501 §7.4.2). Items the session does not ask for are
// skipped.
struct FetchData {
  std::uint32_t seq = 0;
  std::optional<std::uint32_t> uid;
  std::optional<std::vector<std::string>> flags;
  std::optional<std::string> body;      // BODY[] (NIL gives an empty body)
  std::optional<std::uint64_t> size;    // RFC822.SIZE
  std::optional<std::uint64_t> modseq;  // MODSEQ (RFC 7162 §3.1.4.1)
};
// `r` must be a FETCH response; its BODY[] literal is moved out.
core::Result<FetchData> decode_fetch(Response&& r);

// "* LIST (attrs) delim name" (RFC 3501 §7.2.2; LIST-EXTENDED data after the name is ignored).
// The name is returned as sent (modified UTF-7 unless UTF8=ACCEPT is enabled).
core::Result<ListEntry> decode_list(const Response& r);

// "* METADATA mailbox (entry value ...)" (RFC 5464 §4.4.1): entry/value pairs, a NIL value
// as nullopt. The unsolicited form without values (§4.4.2) yields no pairs.
struct MetadataData {
  std::string mailbox;
  std::vector<std::pair<std::string, std::optional<std::string>>> entries;
};
core::Result<MetadataData> decode_metadata(Response&& r);

// "* VANISHED [(EARLIER)] uid-set" (RFC 7162 §3.2.10).
struct VanishedData {
  bool earlier = false;
  std::uint64_t count = 0;  // UIDs in the set
};
core::Result<VanishedData> decode_vanished(const Response& r);

// The number of a response code such as [UIDVALIDITY 3857529045] or [HIGHESTMODSEQ 7].
std::optional<std::uint64_t> code_number(const ResponseCode& code);

// Members of a sequence set without "*" ("1:3,7,9:8" -> 6), nullopt when malformed or when
// the count exceeds `limit`.
std::optional<std::uint64_t> sequence_set_count(std::string_view set,
                                                std::uint64_t limit = UINT64_MAX);

}  // namespace coibridge::connectors::coi::imap
