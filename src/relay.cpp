// relay: one proxied exchange, request up and response chunks down through one fixed buffer.
#include "sluice/relay.hpp"

#include "sluice/access_control.hpp"
#include "sluice/model_listing.hpp"
#include "sluice/ollama_api.hpp"
#include "sluice/request_target.hpp"

#include "sluice/rewrite.hpp"

#include <boost/asio/write.hpp>
#include <fmt/chrono.h>
#include <spdlog/spdlog.h>

namespace sluice {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

constexpr std::size_t watch_read_bytes = 4096;
constexpr std::size_t max_rewrite_header_bytes = 4096;

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

bool has_no_body(unsigned status) { return status / 100 == 1 || status == 204 || status == 304; }

}  // namespace

bool is_malformed_body(const boost::system::error_code& ec) {
    return ec && ec.category() == make_error_code(http::error::bad_chunk).category() && ec != http::error::partial_message &&
           ec != http::error::end_of_stream;
}

void rewrite_request_body(EventLoop& loop, std::shared_ptr<const Config> config, std::string_view path,
                          std::string& body, std::function<void(std::string rewritten, std::string model)> then) {
    if (config->rewrite.models.empty()) {
        then({}, {});
        return;
    }
    loop.services.catalog.when_ready(loop.io.get_executor(),
                             [&loop, config = std::move(config), path = std::string(path), &body, then = std::move(then)] {
                                 const auto facts = loop.services.catalog.facts();
                                 auto result = rewrite_request(path, body, config->rewrite, *facts,
                                                               loop.json_workspace);
                                 if (result.body) body = std::move(*result.body);
                                 for (const auto& reason : result.reasons) spdlog::debug("rewrite {}: {}", path, escape_for_log(reason));
                                 then(result.header_value(), std::move(result.model));
                             });
}

namespace {

// The model a request names: the rewriter's reading, else the first its body names ("": none).
std::string requested_model(EventLoop& loop, const OllamaRoute* route, std::string_view path, std::string_view body,
                            std::string_view model) {
    if (!model.empty() || body.empty()) return std::string(model);
    auto named = models_named(route, path, body, loop.json_workspace);
    return named && !named->empty() ? std::move(named->front()) : std::string();
}

}  // namespace

std::optional<std::string> choose_backends(EventLoop& loop, UpstreamCall& call, std::string_view path,
                                           std::string_view body, std::string_view model, bool generation,
                                           bool may_wait) {
    auto& fleet = loop.services.fleet;
    if (!fleet.chooses()) return std::nullopt;
    const auto* route = find_ollama_route(path);
    if (route && !route->inference) {
        call.set_backends(fleet.manage(), false, {});
        return std::nullopt;
    }
    auto named = requested_model(loop, route, path, body, model);
    const bool sticky = fleet.size() > 1 && call.config().routing.sticky.count() > 0;
    const auto conversation = sticky ? conversation_mark(route, body, named, loop.json_workspace) : 0;
    const auto order = fleet.route(named, conversation);
    if (generation && may_wait && order.full) return named;
    call.set_backends(order, generation, named, conversation);
    return std::nullopt;
}

std::string line_full_message(std::string_view model, std::size_t max_waiting) {
    return fmt::format("sluice: every ollama that has {} is running its max_generations{}; try again shortly", model,
                       max_waiting > 0 ? fmt::format(" and {} requests wait for it (queue.max_waiting)", max_waiting) : "");
}

