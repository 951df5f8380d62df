// upstream_call: one request to Ollama and its response, whichever front end asked (a proxied
// HTTP request, or a browser chat over the WebSocket). It holds what every exchange with Ollama
// must do alike: a pooled connection to the backend the fleet ranks first (the next one when it
// cannot be reached); the request with the forwarding headers, sent whole (or its header first
// when the body streams); the one replay rule; the response header within one limit;
// failures as one status and one text; and the response body read into the connection's buffer,
// Beast's parser only looking on. What the client sees is the front end's business.
#pragma once

#include "sluice/body_tap.hpp"
#include "sluice/event_loop.hpp"

#include <boost/asio/error.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace sluice {

// Beast keeps a header field in at most 64KiB and throws for a longer one; a header limit of
// 64KiB turns such a field from Ollama into a parse error (a 502), as nginx and HAProxy answer.
inline constexpr std::uint32_t max_upstream_header_bytes = 64 * 1024;

// Why Ollama gave no answer, as the client is told: a status and an Ollama-style message.
struct UpstreamError {
    unsigned status = 502;
    std::string message;
    bool unreachable = false;  // no connection could be made (the metrics' upstream_unreachable)
};

// One piece of the response body, just read.
struct BodyPiece {
    enum class State { more, done, broken, malformed };
    State state = State::more;
    std::string_view raw;  // the bytes read that belong to the response, chunk framing included
};

class UpstreamCall {
public:
    using error_code = boost::system::error_code;
    using Request = boost::beast::http::request<boost::beast::http::buffer_body>;
    using ResponseParser = boost::beast::http::response_parser<BodyTap>;
    // nullopt: it went well. A Then holds the front end, and so this call, alive until it runs.
    using Then = std::function<void(std::optional<UpstreamError>)>;

    // `config` is the exchange's snapshot and outlives the call.
    UpstreamCall(EventLoop& loop, const Config& config) : loop_(loop), config_(config) {}

    // Where the request may go, best first (Fleet::route or Fleet::manage; the first backend
    // until this is called). Each that refuses the connection is reported to the fleet and the
    // next tried: nothing reached it, so nothing can run twice. A `generation` counts as one of
    // its backend's active generations from this choice while the call lasts, and tells the
    // fleet `model` is loaded there once connected.
    // `conversation` (0: none) is the chat's mark, remembered where it runs (routing.sticky).
    void set_backends(BackendOrder order, bool generation, std::string_view model, std::uint64_t conversation = 0);
    std::size_t backend() const { return order_.index[tried_]; }
    const Config& config() const { return config_; }  // the exchange's snapshot

    // The request to send. Its end-to-end headers are the front end's; set_forwarding() adds
    // Host and X-Forwarded-For/-Proto (the client's -Proto kept when it sent one, else how it
    // reached sluice: https over TLS).
    Request& request() { return request_; }
    void set_forwarding(std::string_view client_address, std::string_view forwarded_for,
                        std::string_view forwarded_proto, bool tls);

    // Connects (an idle pooled connection, or a new one) and writes the request: whole when
    // `body` is given, which must stay valid until the response header is read (the request may
    // go twice), or else only its header, the body following through write_body_piece().
    void send(std::optional<std::string_view> body, Then sent);
    template <class Handler>
    void write_body_piece(const char* data, std::size_t size, bool more, Handler&& handler);

    // Reads the next response header (interim ones included) within timeouts.upstream_headers.
    // A request that cannot have run twice is sent once more first when the connection fails
    // (see may_replay()). `head`: the answer to a HEAD has no body.
    void read_header(bool head, Then got);
    ResponseParser& response() { return *response_; }
    bool header_pending() const { return header_pending_; }

    // The body: no deadline from here on (a generation legitimately takes long), and reads of up
    // to `buffer_bytes` into the connection's buffer. take_buffered() hands over what came with
    // the header; read_some()'s handler passes its result to on_read().
    void begin_body(std::size_t buffer_bytes);
    BodyPiece take_buffered();
    template <class Handler>
    void read_some(Handler&& handler);
    BodyPiece on_read(error_code ec, std::size_t bytes);

