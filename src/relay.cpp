// relay: one proxied exchange, request up and response chunks down through one fixed buffer.
#include "sluice/relay.hpp"

#include "sluice/access_control.hpp"

#include "sluice/rewrite.hpp"

#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include <fmt/chrono.h>

namespace sluice {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

// Beast keeps a header field in at most 64KiB and throws for a longer one; a header limit of
// 64KiB turns such a field from Ollama into a parse error (a 502), as nginx and HAProxy answer.
constexpr std::size_t max_upstream_header_bytes = 64 * 1024;
constexpr std::size_t watch_read_bytes = 4096;
constexpr std::size_t max_forwarded_for_bytes = 4096;
constexpr std::size_t max_rewrite_header_bytes = 4096;
constexpr std::string_view continue_response = "HTTP/1.1 100 Continue\r\n\r\n";

// Hop-by-hop headers (RFC 9110 section 7.6.1) belong to one connection and are never forwarded;
// framing headers are rewritten by the serializer for the connection the body goes out on.
bool is_connection_specific(http::field name) {
    switch (name) {
    case http::field::connection:
    case http::field::keep_alive:
    case http::field::proxy_connection:
    case http::field::te:
    case http::field::trailer:
    case http::field::transfer_encoding:
    case http::field::upgrade:
    case http::field::content_length:
        return true;
    default:
        return false;
    }
}

// Headers the sender listed in its Connection header are hop-by-hop too.
bool listed_in_connection(std::string_view name, std::string_view connection) {
    for (const auto token : http::token_list{connection}) {
        if (beast::iequals(token, name)) return true;
    }
    return false;
}

template <class Fields>
void copy_end_to_end_headers(const Fields& from, Fields& to) {
    const auto connection = from[http::field::connection];
    for (const auto& field : from) {
        if (is_connection_specific(field.name())) continue;
        if (!connection.empty() && listed_in_connection(field.name_string(), connection)) continue;
        to.insert(field.name_string(), field.value());
    }
}

bool is_idempotent(http::verb method) {
    return method == http::verb::get || method == http::verb::head || method == http::verb::options ||
           method == http::verb::delete_ || method == http::verb::put;
}

bool has_no_body(unsigned status) { return status / 100 == 1 || status == 204 || status == 304; }

// A body the parser refused (a bad chunk, a bad length), as opposed to a connection that broke.
bool is_malformed(const boost::system::error_code& ec) {
    return ec && ec.category() == make_error_code(http::error::bad_chunk).category() && ec != http::error::partial_message &&
           ec != http::error::end_of_stream;
}

std::string describe(const boost::system::error_code& ec) {
    if (ec == beast::error::timeout) return "timed out";
    if (ec == http::error::end_of_stream || ec == asio::error::eof) return "connection closed by ollama";
    return ec.message();
}

}  // namespace

void rewrite_request_body(EventLoop& loop, std::shared_ptr<const Config> config, std::string_view path,
                          std::string& body, std::function<void(std::string rewritten)> then) {
    if (config->rewrite.models.empty()) {
        then({});
        return;
    }
    loop.catalog->when_ready(loop.io.get_executor(),
                             [&loop, config = std::move(config), path = std::string(path), &body, then = std::move(then)] {
                                 const auto facts = loop.catalog->facts();
                                 auto result = rewrite_request(path, body, config->rewrite, *facts,
                                                               loop.json_workspace);
                                 if (result.body) body = std::move(*result.body);
                                 for (const auto& reason : result.reasons) spdlog::debug("rewrite {}: {}", path, escape_for_log(reason));
                                 then(result.header_value());
                             });
}

Relay::Relay(ClientSide client, EventLoop& loop, std::shared_ptr<const Config> config, const ApiKey* key,
             Route route, ExchangeRecord& record, Done done)
    : client_(client),
      loop_(loop),
      config_(std::move(config)),
      key_(key),
      route_(route),
      record_(record),
      done_(std::move(done)),
      send_deadline_(loop.io) {}

void Relay::start() {
    request_has_body_ = !client_.parser.is_done();
    build_upstream_request();
    if (request_has_body_ && route_.body == BodyHandling::read) {
        read_whole_body();
    } else if (!refused_model({})) {
        connect();
    }
}

// A key limited to some models may send only requests whose models sluice can read and the
// key may use (access_control's model_refusal); a refusal answers 403 here (true).
bool Relay::refused_model(std::string_view body) {
    if (!key_) return false;
    const auto refusal = model_refusal(*key_, target_path(client_.parser.get().target()), body, loop_.json_workspace);
    if (refusal) fail(403, *refusal);
    return refusal.has_value();
}

