// http_session: one client connection, request after request.
#include "sluice/http_session.hpp"

#include "sluice/admission.hpp"
#include "sluice/conversation_api.hpp"
#include "sluice/conversation_store.hpp"
#include "sluice/fleet_listing.hpp"
#include "sluice/health.hpp"
#include "sluice/json_error.hpp"
#include "sluice/metrics.hpp"
#include "sluice/ollama_api.hpp"
#include "sluice/page_api.hpp"
#include "sluice/router.hpp"
#include "sluice/ui_assets.hpp"
#include "sluice/upstream_fetch.hpp"
#include "sluice/ws_session.hpp"

#include "sluice/ascii.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/beast/core/detect_ssl.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <spdlog/spdlog.h>

namespace sluice {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {
constexpr auto linger_time = std::chrono::seconds(2);
constexpr std::size_t drain_read_bytes = 4096;

std::string body_too_large_message(std::size_t limit) {
    return fmt::format("sluice: request body exceeds limits.max_body_bytes ({} bytes); raise it in sluice's config", limit);
}
}  // namespace

HttpSession::HttpSession(Socket socket, EventLoop& loop)
    : stream_(std::move(socket)), loop_(loop) {
    error_code ec;
    auto& tcp = stream_.tcp().socket();
    const auto remote = tcp.remote_endpoint(ec);
    address_ = ec ? "-" : remote.address().to_string();
    tcp.set_option(asio::ip::tcp::no_delay(true), ec);
    tcp.non_blocking(true, ec);  // the relay's immediate writes must never block the loop
}

HttpSession::~HttpSession() {
    if (in_exchange_) --loop_.services.state.active_exchanges;
    loop_.sessions.erase(this);
    --loop_.services.state.open_connections;
}

void HttpSession::start() {
    loop_.sessions.insert(this);
    if (auto context = loop_.config->tls.context) {
        detect_tls(std::move(context));
    } else {
        read_request();
    }
}

// A TLS ClientHello, or plain HTTP from someone who typed the address without https://; the
// bytes read to tell stay in buffer_ for whichever reads next.
void HttpSession::detect_tls(std::shared_ptr<asio::ssl::context> context) {
    stream_.tcp().expires_after(loop_.config->timeouts.client_header);
    beast::async_detect_ssl(stream_.tcp(), buffer_,
                            [self = shared_from_this(), context = std::move(context)](error_code detect_ec, bool tls) mutable {
                                if (detect_ec) {
                                    self->stream_.tcp().close();  // closed, idle or slow before a first byte
                                } else if (!tls) {
                                    self->plain_on_tls_port_ = true;
                                    self->read_request();
                                } else {
                                    self->stream_.start_tls(std::move(context));
                                    self->stream_.tls_stream().async_handshake(
                                        asio::ssl::stream_base::server, self->buffer_.data(),
                                        // `= 0`: Beast 1.81 checks this handler against void(error_code).
                                        [self](error_code ec, std::size_t used = 0) { self->on_tls_handshake(ec, used); });
                                }
                            });
}

void HttpSession::on_tls_handshake(error_code ec, std::size_t bytes_used) {
    if (ec) {
        // A browser that does not trust the certificate yet ends here, once per attempt.
        spdlog::debug("{}: TLS handshake failed: {}", address_, ec.message());
        stream_.tcp().close();
        return;
    }
    buffer_.consume(bytes_used);
    read_request();
}

// Shutting the socket down (not closing it) fails every pending read and write on it with a
// real error rather than operation_aborted, so the relay takes its usual client-gone path.
void HttpSession::cut() {
    error_code ignored;
    stream_.tcp().socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
}

void HttpSession::read_request() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(loop_.config->limits.max_header_bytes));
    parser_->body_limit(boost::none);  // streamed bodies are unbounded; read bodies are checked by the relay
    stream_.tcp().expires_after(loop_.config->timeouts.client_header);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](error_code ec, std::size_t) { self->on_request_header(ec); });
}

