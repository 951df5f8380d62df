// fast_upstream: an Ollama-shaped token streamer for benchmarks that must never be the bottleneck.
//
// It answers POST /api/chat and /api/generate with chunked NDJSON and POST /v1/chat/completions
// with SSE, one line (one HTTP chunk, one write) per token at a fixed rate, each line stamped with
// the realtime clock at send (`created_at`, RFC 3339 UTC, 9 fraction digits; inside the SSE JSON
// too, as an extra field) so the load generator can compute the latency a proxy adds. Blob uploads
// (POST /api/blobs/sha256:...) are read and discarded (201). GET /stats reports lines sent, CPU
// used and, for requests that carried `?id=N`, when the client's close was noticed. GET
// /api/version, /api/ps and /api/tags answer what sluice's probes need to see it up with the
// load generator's model loaded.
//
// Cheap by construction: one thread, one io_context, a fixed output buffer per connection, and
// one timer for all streams driven by a binary heap of due times, so a line costs one write
// syscall plus a heap push/pop and no allocation. Its own CPU per line is printed at exit.
//
// Query parameters (per request): tokens=N (token lines before the done line), rate=R (tokens/s,
// 0 = as fast as the socket takes them), id=N (record when a cancelled stream's close is seen).

#include "http_lite.hpp"
#include "proc_stats.hpp"
#include "rfc3339.hpp"

#include <boost/asio.hpp>

#include <sched.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using namespace sluice::bench;

namespace {

struct Options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 11434;
    double rate = 80;           // tokens per second per stream
    unsigned tokens = 200;      // token lines per response, before the done line
    unsigned first_token_ms = 0;  // delay before the status line and first token (model load)
    int cpu = -1;               // pin the thread to this CPU
};

constexpr std::string_view kModel = "qwen3:14b";

// Token pieces cycled through, so lines have the size and shape of real ones.
constexpr std::array<std::string_view, 16> kPieces = {
    " The", " sky", " appears", " blue", " because", " of", " Rayleigh", " scattering",
    ",", " which", " scatters", " shorter", " wavelengths", " more", " strongly", "."};

enum class Route { chat, generate, openai_chat, blob, stats, root, version, models, not_found };

// What a request asked for; copied out of the input buffer before its body is read.
struct Request {
    Route route = Route::not_found;
    std::uint64_t tokens = 0;
    double rate = 0;
    std::uint64_t id = 0;          // 0: not tracked for cancellation
    std::uint64_t stats_from = 0;  // GET /stats?from=A&to=B: cancellation records with ids in [A, B]
    std::uint64_t stats_to = 0;
};

std::string_view query_value(std::string_view query, std::string_view key) {
    while (!query.empty()) {
        const std::size_t amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        const std::size_t eq = pair.find('=');
        if (eq != std::string_view::npos && pair.substr(0, eq) == key) {
            return pair.substr(eq + 1);
        }
        if (amp == std::string_view::npos) {
            break;
        }
        query.remove_prefix(amp + 1);
    }
    return {};
}

template <class T>
T query_number(std::string_view query, std::string_view key, T fallback) {
    const std::string_view text = query_value(query, key);
    T value{};
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    return ec == std::errc{} && end == text.data() + text.size() && !text.empty() ? value : fallback;
}

// Appends text and numbers to a caller-provided buffer (the connection's output buffer).
class Writer {
public:
    explicit Writer(char* at) : at_(at) {}
    template <class... Parts>
    void put(const Parts&... parts) {
        (put_one(parts), ...);
    }
    void put_hex(std::uint64_t v) { at_ = std::to_chars(at_, at_ + 16, v, 16).ptr; }
    char* at() const { return at_; }

private:
    void put_one(std::string_view s) {
        std::memcpy(at_, s.data(), s.size());
        at_ += s.size();
    }
    void put_one(std::uint64_t v) { at_ = std::to_chars(at_, at_ + 20, v).ptr; }

    char* at_;
};

class Connection;