void Relay::build_upstream_request() {
    const auto& in = client_.parser.get();
    auto& out = upstream_request_;
    out.method_string(in.method_string());
    out.target(in.target());
    out.version(11);
    copy_end_to_end_headers(in.base(), out.base());

    out.set(http::field::host, config_->upstream.host_header);
    // Origins are sluice's business (the session refused those not allowed): Ollama, seeing its
    // own Host beside a browser's Origin, would refuse the request with 403.
    out.erase(http::field::origin);
    // With authentication on, the key (or session cookie) was for sluice: it goes no further.
    if (key_) {
        out.erase(http::field::authorization);
        out.erase(http::field::cookie);
    }
    // A chain too long to be real is replaced by the one address sluice knows (appending to it
    // could also pass the 64KiB a header field may have).
    const auto forwarded_for = in["X-Forwarded-For"];
    out.set("X-Forwarded-For", forwarded_for.empty() || forwarded_for.size() > max_forwarded_for_bytes
                                   ? std::string(client_.address)
                                   : fmt::format("{}, {}", forwarded_for, client_.address));
    if (in["X-Forwarded-Proto"].empty()) out.set("X-Forwarded-Proto", "http");

    // Expect: 100-continue goes to Ollama only when the body is streamed: Ollama then decides
    // whether it wants the body (a blob it already has is answered at once). A body sluice reads
    // itself is acknowledged by sluice.
    const bool expects_continue = beast::iequals(in[http::field::expect], "100-continue");
    out.erase(http::field::expect);
    if (request_has_body_ && route_.body == BodyHandling::stream) {
        if (in.chunked()) {
            out.chunked(true);
        } else {
            out.content_length(client_.parser.content_length());
        }
        if (expects_continue) {
            out.set(http::field::expect, "100-continue");
            expect_continue_ = true;
        }
    } else if (request_has_body_ && expects_continue) {
        const auto declared = client_.parser.content_length();
        if (!declared || *declared <= config_->limits.max_body_bytes) {
            asio::async_write(client_.stream, asio::buffer(continue_response),
                              [self = shared_from_this()](error_code, std::size_t) {});
        }
    }
}

// --- request body read whole (the routes sluice may rewrite) ---------------------------------

void Relay::read_whole_body() {
    const auto declared = client_.parser.content_length();
    if (declared && *declared > config_->limits.max_body_bytes) {
        fail(413, fmt::format("sluice: request body of {} bytes exceeds limits.max_body_bytes ({} bytes)",
                              *declared, config_->limits.max_body_bytes));
        return;
    }
    if (declared) whole_body_.reserve(*declared);
    read_request_piece(&Relay::on_whole_body_piece);
}

// The next piece of the request body, through the relay buffer, within timeouts.client_body.
void Relay::read_request_piece(void (Relay::*on_piece)(error_code)) {
    auto& body = client_.parser.get().body();
    body.data = client_.relay_buffer.data();
    body.size = client_.relay_buffer.size();
    client_.buffer.reserve(client_.relay_buffer.size());  // socket reads as large as the relay buffer
    client_.stream.expires_after(config_->timeouts.client_body);
    reading_body_ = true;
    http::async_read_some(client_.stream, client_.buffer, client_.parser,
                          [self = shared_from_this(), on_piece](error_code ec, std::size_t) {
                              self->reading_body_ = false;
                              if (self->completed_) {  // answered meanwhile (an early answer from Ollama)
                                  self->finish_when_idle();
                                  return;
                              }
                              ((*self).*on_piece)(ec);
                          });
}

std::size_t Relay::request_piece_size() const {
    return client_.relay_buffer.size() - client_.parser.get().body().size;
}

