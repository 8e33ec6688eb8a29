#pragma once
// What the core lends the Matrix connector while run() is active, shared by its parts: they
// read these pointers, run() sets them (and clears `sink` when it ends). Null outside run(),
// and `direct_chats` / `portal_links` also where the process offers none (tests).

#include "core/connector/connector.hpp"

namespace coibridge::connectors::matrix {

struct Runtime {
  core::EventSink* sink = nullptr;
  core::MessageMap* messages = nullptr;
  core::DirectChats* direct_chats = nullptr;
  core::PortalLinks* portal_links = nullptr;
};

}  // namespace coibridge::connectors::matrix