// State shared by all connections of the one event loop: the listener, the stream schedule and
// the counters. No locks: everything runs on the io_context's single thread.
class Upstream {
public:
    Upstream(asio::io_context& ioc, const Options& options);

    const Options& options() const { return options_; }
    StampWriter& stamps() { return stamps_; }
    std::vector<char>& discard_buffer() { return discard_; }

    // Calls conn->on_due(epoch) at monotonic time `due_ns` (or soon after).
    void schedule(std::int64_t due_ns, std::shared_ptr<Connection> conn, std::uint64_t epoch);

    void count_lines(unsigned n) { lines_sent_ += n; }
    void count_response() { ++responses_; }
    void count_body_bytes(std::size_t n) { body_bytes_ += n; }
    void record_cancel(std::uint64_t id, std::int64_t noticed_ns);
    void connection_opened() { ++open_connections_; }
    void connection_closed() { --open_connections_; }

    std::string stats_json(std::uint64_t from, std::uint64_t to) const;
    void print_summary() const;

private:
    struct Due {
        std::int64_t due_ns;
        std::uint64_t epoch;
        std::shared_ptr<Connection> conn;
        bool operator>(const Due& other) const { return due_ns > other.due_ns; }
    };

    void accept();
    void arm(std::int64_t due_ns);
    void on_timer();

    Options options_;
    tcp::acceptor acceptor_;
    asio::steady_timer timer_;
    std::int64_t armed_ns_ = INT64_MAX;  // when the timer fires; INT64_MAX: not armed
    std::vector<Due> heap_;              // min-heap on due_ns (std::greater)
    StampWriter stamps_;
    std::vector<char> discard_ = std::vector<char>(256 * 1024);  // blob bodies land here, unread

    std::uint64_t lines_sent_ = 0;
    std::uint64_t responses_ = 0;
    std::uint64_t body_bytes_ = 0;
    std::uint64_t cancelled_ = 0;
    std::int64_t open_connections_ = 0;
    std::vector<std::pair<std::uint64_t, std::int64_t>> cancels_;  // (id, realtime ns noticed)
};

// One client connection: reads requests, streams responses, and keeps a read pending while it
// streams so a client that goes away is noticed at once (as Ollama's Go server does).
class Connection : public std::enable_shared_from_this<Connection> {
public:
    Connection(tcp::socket socket, Upstream& upstream) : socket_(std::move(socket)), up_(upstream) {}
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    void start() { process_input(); }
    void on_due(std::uint64_t epoch);

private:
    enum class Phase { head, body, streaming, replying, closed };
    enum class Kind { chat, generate, openai_chat };
    static constexpr std::size_t kHeadRoom = 256;  // before a line: status line, headers, chunk size

    void read_more();
    void on_read(error_code ec, std::size_t n);
    void process_input();
    bool parse_head();
    void respond();
    void reply(std::string_view status, std::string_view content_type, std::string_view body);
    void start_stream();
    void send_line();
    void on_written(error_code ec);
    void peer_gone();
    void close();

    tcp::socket socket_;
    Upstream& up_;
    Phase phase_ = Phase::head;
    bool reading_ = false;
    bool reading_discard_ = false;  // the pending read targets the shared discard buffer
    bool writing_ = false;
    bool keep_alive_ = true;

    std::array<char, 8192> in_{};
    std::size_t in_begin_ = 0, in_end_ = 0;

    Request request_;
    bool body_chunked_ = false;
    std::uint64_t body_left_ = 0;
    ChunkedDecoder chunked_;

    // The stream in progress.
    Kind kind_ = Kind::chat;
    std::uint64_t epoch_ = 0;       // bumped per stream, so stale schedule entries are ignored
    std::uint64_t lines_total_ = 0;  // token lines + the done line
    std::uint64_t lines_done_ = 0;
    std::int64_t interval_ns_ = 0;  // 0: unpaced
    std::int64_t next_due_ns_ = 0;
    std::int64_t stream_start_ns_ = 0;  // realtime, for total_duration
    bool line_due_ = false;          // due while a write was still in flight
    std::array<char, 2048> out_{};
    std::string reply_;
};

