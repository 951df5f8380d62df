// ws_message: what one text frame from the page asks for, decided without I/O (and fuzzed),
// and the frames sluice sends about a chat.
//
// {"id":"<id>","chat":{...}} starts a chat whose body is the bytes of "chat" as sent (a slice,
// never re-serialized, so the key check reads the model Ollama will read);
// {"id":"<id>","cancel":true} stops one. Anything else is invalid, with the error to send.
#pragma once

#include "sluice/json_edit.hpp"

#include <cstddef>
#include <string>
#include <string_view>

namespace sluice {

struct WsMessage {
    enum class Kind { chat, cancel, invalid };
    Kind kind = Kind::invalid;
    std::string id;         // unescaped, at most max_id_bytes; empty when invalid before the id
    std::string_view chat;  // Kind::chat: the chat object's bytes, a slice of the frame
    std::string error;      // Kind::invalid: why, for the error frame
};

// Echoed ids are bounded: an error about a message repeats little of it.
inline constexpr std::size_t max_id_bytes = 128;

WsMessage parse_ws_message(std::string_view text, JsonWorkspace& workspace);

// {"id":"<id>", + rest: every frame sluice sends about a chat starts so.
std::string chat_frame(std::string_view id, std::string_view rest);
// {"id":"<id>","error":"<message>"}
std::string error_frame(std::string_view id, std::string_view message);

}  // namespace sluice
