// loadgen: a load generator for Ollama-shaped token streams, measuring what a proxy adds.
//
// Three modes:
//   stream (default)  N connections, each sending streaming requests one after another for
//                     --duration seconds. For every line received: added latency = receive time
//                     (realtime) - the line's `created_at` stamp, put there by fast_upstream when
//                     it sent the line. Per request: TTFT = request sent -> first body byte.
//   --cancel N        N times: open a stream, read its first line, close the connection; then ask
//                     fast_upstream (--stats) when it noticed each close: cancel propagation time.
//   --upload BYTES    one POST /api/blobs/sha256:... with a generated body of that size: GB/s.
// It prints a human summary and, as its last line, one flat JSON object for scripts.
// With --tls every connection is a TLS connection (any mode): the handshake is done before the
// first request and timed apart, so TTFT stays request -> first body byte in both cases. In stream
// mode every connection is opened and handshaken first, and the run (ramp, steady window,
// duration) starts once all are: handshakes, on either side, are not in the run's figures.
//
// One thread and one io_context drive all connections; each connection owns a fixed read
// buffer, response bytes are de-chunked in place and only the `created_at` field of a line is
// parsed, so a thousand streams cost it well under one core. Latencies go into fixed-size
// log-linear histograms.

#include "histogram.hpp"
#include "http_lite.hpp"
#include "proc_stats.hpp"
#include "rfc3339.hpp"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <simdjson.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cinttypes>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using namespace sluice::bench;

namespace {

struct Options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    std::string path = "/api/chat";
    unsigned streams = 1;
    std::uint64_t requests = 0;  // per connection; 0: until the duration ends
    unsigned tokens = 200;
    double rate = -1;            // tokens/s asked of fast_upstream; < 0: its default
    double duration_s = 10;
    double ramp_s = -1;          // < 0: chosen from the stream count
    double timeout_s = 10;       // no progress on a connection for this long is an error
    std::string stats_host;      // fast_upstream, for /stats (cancel mode, upstream CPU)
    std::uint16_t stats_port = 0;
    unsigned cancels = 0;
    double cancel_wait_s = 2;
    double cancel_pause_ms = 5;  // after a close, before the next stream: lets the upstream (on the
                                 // same CPU, in bench/run.sh) notice without competing for it
    std::uint64_t upload_bytes = 0;
    unsigned free_ports = 0;
    std::string label;
    int cpu = -1;
    bool tls = false;            // every connection to --target is TLS
    std::string tls_ca;          // verify the server's chain against this CA (PEM); empty: no verification
    std::string ready_file;      // created when the run starts (with --tls: after every handshake)
};

// The name a TLS client asks for (SNI) and, with --tls-ca, expects in the server's certificate:
// the benchmark's certificates are made for it (bench/run.sh --tls).
constexpr const char* kTlsServerName = "localhost";

// --tls: one client context for every connection. TLS 1.2 or newer, whichever the server
// negotiates; no session resumption (each connection does a full handshake, as a new client would).
std::unique_ptr<asio::ssl::context> make_tls_context(const Options& o) {
    if (!o.tls) {
        return nullptr;
    }
    auto context = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
    if (o.tls_ca.empty()) {
        context->set_verify_mode(asio::ssl::verify_none);
    } else {
        context->load_verify_file(o.tls_ca);
        context->set_verify_mode(asio::ssl::verify_peer);
    }
    return context;
}

// Readies one client SSL object: SNI, and the name its certificate must carry when verifying.
void prepare_tls(SSL* ssl, const Options& o) {
    SSL_set_tlsext_host_name(ssl, kTlsServerName);
    if (!o.tls_ca.empty()) {
        SSL_set1_host(ssl, kTlsServerName);  // checked by OpenSSL with the chain (verify_peer)
    }
}

std::string openssl_error(std::string_view what) {
    char text[256] = "no details";
    if (const unsigned long code = ERR_get_error(); code != 0) {
        ERR_error_string_n(code, text, sizeof text);
    }
    ERR_clear_error();
    return std::string(what) + ": " + text;
}

std::pair<std::string, std::uint16_t> split_host_port(const std::string& text) {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string::npos) {
        throw std::invalid_argument("expected HOST:PORT, got " + text);
    }
    return {text.substr(0, colon), static_cast<std::uint16_t>(std::stoul(text.substr(colon + 1)))};
}

// ---------------------------------------------------------------------------------------------
// Blocking helpers (POSIX, with timeouts) for the one-off exchanges: /stats and the upload.

class BlockingSocket {
public:
    BlockingSocket(const std::string& host, std::uint16_t port, double timeout_s) { open(host, port, timeout_s); }

    // To --target, over TLS when `tls` is given: OpenSSL on the blocking descriptor, so the
    // timeouts hold for the handshake and every record too.
    BlockingSocket(const Options& o, asio::ssl::context* tls) {
        open(o.host, o.port, o.timeout_s);
        if (tls == nullptr) {
            return;
        }
        ssl_ = SSL_new(tls->native_handle());
        if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_) != 1) {
            release();
            throw std::runtime_error(openssl_error("TLS set-up"));
        }
        prepare_tls(ssl_, o);
        if (SSL_connect(ssl_) != 1) {
            const std::string error = openssl_error("TLS handshake with " + o.host + ":" + std::to_string(o.port));
            release();
            throw std::runtime_error(error);
        }
    }
    ~BlockingSocket() { release(); }
    BlockingSocket(const BlockingSocket&) = delete;
    BlockingSocket& operator=(const BlockingSocket&) = delete;

    void send_all(std::string_view data) {
        while (!data.empty()) {
            if (ssl_ != nullptr) {
                const int n = SSL_write(ssl_, data.data(), static_cast<int>(std::min<std::size_t>(data.size(), 1 << 30)));
                if (n <= 0) {
                    throw std::runtime_error(openssl_error("TLS write"));
                }
                data.remove_prefix(static_cast<std::size_t>(n));
                continue;
            }
            const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
            if (n <= 0) {
                throw std::runtime_error(std::string("send: ") + (n == 0 ? "closed" : std::strerror(errno)));
            }
            data.remove_prefix(static_cast<std::size_t>(n));
        }
    }

    // Reads one response with a Content-Length body (or until close); returns status and body.
    std::pair<unsigned, std::string> read_response() {
        std::string text;
        char buf[65536];
        std::size_t head_end = std::string::npos;
        std::optional<std::uint64_t> length;
        unsigned status = 0;
        for (;;) {
            if (head_end != std::string::npos && length && text.size() >= head_end + *length) {
                break;
            }
            const ssize_t n = ssl_ != nullptr ? tls_read(buf, sizeof buf) : ::recv(fd_, buf, sizeof buf, 0);
            if (n < 0) {
                throw std::runtime_error(std::string("recv: ") + std::strerror(errno));
            }
            if (n == 0) {
                break;
            }
            text.append(buf, static_cast<std::size_t>(n));
            if (head_end == std::string::npos && (head_end = text.find("\r\n\r\n")) != std::string::npos) {
                head_end += 4;
                const MessageHead head = parse_message_head(std::string_view(text).substr(0, head_end));
                status = status_code(head.first_line);
                length = head.content_length;
            }
        }
        if (head_end == std::string::npos) {
            throw std::runtime_error("connection closed before a response head");
        }
        return {status, text.substr(head_end)};
    }

