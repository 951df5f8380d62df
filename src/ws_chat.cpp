// ws_chat: one chat on the browser's WebSocket (see ws_chat.hpp).
#include "sluice/ws_chat.hpp"

#include "sluice/json_error.hpp"
#include "sluice/relay.hpp"
#include "sluice/ws_message.hpp"
#include "sluice/ws_session.hpp"

#include <boost/asio/bind_allocator.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

namespace sluice {

namespace asio = boost::asio;
namespace http = boost::beast::http;

WsChat::WsChat(const std::shared_ptr<WsSession>& session, std::string id, std::string body, KeyLimits::Stream key_stream)
    : session_(session),
      loop_(session->loop()),
      config_(loop_.config),
      upstream_(loop_, *config_),
      id_(std::move(id)),
      line_prefix_(chat_frame(id_, R"("line":)")),
      body_(std::move(body)),
      key_stream_(std::move(key_stream)),
      line_timer_(loop_.io) {
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
    upstream_.set_forwarding(record_.client, upgrade["X-Forwarded-For"], upgrade["X-Forwarded-Proto"], session->tls());
}

WsChat::~WsChat() {
    leave_line();
    if (!ended_) --loop_.services.state.active_exchanges;  // torn down with its loop, never finished
}

void WsChat::start() {
    if (loop_.services.metrics) active_stream_ = loop_.services.metrics->stream_started();
    rewrite_request_body(loop_, config_, "/api/chat", body_, [self = shared_from_this()](std::string rewritten, std::string model) {
        if (self->ended_) return;
        self->record_.rewrites = std::move(rewritten);
        self->record_.model = std::move(model);
        self->place();
    });
}

void WsChat::place() {
    // A newcomer waits behind those already waiting for its model; one whose turn came does not.
    if (!had_turn_ && !record_.model.empty() && loop_.services.fleet.chooses() &&
        loop_.services.fleet.line_for(record_.model)) {
        wait_turn(record_.model);
        return;
    }
    if (auto full = choose_backends(loop_, upstream_, "/api/chat", body_, record_.model, true, true)) {
        wait_turn(*full);
        return;
    }
    upstream_.request().content_length(body_.size());
    upstream_.send(body_, [self = shared_from_this()](std::optional<UpstreamError> error) { self->on_sent(std::move(error)); });
}

void WsChat::wait_turn(const std::string& model) {
    const auto& queue = config_->queue;
    ticket_ = join_line(loop_, queue, model, weak_from_this(), &WsChat::on_turn, had_turn_);
    if (ticket_ == 0) {
        finish(UpstreamError{503, line_full_message(model, queue.max_waiting)});
        return;
    }
    if (!had_turn_) waiting_since_ = Clock::now();  // its turn came but the room was taken: the wait goes on
    tell_place(loop_.services.fleet.place_in_line(ticket_));
    watch_line(model);
}

// Once a second (and at queue.max_wait): the place as it moves up, or the end of the wait.
void WsChat::watch_line(std::string model) {
    const auto deadline = waiting_since_ + config_->queue.max_wait;
    line_timer_.expires_at(std::min(deadline, Clock::now() + std::chrono::seconds(1)));
    line_timer_.async_wait([self = shared_from_this(), model = std::move(model), deadline](error_code ec) mutable {
        if (ec || self->ticket_ == 0 || self->ended_) return;
        if (Clock::now() >= deadline) {
            self->leave_line();
            self->finish(UpstreamError{503, line_timeout_message(model, self->config_->queue.max_wait)});
            return;
        }
        self->tell_place(self->loop_.services.fleet.place_in_line(self->ticket_));
        self->watch_line(std::move(model));
    });
}

void WsChat::tell_place(std::size_t place) {
    if (place == told_place_) return;
    told_place_ = place;
    if (const auto session = session_.lock()) session->send(nullptr, chat_frame(id_, fmt::format(R"("waiting":{}}})", place)));
}

bool WsChat::on_turn() {
    ticket_ = 0;  // the fleet took it out of the line
    if (ended_ || stopped()) return false;
    had_turn_ = true;
    line_timer_.cancel();
    tell_place(0);
    place();
    return true;
}

bool WsChat::leave_line() {
    if (ticket_ == 0) return false;
    loop_.services.fleet.leave_line(std::exchange(ticket_, 0));
    line_timer_.cancel();
    return true;
}

void WsChat::cancel() {
    cancelled_ = true;
    upstream_.cancel();
    if (paused_ || leave_line()) finish({});  // no read is pending to report the close
}

void WsChat::abort() {
    aborted_ = true;
    upstream_.cancel();
    if (paused_ || leave_line()) finish({});
}

void WsChat::frame_sent(std::size_t bytes) {
    queued_ -= bytes;
    --frames_queued_;
    if (paused_ && !window_full()) {
        paused_ = false;
        relay_lines();
    }
}

void WsChat::count_queued(std::size_t bytes) {
    queued_ += bytes;
    ++frames_queued_;
}

void WsChat::on_sent(std::optional<UpstreamError> error) {
    if (stopped() || error) {
        finish(std::move(error));
        return;
    }
    read_header();
}

void WsChat::read_header() {
    upstream_.read_header(false, [self = shared_from_this()](std::optional<UpstreamError> error) {
        self->on_header(std::move(error));
    });
}

void WsChat::on_header(std::optional<UpstreamError> error) {
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

void WsChat::read_body() {
    upstream_.read_some(asio::bind_allocator(HandlerAllocator<char>(read_memory_),
                                             [self = shared_from_this()](error_code ec, std::size_t bytes) {
                                                 self->on_body(self->upstream_.on_read(ec, bytes));
                                             }));
}

void WsChat::on_body(BodyPiece piece) {
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

bool WsChat::window_full() const {
    return frames_queued_ >= WsSession::chat_frames_in_flight || queued_ >= WsSession::chat_queue_bytes;
}

// Each complete line of the read goes out as one frame, spliced into the envelope as it is,
// while the window has room (backpressure: the browser is behind; frame_sent() resumes).
void WsChat::relay_lines() {
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

void WsChat::send_line() {
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
void WsChat::finish(std::optional<UpstreamError> error) {
    if (ended_) return;
    ended_ = true;
    if (stopped()) error.reset();
    upstream_.close();
    key_stream_.release();
    if (loop_.services.fleet.size() > 1 && status_ != 0) {  // which box answered (as the relay's header says)
        record_.backend = loop_.services.fleet.backend(upstream_.backend()).label();
    }
    log_exchange(error);
    const auto session = session_.lock();
    if (!session) return;
    if (!aborted_) session->send(nullptr, error ? error_frame(id_, error->message) : done_frame());
    session->chat_finished(id_);
}

// The end frame: how the chat ended, and what the rewriter changed (X-Sluice-Rewrite's value).
std::string WsChat::done_frame() const {
    std::string rest = cancelled_ ? R"("done":true,"cancelled":true)" : fmt::format(R"("done":true,"status":{})", status_);
    if (const auto& rewritten = record_.rewrites; !rewritten.empty()) {
        rest += R"(,"rewrite":")";
        append_json_escaped(rest, rewritten);
        rest += '"';
    }
    if (!record_.backend.empty()) {  // which box answered, in a fleet
        rest += R"(,"backend":")";
        append_json_escaped(rest, record_.backend);
        rest += '"';
    }
    rest += '}';
    return chat_frame(id_, rest);
}

// One access-log line and one request on the metrics' route "ws": its status is Ollama's, or
// what sluice would have answered over HTTP (502 or 504 when Ollama failed first, 499 when
// the browser left first).
void WsChat::log_exchange(const std::optional<UpstreamError>& error) {
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

}  // namespace sluice