void HttpSession::on_request_header(error_code ec) {
    config_ = loop_.config;  // this exchange's settings, whatever a reload does meanwhile
    record_ = ExchangeRecord{};
    record_.client = address_;
    record_.start = Clock::now();
    if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == beast::error::timeout ||
        ec == asio::error::connection_reset || ec == asio::error::operation_aborted) {
        close();  // the client is done with this connection (or idled past timeouts.client_header)
        return;
    }
    if (ec == http::error::header_limit) {
        send_error(431, fmt::format("sluice: request header exceeds limits.max_header_bytes ({} bytes)",
                                    config_->limits.max_header_bytes),
                   false);
        return;
    }
    if (ec.category() == make_error_code(http::error::bad_target).category()) {
        send_error(400, fmt::format("sluice: malformed request: {}", ec.message()), false);
        return;
    }
    if (ec) {
        spdlog::debug("{}: read error: {}", address_, ec.message());
        close();
        return;
    }

    auto& request = parser_->get();
    record_.method = request.method_string();
    record_.target = request.target();
    begin_exchange();
    if (plain_on_tls_port_) {
        redirect_to_https();
        return;
    }
    const AdmissionContext context{*config_, loop_.services.browser_sessions, loop_.services.local_names, loop_.services.state.draining};
    auto admission = admit(request, context);
    const bool keep_alive = request.keep_alive() && parser_->is_done();
    if (auto* refused = std::get_if<Refused>(&admission)) {
        record_.handler = refused->handler;
        if (refused->key) record_.key = refused->key->name;
        send_error(refused->status, refused->message, keep_alive && !refused->close);
        return;
    }
    if (std::holds_alternative<Preflight>(admission)) {
        answer_preflight();
        return;
    }
    const auto& admitted = std::get<Admitted>(admission);
    const auto route = admitted.route;
    record_.handler = route.handler;
    if (admitted.key) record_.key = admitted.key->name;
    switch (route.handler) {
    case Handler::healthz:
    case Handler::readyz:
        serve_health(route.handler);
        return;
    case Handler::ui_asset:
        serve_ui_asset();
        return;
    case Handler::login:
    case Handler::logout:
        serve_session(route.handler);
        return;
    case Handler::metrics:
        serve_metrics();
        return;
    case Handler::page_api:
        serve_page_api(admitted.key);
        return;
    case Handler::websocket:
        start_websocket(admitted);
        return;
    case Handler::proxy:
        if (!within_key_limits(admitted.key, route.generation, keep_alive)) return;
        if (serve_fleet_view(admitted.key)) return;
        break;
    }
    record_.generation = route.generation;
    stream_.tcp().expires_never();
    if (loop_.services.metrics) active_stream_ = loop_.services.metrics->stream_started();
    const ClientSide client{stream_, buffer_, *parser_, address_};
    std::make_shared<Relay>(client, loop_, config_, admitted.key, route, record_,
                            [self = shared_from_this()](RelayResult result) { self->on_exchange_done(std::move(result)); })
        ->start();
}

// A request for Ollama counts against its key's requests_per_minute and, a generation, its
// max_streams (held until the exchange ends); past either, 429 with Retry-After.
bool HttpSession::within_key_limits(const ApiKey* key, bool generation, bool keep_alive) {
    if (!key) return true;
    auto decision = loop_.services.key_limits.admit(*key, generation);
    if (decision.status != 0) {
        send_error(decision.status, decision.message, keep_alive, decision.retry_after);
        return false;
    }
    key_stream_ = std::move(decision.stream);
    return true;
}

// The upgrade is checked here, where a refusal is still an HTTP answer; then the socket leaves
// this session for a WsSession, and this session ends without closing it.
void HttpSession::start_websocket(const Admitted& access) {
    const auto& request = parser_->get();
    if (!beast::websocket::is_upgrade(request)) {
        send_error(400, "sluice: /_sluice/ws takes a WebSocket upgrade", false);
        return;
    }
    http::request<http::empty_body> upgrade{request.base()};
    std::string session(access.session);  // a view into the request, copied before it goes
    record_.status = 101;
    end_exchange_without_reading();
    std::make_shared<WsSession>(std::move(stream_), std::move(upgrade), loop_, address_, access.key, std::move(session))
        ->start();
}