private:
    void open(const std::string& host, std::uint16_t port, double timeout_s) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) {
            throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
        }
        timeval tv{};
        tv.tv_sec = static_cast<time_t>(timeout_s);
        tv.tv_usec = static_cast<suseconds_t>((timeout_s - static_cast<double>(tv.tv_sec)) * 1e6);
        setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
            throw std::runtime_error("not an IPv4 address: " + host);
        }
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            throw std::runtime_error("connect " + host + ":" + std::to_string(port) + ": " + std::strerror(errno));
        }
    }

    void release() {
        if (ssl_ != nullptr) {
            SSL_free(ssl_);
            ssl_ = nullptr;
        }
        if (fd_ >= 0) {
            ::close(fd_);
            fd_ = -1;
        }
    }

    // SSL_read as recv: bytes, 0 at the end of the stream (close_notify or not), or throws.
    ssize_t tls_read(char* buf, std::size_t size) {
        const int n = SSL_read(ssl_, buf, static_cast<int>(size));
        if (n > 0) {
            return n;
        }
        const int why = SSL_get_error(ssl_, n);
        if (why == SSL_ERROR_ZERO_RETURN || (why == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && errno == 0) ||
            (why == SSL_ERROR_SSL && ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
            ERR_clear_error();
            return 0;
        }
        throw std::runtime_error(openssl_error("TLS read"));
    }

    int fd_ = -1;
    SSL* ssl_ = nullptr;
};

// What fast_upstream's GET /stats says.
struct UpstreamStats {
    std::uint64_t lines_sent = 0;
    std::int64_t cpu_ns = 0;
    std::vector<std::pair<std::uint64_t, std::int64_t>> cancels;  // (id, realtime ns noticed)
};

UpstreamStats fetch_stats(const Options& o, std::uint64_t from = 0, std::uint64_t to = 0) {
    BlockingSocket socket(o.stats_host, o.stats_port, 5);
    socket.send_all("GET /stats?from=" + std::to_string(from) + "&to=" + std::to_string(to) +
                    " HTTP/1.1\r\nHost: " + o.stats_host + "\r\nConnection: close\r\n\r\n");
    auto [status, body] = socket.read_response();
    if (status != 200) {
        throw std::runtime_error("/stats answered " + std::to_string(status));
    }
    simdjson::ondemand::parser parser;
    simdjson::padded_string json(body);
    auto doc = parser.iterate(json);
    UpstreamStats stats;
    stats.lines_sent = doc["lines_sent"].get_uint64().value();
    stats.cpu_ns = doc["cpu_ns"].get_int64().value();
    for (auto entry : doc["cancels"].get_array()) {  // [[id, noticed_ns], ...]
        std::uint64_t pair[2] = {0, 0};
        std::size_t k = 0;
        for (auto number : entry.get_array()) {
            const std::uint64_t v = number.get_uint64().value();
            if (k < 2) {
                pair[k++] = v;
            }
        }
        stats.cancels.emplace_back(pair[0], static_cast<std::int64_t>(pair[1]));
    }
    return stats;
}

// ---------------------------------------------------------------------------------------------
// Stream and cancel modes.

struct Totals {
    Histogram added_ns;   // receive time - created_at, per line in the steady window
    Histogram ttft_ns;    // request sent -> first body byte, per request started in the steady window
    Histogram cancel_ns;  // client close -> upstream noticed
    Histogram handshake_ns;  // --tls: TCP connected -> TLS handshake done, every connection
    std::uint64_t lines = 0;          // all lines received (NDJSON lines, SSE data: lines)
    std::uint64_t steady_lines = 0;   // lines received in the steady window
    std::uint64_t responses = 0;      // complete responses
    std::uint64_t errors = 0;
    std::uint64_t negative = 0;       // lines stamped after they were received (clock trouble)
};

class Run;

// --tls: one connection's TLS stream, which owns its socket. A new one per connection, shared with
// the handlers of its pending operations: after a close, Asio's TLS operations still run their
// last steps on the stream (and its socket) they started on, so it must outlive them; a handler
// that finds its stream is no longer the connection's knows it is stale.
using TlsStream = asio::ssl::stream<tcp::socket>;

// One client connection: sends a request, reads the streamed response line by line, repeats.
class Stream {
public:
    Stream(Run& run, unsigned index);
    void open() { connect(); }  // --tls, before the run: connect and handshake, then wait
    void start_after(std::chrono::nanoseconds delay);
    void check_progress(std::int64_t now_ns);  // called by the run's sweep timer
    void stop();

private:
    enum class Phase { idle, connecting, handshake, ready, head, body, finished };  // ready: open, before the run
    enum class Framing { chunked, length, until_close };

    void connect();
    void handshake();
    void send_request();
    void read();
    // The TLS halves of send_request() and read(), out of line: the plain path stays as it was.
    [[gnu::noinline]] void write_tls();
    [[gnu::noinline]] void read_tls();
    void on_read(error_code ec, std::size_t n);
    void consume(std::string_view data, std::int64_t now_real);
    void on_body(std::string_view piece, std::int64_t now_real);
    void on_line(std::string_view line, std::int64_t now_real);
    void end_response();
    void fail(std::string_view what, const error_code& ec = {});
    void close_socket();
    void done();
    tcp::socket& socket() { return tls_ ? tls_->next_layer() : socket_; }

