// ws_message_fuzz: libFuzzer target for a text frame from the browser page, as WsSession
// judges it: parse_ws_message, then, for a chat, the key check of a key limited to "qwen3:*".
//
// Nothing is caught. For any frame: an invalid message has an error to send; an id is at most
// max_id_bytes; a chat is a slice of the frame that is a JSON object, and whatever model the
// key check lets through is one the key may use, read as Ollama reads it.
// Build, run and the long run: tests/fuzz/README.md.
#include "limited_key.hpp"

#include "sluice/access_control.hpp"
#include "sluice/ollama_api.hpp"
#include "sluice/ws_message.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using sluice::WsMessage;
    static sluice::JsonWorkspace workspace;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto message = sluice::parse_ws_message(text, workspace);
    if (message.id.size() > sluice::max_id_bytes) std::abort();
    if (message.kind == WsMessage::Kind::invalid) {
        if (message.error.empty()) std::abort();
        return 0;
    }
    if (message.kind != WsMessage::Kind::chat) return 0;
    const auto* begin = message.chat.data();
    if (begin < text.data() || begin + message.chat.size() > text.data() + text.size()) std::abort();
    if (message.chat.empty() || message.chat.front() != '{' || message.chat.back() != '}') std::abort();
    if (!sluice::model_refusal(sluice::fuzz::limited_key(), "/api/chat", message.chat, workspace)) {
        const auto models = sluice::models_named(sluice::find_ollama_route("/api/chat"), "/api/chat", message.chat, workspace);
        if (!models || models->size() != 1 || !sluice::key_allows_model(sluice::fuzz::limited_key(), models->front())) std::abort();
    }
    return 0;
}
