// ws_session: one browser WebSocket at /_sluice/ws, carrying several chats at once.
//
// The page sends text frames {"id":"<id>","chat":{...the /api/chat body...}} and
// {"id":"<id>","cancel":true}. Each chat is its own exchange with Ollama's /api/chat, through the
// request rewriter and the same UpstreamCall a proxied chat takes (forwarding headers, replay
// rule, header limit, error texts); each NDJSON line Ollama
// sends comes back as one frame {"id":"<id>","line":<the line, byte for byte>}, and the chat ends
// with {"id":"<id>","done":true,"status":200} ("cancelled":true instead of the status after a
// cancel; "rewrite":"<X-Sluice-Rewrite's value>" when the rewriter changed the request) or
// {"id":"<id>","error":"..."}. A cancel closes that chat's upstream connection; closing the
// socket closes all of them.
//
// Memory: every byte queued for the browser counts against a budget. A chat's frames count
// against that chat (chat_queue_bytes; past it sluice stops reading that chat from Ollama), and
// sluice's own frames (errors, end frames) against own_queue_bytes: past it sluice reads no further
// message from the client until the browser has taken them (each message yields at most one
// frame, its echoed parts bounded (ws_message's max_id_bytes), so a flood of invalid messages only fills
// the client's own TCP buffers). A socket thus holds at most max_chats * chat_queue_bytes +
// own_queue_bytes of frames (plus one frame each past its budget).
//
// Closes: a binary message gets 1003, a message over limits.max_body_bytes 1009, invalid UTF-8
// 1007 (Beast's), and a socket whose browser session is logged out, or whose key a reload
// removed or changed, 1008 ("logged out", "key removed") at once, chats in flight aborted.
#pragma once

#include "sluice/client_stream.hpp"
#include "sluice/event_loop.hpp"
#include "sluice/handler_memory.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/circular_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
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
    // Bytes of sluice's own frames queued for the browser before sluice stops reading messages.
    static constexpr std::size_t own_queue_bytes = 64 * 1024;
    // Frames of one chat queued at once: a read that brought hundreds of lines (Ollama is faster
    // than the browser, or the stream was read after a pause) sends them a window at a time, the
    // rest waiting in the read buffer, which is not read into again before they are sent.
    static constexpr std::size_t chat_frames_in_flight = 8;
    // Written frames whose memory is kept for the next ones: no allocation per relayed line
    // while two chats stream at once.
    static constexpr std::size_t max_spare_frames = 2 * chat_frames_in_flight;
    static constexpr std::size_t max_spare_frame_bytes = 16 * 1024;

    // `upgrade` is the request's header, already read and checked (path, Origin, key); `key` is
    // the API key it was opened with (null when authentication is off), `session_token` the
    // browser session's when the key came from the page's cookie.
    WsSession(ClientStream stream, boost::beast::http::request<boost::beast::http::empty_body> upgrade, EventLoop& loop,
              std::string client_address, const ApiKey* key, std::string session_token);
    ~WsSession();
    void start();
    // Drain past its deadline: aborts every chat (closing Ollama's side) and the socket.
    void cut();
    // Closes with 1008 if the socket's key or browser session is no longer valid.
    void close_if_revoked();

    // For WsChat: queue a frame for the browser on behalf of `chat` (nullptr: not counted
    // against any chat), and take a finished chat off the socket.
    void send(std::shared_ptr<WsChat> chat, std::string frame);
    void chat_finished(const std::string& id);
    EventLoop& loop() { return loop_; }
    const std::string& client_address() const { return client_address_; }
    bool tls() const { return ws_.next_layer().tls(); }
    const std::string& key_name() const { return key_name_; }
    const boost::beast::http::request<boost::beast::http::empty_body>& upgrade_request() const { return upgrade_; }
    std::string frame_buffer();  // an empty string, with a written frame's capacity when there is one

private:
    using error_code = boost::system::error_code;

    void on_accepted(error_code ec);
    void read_message();
    void on_message(error_code ec, std::size_t bytes);
    void read_next();
    void handle_message(std::string_view text);
    void write_next();
    void on_written(error_code ec);
    void end_chats();
    void close_all();
    void close_with(boost::beast::websocket::close_code code, std::string_view reason);
    std::optional<std::string_view> revoked() const;

    struct Frame {
        std::shared_ptr<WsChat> chat;  // whose budget the frame counts against, if any
        std::string bytes;
    };

    boost::beast::websocket::stream<ClientStream> ws_;
    boost::beast::http::request<boost::beast::http::empty_body> upgrade_;
    EventLoop& loop_;
    std::string client_address_;
    std::string key_name_;
    std::optional<std::array<unsigned char, 32>> key_digest_;  // a reload may change the key under its name
    std::string session_token_;
    std::uint64_t logout_watch_ = 0;
    std::vector<std::string> spare_frames_;
    HandlerMemory write_memory_;  // each frame write's operation state
    boost::beast::flat_buffer read_buffer_;
    // A ring that grows when full and keeps its memory (a deque would allocate a node every
    // few frames, as it goes).
    boost::circular_buffer<Frame> outbox_;
    Frame writing_frame_;  // the frame being written
    std::size_t own_queued_ = 0;  // bytes of sluice's own frames not yet written to the browser
    bool writing_ = false;
    bool read_paused_ = false;  // own_queued_ reached own_queue_bytes: no read is pending
    bool closed_ = false;
    std::map<std::string, std::shared_ptr<WsChat>, std::less<>> chats_;
};

// After a reload: closes this loop's sockets whose key was removed or changed.
void close_revoked_websockets(EventLoop& loop);

}  // namespace sluice
