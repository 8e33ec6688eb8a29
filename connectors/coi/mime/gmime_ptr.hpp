#pragma once
// Owning handles for the GLib/GMime objects this module creates, so every early return
// releases them (g_object_unref, g_free and the GMime *_free functions). Internal to the
// mime module: nothing outside it sees GMime types.

#include <gmime/gmime.h>

#include <memory>

namespace coibridge::connectors::coi::mime::detail {

struct GObjectUnref {
  void operator()(gpointer p) const {
    if (p != nullptr) g_object_unref(p);
  }
};
template <class T>
using GObjectPtr = std::unique_ptr<T, GObjectUnref>;

struct GFree {
  void operator()(gpointer p) const { g_free(p); }
};
using GCharPtr = std::unique_ptr<char, GFree>;

struct ParserOptionsFree {
  void operator()(GMimeParserOptions* p) const { g_mime_parser_options_free(p); }
};
using ParserOptionsPtr = std::unique_ptr<GMimeParserOptions, ParserOptionsFree>;

struct FormatOptionsFree {
  void operator()(GMimeFormatOptions* p) const { g_mime_format_options_free(p); }
};
using FormatOptionsPtr = std::unique_ptr<GMimeFormatOptions, FormatOptionsFree>;

struct ReferencesFree {
  void operator()(GMimeReferences* p) const { g_mime_references_free(p); }
};
using ReferencesPtr = std::unique_ptr<GMimeReferences, ReferencesFree>;

struct DateTimeUnref {
  void operator()(GDateTime* p) const {
    if (p != nullptr) g_date_time_unref(p);
  }
};
using DateTimePtr = std::unique_ptr<GDateTime, DateTimeUnref>;

}  // namespace coibridge::connectors::coi::mime::detail