    bool response_complete() const { return response_ && response_->is_done(); }

    // Closes the connection at once, so Ollama stops generating; the pending step still reports
    // (with an error), and nothing is sent again.
    void cancel();
    // Hands the connection back to the pool when the exchange went cleanly to its end (the whole
    // request went up, the whole response came and nothing after it), else closes it.
    void release(bool request_sent_whole);
    void close() { connection_.reset(); }

private:
    bool may_replay(bool after_request_written) const;
    void connect(Then sent, bool fresh);
    void write(Then sent);
    void on_written(error_code ec, Then sent);
    void on_header(error_code ec, Then got);
    UpstreamError unreachable(const error_code& ec, bool connected) const;
    const std::string& url() const { return config_.upstreams[backend()].url.url; }
    UpstreamPool& pool() { return loop_.pools[backend()]; }
    BodyPiece take(std::size_t fresh);

    EventLoop& loop_;
    const Config& config_;
    Request request_;
    std::optional<std::string_view> whole_body_;  // the body at hand, when it is sent whole
    BackendOrder order_{{0}, 1};
    std::size_t tried_ = 0;  // order_'s entry in use
    bool generation_ = false;
    std::string model_;      // a generation's, for the fleet
    std::uint64_t conversation_ = 0;
    Fleet::Lease lease_;     // while a generation runs on backend()
    std::unique_ptr<UpstreamConnection> connection_;
    std::optional<boost::beast::http::request_serializer<boost::beast::http::buffer_body>> serializer_;
    std::optional<ResponseParser> response_;
    bool head_ = false;
    bool retried_ = false;
    bool cancelled_ = false;
    bool header_pending_ = false;
    bool reusable_ = true;  // Ollama sent nothing past the end of the response
};

template <class Handler>
void UpstreamCall::write_body_piece(const char* data, std::size_t size, bool more, Handler&& handler) {
    auto& body = request_.body();
    body.data = size ? const_cast<char*>(data) : nullptr;
    body.size = size;
    body.more = more;
    connection_->stream.expires_after(config_.timeouts.upstream_headers);
    boost::beast::http::async_write(connection_->stream, *serializer_, std::forward<Handler>(handler));
}

template <class Handler>
void UpstreamCall::read_some(Handler&& handler) {
    auto& buffer = connection_->buffer;
    connection_->stream.socket().async_read_some(buffer.prepare(buffer.capacity() - buffer.size()),
                                                 std::forward<Handler>(handler));
}

// On every read of a streamed body: defined here so the relay's read loop inlines them.
inline BodyPiece UpstreamCall::take_buffered() { return take(connection_->buffer.size()); }

inline BodyPiece UpstreamCall::on_read(error_code ec, std::size_t bytes) {
    if (ec == boost::asio::error::eof && response_->need_eof()) {
        response_->put_eof(ec);  // a body that ends with the connection
        return take(0);
    }
    if (ec) return {BodyPiece::State::broken, {}};
    connection_->buffer.commit(bytes);
    return take(bytes);
}

// The parser runs over the buffered bytes to find where the body ends (and, through BodyTap,
// shows the de-chunked pieces); the few bytes of a chunk header split across two reads stay in
// the buffer, already handed over, until the next read completes them.
inline BodyPiece UpstreamCall::take(std::size_t fresh) {
    auto& buffer = connection_->buffer;
    const auto* fresh_bytes = static_cast<const char*>(buffer.data().data()) + buffer.size() - fresh;
    if (auto* pieces = response_->get().body().pieces) pieces->clear();
    error_code ec;
    while (buffer.size() > 0 && !response_->is_done()) {
        buffer.consume(response_->put(buffer.data(), ec));
        if (ec) break;
    }
    if (ec && ec != boost::beast::http::error::need_more) return {BodyPiece::State::malformed, {}};
    if (response_->is_done() && buffer.size() > 0) {
        fresh -= buffer.size();  // bytes past the end of the response are not the client's
        buffer.consume(buffer.size());
        reusable_ = false;
    }
    return {response_->is_done() ? BodyPiece::State::done : BodyPiece::State::more, {fresh_bytes, fresh}};
}

}  // namespace sluice