// The embedded page's files, gzip-compressed when the browser takes it. Nothing is copied: the
// response body points into the binary's read-only data. With ui.dir (UI development) each file
// is read from that directory as it is asked for, uncompressed and never cached.
void HttpSession::serve_ui_asset() {
    const auto& request = parser_->get();
    const bool keep_alive = request.keep_alive() && parser_->is_done();
    const auto name = ui_file_name(target_path(request.target()));
    std::shared_ptr<const std::string> from_dir;
    const UiAsset* asset = nullptr;
    if (!config_->ui.dir.empty()) {
        if (auto file = read_ui_file(config_->ui.dir, name)) from_dir = std::make_shared<const std::string>(std::move(*file));
    } else {
        asset = find_ui_asset(target_path(request.target()));
    }
    if (!asset && !from_dir) {
        send_error(404, "sluice: no such file in the browser UI", keep_alive);
        return;
    }
    if (request.method() != http::verb::get && request.method() != http::verb::head) {
        send_error(405, "sluice: the browser UI's files take GET", keep_alive);
        return;
    }
    const bool gzip = asset && !asset->gzip.empty() &&
                      request[http::field::accept_encoding].find("gzip") != std::string_view::npos;
    const std::string_view bytes = from_dir ? std::string_view(*from_dir) : gzip ? asset->gzip : asset->body;
    auto response = std::make_shared<http::response<http::span_body<const char>>>(http::status::ok, 11);
    response->set(http::field::content_type, ui_content_type(name));
    if (gzip) response->set(http::field::content_encoding, "gzip");
    response->set(http::field::vary, "Accept-Encoding");
    response->set(http::field::cache_control,
                  asset && is_immutable_ui_asset(*asset) ? "public, max-age=31536000, immutable" : "no-cache");
    response->set("X-Content-Type-Options", "nosniff");
    response->body() = {bytes.data(), bytes.size()};
    response->prepare_payload();
    response->keep_alive(keep_alive);
    record_.status = 200;
    const bool head = request.method() == http::verb::head;
    record_.bytes_out = head ? 0 : bytes.size();
    stream_.tcp().expires_after(config_->timeouts.client_send);
    auto serializer = std::make_shared<http::response_serializer<http::span_body<const char>>>(*response);
    const auto written = [self = shared_from_this(), response, serializer, from_dir, keep_alive](error_code ec, std::size_t) {
        self->end_exchange(keep_alive && !ec);
    };
    if (head) {
        http::async_write_header(stream_, *serializer, written);
    } else {
        http::async_write(stream_, *serializer, written);
    }
}

// Answered from what sluice already knows (a drain is answered before routing, with 503): a
// probe never waits on Ollama, and a flood of probes costs no upstream connection.
void HttpSession::serve_health(Handler handler) {
    const bool keep_alive = parser_->get().keep_alive() && parser_->is_done();
    if (!takes_get_or_head(keep_alive)) return;
    auto answer = handler == Handler::healthz
                      ? healthz_answer()
                      : readyz_answer(loop_.services.fleet.readiness(), *config_, std::chrono::steady_clock::now());
    send_json(answer.status, std::move(answer.body), keep_alive);
}

// The page's login: the key arrives once, as `Authorization: Bearer`, and the answer sets a
// cookie the script cannot read (HttpOnly) and no other site's page can send (SameSite=Strict).
void HttpSession::serve_session(Handler handler) {
    const auto& request = parser_->get();
    const bool keep_alive = request.keep_alive() && parser_->is_done();
    if (request.method() != http::verb::post) {
        send_error(405, fmt::format("sluice: {} takes POST", target_path(request.target())), keep_alive);
        return;
    }
    // Secure when the page came over TLS: the browser then never sends the cookie in clear.
    const auto cookie = [secure = stream_.tls()](std::string_view token, long long max_age) {
        return fmt::format("{}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}", BrowserSessions::cookie_name, token,
                           max_age, secure ? "; Secure" : "");
    };
    if (handler == Handler::logout) {
        loop_.services.browser_sessions.close(cookie_value(request[http::field::cookie], BrowserSessions::cookie_name));
        send_json(200, R"({"status":"logged out"})", keep_alive, cookie("", 0));
        return;
    }
    const auto& auth = config_->auth;
    if (auth.keys.empty()) {
        send_json(200, R"({"status":"no keys configured"})", keep_alive);
        return;
    }
    const ApiKey* key = find_api_key(auth, bearer_token(request[http::field::authorization]));
    if (!key) {
        send_error(401, "sluice: invalid API key", keep_alive);
        return;
    }
    record_.key = key->name;
    const auto token = loop_.services.browser_sessions.open(auth, *key, auth.session_ttl);
    std::string body = R"({"key":")";
    append_json_escaped(body, key->name);
    body += "\"}";
    send_json(200, std::move(body), keep_alive,
              cookie(token, std::chrono::duration_cast<std::chrono::seconds>(auth.session_ttl).count()));
}