void Connection::read_more() {
    if (reading_ || phase_ == Phase::closed) {
        return;
    }
    asio::mutable_buffer target;
    // A plain body (blob upload) is read straight into the shared discard buffer: its bytes are
    // never looked at, so concurrent reads may overwrite each other there.
    reading_discard_ = phase_ == Phase::body && !body_chunked_ && in_begin_ == in_end_;
    if (reading_discard_) {
        auto& discard = up_.discard_buffer();
        target = asio::buffer(discard.data(), std::min<std::uint64_t>(body_left_, discard.size()));
    } else {
        if (in_begin_ > 0) {  // compact, so a head can use the whole buffer
            std::memmove(in_.data(), in_.data() + in_begin_, in_end_ - in_begin_);
            in_end_ -= in_begin_;
            in_begin_ = 0;
        }
        if (in_end_ == in_.size()) {
            return;  // full of pipelined bytes: they wait for the current response
        }
        target = asio::buffer(in_.data() + in_end_, in_.size() - in_end_);
    }
    reading_ = true;
    socket_.async_read_some(target, [self = shared_from_this()](error_code ec, std::size_t n) {
        self->on_read(ec, n);
    });
}

void Connection::on_read(error_code ec, std::size_t n) {
    reading_ = false;
    if (phase_ == Phase::closed) {
        return;
    }
    if (ec) {  // end of file or reset
        if (phase_ == Phase::streaming) {
            peer_gone();
        } else {
            close();
        }
        return;
    }
    if (reading_discard_) {
        body_left_ -= n;
        up_.count_body_bytes(n);
        if (body_left_ == 0) {
            respond();
        } else {
            read_more();
        }
        return;
    }
    in_end_ += n;
    if (phase_ == Phase::streaming || phase_ == Phase::replying) {
        read_more();  // keep watching for the peer's close; the bytes wait for their turn
        return;
    }
    process_input();
}

// Handles whatever input is buffered: heads and bodies, until a response starts or more is needed.
void Connection::process_input() {
    if (phase_ == Phase::head) {
        if (!parse_head()) {
            return;
        }
        phase_ = Phase::body;
    }
    if (phase_ != Phase::body) {
        return;
    }
    const std::string_view buffered(in_.data() + in_begin_, in_end_ - in_begin_);
    if (body_chunked_) {
        in_begin_ += chunked_.feed(buffered, [](std::string_view) {});
        if (chunked_.failed()) {
            keep_alive_ = false;
            request_.route = Route::not_found;
            reply("400 Bad Request", "text/plain", "bad chunked body");
            return;
        }
        if (!chunked_.done()) {
            read_more();
            return;
        }
    } else {
        const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(body_left_, buffered.size()));
        in_begin_ += take;
        body_left_ -= take;
        up_.count_body_bytes(take);
        if (body_left_ > 0) {
            read_more();
            return;
        }
    }
    respond();
}

