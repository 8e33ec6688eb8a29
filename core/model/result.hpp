#pragma once
// Result<T>: the value-or-error type used across module boundaries. Exceptions stay inside
// a module; what crosses a boundary says in its type whether it can fail.

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace coibridge::core {

enum class ErrorKind {
  kInvalidArgument,  // caller's input is wrong (maps to HTTP 400)
  kNotFound,         // (404)
  kConflict,         // unique constraint, duplicate (409)
  kUnavailable,      // transient: peer or database unreachable, retry later
  kPermanent,        // the peer refused for good (a 5xx SMTP reply, a 4xx HTTP reply)
  kInternal,         // a bug or an impossible state
};

const char* to_string(ErrorKind kind);

struct Error {
  ErrorKind kind = ErrorKind::kInternal;
  std::string message;
  // For kInvalidArgument: the offending field or key path, empty when not applicable.
  std::string field;
  // The peer's own machine-readable code (a Matrix errcode), empty when it gave none: callers
  // decide on it, never on the message text.
  std::string code;
  // For kUnavailable: the peer could not be reached at all (no connection, no session), so
  // the failure says nothing about the item being sent. The delivery scheduler then waits
  // without counting an attempt towards the dead letter: an outage of the other side,
  // however long, parks nothing.
  bool unreachable = false;

  static Error invalid(std::string field, std::string message) {
    return {ErrorKind::kInvalidArgument, std::move(message), std::move(field), {}};
  }
  static Error not_found(std::string message) {
    return {ErrorKind::kNotFound, std::move(message), {}, {}};
  }
  static Error conflict(std::string message) {
    return {ErrorKind::kConflict, std::move(message), {}, {}};
  }
  static Error unavailable(std::string message) {
    return {ErrorKind::kUnavailable, std::move(message), {}, {}};
  }
  static Error unreachable_peer(std::string message) {
    Error e{ErrorKind::kUnavailable, std::move(message), {}, {}};
    e.unreachable = true;
    return e;
  }
  static Error permanent(std::string message) {
    return {ErrorKind::kPermanent, std::move(message), {}, {}};
  }
  static Error internal(std::string message) {
    return {ErrorKind::kInternal, std::move(message), {}, {}};
  }
  Error with_code(std::string c) && {
    code = std::move(c);
    return std::move(*this);
  }
};

template <class T>
class [[nodiscard]] Result {
 public:
  // An empty result is an internal error. It exists because asio::co_spawn hands a
  // default-constructed value to its completion handler when the coroutine threw.
  Result() : v_(std::in_place_index<1>, Error::internal("no result")) {}
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const {
    assert(!ok_);
    return error_;
  }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace coibridge::core