// Prometheus' scrape. Read-only, so GET and HEAD only; the text is made from counters the
// exchanges fed as they finished, so a scrape costs no upstream request.
void HttpSession::serve_metrics() {
    const bool keep_alive = parser_->get().keep_alive() && parser_->is_done();
    if (!takes_get_or_head(keep_alive)) return;
    if (!loop_.services.metrics) {  // metrics.path was set by a reload; counting starts with the process
        send_error(404, "sluice: metrics were off when sluice started; restart it to turn them on", keep_alive);
        return;
    }
    own_response_ = std::make_shared<http::response<http::string_body>>(http::status::ok, 11);
    own_response_->set(http::field::content_type, Metrics::content_type);
    own_response_->set(http::field::cache_control, "no-store");
    std::vector<BackendReading> backends;
    if (const auto& fleet = loop_.services.fleet; fleet.size() > 1) {
        for (std::size_t i = 0; i < fleet.size(); ++i) backends.push_back({fleet.backend(i).label(), fleet.up(i), fleet.active(i)});
    }
    own_response_->body() = loop_.services.metrics->scrape(backends);
    write_own_response(keep_alive);
}

// The page's questions about sluice. The rewriter's plan needs the catalog's first answer (or
// failure), as a proxied request does; the doctor asks Ollama afresh (a coroutine on this loop,
// each request bounded); the answer itself is computed from what they got.
void HttpSession::serve_page_api(const ApiKey* key) {
    const auto& request = parser_->get();
    if (is_conversation_api(request.target())) {
        serve_conversations(key);
        return;
    }
    const auto respond = [self = shared_from_this(), key](const DoctorFacts* doctor) {
        const auto& asked = self->parser_->get();
        const auto facts = self->loop_.services.catalog.facts();
        self->send_answer(answer_page_api(asked.method_string(), asked.target(), *self->config_, key,
                                          facts ? *facts : ModelFacts{}, doctor));
    };
    if (page_api_wants_doctor(request.method_string(), request.target(), key)) {
        asio::co_spawn(loop_.io, gather_doctor_facts(loop_.io, *config_),
                       [respond, url = config_->upstream().url](std::exception_ptr failed, DoctorFacts facts) {
                           if (failed) facts = DoctorFacts{url, "sluice could not gather the facts", {}, {}, {}, {}};
                           respond(&facts);
                       });
        return;
    }
    loop_.services.catalog.when_ready(loop_.io.get_executor(), [respond] { respond(nullptr); });
}