// Parses one request head from the buffer into request_; false when it is not complete yet.
bool Connection::parse_head() {
    const std::string_view buffered(in_.data() + in_begin_, in_end_ - in_begin_);
    const std::size_t end = buffered.find("\r\n\r\n");
    if (end == std::string_view::npos) {
        if (buffered.size() == in_.size()) {
            keep_alive_ = false;
            reply("431 Request Header Fields Too Large", "text/plain", "header too large");
        } else {
            read_more();
        }
        return false;
    }
    const MessageHead head = parse_message_head(buffered.substr(0, end + 4));
    in_begin_ += end + 4;

    // Request line: METHOD SP target SP HTTP/1.x
    const std::string_view line = head.first_line;
    const std::size_t sp1 = line.find(' ');
    const std::size_t sp2 = line.rfind(' ');
    if (!head.valid || sp1 == std::string_view::npos || sp2 <= sp1) {
        keep_alive_ = false;
        reply("400 Bad Request", "text/plain", "bad request");
        return false;
    }
    const std::string_view method = line.substr(0, sp1);
    const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    const std::size_t qmark = target.find('?');
    const std::string_view path = target.substr(0, qmark);
    const std::string_view query = qmark == std::string_view::npos ? std::string_view{} : target.substr(qmark + 1);

    request_ = Request{};
    const bool post = method == "POST";
    if (post && path == "/api/chat") {
        request_.route = Route::chat;
    } else if (post && path == "/api/generate") {
        request_.route = Route::generate;
    } else if (post && path == "/v1/chat/completions") {
        request_.route = Route::openai_chat;
    } else if (post && path.starts_with("/api/blobs/sha256")) {
        request_.route = Route::blob;
    } else if (method == "GET" && path == "/stats") {
        request_.route = Route::stats;
    } else if ((method == "GET" || method == "HEAD") && path == "/") {
        request_.route = Route::root;
    } else if (method == "GET" && path == "/api/version") {
        request_.route = Route::version;
    } else if (method == "GET" && (path == "/api/ps" || path == "/api/tags")) {
        request_.route = Route::models;
    }
    const Options& options = up_.options();
    request_.tokens = query_number<std::uint64_t>(query, "tokens", options.tokens);
    request_.rate = query_number<double>(query, "rate", options.rate);
    request_.id = query_number<std::uint64_t>(query, "id", 0);
    request_.stats_from = query_number<std::uint64_t>(query, "from", 0);
    request_.stats_to = query_number<std::uint64_t>(query, "to", 0);

    keep_alive_ = !head.close;
    body_chunked_ = head.chunked;
    body_left_ = head.chunked ? 0 : head.content_length.value_or(0);
    chunked_.reset();
    if (head.expect_continue && (body_chunked_ || body_left_ > 0)) {
        // Tiny and the socket's send buffer is empty here, so a synchronous write cannot block.
        error_code ec;
        asio::write(socket_, asio::buffer(std::string_view("HTTP/1.1 100 Continue\r\n\r\n")), ec);
    }
    return true;
}

void Connection::respond() {
    switch (request_.route) {
    case Route::chat:
    case Route::generate:
    case Route::openai_chat:
        start_stream();
        return;
    case Route::blob:
        reply("201 Created", "", "");
        return;
    case Route::stats:
        reply("200 OK", "application/json", up_.stats_json(request_.stats_from, request_.stats_to));
        return;
    case Route::root:
        reply("200 OK", "text/plain; charset=utf-8", "Ollama is running");
        return;
    case Route::version:  // what sluice's probes ask; the model the load generator names is loaded
        reply("200 OK", "application/json; charset=utf-8", R"({"version":"0.12.6"})");
        return;
    case Route::models:
        reply("200 OK", "application/json; charset=utf-8", R"({"models":[{"name":"qwen3:14b","model":"qwen3:14b"}]})");
        return;
    case Route::not_found:
        reply("404 Not Found", "text/plain", "404 page not found");
        return;
    }
}

// A small non-streaming response with Content-Length.
void Connection::reply(std::string_view status, std::string_view content_type, std::string_view body) {
    phase_ = Phase::replying;
    reply_.clear();
    reply_.append("HTTP/1.1 ").append(status).append("\r\n");
    if (!content_type.empty()) {
        reply_.append("Content-Type: ").append(content_type).append("\r\n");
    }
    reply_.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
    if (!keep_alive_) {
        reply_.append("Connection: close\r\n");
    }
    reply_.append("\r\n").append(body);
    writing_ = true;
    asio::async_write(socket_, asio::buffer(reply_), [self = shared_from_this()](error_code ec, std::size_t) {
        self->writing_ = false;
        if (ec || !self->keep_alive_) {
            self->close();
            return;
        }
        self->phase_ = Phase::head;
        self->process_input();
    });
}

