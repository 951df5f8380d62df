// ws_message: one frame from the page -> chat, cancel or invalid.
#include "sluice/ws_message.hpp"

#include "sluice/json_error.hpp"

#include <fmt/format.h>
#include <simdjson.h>

namespace sluice {

WsMessage parse_ws_message(std::string_view text, JsonWorkspace& workspace) {
    WsMessage message;
    simdjson::dom::parser parser;
    simdjson::dom::object envelope;
    std::string_view id;
    if (parser.parse(text.data(), text.size()).get(envelope) != simdjson::SUCCESS ||
        envelope["id"].get(id) != simdjson::SUCCESS) {
        message.error = R"(sluice: a message is {"id":"...","chat":{...}} or {"id":"...","cancel":true})";
        return message;
    }
    if (id.size() > max_id_bytes) {
        message.error = fmt::format("sluice: an id is at most {} bytes", max_id_bytes);
        return message;
    }
    message.id = std::string(id);
    bool cancel = false;
    if (envelope["cancel"].get(cancel) == simdjson::SUCCESS && cancel) {
        message.kind = WsMessage::Kind::cancel;
        return message;
    }
    const auto scanned = scan_request_json(text, workspace);
    const JsonMember* chat = scanned ? scanned->top.find_key("chat") : nullptr;
    if (!chat || chat->kind != JsonKind::object) {
        message.error = R"(sluice: the message has no "chat" object)";
        return message;
    }
    message.kind = WsMessage::Kind::chat;
    message.chat = chat->value.in(text);
    return message;
}

std::string chat_frame(std::string_view id, std::string_view rest) {
    std::string frame = R"({"id":")";
    append_json_escaped(frame, id);
    frame += "\",";
    frame += rest;
    return frame;
}

std::string error_frame(std::string_view id, std::string_view message) {
    std::string rest = R"("error":")";
    append_json_escaped(rest, message);
    rest += "\"}";
    return chat_frame(id, rest);
}

}  // namespace sluice