// A fleet's lists of models and version, which no one backend can answer: each backend that is
// up (or every one, when none is) is asked at once, and the answers merged (fleet_listing.hpp).
// False for every other request, which is proxied.
bool HttpSession::serve_fleet_view(const ApiKey* key) {
    const auto& request = parser_->get();
    auto& fleet = loop_.services.fleet;
    if (fleet.size() == 1 || request.method() != http::verb::get || !parser_->is_done()) return false;
    const auto path = target_path(request.target());
    const auto* route = find_ollama_route(path);
    if (!route || route->prefix || (route->listing == ModelListing::none && path != "/api/version")) return false;

    struct Gather {
        std::string path;  // outlives the fetches, which hold views of it
        std::vector<BackendAnswer> answers;
        std::vector<std::string> errors;
        std::size_t pending = 0;
    };
    auto gather = std::make_shared<Gather>();
    gather->path = path;
    // Which to ask, decided once: the probes may change their minds meanwhile.
    std::vector<std::size_t> asked;
    for (std::size_t backend = 0; backend < fleet.size(); ++backend) {
        if (fleet.up(backend)) asked.push_back(backend);
    }
    if (asked.empty()) {
        for (std::size_t backend = 0; backend < fleet.size(); ++backend) asked.push_back(backend);
    }
    for (const auto backend : asked) gather->answers.push_back({fleet.backend(backend).label(), {}});
    gather->errors.resize(gather->answers.size());
    gather->pending = gather->answers.size();
    const auto done = [self = shared_from_this(), gather, key, listing = route->listing] {
        const bool keep_alive = self->parser_->get().keep_alive();
        auto merged = listing == ModelListing::none ? merge_versions(gather->answers)
                                                    : merge_model_listings(listing, gather->answers);
        if (merged && key && !key->models.empty()) {
            merged = filter_model_listing(listing, *merged, [key](std::string_view model) { return key_allows_model(*key, model); });
        }
        if (!merged) {
            std::string why;
            for (std::size_t i = 0; i < gather->answers.size(); ++i) {
                why += fmt::format("{}{}: {}", why.empty() ? "" : "; ", gather->answers[i].backend,
                                   gather->errors[i].empty() ? "not a model list" : gather->errors[i]);
            }
            self->send_error(502, fmt::format("sluice: no ollama of upstreams answered {} ({})", gather->path, why), keep_alive);
            return;
        }
        self->send_json(200, std::move(*merged), keep_alive);
    };
    for (std::size_t slot = 0; slot < asked.size(); ++slot) {
        const auto backend = asked[slot];
        asio::co_spawn(loop_.io,
                       fetch_from_upstream(loop_.io, *config_, "GET", gather->path, {}, {.ollama = &fleet.backend(backend).url}),
                       [gather, slot, done](std::exception_ptr failed, std::string body) {
                           try {
                               if (failed) std::rethrow_exception(failed);
                               gather->answers[slot].body = std::move(body);
                           } catch (const std::exception& e) {
                               gather->errors[slot] = describe_fetch_error(e);
                           }
                           if (--gather->pending == 0) done();
                       });
    }
    return true;
}

// The conversation store's endpoints: the body (if any) is read whole, then the store's thread
// answers and the answer is posted back to this loop. The owner is the key, or the one local
// owner without keys.
void HttpSession::serve_conversations(const ApiKey* key) {
    const auto& request = parser_->get();
    if (!loop_.services.store) {
        send_error(404, "sluice: conversations are kept in each browser here (store: off in sluice's config)",
                   request.keep_alive() && parser_->is_done());
        return;
    }
    const auto ask_store = [self = shared_from_this(), owner = key ? key->name : std::string()](std::string body) {
        const auto& header = self->parser_->get();
        auto asked = conversation_request(header.method_string(), header.target(), owner, std::move(body));
        if (auto* answer = std::get_if<PageApiAnswer>(&asked)) {
            self->send_answer(std::move(*answer));
            return;
        }
        // The job hands its reference to the session on to the loop, so the session is never
        // released (and destroyed) on the store's thread.
        auto& io = self->loop_.io;
        const bool queued = self->loop_.services.store->submit(
            [self, &io, job = std::move(std::get<ConversationJob>(asked))](ConversationDb& db) mutable {
                asio::post(io, [self = std::move(self), answer = job(db)]() mutable { self->send_answer(std::move(answer)); });
            });
        if (!queued) self->send_answer({503, json_error_body("sluice: the conversation store is busy; try again")});
    };
    if (conversation_api_takes_body(request.method_string())) {
        read_body(ask_store);
    } else {
        ask_store({});
    }
}

// A body sluice answers itself (the conversation store's), read whole: within
// limits.max_body_bytes (413 beyond, said before reading when the length is declared) and
// timeouts.client_body per piece.
void HttpSession::read_body(std::function<void(std::string)> then) {
    if (const auto declared = parser_->content_length(); declared && *declared > config_->limits.max_body_bytes) {
        send_error(413, body_too_large_message(config_->limits.max_body_bytes), false);
        return;
    }
    if (beast::iequals(parser_->get()[http::field::expect], "100-continue")) {
        asio::async_write(stream_, asio::buffer(continue_response), [self = shared_from_this()](error_code, std::size_t) {});
    }
    read_body_piece(std::make_shared<std::string>(), std::move(then));
}