void Connection::start_stream() {
    phase_ = Phase::streaming;
    kind_ = request_.route == Route::chat       ? Kind::chat
            : request_.route == Route::generate ? Kind::generate
                                                : Kind::openai_chat;
    ++epoch_;
    lines_total_ = request_.tokens + 1;
    lines_done_ = 0;
    interval_ns_ = request_.rate > 0 ? static_cast<std::int64_t>(1e9 / request_.rate) : 0;
    line_due_ = false;
    stream_start_ns_ = realtime_ns();
    read_more();  // watch for the client's close while streaming
    if (up_.options().first_token_ms > 0) {
        next_due_ns_ = monotonic_ns() + std::int64_t{up_.options().first_token_ms} * 1'000'000;
        up_.schedule(next_due_ns_, shared_from_this(), epoch_);
    } else {
        next_due_ns_ = monotonic_ns();
        send_line();
    }
}

void Connection::on_due(std::uint64_t epoch) {
    if (epoch != epoch_ || phase_ != Phase::streaming) {
        return;  // a stream that ended or was cancelled since
    }
    if (writing_) {
        line_due_ = true;  // the previous write is still in flight: send when it completes
    } else {
        send_line();
    }
}

// Formats the next line as one HTTP chunk (with the response head before the first one, and the
// terminating chunk after the last) and writes it with one write.
void Connection::send_line() {
    const bool first = lines_done_ == 0;
    const bool last = lines_done_ + 1 == lines_total_;
    const std::int64_t now = realtime_ns();
    char stamp[StampWriter::kStampLength];
    up_.stamps().write(now, stamp);
    const std::string_view created_at(stamp, sizeof stamp);
    const std::string_view piece = last ? std::string_view{} : kPieces[lines_done_ % kPieces.size()];

    char* const line_start = out_.data() + kHeadRoom;
    Writer w(line_start);
    switch (kind_) {
    case Kind::chat:
        w.put(R"({"model":")", kModel, R"(","created_at":")", created_at,
              R"(","message":{"role":"assistant","content":")", piece, R"("},)");
        break;
    case Kind::generate:
        w.put(R"({"model":")", kModel, R"(","created_at":")", created_at, R"(","response":")", piece,
              R"(",)");
        break;
    case Kind::openai_chat:
        w.put(R"(data: {"id":"chatcmpl-)", epoch_, R"(","object":"chat.completion.chunk","created":)",
              static_cast<std::uint64_t>(stream_start_ns_ / 1'000'000'000), R"(,"model":")", kModel,
              R"(","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":")",
              piece, last ? R"("},"finish_reason":"stop"}],"created_at":")" : R"("},"finish_reason":null}],"created_at":")",
              created_at, "\"}\n\n");
        break;
    }
    if (kind_ != Kind::openai_chat) {
        if (last) {
            const auto total = static_cast<std::uint64_t>(now - stream_start_ns_);
            w.put(R"("done_reason":"stop","done":true,"total_duration":)", total,
                  R"(,"load_duration":0,"prompt_eval_count":26,"prompt_eval_duration":0,"eval_count":)",
                  lines_total_ - 1, R"(,"eval_duration":)", total, "}\n");
        } else {
            w.put("\"done\":false}\n");
        }
    }
    const std::size_t line_size = static_cast<std::size_t>(w.at() - line_start);
    w.put("\r\n");
    unsigned lines = 1;
    if (last) {
        if (kind_ == Kind::openai_chat) {
            w.put("e\r\ndata: [DONE]\n\n\r\n");
            lines = 2;
        }
        w.put("0\r\n\r\n");
    }
    const char* const end = w.at();

    // Chunk size, then (first line only) the response head, written backwards into the head room.
    char size_text[20];
    Writer size_writer(size_text);
    size_writer.put_hex(line_size);
    size_writer.put("\r\n");
    const std::size_t size_len = static_cast<std::size_t>(size_writer.at() - size_text);
    char* begin = line_start - size_len;
    std::memcpy(begin, size_text, size_len);
    if (first) {
        const std::string_view head = kind_ == Kind::openai_chat
            ? "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
              "Transfer-Encoding: chunked\r\n\r\n"
            : "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n";
        begin -= head.size();
        std::memcpy(begin, head.data(), head.size());
    }

    ++lines_done_;
    up_.count_lines(lines);
    writing_ = true;
    asio::async_write(socket_, asio::buffer(begin, static_cast<std::size_t>(end - begin)),
                      [self = shared_from_this()](error_code ec, std::size_t) { self->on_written(ec); });

    if (!last && interval_ns_ > 0) {
        // Keep the cadence, but never catch up in a burst after falling behind (a stalled reader).
        next_due_ns_ += interval_ns_;
        const std::int64_t now_steady = monotonic_ns();
        if (next_due_ns_ < now_steady) {
            next_due_ns_ = now_steady + interval_ns_;
        }
        up_.schedule(next_due_ns_, shared_from_this(), epoch_);
    }
}

