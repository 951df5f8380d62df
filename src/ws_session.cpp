// ws_session: the browser UI's WebSocket, one chat exchange with Ollama per id.
#include "sluice/ws_session.hpp"

#include "sluice/json_error.hpp"
#include "sluice/metrics.hpp"
#include "sluice/relay.hpp"
#include "sluice/upstream_call.hpp"
#include "sluice/ws_message.hpp"

#include <boost/asio/bind_allocator.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace sluice {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

namespace {

// {"id":"<id>", + rest: every frame sluice sends about a chat starts so.
std::string frame_for(std::string_view id, std::string_view rest) {
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
    return frame_for(id, rest);
}

}  // namespace

// One chat on a socket: its own call to Ollama, read only while the browser keeps up. The
// socket owns its chats; a chat only observes its socket (a weak pointer: no cycle, so a socket
// torn down with chats in flight frees them, and its destructor aborts them).
class WsChat : public std::enable_shared_from_this<WsChat> {
public:
    WsChat(const std::shared_ptr<WsSession>& session, std::string id, std::string body)
        : session_(session),
          loop_(session->loop()),
          config_(loop_.config),
          upstream_(loop_, *config_),
          id_(std::move(id)),
          line_prefix_(frame_for(id_, R"("line":)")),
          body_(std::move(body)) {
        // A chat is an exchange like a proxied request: logged, and waited for by a drain.
        ++loop_.services.state.active_exchanges;
        record_.method = "WS";
        record_.target = "/api/chat";
        record_.client = session->client_address();
        record_.key = session->key_name();
        record_.start = Clock::now();
        record_.generation = true;
        record_.streamed = true;
        record_.handler = Handler::websocket;
        record_.bytes_in = body_.size();
        // The chat goes to Ollama's /api/chat as a proxied one would, forwarded for the page.
        auto& request = upstream_.request();
        request.method(http::verb::post);
        request.target("/api/chat");
        request.version(11);
        request.set(http::field::content_type, "application/json");
        const auto& upgrade = session->upgrade_request();
        upstream_.set_forwarding(record_.client, upgrade["X-Forwarded-For"], !upgrade["X-Forwarded-Proto"].empty());
    }

    ~WsChat() {
        if (!ended_) --loop_.services.state.active_exchanges;  // torn down with its loop, never finished
    }

    void start() {
        if (loop_.services.metrics) active_stream_ = loop_.services.metrics->stream_started();
        rewrite_request_body(loop_, config_, "/api/chat", body_, [self = shared_from_this()](std::string rewritten, std::string model) {
            if (self->ended_) return;
            self->record_.rewrites = std::move(rewritten);
            self->record_.model = std::move(model);
            self->upstream_.request().content_length(self->body_.size());
            self->upstream_.send(self->body_, [self](std::optional<UpstreamError> error) { self->on_sent(std::move(error)); });
        });
    }

    // The page's stop button: Ollama's connection is closed, so it stops generating.
    void cancel() {
        cancelled_ = true;
        upstream_.cancel();
        if (paused_) finish({});  // no read is pending to report the close
    }

    // The socket is gone: nothing more is sent to it.
    void abort() {
        aborted_ = true;
        upstream_.cancel();
        if (paused_) finish({});
    }

    void frame_sent(std::size_t bytes) {
        queued_ -= bytes;
        --frames_queued_;
        if (paused_ && !window_full()) {
            paused_ = false;
            relay_lines();
        }
    }

    void count_queued(std::size_t bytes) {
        queued_ += bytes;
        ++frames_queued_;
    }

private:
    using error_code = boost::system::error_code;

    bool stopped() const { return cancelled_ || aborted_; }

    void on_sent(std::optional<UpstreamError> error) {
        if (stopped() || error) {
            finish(std::move(error));
            return;
        }
        read_header();
    }

    void read_header() {
        upstream_.read_header(false, [self = shared_from_this()](std::optional<UpstreamError> error) {
            self->on_header(std::move(error));
        });
    }

    void on_header(std::optional<UpstreamError> error) {
        if (stopped() || error) {
            finish(std::move(error));
            return;
        }
        auto& response = upstream_.response();
        if (response.get().result_int() / 100 == 1) {  // 103 Early Hints: nothing for the page
            read_header();
            return;
        }
        status_ = response.get().result_int();
        // The rewritten model may have been removed since the catalog last looked.
        if (status_ == 404) loop_.services.catalog.refresh_soon();
        response.get().body().pieces = &pieces_;
        response.get().body().tail = &tail_;
        upstream_.begin_body(config_->limits.stream_buffer_bytes);
        on_body(upstream_.take_buffered());
    }

