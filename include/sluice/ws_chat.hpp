// ws_chat: one chat on the browser's WebSocket, the socket's side of an exchange with Ollama's
// /api/chat. The chat's body goes through the rewriter and up through an UpstreamCall, as a
// proxied chat's does; each NDJSON line of the answer is queued on the socket as one frame
// {"id":"<id>","line":<the line, byte for byte>}, a window of frames at a time (backpressure: a
// browser that falls behind stops sluice reading Ollama), and the chat ends with one end or
// error frame (the frames are described in ws_session.hpp).
#pragma once

#include "sluice/access_log.hpp"
#include "sluice/body_tap.hpp"
#include "sluice/event_loop.hpp"
#include "sluice/handler_memory.hpp"
#include "sluice/key_limits.hpp"
#include "sluice/metrics.hpp"
#include "sluice/upstream_call.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

class WsSession;

// The socket owns its chats; a chat only observes its socket (a weak pointer: no cycle, so a
// socket torn down with chats in flight frees them, and its destructor aborts them).
class WsChat : public std::enable_shared_from_this<WsChat> {
public:
    // `body` is the chat object's bytes as the page sent them; `key_stream` the key's stream it
    // holds until it ends (key_limits.hpp).
    WsChat(const std::shared_ptr<WsSession>& session, std::string id, std::string body, KeyLimits::Stream key_stream);
    ~WsChat();

    void start();
    // The page's stop button: Ollama's connection is closed, so it stops generating.
    void cancel();
    // The socket is gone: nothing more is sent to it.
    void abort();
    // The socket's accounting of this chat's frames: one queued, one written to the browser
    // (which may resume reading Ollama).
    void count_queued(std::size_t bytes);
    void frame_sent(std::size_t bytes);

private:
    using error_code = boost::system::error_code;

    bool stopped() const { return cancelled_ || aborted_; }
    // To a backend, or, when every one with the model runs its max_generations, into the
    // fleet's line, where the page is told its place ({"id":..,"waiting":3}; 0 when its turn came).
    void place();
    void wait_turn(const std::string& model);
    void watch_line(std::string model);
    void tell_place(std::size_t place);
    bool on_turn();
    bool leave_line();  // whether it was waiting
    void on_sent(std::optional<UpstreamError> error);
    void read_header();
    void on_header(std::optional<UpstreamError> error);
    void read_body();
    void on_body(BodyPiece piece);
    bool window_full() const;
    void relay_lines();
    void send_line();
    void finish(std::optional<UpstreamError> error);
    std::string done_frame() const;
    void log_exchange(const std::optional<UpstreamError>& error);

    std::weak_ptr<WsSession> session_;
    EventLoop& loop_;
    std::shared_ptr<const Config> config_;  // the snapshot this chat started with
    UpstreamCall upstream_;
    std::string id_;
    std::string line_prefix_;  // {"id":"<id>","line":  escaped once, not per line
    std::string body_;         // the chat as it goes to Ollama (rewritten in place)
    std::vector<boost::asio::const_buffer> pieces_;  // the de-chunked body bytes of one read
    std::size_t next_piece_ = 0;                     // the first of pieces_ not yet relayed
    std::string_view unsent_;                        // what is left of the piece being relayed
    StreamTail tail_;                                // the last line: the generation statistics
    HandlerMemory read_memory_;                      // each body read's operation state
    std::string pending_;                            // the line not yet complete
    ExchangeRecord record_;
    KeyLimits::Stream key_stream_;
    std::uint64_t ticket_ = 0;  // in the fleet's line while non-zero
    bool had_turn_ = false;     // waited, and its turn came: it does not queue behind newcomers
    std::size_t told_place_ = 0;
    Clock::time_point waiting_since_;
    boost::asio::steady_timer line_timer_;  // the place told and queue.max_wait, while in line
    std::size_t queued_ = 0;  // bytes of this chat's frames not yet written to the browser
    std::size_t frames_queued_ = 0;
    bool body_done_ = false;  // the read in pieces_ ended Ollama's response
    unsigned status_ = 0;
    ActiveStream active_stream_;  // counted in sluice_active_streams while the chat runs
    bool paused_ = false;
    bool cancelled_ = false;
    bool aborted_ = false;
    bool ended_ = false;
};

}  // namespace sluice