    Run& run_;
    const unsigned index_;
    tcp::socket socket_;              // plain connections
    std::shared_ptr<TlsStream> tls_;  // --tls: this connection's TLS stream (socket_ is then unused)
    asio::steady_timer timer_;
    Phase phase_ = Phase::idle;
    std::string request_;
    std::array<char, 16384> buf_{};
    std::string head_;
    std::string line_;  // a line split across reads or chunks
    std::string error_body_;
    unsigned status_ = 0;
    bool server_close_ = false;
    Framing framing_ = Framing::chunked;
    std::uint64_t body_left_ = 0;
    ChunkedDecoder chunked_;
    std::int64_t sent_ns_ = 0;      // monotonic, when the request was written
    std::int64_t connected_ns_ = 0; // monotonic, when TCP connected (--tls: the handshake starts)
    bool ttft_pending_ = false;
    bool record_ttft_ = false;
    std::int64_t last_progress_ns_ = 0;
    std::uint64_t requests_done_ = 0;
    std::uint64_t cancel_id_ = 0;
    bool counted_open_ = false;     // --tls: told the run it is open (once, even if it reconnects)
};

class Run {
public:
    Run(asio::io_context& ioc, const Options& o, asio::ssl::context* tls)
        : ioc_(ioc), options_(o), tls_(tls), sweep_(ioc) {
        endpoint_ = tcp::endpoint(asio::ip::make_address(o.host), o.port);
        sse_ = o.path.starts_with("/v1/");
        const std::string_view body = o.path == "/api/generate"
            ? R"({"model":"qwen3:14b","prompt":"Why is the sky blue?","stream":true})"
            : R"({"model":"qwen3:14b","messages":[{"role":"user","content":"Why is the sky blue?"}],"stream":true})";
        request_body_ = body;
        cancel_base_ = static_cast<std::uint64_t>(realtime_ns());
    }

    void start() {
        const unsigned count = options_.cancels > 0 ? std::min(options_.streams, options_.cancels) : options_.streams;
        for (unsigned i = 0; i < count; ++i) {
            streams_.push_back(std::make_unique<Stream>(*this, i));
        }
        active_ = count;
        if (tls_ != nullptr && options_.cancels == 0) {
            // --tls: every connection opens and does its handshake first, kOpeningAtOnce at a
            // time; begin() when all have.
            opening_ = true;
            opening_since_ns_ = monotonic_ns();
            while (opened_ < streams_.size() && opened_ < kOpeningAtOnce) {
                streams_[opened_++]->open();
            }
        } else {
            begin();
        }
        sweep();
    }

    // --tls: a connection is open and handshaken, before the run.
    void connection_open() {
        ++open_;
        if (opened_ < streams_.size()) {
            streams_[opened_++]->open();
        } else if (open_ == streams_.size()) {
            begin();
        }
    }
    bool opening() const { return opening_; }

    // Called when a stream has nothing more to do.
    void stream_finished() {
        if (--active_ == 0) {
            finish();
        }
    }

    void finish() {
        if (finished_) {
            return;
        }
        finished_ = true;
        finish_ns_ = monotonic_ns();
        sweep_.cancel();
        for (auto& s : streams_) {
            s->stop();
        }
        ioc_.stop();
    }

    // Next cancellation id to use, or 0 when all have been handed out.
    std::uint64_t next_cancel_id() {
        if (cancels_started_ >= options_.cancels) {
            return 0;
        }
        return cancel_base_ + cancels_started_++;
    }
    void record_abort(std::uint64_t id, std::int64_t at_real) { aborts_.emplace_back(id, at_real); }

    // A TLS handshake done: its time, and what the first one negotiated (for the report).
    void record_handshake(std::int64_t ns, TlsStream& stream) {
        totals_.handshake_ns.record(static_cast<std::uint64_t>(std::max<std::int64_t>(ns, 0)));
        if (tls_version_.empty()) {
            tls_version_ = SSL_get_version(stream.native_handle());
            tls_cipher_ = SSL_get_cipher_name(stream.native_handle());
        }
    }

    void error(unsigned stream, std::string_view what) {
        ++totals_.errors;
        if (totals_.errors <= 10) {
            std::fprintf(stderr, "loadgen: stream %u: %.*s\n", stream, static_cast<int>(what.size()), what.data());
        }
    }

    bool time_is_up(std::int64_t now) const { return now >= end_ns_ || finished_; }  // never while opening
    bool in_steady_window(std::int64_t now) const { return now >= steady_ns_ && now < end_ns_; }

    const Options& options() const { return options_; }
    asio::ssl::context* tls() const { return tls_; }
    const std::string& tls_version() const { return tls_version_; }
    const std::string& tls_cipher() const { return tls_cipher_; }
    const tcp::endpoint& endpoint() const { return endpoint_; }
    asio::io_context& ioc() { return ioc_; }
    bool sse() const { return sse_; }
    std::string_view request_body() const { return request_body_; }
    Totals& totals() { return totals_; }
    const std::vector<std::pair<std::uint64_t, std::int64_t>>& aborts() const { return aborts_; }
    std::uint64_t cancel_base() const { return cancel_base_; }
    std::int64_t cpu_at_begin() const { return cpu_at_begin_; }
    double opening_seconds() const { return static_cast<double>(opening_ns_) / 1e9; }
    double steady_seconds() const {
        const std::int64_t end = std::min(finished_ ? finish_ns_ : end_ns_, end_ns_);
        return std::max<double>(0.0, static_cast<double>(end - steady_ns_) / 1e9);
    }

private:
    // The run proper: its clock starts, and each stream's first request (or connection, without
    // --tls) is spread at random over the ramp, so streams do not tick in phase.
    void begin() {
        if (opening_) {
            opening_ = false;
            opening_ns_ = monotonic_ns() - opening_since_ns_;
        }
        cpu_at_begin_ = self_cpu_ns();
        start_ns_ = monotonic_ns();
        const double ramp = options_.ramp_s >= 0 ? options_.ramp_s
                            : options_.streams > 1 ? 0.5 + 0.0005 * options_.streams
                                                   : 0.0;
        steady_ns_ = start_ns_ + static_cast<std::int64_t>(ramp * 1e9);
        end_ns_ = start_ns_ + static_cast<std::int64_t>(options_.duration_s * 1e9);
        std::mt19937_64 rng(42);
        std::uniform_int_distribution<std::int64_t> spread(0, static_cast<std::int64_t>(ramp * 1e9));
        for (auto& s : streams_) {
            s->start_after(std::chrono::nanoseconds(spread(rng)));
        }
        if (!options_.ready_file.empty()) {
            if (std::FILE* f = std::fopen(options_.ready_file.c_str(), "w")) {
                std::fclose(f);
            } else {
                std::perror(("loadgen: " + options_.ready_file).c_str());
            }
        }
    }

