// ws_session: the browser UI's WebSocket, one chat exchange with Ollama (a WsChat) per id.
#include "sluice/ws_session.hpp"

#include "sluice/ws_chat.hpp"

#include "sluice/json_error.hpp"
#include "sluice/ws_message.hpp"

#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace sluice {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

WsSession::WsSession(ClientStream stream, http::request<http::empty_body> upgrade, EventLoop& loop, std::string client_address,
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
    KeyLimits::Stream key_stream;
    if (const auto* key = key_named(loop_.config->auth, key_name_)) {
        if (const auto refusal = model_refusal(*key, "/api/chat", body, loop_.json_workspace)) {
            send(nullptr, error_frame(id, *refusal));
            return;
        }
        auto limits = loop_.services.key_limits.admit(*key, true);
        if (limits.status != 0) {
            send(nullptr, error_frame(id, limits.message));
            return;
        }
        key_stream = std::move(limits.stream);
    }
    auto exchange = std::make_shared<WsChat>(shared_from_this(), std::string(id), std::move(body), std::move(key_stream));
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