    void read_body() {
        upstream_.read_some(asio::bind_allocator(HandlerAllocator<char>(read_memory_),
                                                 [self = shared_from_this()](error_code ec, std::size_t bytes) {
                                                     self->on_body(self->upstream_.on_read(ec, bytes));
                                                 }));
    }

    void on_body(BodyPiece piece) {
        if (stopped()) {
            finish({});
            return;
        }
        if (piece.state == BodyPiece::State::broken || piece.state == BodyPiece::State::malformed) {
            finish(UpstreamError{502, piece.state == BodyPiece::State::broken ? "sluice: ollama closed the stream early"
                                                                              : "sluice: ollama sent a malformed response"});
            return;
        }
        body_done_ = piece.state == BodyPiece::State::done;
        next_piece_ = 0;
        relay_lines();
    }

    bool window_full() const {
        return frames_queued_ >= WsSession::chat_frames_in_flight || queued_ >= WsSession::chat_queue_bytes;
    }

    // Each complete line of the read goes out as one frame, spliced into the envelope as it is,
    // while the window has room (backpressure: the browser is behind; frame_sent() resumes).
    void relay_lines() {
        while (!ended_) {
            if (window_full()) {
                paused_ = true;
                return;
            }
            if (unsent_.empty()) {
                if (next_piece_ == pieces_.size()) break;
                const auto piece = pieces_[next_piece_++];
                unsent_ = {static_cast<const char*>(piece.data()), piece.size()};
                continue;
            }
            const auto newline = unsent_.find('\n');
            pending_.append(unsent_.substr(0, newline));
            unsent_.remove_prefix(newline == std::string_view::npos ? unsent_.size() : newline + 1);
            if (newline != std::string_view::npos) send_line();
            if (pending_.size() > config_->limits.max_body_bytes) {
                upstream_.cancel();
                finish(UpstreamError{502, "sluice: a line from ollama exceeds limits.max_body_bytes"});
                return;
            }
        }
        if (ended_) return;
        if (body_done_) {
            send_line();  // a body without a final newline (a non-streamed answer or an error)
            upstream_.release(true);
            finish({});
            return;
        }
        read_body();
    }

    void send_line() {
        const auto session = session_.lock();
        if (pending_.empty() || !session) return;
        if (!record_.first_byte) record_.first_byte = Clock::now();
        record_.bytes_out += pending_.size() + 1;
        std::string frame = session->frame_buffer();  // a written frame's memory, reused
        frame += line_prefix_;
        frame += pending_;
        frame += '}';
        pending_.clear();
        session->send(shared_from_this(), std::move(frame));
    }

    // `error` empty: the chat ended (done, or cancelled); else it failed.
    void finish(std::optional<UpstreamError> error) {
        if (ended_) return;
        ended_ = true;
        if (stopped()) error.reset();
        upstream_.close();
        log_exchange(error);
        const auto session = session_.lock();
        if (!session) return;
        if (!aborted_) session->send(nullptr, error ? error_frame(id_, error->message) : done_frame());
        session->chat_finished(id_);
    }

    // The end frame: how the chat ended, and what the rewriter changed (X-Sluice-Rewrite's value).
    std::string done_frame() const {
        std::string rest = cancelled_ ? R"("done":true,"cancelled":true)" : fmt::format(R"("done":true,"status":{})", status_);
        if (const auto& rewritten = record_.rewrites; !rewritten.empty()) {
            rest += R"(,"rewrite":")";
            append_json_escaped(rest, rewritten);
            rest += '"';
        }
        rest += '}';
        return frame_for(id_, rest);
    }

    // One access-log line and one request on the metrics' route "ws": its status is Ollama's, or
    // what sluice would have answered over HTTP (502 or 504 when Ollama failed first, 499 when
    // the browser left first).
    void log_exchange(const std::optional<UpstreamError>& error) {
        --loop_.services.state.active_exchanges;
        active_stream_.release();
        record_.status = status_ != 0 ? status_ : error ? error->status : 499;
        record_.upstream_unreachable = error && error->unreachable;
        record_.stats = parse_generation_stats(tail_.contents());
        record_.client_gone = stopped() && !upstream_.response_complete();
        if (aborted_) record_.outcome = "client went away";
        if (cancelled_) record_.outcome = "client cancelled";
        if (error) record_.outcome = "failed";
        if (config_->log.access) log_access(record_);
        if (loop_.services.metrics) loop_.services.metrics->exchange_finished(record_);
    }

    std::weak_ptr<WsSession> session_;
    EventLoop& loop_;
    std::shared_ptr<const Config> config_;  // the snapshot this chat started with
    UpstreamCall upstream_;
    std::string id_;
    std::string line_prefix_;  // {"id":"<id>","line":  escaped once, not per line
    std::string body_;         // the chat as it goes to Ollama (rewritten in place)
    std::vector<asio::const_buffer> pieces_;  // the de-chunked body bytes of one read
    std::size_t next_piece_ = 0;              // the first of pieces_ not yet relayed
    std::string_view unsent_;                 // what is left of the piece being relayed
    StreamTail tail_;                         // the last line: the generation statistics
    HandlerMemory read_memory_;               // each body read's operation state
    std::string pending_;                     // the line not yet complete
    ExchangeRecord record_;
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

