// relay: one proxied exchange. The request goes up to Ollama (its body streamed, or read whole
// for the routes sluice may rewrite), and each piece of the response is written to the client
// as soon as it is read, from one fixed buffer: a slow client stops sluice reading from Ollama,
// and a client that goes away closes the upstream connection at once.
#pragma once

#include "sluice/access_log.hpp"
#include "sluice/body_tap.hpp"
#include "sluice/client_stream.hpp"
#include "sluice/event_loop.hpp"
#include "sluice/router.hpp"
#include "sluice/upstream_call.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace sluice {

using RequestParser = boost::beast::http::request_parser<boost::beast::http::buffer_body>;

// What a client that sent `Expect: 100-continue` waits for before it sends the body.
inline constexpr std::string_view continue_response = "HTTP/1.1 100 Continue\r\n\r\n";
// A body the parser refused (a bad chunk, a bad length), as opposed to a connection that broke.
bool is_malformed_body(const boost::system::error_code& ec);

// What the relay borrows from the client's session for one exchange.
struct ClientSide {
    ClientStream& stream;
    boost::beast::flat_buffer& buffer;  // bytes read from the client and not yet parsed
    RequestParser& parser;              // the request, header already read
    std::string_view address;           // client IP, for X-Forwarded-For
};

// How an exchange ended, for the session: answer an error itself, go on with the next
// request on the connection, or close it.
struct RelayResult {
    bool client_reusable = false;  // the request was read whole and the response sent whole
    unsigned error_status = 0;     // non-zero: nothing was sent yet; answer {"error": error_message}
    std::string error_message;
    unsigned retry_after = 0;      // seconds, for a 503 that says when to come back; 0: none
};

// The request hook of the routes sluice reads whole, shared by the relay and the browser UI's
// WebSocket chats: rules may need to know what is installed, so the first requests after
// start-up wait for the model catalog's first answer (a model's num_ctx never changes between
// its requests); then `body` is rewritten in place and `then` gets X-Sluice-Rewrite's value
// (empty when nothing changed) and the model the request named (empty when the rewriter did not
// read it). `body` must outlive the call to `then`, which runs on the loop.
// `config` is the exchange's snapshot: its rules apply even if a reload lands meanwhile.
void rewrite_request_body(EventLoop& loop, std::shared_ptr<const Config> config, std::string_view path,
                          std::string& body, std::function<void(std::string rewritten, std::string model)> then);

// Where an exchange for `path` goes: model management to the managing backend, the rest to where
// their model is warm (`model` as the rewriter left it, else the one `body` names). A
// `generation` counts as active there while `call` lasts. When every backend that holds its
// model is at its max_generations and the caller `may_wait`, nothing is chosen and the model is
// returned (the caller waits its turn or refuses); else nullopt.
// Why a generation waiting in the fleet's line is refused (503 with Retry-After), for both front
// ends: the line for `model` already holds queue.max_waiting (0: nothing waits), or it waited
// queue.max_wait.
std::string line_full_message(std::string_view model, std::size_t max_waiting);

// A place in the fleet's line for `model`, for either front end: `on_turn` runs on `waiter`
// (held weakly) on this loop when its turn comes, and says whether it took it (one gone or
// ended meanwhile did not). 0: the line is full, or nothing may wait.
template <typename Waiter>
std::uint64_t join_line(EventLoop& loop, const QueueConfig& queue, const std::string& model, std::weak_ptr<Waiter> waiter,
                        bool (Waiter::*on_turn)(), bool front) {
    if (queue.max_waiting == 0) return 0;
    return loop.services.fleet.wait_turn(
        model, queue.max_waiting, loop.io.get_executor(),
        [waiter = std::move(waiter), on_turn] {
            const auto self = waiter.lock();
            return self && ((*self).*on_turn)();
        },
        front);
}
std::string line_timeout_message(std::string_view model, std::chrono::milliseconds max_wait);

std::optional<std::string> choose_backends(EventLoop& loop, UpstreamCall& call, std::string_view path,
                                           std::string_view body, std::string_view model, bool generation,
                                           bool may_wait = false);