void HttpSession::read_body_piece(std::shared_ptr<std::string> body, std::function<void(std::string)> then) {
    if (parser_->is_done()) {
        then(std::move(*body));
        return;
    }
    constexpr std::size_t piece = 64 * 1024;
    const auto limit = config_->limits.max_body_bytes;
    const auto used = body->size();
    body->resize(std::min(limit + 1, used + piece));  // one byte past the limit tells a body that is too large
    auto& buffer = parser_->get().body();
    buffer.data = body->data() + used;
    buffer.size = body->size() - used;
    stream_.tcp().expires_after(config_->timeouts.client_body);
    http::async_read_some(stream_, buffer_, *parser_, [self = shared_from_this(), body, then = std::move(then), limit](error_code ec, std::size_t) mutable {
        if (ec == http::error::need_buffer) ec = {};
        body->resize(body->size() - self->parser_->get().body().size);
        if (is_malformed_body(ec)) {
            self->send_error(400, fmt::format("sluice: malformed request body: {}", ec.message()), false);
        } else if (ec) {
            self->close();  // the client went away, or idled past timeouts.client_body
        } else if (body->size() > limit) {
            self->send_error(413, body_too_large_message(limit), false);
        } else {
            self->read_body_piece(std::move(body), std::move(then));
        }
    });
}

// sluice's read-only endpoints: anything but GET or HEAD is answered 405 here (false).
bool HttpSession::takes_get_or_head(bool keep_alive) {
    const auto& request = parser_->get();
    if (request.method() == http::verb::get || request.method() == http::verb::head) return true;
    send_error(405, fmt::format("sluice: {} takes GET or HEAD", target_path(request.target())), keep_alive);
    return false;
}

// Plain HTTP on a port that speaks TLS: the same URL with https, for any method (307 keeps the
// method and body; a client that does not follow redirects shows the error text). Then close.
void HttpSession::redirect_to_https() {
    const auto& request = parser_->get();
    const auto host = request[http::field::host];
    const bool host_ok = !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
        return is_letter(c) || is_digit(c) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
    });
    if (!host_ok || !request.target().starts_with('/')) {
        send_error(400, "sluice: this port speaks HTTPS: use https://", false);
        return;
    }
    const auto location = fmt::format("https://{}{}", host, request.target());
    own_response_ = std::make_shared<http::response<http::string_body>>(http::status::temporary_redirect, 11);
    own_response_->set(http::field::location, location);
    own_response_->set(http::field::content_type, "application/json; charset=utf-8");
    own_response_->set(http::field::cache_control, "no-store");
    own_response_->body() = json_error_body(fmt::format("sluice: this port speaks HTTPS: use {}", location));
    write_own_response(false);
}

void HttpSession::on_exchange_done(RelayResult result) {
    if (result.error_status != 0) {
        send_error(result.error_status, result.error_message, result.client_reusable, result.retry_after);
        return;
    }
    end_exchange(result.client_reusable);
}

void HttpSession::send_error(unsigned status, std::string_view message, bool keep_alive, unsigned retry_after) {
    if (status >= 500) spdlog::warn("{}", message);
    prepare_own_response(status, json_error_body(message), "application/json; charset=utf-8");
    if (retry_after != 0) own_response_->set(http::field::retry_after, std::to_string(retry_after));
    write_own_response(keep_alive);
}

// An answer of the page API, on a connection kept when the request was read whole.
void HttpSession::send_answer(PageApiAnswer answer) {
    const bool keep_alive = parser_->get().keep_alive() && parser_->is_done();
    if (answer.status >= 500) spdlog::warn("{}", answer.body);
    prepare_own_response(answer.status, std::move(answer.body), answer.content_type);
    if (!answer.attachment.empty()) {
        own_response_->set(http::field::content_disposition, fmt::format("attachment; filename=\"{}\"", answer.attachment));
    }
    write_own_response(keep_alive);
}

void HttpSession::send_json(unsigned status, std::string body, bool keep_alive, std::string_view set_cookie) {
    prepare_own_response(status, std::move(body), "application/json; charset=utf-8");
    if (!set_cookie.empty()) own_response_->set(http::field::set_cookie, set_cookie);
    write_own_response(keep_alive);
}