WsSession::WsSession(Stream stream, http::request<http::empty_body> upgrade, EventLoop& loop, std::string client_address,
                     const ApiKey* key, std::string session_token)
    : ws_(std::move(stream)),
      upgrade_(std::move(upgrade)),
      loop_(loop),
      client_address_(std::move(client_address)),
      session_token_(std::move(session_token)) {
    if (key) {
        key_name_ = key->name;
        key_digest_ = key->digest;
    }
    ++loop_.services.state.open_connections;
}

WsSession::~WsSession() {
    for (auto& [id, chat] : chats_) chat->abort();  // torn down with its loop: Ollama's side is closed
    if (logout_watch_ != 0) loop_.services.browser_sessions.unwatch(logout_watch_);
    loop_.ws_sessions.erase(this);
    --loop_.services.state.open_connections;
}

std::string WsSession::frame_buffer() {
    if (spare_frames_.empty()) return {};
    auto frame = std::move(spare_frames_.back());
    spare_frames_.pop_back();
    frame.clear();
    return frame;
}

void WsSession::start() {
    loop_.ws_sessions.insert(this);
    if (!session_token_.empty()) {
        logout_watch_ = loop_.services.browser_sessions.watch(session_token_, [&io = loop_.io, weak = weak_from_this()] {
            asio::post(io, [weak] {
                if (const auto self = weak.lock()) self->close_if_revoked();
            });
        });
    }
    beast::get_lowest_layer(ws_).expires_never();  // the websocket stream keeps its own timeouts
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.read_message_max(loop_.config->limits.max_body_bytes);
    ws_.auto_fragment(false);  // one line, one frame
    ws_.text(true);
    ws_.async_accept(upgrade_, [self = shared_from_this()](error_code ec) { self->on_accepted(ec); });
}

void WsSession::on_accepted(error_code ec) {
    if (ec) {
        spdlog::debug("websocket accept failed: {}", ec.message());
        return;
    }
    read_message();
}

void WsSession::read_message() {
    ws_.async_read(read_buffer_,
                   [self = shared_from_this()](error_code ec, std::size_t bytes) { self->on_message(ec, bytes); });
}

void WsSession::on_message(error_code ec, std::size_t) {
    if (ec) {
        close_all();  // the browser closed the socket or it broke: every chat is aborted
        return;
    }
    const auto data = read_buffer_.cdata();
    if (ws_.got_text()) {
        handle_message({static_cast<const char*>(data.data()), data.size()});
    } else {
        close_with(websocket::close_code::unknown_data, "sluice takes text frames");
    }
    read_buffer_.clear();
    read_next();
}

// The budget of sluice's own frames: a client that sends faster than it reads what sluice
// answers is no longer read, and its own TCP buffers fill instead of sluice's memory.
void WsSession::read_next() {
    if (closed_) return;
    if (own_queued_ >= own_queue_bytes) {
        read_paused_ = true;  // on_written() resumes
        return;
    }
    read_message();
}

void WsSession::handle_message(std::string_view text) {
    const auto message = parse_ws_message(text, loop_.json_workspace);
    const std::string_view id = message.id;
    switch (message.kind) {
    case WsMessage::Kind::invalid:
        send(nullptr, id.empty() ? json_error_body(message.error) : error_frame(id, message.error));
        return;
    case WsMessage::Kind::cancel:
        if (const auto found = chats_.find(id); found != chats_.end()) found->second->cancel();
        return;
    case WsMessage::Kind::chat:
        break;
    }
    if (loop_.services.state.draining) {
        send(nullptr, error_frame(id, "sluice: shutting down"));
        return;
    }
    if (chats_.contains(id)) {
        send(nullptr, error_frame(id, "sluice: a chat with this id is still in flight"));
        return;
    }
    if (chats_.size() >= max_chats) {
        send(nullptr, error_frame(id, fmt::format("sluice: at most {} chats at once on one socket", max_chats)));
        return;
    }
    if (const auto reason = revoked()) {
        close_with(websocket::close_code::policy_error, *reason);
        return;
    }
    // The chat goes to Ollama as the bytes the page sent, and the key check reads the model
    // Ollama will read from those bytes.
    std::string body(message.chat);
    if (const auto* key = key_named(loop_.config->auth, key_name_)) {
        if (const auto refusal = model_refusal(*key, "/api/chat", body, loop_.json_workspace)) {
            send(nullptr, error_frame(id, *refusal));
            return;
        }
    }
    auto exchange = std::make_shared<WsChat>(shared_from_this(), std::string(id), std::move(body));
    chats_.emplace(std::string(id), exchange);
    exchange->start();
}