std::string line_timeout_message(std::string_view model, std::chrono::milliseconds max_wait) {
    return fmt::format("sluice: no ollama that has {} had room within queue.max_wait ({})", model, max_wait);
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
      upstream_(loop, *config_),
      send_deadline_(loop.io) {}

void Relay::start() {
    request_has_body_ = !client_.parser.is_done();
    if (key_ && !key_->models.empty()) {
        if (const auto* route = find_ollama_route(target_path(client_.parser.get().target()))) listing_ = route->listing;
    }
    build_upstream_request();
    if (request_has_body_ && route_.body == BodyHandling::read) {
        read_whole_body();
    } else if (!refused_model({})) {
        send();
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
    auto& out = upstream_.request();
    out.method_string(in.method_string());
    out.target(in.target());
    out.version(11);
    copy_end_to_end_headers(in.base(), out.base());
    upstream_.set_forwarding(client_.address, in["X-Forwarded-For"], in["X-Forwarded-Proto"], client_.stream.tls());
    // Origins are sluice's business (the session refused those not allowed): Ollama, seeing its
    // own Host beside a browser's Origin, would refuse the request with 403.
    out.erase(http::field::origin);
    if (listing_ != ModelListing::none) out.erase(http::field::accept_encoding);  // a list sluice reads, in plain JSON
    // With authentication on, the key (or session cookie) was for sluice: it goes no further.
    if (key_) {
        out.erase(http::field::authorization);
        out.erase(http::field::cookie);
    }

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

// The next piece of the request body, through the body buffer, within timeouts.client_body.
void Relay::read_request_piece(void (Relay::*on_piece)(error_code)) {
    const auto size = config_->limits.stream_buffer_bytes;
    // Not zero-filled: pages a small body never reaches never become resident.
    if (!body_buffer_) body_buffer_ = std::make_unique_for_overwrite<char[]>(size);
    auto& body = client_.parser.get().body();
    body.data = body_buffer_.get();
    body.size = size;
    client_.buffer.reserve(size);  // socket reads as large as the body buffer
    client_.stream.tcp().expires_after(config_->timeouts.client_body);
    reading_body_ = true;
    http::async_read_some(client_.stream, client_.buffer, client_.parser,
                          [self = shared_from_this(), on_piece](error_code ec, std::size_t) {
                              self->reading_body_ = false;
                              if (self->completed()) {  // answered meanwhile (an early answer from Ollama)
                                  self->finish_when_idle();
                                  return;
                              }
                              ((*self).*on_piece)(ec);
                          });
}

std::size_t Relay::request_piece_size() const {
    return config_->limits.stream_buffer_bytes - client_.parser.get().body().size;
}

void Relay::on_whole_body_piece(error_code ec) {
    if (ec == http::error::need_buffer) ec = {};
    if (is_malformed_body(ec)) {
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
    whole_body_.append(body_buffer_.get(), size);
    if (!client_.parser.is_done()) {
        read_whole_body();
        return;
    }
    const bool encoded = !client_.parser.get()[http::field::content_encoding].empty();
    if (refused_model(encoded ? std::string_view() : whole_body_)) return;
    const auto path = target_path(client_.parser.get().target());
    if (encoded || rewrite_route(path) == RewriteRoute::none) {
        send();
        return;
    }
    rewrite_request_body(loop_, config_, path, whole_body_,
                         [self = shared_from_this()](std::string rewritten, std::string model) {
                             self->record_.rewrites = std::move(rewritten);
                             self->record_.model = std::move(model);
                             self->send();
                         });
}

// --- the request to Ollama --------------------------------------------------------------------

// Sent whole when sluice holds the body (then it may go twice, see UpstreamCall), else its
// header first and the body as the client sends it.
bool Relay::body_at_hand() const { return !request_has_body_ || route_.body == BodyHandling::read; }

Relay::~Relay() { leave_line(); }

void Relay::send() {
    const auto path = target_path(client_.parser.get().target());
    const auto model = route_.generation && loop_.services.fleet.chooses()
                           ? requested_model(loop_, find_ollama_route(path), path, whole_body_, record_.model)
                           : record_.model;
    // A newcomer waits behind those already waiting for its model; one whose turn came does not.
    if (route_.generation && !had_turn_ && !model.empty() && loop_.services.fleet.line_for(model)) {
        wait_turn(model);
        return;
    }
    if (auto full = choose_backends(loop_, upstream_, path, whole_body_, model, route_.generation, true)) {
        wait_turn(*full);
        return;
    }
    if (request_has_body_ && body_at_hand()) upstream_.request().content_length(whole_body_.size());
    upstream_.send(body_at_hand() ? std::optional<std::string_view>(whole_body_) : std::nullopt,
                   [self = shared_from_this()](std::optional<UpstreamError> error) { self->on_request_sent(std::move(error)); });
}

void Relay::on_request_sent(std::optional<UpstreamError> error) {
    if (error) {
        fail(*error);
        return;
    }
    if (body_at_hand()) {
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
        upstream_.cancel();
        if (is_malformed_body(ec) && phase_ == Phase::request) {
            fail(400, fmt::format("sluice: malformed request body: {}", ec.message()));
            return;
        }
        abandon();
        return;
    }
    const auto size = request_piece_size();
    record_.bytes_in += size;
    upstream_.write_body_piece(body_buffer_.get(), size, !client_.parser.is_done(),
                               [self = shared_from_this()](error_code write_ec, std::size_t) {
                                   self->on_request_body_written(write_ec);
                               });
}

void Relay::on_request_body_written(error_code ec) {
    if (completed()) return;
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
    if (phase_ != Phase::request) return;
    if (!upstream_.header_pending()) {
        read_response_header();
    } else if (request_body_sent_) {
        watch_client();
    }
}

void Relay::read_response_header() {
    if (request_body_sent_) watch_client();
    upstream_.read_header(client_.parser.get().method() == http::verb::head,
                          [self = shared_from_this()](std::optional<UpstreamError> error) {
                              self->on_response_header(std::move(error));
                          });
}

void Relay::on_response_header(std::optional<UpstreamError> error) {
    if (completed()) return;
    if (client_gone_) {
        complete({});
        return;
    }
    if (error) {
        fail(*error);
        return;
    }
    if (upstream_.response().get().result_int() / 100 == 1) {
        on_interim_response();
        return;
    }
    start_response();
}

void Relay::on_interim_response() {
    if (!(expect_continue_ && upstream_.response().get().result() == http::status::continue_)) {
        read_response_header();  // other 1xx (103 Early Hints): nothing for the client here
        return;
    }
    // The body may already be flowing (the client did not wait); the final answer is read once
    // it has all gone up, so a long upload is not timed by timeouts.upstream_headers.
    expect_continue_ = false;
    asio::async_write(client_.stream, asio::buffer(continue_response),
                      [self = shared_from_this()](error_code ec, std::size_t) {
                          if (ec && !self->completed()) self->abandon();
                      });
    if (request_body_sent_) read_response_header();
}

void Relay::start_response() {
    // A final answer has begun, so the request cannot go again (UpstreamCall let go of the body):
    // what the stream keeps from here on is what it relays. The body buffer only once the body
    // has gone up: an early answer can come while a piece is still being written from it.
    std::string().swap(whole_body_);
    if (request_body_sent_) body_buffer_.reset();
    auto& response = upstream_.response();
    const auto& in = response.get();
    const auto& request = client_.parser.get();
    auto& out = client_head_;
    out.result(in.result_int());
    out.reason(in.reason());
    out.version(11);
    copy_end_to_end_headers(in.base(), out.base());
    if (const std::string_view rewritten = record_.rewrites; !rewritten.empty()) {
        out.set("X-Sluice-Rewrite", rewritten.substr(0, max_rewrite_header_bytes));
    }
    if (loop_.services.fleet.size() > 1) {  // which box answered, for people and tools
        record_.backend = loop_.services.fleet.backend(upstream_.backend()).label();
        out.set("X-Sluice-Backend", record_.backend);
    }
    // A page of an allowed other origin may read the answer (same-origin pages need nothing).
    if (const auto origin = allowed_cross_origin(config_->cors, request[http::field::origin], request[http::field::host]);
        !origin.empty()) {
        out.set(http::field::access_control_allow_origin, origin);
        out.insert(http::field::vary, "Origin");
    }
    // The rewritten model may have been removed since the catalog last looked.
    if (in.result() == http::status::not_found && route_.body == BodyHandling::read) loop_.services.catalog.refresh_soon();

    // The body goes out framed as Ollama framed it, byte for byte, except to an HTTP/1.0 client,
    // which cannot take chunks: it gets the de-chunked pieces, and the end of the body is the
    // end of the connection.
    const bool bodiless = request.method() == http::verb::head || has_no_body(in.result_int());
    bool keep_alive = request.keep_alive() && client_.parser.is_done();
    if (bodiless) {
        if (const auto length = in[http::field::content_length]; !length.empty()) {
            out.set(http::field::content_length, length);  // what a GET would have carried
        }
    } else if (const auto length = response.content_length()) {
        out.content_length(*length);
    } else if (response.chunked() && request.version() >= 11) {
        out.chunked(true);
    } else {
        keep_alive = false;  // read until the connection closes
        if (response.chunked()) response.get().body().pieces = &dechunked_;
    }
    out.keep_alive(keep_alive);
    if (route_.generation) response.get().body().tail = &tail_;
    const bool filtered = listing_ != ModelListing::none && in.result() == http::status::ok && !bodiless;
    record_.streamed = response.chunked();
    record_.status = in.result_int();
    phase_ = Phase::response;
    // No per-operation timers while the body flows: generation and pulls legitimately take
    // long, and the client's write deadline is the one lazy timer below.
    upstream_.begin_body(config_->limits.stream_buffer_bytes);
    client_.stream.tcp().expires_never();
    arm_send_deadline();
    if (filtered) {
        response.get().body().whole = &listing_body_;
        read_listing(upstream_.take_buffered());
        return;
    }

    head_serializer_.emplace(client_head_);
    writing_ = true;
    write_started_ = Clock::now();
    http::async_write_header(client_.stream, *head_serializer_,
                             [self = shared_from_this()](error_code ec, std::size_t) { self->on_head_written(ec); });
}

// The list, read to its end before anything goes to the client: sluice writes it itself.
void Relay::read_listing(BodyPiece piece) {
    constexpr std::size_t max_listing_bytes = 16 * 1024 * 1024;  // thousands of models
    if (piece.state == BodyPiece::State::broken || piece.state == BodyPiece::State::malformed) {
        fail(502, "sluice: ollama broke off its model list");
    } else if (listing_body_.size() > max_listing_bytes) {
        fail(502, "sluice: ollama's model list is over 16 MiB");
    } else if (upstream_.response().is_done()) {
        send_listing();
    } else {
        upstream_.read_some([self = shared_from_this()](error_code ec, std::size_t bytes) {
            if (self->client_gone_) {
                self->complete({});
                return;
            }
            self->read_listing(self->upstream_.on_read(ec, bytes));
        });
    }
}

void Relay::send_listing() {
    auto list = filter_model_listing(listing_, listing_body_, [key = key_](std::string_view model) {
        return key_allows_model(*key, model);
    });
    if (!list) {
        fail(502, "sluice: ollama sent a model list sluice cannot read");
        return;
    }
    listing_body_ = std::move(*list);
    client_head_.erase(http::field::transfer_encoding);
    client_head_.content_length(listing_body_.size());
    record_.streamed = false;
    head_serializer_.emplace(client_head_);
    writing_ = true;
    write_started_ = Clock::now();
    http::async_write_header(client_.stream, *head_serializer_, [self = shared_from_this()](error_code ec, std::size_t) {
        if (ec) {
            self->writing_ = false;
            self->abandon();
            return;
        }
        self->record_.bytes_out += self->listing_body_.size();
        self->client_.stream.async_write_unbounded(asio::buffer(self->listing_body_),
                                                   [self](error_code write_ec, std::size_t) { self->on_body_written(write_ec); });
    });
}

void Relay::on_head_written(error_code ec) {
    writing_ = false;
    if (ec) {
        abandon();
    } else if (upstream_.response().is_done()) {
        finish_response();
    } else {
        write_response_body(upstream_.take_buffered());  // body bytes that came with the header, if any
    }
}

// --- response body -----------------------------------------------------------------------------

// Each read from Ollama lands in the upstream connection's buffer (limits.stream_buffer_bytes):
// those bytes are written to the client as they are, and only then is Ollama read again.
void Relay::read_response_body() {
    upstream_.read_some([self = shared_from_this()](error_code ec, std::size_t bytes) {
        if (self->client_gone_) {
            self->complete({});
            return;
        }
        self->write_response_body(self->upstream_.on_read(ec, bytes));
    });
}

void Relay::write_response_body(BodyPiece piece) {
    if (piece.state == BodyPiece::State::broken || piece.state == BodyPiece::State::malformed) {
        // Ollama broke off mid-response; the client sees the stream end without its last chunk.
        record_.outcome = piece.state == BodyPiece::State::broken ? "ollama closed the stream early"
                                                                  : "ollama sent a malformed response";
        complete({});
        return;
    }
    const auto fresh = piece.raw.size();
    if (fresh > 0) {
        if (!record_.first_byte) record_.first_byte = Clock::now();
        record_.bytes_out += fresh;
    }
    if (fresh == 0 && piece.state == BodyPiece::State::more) {
        read_response_body();
        return;
    }
    auto handler = [self = shared_from_this()](error_code write_ec, std::size_t) { self->on_body_written(write_ec); };
    if (upstream_.response().get().body().pieces) {
        writing_ = true;
        write_started_ = Clock::now();
        client_.stream.async_write_unbounded(dechunked_, std::move(handler));
        return;
    }
    // A client that keeps up has room in its socket buffer: the write is done at once, and the
    // next read from Ollama starts here, without a trip through the event loop. Only the rest
    // of a write the socket could not take waits for the client (backpressure).
    error_code write_ec;
    const auto written = client_.stream.write_now(asio::buffer(piece.raw), write_ec);
    if (write_ec == asio::error::would_block) write_ec = {};
    if (write_ec || written == fresh) {
        on_body_written(write_ec);
        return;
    }
    writing_ = true;
    write_started_ = Clock::now();
    client_.stream.async_write_unbounded(asio::buffer(piece.raw.substr(written)), std::move(handler));
}

void Relay::on_body_written(error_code ec) {
    writing_ = false;
    if (ec) {
        abandon();
    } else if (upstream_.response().is_done()) {
        finish_response();
    } else {
        read_response_body();
    }
}

void Relay::finish_response() {
    if (route_.generation) record_.stats = parse_generation_stats(tail_.contents());
    upstream_.release(request_body_sent_);
    RelayResult result;
    result.client_reusable = client_head_.keep_alive();
    complete(std::move(result));
}

// --- client liveness ---------------------------------------------------------------------------

// While Ollama works, a read stays pending on the client socket: EOF or a reset means the client
// went away, and the upstream connection is closed at once so Ollama stops generating. Bytes
// that arrive are pipelined requests; they stay in the session's buffer, bounded.
void Relay::watch_client() {
    if (watching_ || completed() || client_.buffer.size() >= config_->limits.max_header_bytes) return;
    watching_ = true;
    // The body's read room is not needed while the response streams: a watch read is small.
    if (client_.buffer.size() == 0) client_.buffer.shrink_to_fit();
    client_.stream.tcp().expires_never();  // the body read's deadline is over; the watch has none
    client_.stream.async_read_some_unbounded(
        client_.buffer.prepare(watch_read_bytes),
        [self = shared_from_this()](error_code ec, std::size_t bytes) { self->on_client_readable(ec, bytes); });
}

void Relay::on_client_readable(error_code ec, std::size_t bytes) {
    watching_ = false;
    if (!ec) {
        client_.buffer.commit(bytes);
        if (completed()) {
            finish_when_idle();
        } else {
            watch_client();
        }
        return;
    }
    if (ec != asio::error::operation_aborted) {
        client_gone_ = true;
        record_.outcome = "client went away";
        if (ticket_ != 0) {  // it was waiting in line: nothing went to Ollama
            leave_line();
            complete({});
            return;
        }
        if (!completed()) upstream_.cancel();
    }
    if (completed()) finish_when_idle();
}

// A client that takes no byte for timeouts.client_send is dropped (and Ollama's stream with it).
// One timer per stream, checked lazily, rather than a timer update per written line.
void Relay::arm_send_deadline() {
    const auto limit = config_->timeouts.client_send;
    send_deadline_.expires_after(limit);
    send_deadline_.async_wait([self = shared_from_this(), limit](error_code ec) {
        if (ec || self->completed()) return;
        if (self->writing_ && Clock::now() - self->write_started_ >= limit) {
            self->record_.outcome = "client stopped reading (timeouts.client_send)";
            self->client_gone_ = true;
            self->upstream_.cancel();
            error_code ignored;
            self->client_.stream.tcp().socket().close(ignored);  // fails the pending write
            return;
        }
        self->arm_send_deadline();
    });
}

// --- waiting for a backend with room ---------------------------------------------------------

// Every backend that has the model runs max_generations: the request waits in the fleet's line
// (queue.max_waiting per model, at most queue.max_wait), or is answered 503 with Retry-After.
// The client is watched meanwhile: one that leaves takes its place with it.
void Relay::wait_turn(const std::string& model) {
    const auto& queue = config_->queue;
    ticket_ = join_line(loop_, queue, model, weak_from_this(), &Relay::on_turn, had_turn_);
    if (ticket_ == 0) {
        refuse_busy(line_full_message(model, queue.max_waiting));
        return;
    }
    send_deadline_.expires_after(queue.max_wait);
    send_deadline_.async_wait([self = shared_from_this(), model](error_code ec) {
        if (ec || self->ticket_ == 0) return;
        self->leave_line();
        self->refuse_busy(line_timeout_message(model, self->config_->queue.max_wait));
    });
    watch_client();
}

// Busy, not broken: a 503 that says when to come back.
void Relay::refuse_busy(std::string message) {
    RelayResult busy;
    busy.client_reusable = client_.parser.is_done() && client_.parser.get().keep_alive();
    busy.error_status = 503;
    busy.error_message = std::move(message);
    busy.retry_after = 5;
    complete(std::move(busy));
}

bool Relay::on_turn() {
    ticket_ = 0;  // the fleet took it out of the line
    if (completed()) return false;
    had_turn_ = true;
    send_deadline_.cancel();
    send();
    return true;
}

void Relay::leave_line() {
    if (ticket_ != 0) loop_.services.fleet.leave_line(std::exchange(ticket_, 0));
}

// The client is gone (or stopped sending): Ollama's side is closed so it stops working for it.
void Relay::abandon() {
    client_gone_ = true;
    upstream_.cancel();
    complete({});
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

void Relay::fail(const UpstreamError& error) {
    record_.upstream_unreachable = error.unreachable;
    fail(error.status, error.message);
}

void Relay::complete(RelayResult result) {
    if (completed()) return;
    phase_ = Phase::completed;
    if (client_gone_) {
        result.client_reusable = false;
        record_.client_gone = true;
        if (record_.outcome.empty()) record_.outcome = "client went away";
    }
    result_ = std::move(result);
    send_deadline_.cancel();
    if (watching_ || reading_body_) {
        error_code ignored;
        client_.stream.tcp().socket().cancel(ignored);  // finish() runs when the read reports back
        return;
    }
    finish();
}

// The session takes the client socket back only when no read of the relay's is pending on it.
void Relay::finish_when_idle() {
    if (!watching_ && !reading_body_) finish();
}

void Relay::finish() {
    upstream_.close();  // a connection not handed back to the pool is closed here
    auto done = std::move(done_);
    if (client_gone_) result_.client_reusable = false;
    done(std::move(result_));
}

}  // namespace sluice