// One of sluice's own answers, never cached; written by write_own_response.
void HttpSession::prepare_own_response(unsigned status, std::string body, std::string_view content_type) {
    own_response_ = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(status), 11);
    auto& response = *own_response_;
    response.set(http::field::content_type, content_type);
    response.set(http::field::cache_control, "no-store");
    if (status == 401) response.set(http::field::www_authenticate, R"(Bearer realm="sluice")");
    response.body() = std::move(body);
}

// An allowed page of another origin asks first whether it may send its method and headers.
void HttpSession::answer_preflight() {
    const auto& request = parser_->get();
    own_response_ = std::make_shared<http::response<http::string_body>>(http::status::no_content, 11);
    auto& response = *own_response_;
    response.set(http::field::access_control_allow_methods, "GET, HEAD, POST, PUT, DELETE, OPTIONS");
    const auto headers = request[http::field::access_control_request_headers];
    response.set(http::field::access_control_allow_headers, headers.empty() ? "Authorization, Content-Type" : headers);
    response.set(http::field::access_control_max_age, "600");
    write_own_response(request.keep_alive() && parser_->is_done());
}

// sluice's own answers: errors, health, metrics, sessions, preflights.
void HttpSession::write_own_response(bool keep_alive) {
    auto& response = *own_response_;
    const bool head = parser_ && parser_->is_header_done() && parser_->get().method() == http::verb::head;
    if (parser_ && parser_->is_header_done()) {
        const auto& request = parser_->get();
        if (const auto origin = allowed_cross_origin(config_->cors, request[http::field::origin], request[http::field::host]);
            !origin.empty()) {
            response.set(http::field::access_control_allow_origin, origin);
            response.set(http::field::vary, "Origin");
        }
    }
    response.prepare_payload();
    if (head) response.body().clear();  // Content-Length stays: what a GET would have carried
    response.keep_alive(keep_alive);
    record_.status = response.result_int();
    record_.bytes_out = head ? 0 : response.body().size();
    stream_.tcp().expires_after(config_->timeouts.client_send);
    const auto write = [self = shared_from_this(), keep_alive](error_code ec, std::size_t) {
        self->end_exchange(keep_alive && !ec);
    };
    if (head) {
        auto serializer = std::make_shared<http::response_serializer<http::string_body>>(response);
        http::async_write_header(stream_, *serializer, [serializer, write](error_code ec, std::size_t n) { write(ec, n); });
    } else {
        http::async_write(stream_, response, write);
    }
}

// From a request's header until its answer is written: what a drain waits for.
void HttpSession::begin_exchange() {
    in_exchange_ = true;
    ++loop_.services.state.active_exchanges;
}

void HttpSession::end_exchange_without_reading() {
    if (in_exchange_) {
        in_exchange_ = false;
        --loop_.services.state.active_exchanges;
    }
    if (record_.status != 0 || !record_.method.empty()) {
        if (record_.status == 0) record_.status = 499;  // nginx's "client closed request"
        if (config_->log.access) log_access(record_);
        if (loop_.services.metrics) loop_.services.metrics->exchange_finished(record_);
    }
    active_stream_.release();
    key_stream_.release();
    own_response_.reset();
}

void HttpSession::end_exchange(bool keep_alive) {
    end_exchange_without_reading();
    if (keep_alive) {
        read_request();
    } else {
        close();
    }
}

// Closing with unread request bytes in the socket would send a reset, which can destroy the
// response the client has not read yet; so the send side is shut first and what the client
// still sends is read and dropped, for a bounded time, until it closes too. (Over TLS too,
// below TLS: the responses are framed, so no close_notify is needed to tell their end.)
void HttpSession::close() {
    error_code ignored;
    stream_.tcp().socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    stream_.tcp().expires_after(linger_time);
    drain();
}

void HttpSession::drain() {
    buffer_.clear();
    stream_.tcp().async_read_some(buffer_.prepare(drain_read_bytes), [self = shared_from_this()](error_code ec, std::size_t) {
        if (ec) {
            self->stream_.tcp().close();
            return;
        }
        self->drain();
    });
}

}  // namespace sluice
