#pragma once
// GMime is initialised once per process, on first use, from whichever thread gets there
// first. GMime 3's g_mime_init() takes no flags and must run before any other GMime call
// (toolchain-notes.md §3 item 12). It is never shut down: parsing may happen until exit.

namespace coibridge::connectors::coi::mime {

void ensure_gmime_initialized();

}  // namespace coibridge::connectors::coi::mime