// Why the socket may no longer chat (the close reason), against the config in force: a reload
// may have removed its key, changed the key under its name or narrowed its routes, and its
// browser session may have ended (logout, expiry).
std::optional<std::string_view> WsSession::revoked() const {
    const auto& auth = loop_.config->auth;
    if (auth.keys.empty()) return std::nullopt;
    const ApiKey* key = key_named(auth, key_name_);
    if (!key || key->digest != key_digest_) return "key removed";  // or keys were turned on
    if (!key_allows_route(*key, "/api/chat")) return "key may not chat";
    if (!session_token_.empty() && !loop_.services.browser_sessions.find(auth, session_token_)) return "logged out";
    return std::nullopt;
}

void WsSession::close_if_revoked() {
    if (const auto reason = revoked()) close_with(websocket::close_code::policy_error, *reason);
}

void close_revoked_websockets(EventLoop& loop) {
    // Copied: closing a socket may end it, which erases it from the set.
    const std::vector<WsSession*> sockets(loop.ws_sessions.begin(), loop.ws_sessions.end());
    for (auto* socket : sockets) {
        if (loop.ws_sessions.contains(socket)) socket->close_if_revoked();
    }
}

void WsSession::send(std::shared_ptr<WsChat> chat, std::string frame) {
    if (closed_) return;
    if (chat) {
        chat->count_queued(frame.size());
    } else {
        own_queued_ += frame.size();
    }
    if (outbox_.full()) outbox_.set_capacity(std::max<std::size_t>(16, outbox_.capacity() * 2));
    outbox_.push_back({std::move(chat), std::move(frame)});
    write_next();
}

void WsSession::write_next() {
    if (writing_ || outbox_.empty() || closed_) return;  // one write at a time on a WebSocket
    writing_ = true;
    // Out of the ring while it is written: the ring may grow (and move its frames) meanwhile.
    writing_frame_ = std::move(outbox_.front());
    outbox_.pop_front();
    ws_.async_write(asio::buffer(writing_frame_.bytes),
                    asio::bind_allocator(HandlerAllocator<char>(write_memory_),
                                         [self = shared_from_this()](error_code ec, std::size_t) { self->on_written(ec); }));
}

void WsSession::on_written(error_code ec) {
    writing_ = false;
    auto frame = std::move(writing_frame_);
    if (ec) close_all();
    if (closed_) {
        outbox_.clear();  // its frames hold their chats, and the chats this session
        return;
    }
    const auto bytes = frame.bytes.size();
    if (spare_frames_.size() < max_spare_frames && frame.bytes.capacity() <= max_spare_frame_bytes) {
        spare_frames_.push_back(std::move(frame.bytes));  // first: the chat's next frame may take it
    }
    if (frame.chat) {
        frame.chat->frame_sent(bytes);  // may queue the chat's next frames, and start writing one
    } else {
        own_queued_ -= bytes;
        if (read_paused_ && own_queued_ < own_queue_bytes) {
            read_paused_ = false;
            read_message();
        }
    }
    write_next();
}

void WsSession::chat_finished(const std::string& id) { chats_.erase(id); }

void WsSession::cut() { close_all(); }

// Nothing more goes to the browser: every chat is aborted and the queued frames dropped.
void WsSession::end_chats() {
    closed_ = true;
    auto chats = std::move(chats_);
    chats_.clear();
    for (auto& [id, chat] : chats) chat->abort();
    outbox_.clear();  // a pending write points into writing_frame_, not into the ring
}

void WsSession::close_all() {
    if (closed_) return;
    end_chats();
    error_code ignored;
    beast::get_lowest_layer(ws_).socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
}

// A close frame saying why; Beast then waits for the browser's (timeout::suggested bounds it).
void WsSession::close_with(websocket::close_code code, std::string_view reason) {
    if (closed_) return;
    end_chats();
    ws_.async_close({code, reason}, [self = shared_from_this()](error_code) {});
}

}  // namespace sluice