class Relay : public std::enable_shared_from_this<Relay> {
public:
    using Done = std::function<void(RelayResult)>;

    // `config` is the snapshot the exchange started with (see EventLoop::config); `key` the
    // caller's API key in it (null when authentication is off), whose `models:` the relay checks.
    Relay(ClientSide client, EventLoop& loop, std::shared_ptr<const Config> config, const ApiKey* key, Route route,
          ExchangeRecord& record, Done done);
    ~Relay();
    void start();

private:
    using error_code = boost::system::error_code;

    // Request, client -> Ollama.
    void build_upstream_request();
    void read_request_piece(void (Relay::*on_piece)(error_code));
    std::size_t request_piece_size() const;
    void read_whole_body();
    void on_whole_body_piece(error_code ec);
    bool refused_model(std::string_view body);
    bool body_at_hand() const;
    void send();
    void wait_turn(const std::string& model);
    void refuse_busy(std::string message);
    bool on_turn();
    void leave_line();
    void on_request_sent(std::optional<UpstreamError> error);
    void read_request_body_piece();
    void on_request_body_piece(error_code ec);
    void on_request_body_written(error_code ec);

    // Response, Ollama -> client.
    void await_response_header();
    void read_response_header();
    void on_response_header(std::optional<UpstreamError> error);
    void on_interim_response();
    void start_response();
    void on_head_written(error_code ec);
    void read_response_body();
    void write_response_body(BodyPiece piece);
    void on_body_written(error_code ec);
    void finish_response();
    // A model list for a key with `models:`: read whole (bounded), filtered, sent with its length.
    void read_listing(BodyPiece piece);
    void send_listing();

    // Client liveness and write deadline while the response is pending.
    void watch_client();
    void on_client_readable(error_code ec, std::size_t bytes);
    void arm_send_deadline();
    void abandon();

    void fail(unsigned status, std::string message);
    void fail(const UpstreamError& error);
    void complete(RelayResult result);
    void finish_when_idle();
    void finish();

    ClientSide client_;
    EventLoop& loop_;
    std::shared_ptr<const Config> config_;
    const ApiKey* key_;
    Route route_;
    ExchangeRecord& record_;
    Done done_;

    UpstreamCall upstream_;
    boost::beast::http::response<boost::beast::http::empty_body> client_head_;
    std::optional<boost::beast::http::response_serializer<boost::beast::http::empty_body>> head_serializer_;
    std::vector<boost::asio::const_buffer> dechunked_;  // HTTP/1.0 client: the pieces of one read
    boost::asio::steady_timer send_deadline_;
    StreamTail tail_;

    // Where the exchange is: the request going up (and Ollama's answer awaited), the response
    // going down (its status line went to the client), or completed (the session is told once
    // no read of the relay's is pending on the client socket). The flags below say what the
    // request carried and which operations are in flight: those overlap, phases do not.
    enum class Phase { request, response, completed };
    Phase phase_ = Phase::request;
    bool completed() const { return phase_ == Phase::completed; }

    // Request body bytes pass through this buffer (limits.stream_buffer_bytes), allocated on the
    // first piece and freed, with whole_body_, once the response begins: a stream then holds
    // only what it relays.
    std::unique_ptr<char[]> body_buffer_;
    std::string whole_body_;            // BodyHandling::read: the body as it goes upstream
    ModelListing listing_ = ModelListing::none;  // the response is a model list to filter for key_
    std::string listing_body_;          // that list, read whole, then filtered
    bool request_has_body_ = false;
    bool request_body_sent_ = false;    // every request body byte reached Ollama
    bool expect_continue_ = false;      // waiting for Ollama's 100 Continue before the body
    bool writing_ = false;              // a write to the client is pending
    Clock::time_point write_started_{};
    bool watching_ = false;             // a read on the client socket is pending (liveness)
    bool reading_body_ = false;         // a read of the request body is pending
    bool client_gone_ = false;
    std::uint64_t ticket_ = 0;  // waiting in the fleet's line for a backend with room
    bool had_turn_ = false;     // its turn came once: it keeps its place if the room is taken again
    RelayResult result_;
};

}  // namespace sluice