void Relay::on_whole_body_piece(error_code ec) {
    if (ec == http::error::need_buffer) ec = {};
    if (is_malformed(ec)) {
        fail(400, fmt::format("sluice: malformed request body: {}", ec.message()));
        return;
    }
    if (ec) {
        client_gone_ = true;
        complete({});
        return;
    }
    const auto size = request_piece_size();
    record_.bytes_in += size;
    if (whole_body_.size() + size > config_->limits.max_body_bytes) {
        fail(413, fmt::format("sluice: request body exceeds limits.max_body_bytes ({} bytes)",
                              config_->limits.max_body_bytes));
        return;
    }
    whole_body_.append(client_.relay_buffer.data(), size);
    if (!client_.parser.is_done()) {
        read_whole_body();
        return;
    }
    const bool encoded = !client_.parser.get()[http::field::content_encoding].empty();
    if (refused_model(encoded ? std::string_view() : whole_body_)) return;
    upstream_request_.content_length(whole_body_.size());
    const auto path = target_path(client_.parser.get().target());
    if (encoded || rewrite_route(path) == RewriteRoute::none) {
        connect();
        return;
    }
    rewrite_request_body(loop_, config_, path, whole_body_,
                         [self = shared_from_this()](std::string rewritten) {
                             self->rewritten_ = std::move(rewritten);
                             self->record_.rewrites = self->rewritten_;
                             self->upstream_request_.content_length(self->whole_body_.size());
                             self->connect();
                         });
}

// --- connection to Ollama ----------------------------------------------------------------------

void Relay::connect() {
    loop_.pool.acquire([self = shared_from_this()](error_code ec, std::unique_ptr<UpstreamConnection> connection) {
        self->on_connected(ec, std::move(connection));
    });
}

void Relay::on_connected(error_code ec, std::unique_ptr<UpstreamConnection> connection) {
    if (ec) {
        record_.upstream_unreachable = true;
        fail(502, fmt::format("sluice: cannot reach ollama at {}: {}", config_->upstream.url, describe(ec)));
        return;
    }
    upstream_ = std::move(connection);
    write_request();
}

bool Relay::can_replay() const {
    return !retried_ && upstream_ && upstream_->reused && !response_started_ &&
           (!request_has_body_ || route_.body == BodyHandling::read);
}

// A kept-alive connection can be closed by Ollama just as a request is written into it; such a
// request never reached Ollama, so it is sent once more on a new connection when its body is
// still at hand.
void Relay::retry_on_fresh_connection() {
    retried_ = true;
    upstream_.reset();
    loop_.pool.fresh_connection([self = shared_from_this()](error_code ec, std::unique_ptr<UpstreamConnection> c) {
        self->on_connected(ec, std::move(c));
    });
}

void Relay::write_request() {
    auto& body = upstream_request_.body();
    const bool whole = !request_has_body_ || route_.body == BodyHandling::read;
    body.data = whole_body_.empty() ? nullptr : whole_body_.data();
    body.size = whole_body_.size();
    body.more = !whole;
    request_serializer_.emplace(upstream_request_);
    upstream_->stream.expires_after(config_->timeouts.upstream_headers);
    auto handler = [self = shared_from_this()](error_code ec, std::size_t) { self->on_request_written(ec); };
    if (whole) {
        http::async_write(upstream_->stream, *request_serializer_, std::move(handler));
    } else {
        http::async_write_header(upstream_->stream, *request_serializer_, std::move(handler));
    }
}

void Relay::on_request_written(error_code ec) {
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
        if (can_replay()) {
            retry_on_fresh_connection();
            return;
        }
        fail(502, fmt::format("sluice: cannot reach ollama at {}: {}", config_->upstream.url, describe(ec)));
        return;
    }
    if (!request_has_body_ || route_.body == BodyHandling::read) {
        request_body_sent_ = true;
        read_response_header();
    } else if (expect_continue_) {
        // Ollama's 100 Continue, or its final answer without the body; meanwhile the client
        // may send its body without waiting (RFC 9110 10.1.1), and it goes up as it comes.
        read_response_header();
        read_request_body_piece();
    } else {
        read_request_body_piece();
    }
}

// --- request body streamed (blob uploads, everything sluice does not read) --------------------

void Relay::read_request_body_piece() {
    read_request_piece(&Relay::on_request_body_piece);
}

void Relay::on_request_body_piece(error_code ec) {
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
        // The client stopped sending its body (or sent a malformed one): the upload is
        // incomplete, so Ollama's side is closed rather than left waiting for bytes that will
        // never come.
        cancel_upstream();
        if (is_malformed(ec) && !response_started_) {
            fail(400, fmt::format("sluice: malformed request body: {}", ec.message()));
            return;
        }
        abandon();
        return;
    }
    const auto size = request_piece_size();
    record_.bytes_in += size;
    auto& body = upstream_request_.body();
    body.data = size ? client_.relay_buffer.data() : nullptr;
    body.size = size;
    body.more = !client_.parser.is_done();
    upstream_->stream.expires_after(config_->timeouts.upstream_headers);
    http::async_write(upstream_->stream, *request_serializer_,
                      [self = shared_from_this()](error_code write_ec, std::size_t) {
                          self->on_request_body_written(write_ec);
                      });
}