    // Every 100 ms: stop at the deadline, and fail connections that made no progress for too long.
    // Opening (--tls) ends after --timeout seconds even if some connections never opened.
    void sweep() {
        sweep_.expires_after(std::chrono::milliseconds(100));
        sweep_.async_wait([this](error_code ec) {
            if (ec) {
                return;
            }
            const std::int64_t now = monotonic_ns();
            if (opening_ && now - opening_since_ns_ > static_cast<std::int64_t>(options_.timeout_s * 1e9)) {
                error(0, "not every connection opened within --timeout; starting the run anyway");
                begin();
            }
            if (time_is_up(now)) {
                finish();
                return;
            }
            for (auto& s : streams_) {
                s->check_progress(now);
            }
            sweep();
        });
    }

    asio::io_context& ioc_;
    Options options_;
    asio::ssl::context* tls_;  // null: plain connections
    std::string tls_version_, tls_cipher_;
    asio::steady_timer sweep_;
    tcp::endpoint endpoint_;
    bool sse_ = false;
    std::string request_body_;
    std::vector<std::unique_ptr<Stream>> streams_;
    unsigned active_ = 0;
    bool finished_ = false;
    // Until begin(): no deadline and no steady window yet.
    static constexpr std::int64_t kNotYet = std::numeric_limits<std::int64_t>::max();
    std::int64_t start_ns_ = 0, steady_ns_ = kNotYet, end_ns_ = kNotYet, finish_ns_ = 0;
    // A few at a time keeps both CPUs busy (client and proxy take turns) without a queue of
    // handshakes in the proxy, so a handshake's time is its own; a thousand at once would also
    // overflow the proxy's listen backlog.
    static constexpr std::size_t kOpeningAtOnce = 8;
    bool opening_ = false;
    std::size_t opened_ = 0, open_ = 0;  // connections started opening, and open
    std::int64_t opening_since_ns_ = 0, opening_ns_ = 0, cpu_at_begin_ = 0;
    Totals totals_;
    std::uint64_t cancel_base_ = 0;
    std::uint64_t cancels_started_ = 0;
    std::vector<std::pair<std::uint64_t, std::int64_t>> aborts_;  // (id, realtime ns closed)
};

Stream::Stream(Run& run, unsigned index)
    : run_(run), index_(index), socket_(run.ioc()), timer_(run.ioc()) {
    head_.reserve(1024);
    line_.reserve(1024);
}

void Stream::start_after(std::chrono::nanoseconds delay) {
    timer_.expires_after(delay);
    timer_.async_wait([this](error_code ec) {
        if (ec || phase_ == Phase::connecting || phase_ == Phase::handshake) {
            return;  // (--tls: still opening when the run began; it sends when its handshake is done)
        }
        if (phase_ == Phase::ready) {
            send_request();  // --tls: the connection was opened before the run
            return;
        }
        connect();
    });
}

void Stream::connect() {
    if (run_.time_is_up(monotonic_ns())) {
        done();
        return;
    }
    if (run_.options().cancels > 0) {
        cancel_id_ = run_.next_cancel_id();
        if (cancel_id_ == 0) {
            done();
            return;
        }
    }
    phase_ = Phase::connecting;
    last_progress_ns_ = monotonic_ns();
    if (asio::ssl::context* tls = run_.tls()) {
        tls_ = std::make_shared<TlsStream>(run_.ioc(), *tls);
        prepare_tls(tls_->native_handle(), run_.options());
    }
    socket().async_connect(run_.endpoint(), [this, tls = tls_](error_code ec) {
        if (phase_ != Phase::connecting || tls != tls_) {
            return;
        }
        if (ec) {
            fail("connect failed", ec);
            return;
        }
        error_code ignored;
        socket().set_option(tcp::no_delay(true), ignored);
        if (tls_) {
            handshake();
            return;
        }
        read();
        send_request();
    });
}

// --tls: the handshake, before the first request and outside its TTFT.
void Stream::handshake() {
    phase_ = Phase::handshake;
    connected_ns_ = last_progress_ns_ = monotonic_ns();
    tls_->async_handshake(asio::ssl::stream_base::client, [this, tls = tls_](error_code ec) {
        if (phase_ != Phase::handshake || tls != tls_) {
            return;
        }
        if (ec) {
            fail("TLS handshake failed", ec);
            return;
        }
        run_.record_handshake(monotonic_ns() - connected_ns_, *tls_);
        read();
        if (run_.opening()) {
            phase_ = Phase::ready;
            if (!counted_open_) {
                counted_open_ = true;
                run_.connection_open();
            }
            return;
        }
        send_request();
    });
}

void Stream::send_request() {
    const Options& o = run_.options();
    request_.clear();
    request_.append("POST ").append(o.path).append("?tokens=").append(std::to_string(o.tokens));
    if (o.rate >= 0) {
        request_.append("&rate=").append(std::to_string(o.rate));
    }
    if (cancel_id_ != 0) {
        request_.append("&id=").append(std::to_string(cancel_id_));
    }
    const std::string_view body = run_.request_body();
    request_.append(" HTTP/1.1\r\nHost: ").append(o.host).append(":").append(std::to_string(o.port));
    request_.append("\r\nUser-Agent: sluice-loadgen\r\nAccept: */*\r\nContent-Type: application/json\r\n");
    request_.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n\r\n").append(body);

    phase_ = Phase::head;
    head_.clear();
    line_.clear();
    error_body_.clear();
    status_ = 0;
    sent_ns_ = last_progress_ns_ = monotonic_ns();
    ttft_pending_ = true;
    record_ttft_ = run_.in_steady_window(sent_ns_);
    if (tls_) {
        write_tls();
        return;
    }
    asio::async_write(socket_, asio::buffer(request_), [this](error_code ec, std::size_t) {
        if (ec && phase_ == Phase::head) {
            fail("request write failed", ec);
        }
    });
}

void Stream::write_tls() {
    asio::async_write(*tls_, asio::buffer(request_), [this, tls = tls_](error_code ec, std::size_t) {
        if (ec && phase_ == Phase::head && tls == tls_) {
            fail("request write failed", ec);
        }
    });
}