void Connection::on_written(error_code ec) {
    writing_ = false;
    if (phase_ != Phase::streaming) {
        return;
    }
    if (ec) {
        peer_gone();
        return;
    }
    if (lines_done_ == lines_total_) {  // the stream is complete
        up_.count_response();
        ++epoch_;
        if (!keep_alive_) {
            close();
            return;
        }
        phase_ = Phase::head;
        process_input();
        return;
    }
    if (line_due_ || interval_ns_ == 0) {
        line_due_ = false;
        send_line();
    }
}

// The client closed (or reset) the connection while we were streaming: a cancellation.
void Connection::peer_gone() {
    up_.record_cancel(request_.id, realtime_ns());
    close();
}

void Connection::close() {
    if (phase_ != Phase::closed) {
        up_.connection_closed();
    }
    phase_ = Phase::closed;
    ++epoch_;
    error_code ignored;
    socket_.close(ignored);
}

Upstream::Upstream(asio::io_context& ioc, const Options& options)
    : options_(options), acceptor_(ioc), timer_(ioc) {
    const tcp::endpoint endpoint(asio::ip::make_address(options_.host), options_.port);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(asio::socket_base::max_listen_connections);
    heap_.reserve(4096);
    std::cout << "fast_upstream listening on " << acceptor_.local_endpoint() << std::endl;
    accept();
}

void Upstream::accept() {
    acceptor_.async_accept([this](error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted) {
            return;
        }
        if (!ec) {
            socket.set_option(tcp::no_delay(true), ec);  // as Go's net package does
            connection_opened();
            std::make_shared<Connection>(std::move(socket), *this)->start();
        }
        accept();
    });
}

void Upstream::schedule(std::int64_t due_ns, std::shared_ptr<Connection> conn, std::uint64_t epoch) {
    heap_.push_back(Due{due_ns, epoch, std::move(conn)});
    std::push_heap(heap_.begin(), heap_.end(), std::greater<>{});
    if (due_ns < armed_ns_) {
        arm(due_ns);
    }
}

void Upstream::arm(std::int64_t due_ns) {
    armed_ns_ = due_ns;
    // steady_clock is CLOCK_MONOTONIC, the clock monotonic_ns() reads.
    timer_.expires_at(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(due_ns)));
    timer_.async_wait([this](error_code ec) {
        if (ec != asio::error::operation_aborted) {
            on_timer();
        }
    });
}

void Upstream::on_timer() {
    armed_ns_ = INT64_MAX;
    // Lines due within the next 50 us go out now: batching them costs nothing in accuracy, since
    // each line is stamped when it is actually sent.
    const std::int64_t horizon = monotonic_ns() + 50'000;
    while (!heap_.empty() && heap_.front().due_ns <= horizon) {
        std::pop_heap(heap_.begin(), heap_.end(), std::greater<>{});
        Due due = std::move(heap_.back());
        heap_.pop_back();
        due.conn->on_due(due.epoch);
    }
    if (!heap_.empty() && heap_.front().due_ns < armed_ns_) {
        arm(heap_.front().due_ns);
    }
}

void Upstream::record_cancel(std::uint64_t id, std::int64_t noticed_ns) {
    ++cancelled_;
    if (id != 0 && cancels_.size() < 1'000'000) {
        cancels_.emplace_back(id, noticed_ns);
    }
}