void Relay::on_request_body_written(error_code ec) {
    if (completed_) return;
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
        // Ollama may have answered without reading the whole body (a blob it already has) and
        // closed; its answer, if any, is still there to read.
        await_response_header();
        return;
    }
    if (client_.parser.is_done()) {
        request_body_sent_ = true;
        await_response_header();
    } else {
        read_request_body_piece();
    }
}

// --- response header ---------------------------------------------------------------------------

// After the body: the response header, unless a read for it is already pending (Expect:
// 100-continue) or the answer came before the body ended.
void Relay::await_response_header() {
    if (response_started_) return;
    if (!header_pending_) {
        read_response_header();
    } else if (request_body_sent_) {
        watch_client();
    }
}

void Relay::read_response_header() {
    response_parser_.emplace();
    response_parser_->header_limit(max_upstream_header_bytes);
    response_parser_->body_limit(boost::none);
    if (client_.parser.get().method() == http::verb::head) response_parser_->skip(true);
    upstream_->stream.expires_after(config_->timeouts.upstream_headers);
    if (request_body_sent_) watch_client();
    header_pending_ = true;
    http::async_read_header(upstream_->stream, upstream_->buffer, *response_parser_,
                            [self = shared_from_this()](error_code ec, std::size_t) { self->on_response_header(ec); });
}

void Relay::on_response_header(error_code ec) {
    header_pending_ = false;
    if (completed_) return;
    if (client_gone_) {
        complete({});
        return;
    }
    if (ec) {
        // Ollama may have been handling the request when the connection failed: only a request
        // that is safe to repeat is sent again (a chat would be generated twice).
        if (can_replay() && is_idempotent(client_.parser.get().method())) {
            retry_on_fresh_connection();
            return;
        }
        if (ec == beast::error::timeout) {
            fail(504, fmt::format("sluice: ollama at {} sent no response within timeouts.upstream_headers ({})",
                                  config_->upstream.url, config_->timeouts.upstream_headers));
        } else {
            fail(502, fmt::format("sluice: ollama at {} failed before responding: {}", config_->upstream.url,
                                  describe(ec)));
        }
        return;
    }
    if (response_parser_->get().result_int() / 100 == 1) {
        on_interim_response();
        return;
    }
    start_response();
}

void Relay::on_interim_response() {
    if (!(expect_continue_ && response_parser_->get().result() == http::status::continue_)) {
        read_response_header();  // other 1xx (103 Early Hints): nothing for the client here
        return;
    }
    // The body may already be flowing (the client did not wait); the final answer is read once
    // it has all gone up, so a long upload is not timed by timeouts.upstream_headers.
    expect_continue_ = false;
    asio::async_write(client_.stream, asio::buffer(continue_response),
                      [self = shared_from_this()](error_code ec, std::size_t) {
                          if (ec && !self->completed_) self->abandon();
                      });
    if (request_body_sent_) read_response_header();
}

void Relay::start_response() {
    const auto& in = response_parser_->get();
    const auto& request = client_.parser.get();
    auto& out = client_head_;
    out.result(in.result_int());
    out.reason(in.reason());
    out.version(11);
    copy_end_to_end_headers(in.base(), out.base());
    if (!rewritten_.empty()) out.set("X-Sluice-Rewrite", std::string_view(rewritten_).substr(0, max_rewrite_header_bytes));
    // A page of an allowed other origin may read the answer (same-origin pages need nothing).
    if (const auto origin = allowed_cross_origin(config_->cors, request[http::field::origin], request[http::field::host]);
        !origin.empty()) {
        out.set(http::field::access_control_allow_origin, origin);
        out.insert(http::field::vary, "Origin");
    }
    // The rewritten model may have been removed since the catalog last looked.
    if (in.result() == http::status::not_found && route_.body == BodyHandling::read) loop_.catalog->refresh_soon();

    // The body goes out framed as Ollama framed it, byte for byte, except to an HTTP/1.0 client,
    // which cannot take chunks: it gets the de-chunked pieces, and the end of the body is the
    // end of the connection.
    const bool bodiless = request.method() == http::verb::head || has_no_body(in.result_int());
    bool keep_alive = request.keep_alive() && client_.parser.is_done();
    if (bodiless) {
        if (const auto length = in[http::field::content_length]; !length.empty()) {
            out.set(http::field::content_length, length);  // what a GET would have carried
        }
    } else if (const auto length = response_parser_->content_length()) {
        out.content_length(*length);
    } else if (response_parser_->chunked() && request.version() >= 11) {
        out.chunked(true);
    } else {
        keep_alive = false;  // read until the connection closes
        if (response_parser_->chunked()) response_parser_->get().body().pieces = &dechunked_;
    }
    out.keep_alive(keep_alive);
    if (route_.generation) response_parser_->get().body().tail = &tail_;
    record_.streamed = response_parser_->chunked();
    record_.status = in.result_int();
    response_started_ = true;
    // No per-operation timers while the body flows: generation and pulls legitimately take
    // long, and the client's write deadline is the one lazy timer below.
    upstream_->stream.expires_never();
    client_.stream.expires_never();
    arm_send_deadline();
    upstream_->buffer.reserve(config_->limits.stream_buffer_bytes);

    head_serializer_.emplace(client_head_);
    writing_ = true;
    write_started_ = Clock::now();
    http::async_write_header(client_.stream, *head_serializer_,
                             [self = shared_from_this()](error_code ec, std::size_t) { self->on_head_written(ec); });
}