// One read is kept pending for the whole life of a connection. Flattened because, with the TLS
// stream's operations in the program too, GCC stopped inlining Asio's start_op here: the plain
// path then cost ~50 more instructions a line than before --tls; flattened, ~50 fewer (callgrind).
[[gnu::flatten]] void Stream::read() {
    if (tls_) {
        read_tls();
        return;
    }
    socket_.async_read_some(asio::buffer(buf_), [this](error_code ec, std::size_t n) { on_read(ec, n); });
}

void Stream::read_tls() {
    tls_->async_read_some(asio::buffer(buf_), [this, tls = tls_](error_code ec, std::size_t n) {
        if (tls == tls_) {
            on_read(ec, n);
        }
    });
}

void Stream::on_read(error_code ec, std::size_t n) {
    if (phase_ == Phase::idle || phase_ == Phase::finished || phase_ == Phase::connecting ||
        phase_ == Phase::handshake) {
        return;  // a read that belonged to a socket closed since
    }
    const std::int64_t now_real = realtime_ns();  // one clock read per read: lines in it arrived together
    last_progress_ns_ = monotonic_ns();
    if (phase_ == Phase::ready) {  // --tls, open before the run: the server has nothing to say yet
        fail(ec ? "connection closed before its first request" : "bytes before a request", ec);
        return;
    }
    if (ec) {
        // Over TLS a server may close without close_notify: the end of such a body too.
        const bool closed = ec == asio::error::eof || ec == asio::ssl::error::stream_truncated;
        if (closed && phase_ == Phase::body && framing_ == Framing::until_close) {
            end_response();
            return;
        }
        fail(phase_ == Phase::head && head_.empty() ? "connection closed before a response" : "connection lost mid-response", ec);
        return;
    }
    consume(std::string_view(buf_.data(), n), now_real);
    if (phase_ == Phase::head || phase_ == Phase::body) {
        read();
    }
}

void Stream::consume(std::string_view data, std::int64_t now_real) {
    while (!data.empty() && (phase_ == Phase::head || phase_ == Phase::body)) {
        if (phase_ == Phase::head) {
            const std::size_t search_from = head_.size() >= 3 ? head_.size() - 3 : 0;
            head_.append(data);
            const std::size_t end = head_.find("\r\n\r\n", search_from);
            if (end == std::string::npos) {
                if (head_.size() > 65536) {
                    fail("response head too large");
                }
                return;
            }
            data = data.substr(data.size() - (head_.size() - (end + 4)));
            head_.resize(end + 4);
            const MessageHead head = parse_message_head(head_);
            status_ = status_code(head.first_line);
            server_close_ = head.close;
            if (head.chunked) {
                framing_ = Framing::chunked;
                chunked_.reset();
            } else if (head.content_length) {
                framing_ = Framing::length;
                body_left_ = *head.content_length;
            } else {
                framing_ = Framing::until_close;
            }
            phase_ = Phase::body;
            if (!head.valid || status_ == 0) {
                fail("malformed response head");
                return;
            }
            if (framing_ == Framing::length && body_left_ == 0) {
                end_response();
            }
            continue;
        }
        switch (framing_) {
        case Framing::chunked: {
            const std::size_t used = chunked_.feed(data, [&](std::string_view piece) { on_body(piece, now_real); });
            data.remove_prefix(used);
            if (chunked_.failed()) {
                fail("malformed chunked body");
                return;
            }
            if (chunked_.done()) {
                end_response();
            }
            break;
        }
        case Framing::length: {
            const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(body_left_, data.size()));
            on_body(data.substr(0, take), now_real);
            data.remove_prefix(take);
            body_left_ -= take;
            if (body_left_ == 0) {
                end_response();
            }
            break;
        }
        case Framing::until_close:
            on_body(data, now_real);
            data = {};
            break;
        }
    }
}

void Stream::on_body(std::string_view piece, std::int64_t now_real) {
    if (piece.empty() || phase_ != Phase::body) {
        return;
    }
    if (ttft_pending_) {
        ttft_pending_ = false;
        if (record_ttft_) {
            run_.totals().ttft_ns.record(static_cast<std::uint64_t>(monotonic_ns() - sent_ns_));
        }
    }
    if (status_ != 200) {  // an error answer: keep its start for the message
        error_body_.append(piece.substr(0, std::min<std::size_t>(piece.size(), 200 - std::min<std::size_t>(200, error_body_.size()))));
        return;
    }
    while (!piece.empty() && phase_ == Phase::body) {
        const std::size_t nl = piece.find('\n');
        if (nl == std::string_view::npos) {
            line_.append(piece);
            if (line_.size() > (1u << 20)) {
                fail("line longer than 1 MiB");
            }
            return;
        }
        if (line_.empty()) {
            on_line(piece.substr(0, nl), now_real);  // the common case: no copy
        } else {
            line_.append(piece.substr(0, nl));
            on_line(line_, now_real);
            line_.clear();
        }
        piece.remove_prefix(nl + 1);
    }
}

void Stream::on_line(std::string_view line, std::int64_t now_real) {
    if (!line.empty() && line.back() == '\r') {
        line.remove_suffix(1);
    }
    if (line.empty()) {
        return;  // SSE event separator
    }
    if (run_.sse()) {
        if (!line.starts_with("data:")) {
            return;  // SSE comments and event names are not lines of output
        }
        line.remove_prefix(5);
    }
    Totals& totals = run_.totals();
    ++totals.lines;
    const bool steady = run_.in_steady_window(monotonic_ns());
    if (steady) {
        ++totals.steady_lines;
    }
    if (line.find("[DONE]") != std::string_view::npos && line.size() < 10) {
        return;
    }
    constexpr std::string_view kField = "\"created_at\":\"";
    const std::size_t at = line.find(kField);
    if (at == std::string_view::npos) {
        fail(line.find("\"error\"") != std::string_view::npos ? "error line in stream" : "line without created_at");
        return;
    }
    const auto created = parse_rfc3339_ns(line.substr(at + kField.size()));
    if (!created) {
        fail("unparsable created_at");
        return;
    }
    if (steady) {
        const std::int64_t added = now_real - *created;
        if (added < 0) {
            ++totals.negative;
        }
        totals.added_ns.record(static_cast<std::uint64_t>(std::max<std::int64_t>(added, 0)));
    }
    if (cancel_id_ != 0) {
        // Cancel mode: the stream is running; the client goes away now.
        run_.record_abort(cancel_id_, realtime_ns());
        close_socket();
        ++requests_done_;
        start_after(std::chrono::microseconds(static_cast<std::int64_t>(run_.options().cancel_pause_ms * 1e3)));
    }
}