std::string Upstream::stats_json(std::uint64_t from, std::uint64_t to) const {
    const std::int64_t cpu_ns = self_cpu_ns();
    std::string json = "{\"lines_sent\":" + std::to_string(lines_sent_) +
                       ",\"responses\":" + std::to_string(responses_) +
                       ",\"streams_cancelled\":" + std::to_string(cancelled_) +
                       ",\"body_bytes\":" + std::to_string(body_bytes_) +
                       ",\"open_connections\":" + std::to_string(open_connections_) +
                       ",\"cpu_ns\":" + std::to_string(cpu_ns) + ",\"cancels\":[";
    bool first = true;
    for (const auto& [id, noticed] : cancels_) {
        if (id >= from && id <= to && to != 0) {
            json += first ? "[" : ",[";
            json += std::to_string(id) + "," + std::to_string(noticed) + "]";
            first = false;
        }
    }
    json += "]}";
    return json;
}

void Upstream::print_summary() const {
    const double cpu_us = static_cast<double>(self_cpu_ns()) / 1e3;
    std::fprintf(stderr,
                 "fast_upstream: %llu lines in %llu responses, %llu cancelled, %llu body bytes; "
                 "CPU %.3f s = %.2f us/line\n",
                 static_cast<unsigned long long>(lines_sent_), static_cast<unsigned long long>(responses_),
                 static_cast<unsigned long long>(cancelled_), static_cast<unsigned long long>(body_bytes_),
                 cpu_us / 1e6, lines_sent_ ? cpu_us / static_cast<double>(lines_sent_) : 0.0);
}

void usage() {
    std::cout <<
        "usage: sluice_fast_upstream [--listen 127.0.0.1:PORT] [--rate TOKENS_PER_S] [--tokens N]\n"
        "                            [--first-token-ms MS] [--cpu N]\n"
        "  --listen          address to listen on (default 127.0.0.1:11434; port 0 picks one)\n"
        "  --rate            token lines per second per stream (default 80; 0 = unpaced)\n"
        "  --tokens          token lines per response before the done line (default 200)\n"
        "  --first-token-ms  delay before the head and first line of a stream (default 0)\n"
        "  --cpu             pin the (single) thread to this CPU\n"
        "Per request: ?tokens=N&rate=R&id=N. GET /stats reports counters and CPU.\n";
}

Options parse_options(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                throw std::invalid_argument(std::string(arg) + " needs a value");
            }
            return argv[++i];
        };
        if (arg == "--listen") {
            const std::string v = value();
            const std::size_t colon = v.rfind(':');
            if (colon == std::string::npos) {
                throw std::invalid_argument("--listen wants HOST:PORT");
            }
            o.host = v.substr(0, colon);
            o.port = static_cast<std::uint16_t>(std::stoul(v.substr(colon + 1)));
        } else if (arg == "--rate") {
            o.rate = std::stod(value());
        } else if (arg == "--tokens") {
            o.tokens = static_cast<unsigned>(std::stoul(value()));
        } else if (arg == "--first-token-ms") {
            o.first_token_ms = static_cast<unsigned>(std::stoul(value()));
        } else if (arg == "--cpu") {
            o.cpu = std::stoi(value());
        } else if (arg == "--help" || arg == "-h") {
            usage();
            std::exit(0);
        } else {
            throw std::invalid_argument("unknown option " + std::string(arg));
        }
    }
    return o;
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    try {
        options = parse_options(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << "fast_upstream: " << e.what() << " (see --help)\n";
        return 2;
    }
    if (options.cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(options.cpu, &set);
        if (sched_setaffinity(0, sizeof set, &set) != 0) {
            std::perror("fast_upstream: sched_setaffinity");
        }
    }
    try {
        asio::io_context ioc(1);  // one thread: lets Asio skip most locking
        Upstream upstream(ioc, options);
        asio::signal_set signals(ioc, SIGINT, SIGTERM);
        signals.async_wait([&](error_code, int) { ioc.stop(); });
        ioc.run();
        upstream.print_summary();
    } catch (const std::exception& e) {
        std::cerr << "fast_upstream: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