void Relay::on_head_written(error_code ec) {
    writing_ = false;
    if (ec) {
        abandon();
    } else if (response_parser_->is_done()) {
        finish_response();
    } else {
        write_response_body(upstream_->buffer.size());  // body bytes that came with the header, if any
    }
}

// --- response body -----------------------------------------------------------------------------

// Each read from Ollama lands in the upstream connection's buffer (limits.stream_buffer_bytes):
// those bytes are written to the client as they are, and only then is Ollama read again. The
// parser looks at the same bytes to find where the body ends; the few bytes of a chunk header
// split across two reads stay in the buffer (already forwarded) until the next read completes them.
void Relay::read_response_body() {
    auto& buffer = upstream_->buffer;
    upstream_->stream.socket().async_read_some(
        buffer.prepare(buffer.capacity() - buffer.size()),
        [self = shared_from_this()](error_code ec, std::size_t bytes) { self->on_response_read(ec, bytes); });
}

void Relay::on_response_read(error_code ec, std::size_t bytes) {
    if (client_gone_) {
        complete({});
        return;
    }
    if (ec == asio::error::eof && response_parser_->need_eof()) {
        response_parser_->put_eof(ec);  // a body that ends with the connection
        write_response_body(0);
        return;
    }
    if (ec) {
        // Ollama broke off mid-response; the client sees the stream end without its last chunk.
        record_.outcome = "ollama closed the stream early";
        complete({});
        return;
    }
    upstream_->buffer.commit(bytes);
    write_response_body(bytes);
}

void Relay::write_response_body(std::size_t fresh) {
    auto& buffer = upstream_->buffer;
    const auto* fresh_bytes = static_cast<const char*>(buffer.data().data()) + buffer.size() - fresh;
    dechunked_.clear();
    error_code ec;
    while (buffer.size() > 0 && !response_parser_->is_done()) {
        buffer.consume(response_parser_->put(buffer.data(), ec));
        if (ec) break;
    }
    if (ec && ec != http::error::need_more) {
        record_.outcome = "ollama sent a malformed response";
        complete({});
        return;
    }
    if (response_parser_->is_done() && buffer.size() > 0) {
        fresh -= buffer.size();  // bytes past the end of the response are not the client's
        buffer.consume(buffer.size());
        upstream_reusable_ = false;
    }
    if (fresh > 0) {
        if (!record_.first_byte) record_.first_byte = Clock::now();
        record_.bytes_out += fresh;
    }
    if (fresh == 0 && !response_parser_->is_done()) {
        read_response_body();
        return;
    }
    auto handler = [self = shared_from_this()](error_code write_ec, std::size_t) { self->on_body_written(write_ec); };
    if (response_parser_->get().body().pieces) {
        writing_ = true;
        write_started_ = Clock::now();
        asio::async_write(client_.stream.socket(), dechunked_, std::move(handler));
        return;
    }
    // A client that keeps up has room in its socket buffer: the write is done at once, and the
    // next read from Ollama starts here, without a trip through the event loop. Only the rest
    // of a write the socket could not take waits for the client (backpressure).
    error_code write_ec;
    const auto written = client_.stream.socket().write_some(asio::buffer(fresh_bytes, fresh), write_ec);
    if (write_ec == asio::error::would_block) write_ec = {};
    if (write_ec || written == fresh) {
        on_body_written(write_ec);
        return;
    }
    writing_ = true;
    write_started_ = Clock::now();
    asio::async_write(client_.stream.socket(), asio::buffer(fresh_bytes + written, fresh - written), std::move(handler));
}