void Stream::end_response() {
    if (status_ != 200) {
        fail("HTTP " + std::to_string(status_) + ": " + error_body_);
        return;
    }
    if (!line_.empty()) {
        fail("stream ended inside a line");
        return;
    }
    ++run_.totals().responses;
    ++requests_done_;
    const std::uint64_t limit = run_.options().requests;
    if (run_.time_is_up(monotonic_ns()) || (limit != 0 && requests_done_ >= limit)) {
        done();
        return;
    }
    if (server_close_ || framing_ == Framing::until_close) {
        close_socket();
        connect();
        return;
    }
    send_request();
}

void Stream::fail(std::string_view what, const error_code& ec) {
    std::string message(what);
    if (ec) {
        message.append(": ").append(ec.message());
    }
    run_.error(index_, message);
    close_socket();
    if (run_.options().cancels > 0) {
        ++requests_done_;
    }
    // Try again after a pause (a proxy that refuses connections must not make a busy loop).
    phase_ = Phase::idle;
    start_after(std::chrono::milliseconds(100));
}

void Stream::check_progress(std::int64_t now_ns) {
    const bool waiting = phase_ == Phase::connecting || phase_ == Phase::handshake || phase_ == Phase::head ||
                         phase_ == Phase::body;
    if (waiting && now_ns - last_progress_ns_ > static_cast<std::int64_t>(run_.options().timeout_s * 1e9)) {
        fail(phase_ == Phase::connecting ? "connect timed out"
             : phase_ == Phase::handshake ? "TLS handshake timed out"
                                          : "no bytes for too long");
    }
}

// A client going away: the socket is closed without a TLS close_notify, as a browser tab or a
// killed process does it.
void Stream::close_socket() {
    phase_ = Phase::idle;
    error_code ignored;
    socket().close(ignored);
    tls_.reset();  // its pending handlers keep it alive until they have run, and then see it is stale
}

void Stream::done() {
    close_socket();
    phase_ = Phase::finished;
    timer_.cancel();
    run_.stream_finished();
}

void Stream::stop() {
    close_socket();
    phase_ = Phase::finished;
    timer_.cancel();
}

// ---------------------------------------------------------------------------------------------
// Reporting.

std::string json_escape(std::string_view s) {
    std::string out;
    for (const char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
        }
        if (static_cast<unsigned char>(c) >= 0x20) {
            out += c;
        }
    }
    return out;
}

double us(std::uint64_t ns) { return static_cast<double>(ns) / 1e3; }
double ms(std::uint64_t ns) { return static_cast<double>(ns) / 1e6; }

// --tls: a line on the handshakes for the summary, and the JSON members (none without --tls,
// so plain output is as it was).
void print_tls_summary(const Run& run, const Totals& t) {
    if (run.tls() == nullptr) {
        return;
    }
    std::printf("  TLS %s %s: %" PRIu64 " handshakes, ms p50 %.3f  p99 %.3f  max %.3f (not in TTFT)",
                run.tls_version().empty() ? "(none done)" : run.tls_version().c_str(), run.tls_cipher().c_str(),
                t.handshake_ns.count(), ms(t.handshake_ns.percentile(50)), ms(t.handshake_ns.percentile(99)),
                ms(t.handshake_ns.max()));
    if (run.opening_seconds() > 0) {
        std::printf("; all connections opened in %.3f s, before the run", run.opening_seconds());
    }
    std::printf("\n");
}

std::string tls_json(const Run& run, const Totals& t) {
    if (run.tls() == nullptr) {
        return {};
    }
    char text[512];
    std::snprintf(text, sizeof text,
                  ",\"tls\":true,\"tls_verified\":%s,\"tls_version\":\"%s\",\"tls_cipher\":\"%s\",\"handshakes\":%" PRIu64
                  ",\"handshake_p50_ms\":%.3f,\"handshake_p99_ms\":%.3f,\"opening_s\":%.3f",
                  run.options().tls_ca.empty() ? "false" : "true", json_escape(run.tls_version()).c_str(),
                  json_escape(run.tls_cipher()).c_str(), t.handshake_ns.count(), ms(t.handshake_ns.percentile(50)),
                  ms(t.handshake_ns.percentile(99)), run.opening_seconds());
    return text;
}

int run_streams(const Options& o) {
    std::optional<UpstreamStats> before;
    if (!o.stats_host.empty()) {
        before = fetch_stats(o);
    }
    const auto tls = make_tls_context(o);
    asio::io_context ioc(1);
    Run run(ioc, o, tls.get());
    run.start();
    ioc.run();
    const std::int64_t cpu_used = self_cpu_ns() - run.cpu_at_begin();  // --tls: handshakes before it not counted
    const Totals& t = run.totals();
    const double steady_s = run.steady_seconds();
    const double lines_per_s = steady_s > 0 ? static_cast<double>(t.steady_lines) / steady_s : 0;
    const double per_line = t.lines ? 1.0 / static_cast<double>(t.lines) : 0;
    double upstream_us_per_line = -1;
    std::uint64_t upstream_lines = 0;
    if (before) {
        const UpstreamStats after = fetch_stats(o);
        upstream_lines = after.lines_sent - before->lines_sent;
        if (upstream_lines > 0) {
            upstream_us_per_line = static_cast<double>(after.cpu_ns - before->cpu_ns) / 1e3 / static_cast<double>(upstream_lines);
        }
    }
    const double loadgen_us_per_line = static_cast<double>(cpu_used) / 1e3 * per_line;

    std::printf("%s%s%s %u streams x %s, %.1f s steady window\n", o.label.c_str(), o.label.empty() ? "" : ": ",
                o.path.c_str(), o.streams, o.rate >= 0 ? (std::to_string(o.rate) + " tok/s").c_str() : "default rate",
                steady_s);
    std::printf("  lines %" PRIu64 " (%.0f lines/s steady), responses %" PRIu64 ", errors %" PRIu64 "\n",
                t.lines, lines_per_s, t.responses, t.errors);
    std::printf("  added latency us: p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  (%" PRIu64 " lines)\n",
                us(t.added_ns.percentile(50)), us(t.added_ns.percentile(99)), us(t.added_ns.percentile(99.9)),
                us(t.added_ns.max()), t.added_ns.count());
    std::printf("  TTFT ms: p50 %.3f  p99 %.3f  (%" PRIu64 " requests)\n", ms(t.ttft_ns.percentile(50)),
                ms(t.ttft_ns.percentile(99)), t.ttft_ns.count());
    print_tls_summary(run, t);
    std::printf("  CPU us/line: loadgen %.2f, upstream %.2f\n", loadgen_us_per_line, upstream_us_per_line);
    if (t.negative > 0) {
        std::printf("  warning: %" PRIu64 " lines were stamped after they arrived (clock steps?)\n", t.negative);
    }
    std::printf("{\"mode\":\"stream\",\"label\":\"%s\",\"path\":\"%s\",\"streams\":%u,\"rate\":%.1f,\"tokens\":%u,"
                "\"steady_s\":%.3f,\"lines\":%" PRIu64 ",\"steady_lines\":%" PRIu64 ",\"lines_per_s\":%.1f,"
                "\"responses\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"added_p50_us\":%.1f,\"added_p99_us\":%.1f,"
                "\"added_p999_us\":%.1f,\"added_max_us\":%.1f,\"latency_samples\":%" PRIu64 ","
                "\"ttft_p50_ms\":%.3f,\"ttft_p99_ms\":%.3f,\"ttft_samples\":%" PRIu64 ","
                "\"loadgen_cpu_us_per_line\":%.3f,\"upstream_cpu_us_per_line\":%.3f,\"upstream_lines\":%" PRIu64 "%s}\n",
                json_escape(o.label).c_str(), json_escape(o.path).c_str(), o.streams, o.rate, o.tokens, steady_s,
                t.lines, t.steady_lines, lines_per_s, t.responses, t.errors, us(t.added_ns.percentile(50)),
                us(t.added_ns.percentile(99)), us(t.added_ns.percentile(99.9)), us(t.added_ns.max()),
                t.added_ns.count(), ms(t.ttft_ns.percentile(50)), ms(t.ttft_ns.percentile(99)), t.ttft_ns.count(),
                loadgen_us_per_line, upstream_us_per_line, upstream_lines, tls_json(run, t).c_str());
    return 0;
}

