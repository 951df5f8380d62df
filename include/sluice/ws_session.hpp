// ws_session: one browser WebSocket at /_sluice/ws, carrying several chats at once.
//
// The page sends text frames {"id":"<id>","chat":{...the /api/chat body...}} and
// {"id":"<id>","cancel":true}. Each chat is its own exchange with Ollama's /api/chat (through the
// upstream pool and the request rewriter, as a proxied chat would be); each NDJSON line Ollama
// sends comes back as one frame {"id":"<id>","line":<the line, byte for byte>}, and the chat ends
// with {"id":"<id>","done":true,"status":200} ("cancelled":true instead of the status after a
// cancel; "rewrite":"<X-Sluice-Rewrite's value>" when the rewriter changed the request) or
// {"id":"<id>","error":"..."}. Memory is bounded per chat: while a chat's frames waiting for the
// browser exceed a fixed budget, sluice stops reading that chat from Ollama. A cancel closes that
// chat's upstream connection; closing the socket closes all of them.
#pragma once

#include "sluice/event_loop.hpp"
#include "sluice/handler_memory.hpp"
#include "sluice/net.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/circular_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sluice {

class WsChat;

class WsSession : public std::enable_shared_from_this<WsSession> {
public:
    // Chats in flight on one socket; a chat beyond this is answered with an error frame.
    static constexpr std::size_t max_chats = 16;
    // Bytes of one chat's frames queued for the browser before its upstream reads pause.
    static constexpr std::size_t chat_queue_bytes = 256 * 1024;

    // Written frames whose memory is kept for the next ones: no allocation per relayed line.
    static constexpr std::size_t max_spare_frames = 16;
    static constexpr std::size_t max_spare_frame_bytes = 16 * 1024;

    // `upgrade` is the request's header, already read and checked (path, Origin, key);
    // `key_name` names the API key it was opened with (empty when authentication is off).
    WsSession(Stream stream, boost::beast::http::request<boost::beast::http::empty_body> upgrade, EventLoop& loop,
              std::string client_address, std::string key_name);
    ~WsSession();
    void start();
    // Drain past its deadline: aborts every chat (closing Ollama's side) and the socket.
    void cut();

    // For WsChat: queue a frame for the browser on behalf of `chat` (nullptr: not counted
    // against any chat), and take a finished chat off the socket.
    void send(std::shared_ptr<WsChat> chat, std::string frame);
    void chat_finished(const std::string& id);
    EventLoop& loop() { return loop_; }
    const std::string& client_address() const { return client_address_; }
    const std::string& key_name() const { return key_name_; }
    std::string frame_buffer();  // an empty string, with a written frame's capacity when there is one

private:
    using error_code = boost::system::error_code;

    void on_accepted(error_code ec);
    void read_message();
    void on_message(error_code ec, std::size_t bytes);
    void handle_message(std::string_view text);
    void write_next();
    void on_written(error_code ec);
    void close_all();
    std::optional<std::string> refusal_for(std::string_view model) const;

    struct Frame {
        std::shared_ptr<WsChat> chat;  // whose budget the frame counts against, if any
        std::string bytes;
    };

    boost::beast::websocket::stream<Stream> ws_;
    boost::beast::http::request<boost::beast::http::empty_body> upgrade_;
    EventLoop& loop_;
    std::string client_address_;
    std::string key_name_;
    std::vector<std::string> spare_frames_;
    HandlerMemory write_memory_;  // each frame write's operation state
    boost::beast::flat_buffer read_buffer_;
    // A ring that grows when full and keeps its memory (a deque would allocate a node every
    // few frames, as it goes).
    boost::circular_buffer<Frame> outbox_;
    Frame writing_frame_;  // the frame being written
    bool writing_ = false;
    bool closed_ = false;
    std::map<std::string, std::shared_ptr<WsChat>, std::less<>> chats_;
};

}  // namespace sluice