void Relay::on_body_written(error_code ec) {
    writing_ = false;
    if (ec) {
        abandon();
    } else if (response_parser_->is_done()) {
        finish_response();
    } else {
        read_response_body();
    }
}

void Relay::finish_response() {
    if (route_.generation) record_.stats = parse_generation_stats(tail_.contents());
    if (upstream_reusable_ && response_parser_->keep_alive() && request_body_sent_) {
        loop_.pool.release(std::move(upstream_));
    }
    RelayResult result;
    result.client_reusable = client_head_.keep_alive();
    complete(std::move(result));
}

// --- client liveness ---------------------------------------------------------------------------

// While Ollama works, a read stays pending on the client socket: EOF or a reset means the client
// went away, and the upstream connection is closed at once so Ollama stops generating. Bytes
// that arrive are pipelined requests; they stay in the session's buffer, bounded.
void Relay::watch_client() {
    if (watching_ || completed_ || client_.buffer.size() >= config_->limits.max_header_bytes) return;
    watching_ = true;
    client_.stream.socket().async_read_some(
        client_.buffer.prepare(watch_read_bytes),
        [self = shared_from_this()](error_code ec, std::size_t bytes) { self->on_client_readable(ec, bytes); });
}

void Relay::on_client_readable(error_code ec, std::size_t bytes) {
    watching_ = false;
    if (!ec) {
        client_.buffer.commit(bytes);
        if (completed_) {
            finish_when_idle();
        } else {
            watch_client();
        }
        return;
    }
    if (ec != asio::error::operation_aborted) {
        client_gone_ = true;
        record_.outcome = "client went away";
        if (!completed_) cancel_upstream();
    }
    if (completed_) finish_when_idle();
}

// A client that takes no byte for timeouts.client_send is dropped (and Ollama's stream with it).
// One timer per stream, checked lazily, rather than a timer update per written line.
void Relay::arm_send_deadline() {
    const auto limit = config_->timeouts.client_send;
    send_deadline_.expires_after(limit);
    send_deadline_.async_wait([self = shared_from_this(), limit](error_code ec) {
        if (ec || self->completed_) return;
        if (self->writing_ && Clock::now() - self->write_started_ >= limit) {
            self->record_.outcome = "client stopped reading (timeouts.client_send)";
            self->client_gone_ = true;
            self->cancel_upstream();
            error_code ignored;
            self->client_.stream.socket().close(ignored);  // fails the pending write
            return;
        }
        self->arm_send_deadline();
    });
}

// The client is gone (or stopped sending): Ollama's side is closed so it stops working for it.
void Relay::abandon() {
    client_gone_ = true;
    cancel_upstream();
    complete({});
}

void Relay::cancel_upstream() {
    if (upstream_) {
        error_code ignored;
        upstream_->stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
        upstream_->stream.socket().close(ignored);
    }
}

// --- completion --------------------------------------------------------------------------------

void Relay::fail(unsigned status, std::string message) {
    // Unread request bytes would be taken for the next request: such a connection is closed.
    RelayResult result;
    result.client_reusable = client_.parser.is_done() && client_.parser.get().keep_alive();
    result.error_status = status;
    result.error_message = std::move(message);
    complete(std::move(result));
}

void Relay::complete(RelayResult result) {
    if (completed_) return;
    completed_ = true;
    if (client_gone_) {
        result.client_reusable = false;
        record_.client_gone = true;
        if (record_.outcome.empty()) record_.outcome = "client went away";
    }
    result_ = std::move(result);
    send_deadline_.cancel();
    if (watching_ || reading_body_) {
        error_code ignored;
        client_.stream.socket().cancel(ignored);  // finish() runs when the read reports back
        return;
    }
    finish();
}

// The session takes the client socket back only when no read of the relay's is pending on it.
void Relay::finish_when_idle() {
    if (!watching_ && !reading_body_) finish();
}

void Relay::finish() {
    upstream_.reset();  // a connection not handed back to the pool is closed here
    auto done = std::move(done_);
    if (client_gone_) result_.client_reusable = false;
    done(std::move(result_));
}

}  // namespace sluice