int run_cancels(Options o) {
    if (o.stats_host.empty()) {
        throw std::invalid_argument("--cancel needs --stats HOST:PORT of fast_upstream");
    }
    o.requests = 0;
    o.ramp_s = 0;
    const auto tls = make_tls_context(o);
    asio::io_context ioc(1);
    Run run(ioc, o, tls.get());
    run.start();
    ioc.run();
    Totals& t = run.totals();

    // Wait, within bounds, until the upstream has noticed every close.
    const auto& aborts = run.aborts();
    const std::uint64_t first_id = run.cancel_base();
    const std::uint64_t last_id = first_id + o.cancels - 1;
    UpstreamStats stats;
    const std::int64_t give_up = monotonic_ns() + static_cast<std::int64_t>(o.cancel_wait_s * 1e9);
    for (;;) {
        stats = fetch_stats(o, first_id, last_id);
        if (stats.cancels.size() >= aborts.size() || monotonic_ns() > give_up) {
            break;
        }
        usleep(20'000);
    }
    std::vector<std::int64_t> noticed(o.cancels, -1);
    for (const auto& [id, at] : stats.cancels) {
        if (id >= first_id && id <= last_id) {
            noticed[id - first_id] = at;
        }
    }
    std::uint64_t undetected = 0;
    for (const auto& [id, closed_at] : aborts) {
        const std::int64_t at = noticed[id - first_id];
        if (at < 0) {
            ++undetected;
        } else {
            t.cancel_ns.record(static_cast<std::uint64_t>(std::max<std::int64_t>(at - closed_at, 0)));
        }
    }
    std::printf("%s%scancel propagation: %zu cancels, %" PRIu64 " noticed by the upstream within %.1f s, "
                "%" PRIu64 " not, %" PRIu64 " errors\n",
                o.label.c_str(), o.label.empty() ? "" : ": ", aborts.size(), t.cancel_ns.count(), o.cancel_wait_s,
                undetected, t.errors);
    std::printf("  client close -> upstream notices, us: p50 %.1f  p99 %.1f  max %.1f\n",
                us(t.cancel_ns.percentile(50)), us(t.cancel_ns.percentile(99)), us(t.cancel_ns.max()));
    print_tls_summary(run, t);
    std::printf("{\"mode\":\"cancel\",\"label\":\"%s\",\"path\":\"%s\",\"cancels\":%zu,\"detected\":%" PRIu64
                ",\"undetected\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"cancel_p50_us\":%.1f,\"cancel_p99_us\":%.1f,"
                "\"cancel_max_us\":%.1f%s}\n",
                json_escape(o.label).c_str(), json_escape(o.path).c_str(), aborts.size(), t.cancel_ns.count(),
                undetected, t.errors, us(t.cancel_ns.percentile(50)), us(t.cancel_ns.percentile(99)),
                us(t.cancel_ns.max()), tls_json(run, t).c_str());
    return 0;
}

int run_upload(const Options& o) {
    // A valid-looking digest (Ollama checks the form, ^sha256[:-][0-9a-f]{64}$); nobody checks the content.
    const std::string target = "/api/blobs/sha256:" + std::string(64, 'b');
    std::vector<char> block(1 << 20);
    for (std::size_t i = 0; i < block.size(); ++i) {
        block[i] = static_cast<char>((i * 131) % 251);
    }
    unsigned status = 0;
    std::string error;
    const auto tls = make_tls_context(o);
    const std::int64_t start = monotonic_ns();  // with --tls, the handshake is in the time (once per GiBs)
    try {
        BlockingSocket socket(o, tls.get());
        socket.send_all("POST " + target + " HTTP/1.1\r\nHost: " + o.host + ":" + std::to_string(o.port) +
                        "\r\nUser-Agent: sluice-loadgen\r\nContent-Type: application/octet-stream\r\n"
                        "Content-Length: " + std::to_string(o.upload_bytes) + "\r\n\r\n");
        for (std::uint64_t left = o.upload_bytes; left > 0;) {
            const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(left, block.size()));
            socket.send_all(std::string_view(block.data(), n));
            left -= n;
        }
        status = socket.read_response().first;
        if (status != 201 && status != 200) {
            error = "HTTP " + std::to_string(status);
        }
    } catch (const std::exception& e) {
        error = e.what();
    }
    const double seconds = static_cast<double>(monotonic_ns() - start) / 1e9;
    const double gb_per_s = error.empty() && seconds > 0 ? static_cast<double>(o.upload_bytes) / seconds / 1e9 : 0;
    std::printf("%s%supload of %" PRIu64 " bytes: %s in %.3f s, %.2f GB/s\n", o.label.c_str(),
                o.label.empty() ? "" : ": ", o.upload_bytes, error.empty() ? "ok" : error.c_str(), seconds, gb_per_s);
    std::printf("{\"mode\":\"upload\",\"label\":\"%s\",\"bytes\":%" PRIu64 ",\"status\":%u,\"errors\":%d,"
                "\"seconds\":%.3f,\"gb_per_s\":%.3f%s}\n",
                json_escape(o.label).c_str(), o.upload_bytes, status, error.empty() ? 0 : 1, seconds, gb_per_s,
                o.tls ? ",\"tls\":true" : "");
    return 0;
}

