// http_session: one client connection. Reads each request's header (bounded in size and time),
// routes it, and hands it to a relay; answers sluice's own errors; keeps the connection alive
// and serves pipelined requests in order. With tls: configured, the connection's first bytes
// say which it speaks: TLS is handshaken (within timeouts.client_header), and plain HTTP is
// answered with a redirect to https.
#pragma once

#include "sluice/access_log.hpp"
#include "sluice/admission.hpp"
#include "sluice/client_stream.hpp"
#include "sluice/event_loop.hpp"
#include "sluice/metrics.hpp"
#include "sluice/page_api.hpp"
#include "sluice/relay.hpp"
#include "sluice/router.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sluice {

class HttpSession : public std::enable_shared_from_this<HttpSession> {
public:
    HttpSession(Socket socket, EventLoop& loop);
    ~HttpSession();
    void start();
    // Drain past its deadline: ends the exchange in flight as a client disconnect would, so its
    // upstream connection is closed and Ollama stops generating. Loop thread only.
    void cut();

private:
    using error_code = boost::system::error_code;

    void detect_tls(std::shared_ptr<boost::asio::ssl::context> context);
    void on_tls_handshake(error_code ec, std::size_t bytes_used);
    void redirect_to_https();
    void read_request();
    void on_request_header(error_code ec);
    void on_exchange_done(RelayResult result);
    // `retry_after` (seconds, 0: none): a busy answer says when to come back.
    void send_error(unsigned status, std::string_view message, bool keep_alive, unsigned retry_after = 0);
    void send_json(unsigned status, std::string body, bool keep_alive, std::string_view set_cookie = {});
    void send_answer(PageApiAnswer answer);
    void prepare_own_response(unsigned status, std::string body, std::string_view content_type);
    void answer_preflight();
    void write_own_response(bool keep_alive);
    void begin_exchange();
    void end_exchange(bool keep_alive);
    void end_exchange_without_reading();  // logs and uncounts the exchange
    void start_websocket(const Admitted& access);
    bool within_key_limits(const ApiKey* key, bool generation, bool keep_alive);
    void serve_ui_asset();
    void serve_health(Handler handler);
    void serve_session(Handler handler);
    void serve_metrics();
    void serve_page_api(const ApiKey* key);
    void serve_conversations(const ApiKey* key);
    bool serve_fleet_view(const ApiKey* key);
    void read_body(std::function<void(std::string)> then);
    void read_body_piece(std::shared_ptr<std::string> body, std::function<void(std::string)> then);
    bool takes_get_or_head(bool keep_alive);
    void close();
    void drain();

    ClientStream stream_;
    boost::beast::flat_buffer buffer_;
    EventLoop& loop_;
    std::shared_ptr<const Config> config_;  // the snapshot the current exchange started with
    std::string address_;
    std::optional<RequestParser> parser_;
    ExchangeRecord record_;
    bool in_exchange_ = false;  // counted in ServerState::active_exchanges
    bool plain_on_tls_port_ = false;  // every request is answered with a redirect to https
    ActiveStream active_stream_;  // a proxied exchange, counted in sluice_active_streams
    KeyLimits::Stream key_stream_;  // one of its key's max_streams, while a generation runs
    // sluice's own answers (errors, health, metrics, sessions, preflights), kept until written.
    std::shared_ptr<boost::beast::http::response<boost::beast::http::string_body>> own_response_;
};

}  // namespace sluice