// Prints `count` distinct TCP ports that are free on 127.0.0.1 right now (held open together
// while choosing, so they differ).
int print_free_ports(unsigned count) {
    std::vector<int> fds;
    for (unsigned i = 0; i < count; ++i) {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
            std::perror("loadgen: free port");
            return 1;
        }
        fds.push_back(fd);
        std::printf("%u\n", ntohs(addr.sin_port));
    }
    for (const int fd : fds) {
        ::close(fd);
    }
    return 0;
}

void usage() {
    std::cout <<
        "usage: sluice_loadgen --target HOST:PORT [options]\n"
        "  --path P          /api/chat (default), /api/generate or /v1/chat/completions\n"
        "  --streams N       concurrent connections (default 1)\n"
        "  --requests R      requests per connection, one after another (default 0: until --duration)\n"
        "  --tokens N        token lines per response, sent as ?tokens=N (default 200)\n"
        "  --rate R          tokens/s per stream, sent as ?rate=R (default: the upstream's)\n"
        "  --duration S      stop after S seconds (default 10)\n"
        "  --ramp S          spread connection starts over S seconds; latency and lines/s count only\n"
        "                    after it (default 0.5 + 0.0005 x streams; 0 for one stream)\n"
        "  --timeout S       a connection without progress for S seconds is an error (default 10)\n"
        "  --stats HOST:PORT fast_upstream's address, for its CPU per line and cancel records\n"
        "  --cancel N        cancel mode: N streams closed after their first line (concurrency: --streams)\n"
        "  --cancel-wait S   how long to wait for the upstream to notice the closes (default 2)\n"
        "  --cancel-pause MS pause of each stream between a close and its next request (default 5)\n"
        "  --upload BYTES    upload mode: one blob POST of BYTES generated bytes\n"
        "  --label TEXT      copied into the output\n"
        "  --cpu N           pin the (single) thread to this CPU\n"
        "  --tls             every connection to --target is TLS (1.2 or newer, SNI \"localhost\"), in all\n"
        "                    modes; the handshake is timed apart, before the first request (not in TTFT);\n"
        "                    in stream mode all connections are opened first and the run starts after\n"
        "  --tls-ca FILE     with --tls: verify the server's certificate against this CA (PEM) and the\n"
        "                    name \"localhost\" (default: no verification)\n"
        "  --ready-file FILE create FILE when the run starts: with --tls in stream mode, once every\n"
        "                    connection is open and handshaken (a driver measures the proxy from then)\n"
        "  --free-ports N    print N free TCP ports on 127.0.0.1 and exit\n"
        "The last line of output is one JSON object with the figures.\n";
}

Options parse_options(int argc, char** argv) {
    Options o;
    bool have_target = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                throw std::invalid_argument(std::string(arg) + " needs a value");
            }
            return argv[++i];
        };
        if (arg == "--target") {
            std::tie(o.host, o.port) = split_host_port(value());
            have_target = true;
        } else if (arg == "--path") {
            o.path = value();
        } else if (arg == "--streams") {
            o.streams = static_cast<unsigned>(std::stoul(value()));
        } else if (arg == "--requests") {
            o.requests = std::stoull(value());
        } else if (arg == "--tokens") {
            o.tokens = static_cast<unsigned>(std::stoul(value()));
        } else if (arg == "--rate") {
            o.rate = std::stod(value());
        } else if (arg == "--duration") {
            o.duration_s = std::stod(value());
        } else if (arg == "--ramp") {
            o.ramp_s = std::stod(value());
        } else if (arg == "--timeout") {
            o.timeout_s = std::stod(value());
        } else if (arg == "--stats") {
            std::tie(o.stats_host, o.stats_port) = split_host_port(value());
        } else if (arg == "--cancel") {
            o.cancels = static_cast<unsigned>(std::stoul(value()));
        } else if (arg == "--cancel-wait") {
            o.cancel_wait_s = std::stod(value());
        } else if (arg == "--cancel-pause") {
            o.cancel_pause_ms = std::stod(value());
        } else if (arg == "--upload") {
            o.upload_bytes = std::stoull(value());
        } else if (arg == "--label") {
            o.label = value();
        } else if (arg == "--cpu") {
            o.cpu = std::stoi(value());
        } else if (arg == "--tls") {
            o.tls = true;
        } else if (arg == "--tls-ca") {
            o.tls_ca = value();
        } else if (arg == "--ready-file") {
            o.ready_file = value();
        } else if (arg == "--free-ports") {
            o.free_ports = static_cast<unsigned>(std::stoul(value()));
        } else if (arg == "--help" || arg == "-h") {
            usage();
            std::exit(0);
        } else {
            throw std::invalid_argument("unknown option " + std::string(arg));
        }
    }
    if (!have_target && o.free_ports == 0) {
        throw std::invalid_argument("--target HOST:PORT is required");
    }
    if (!o.tls_ca.empty() && !o.tls) {
        throw std::invalid_argument("--tls-ca needs --tls");
    }
    if (o.streams == 0 || o.duration_s <= 0) {
        throw std::invalid_argument("--streams and --duration must be positive");
    }
    return o;
}

}  // namespace

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);
    Options options;
    try {
        options = parse_options(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << "loadgen: " << e.what() << " (see --help)\n";
        return 2;
    }
    if (options.free_ports > 0) {
        return print_free_ports(options.free_ports);
    }
    if (options.cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(options.cpu, &set);
        if (sched_setaffinity(0, sizeof set, &set) != 0) {
            std::perror("loadgen: sched_setaffinity");
        }
    }
    try {
        if (options.upload_bytes > 0) {
            return run_upload(options);
        }
        if (options.cancels > 0) {
            return run_cancels(options);
        }
        return run_streams(options);
    } catch (const std::exception& e) {
        std::cerr << "loadgen: " << e.what() << "\n";
        return 1;
    }
}
