// test_client: a small blocking HTTP/1.1 client over a real socket, for integration tests.
// It keeps the pieces of a response as they arrived (with timestamps) so tests can check
// that streaming stays streaming.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::test {

using Clock = std::chrono::steady_clock;

struct BodyPiece {
    std::string data;        // body bytes delivered by one read (de-chunked)
    Clock::time_point at;    // when the read returned
};

struct Response {
    unsigned status = 0;
    unsigned version = 11;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;                 // the whole de-chunked body
    std::vector<BodyPiece> pieces;    // the body as it arrived
    bool chunked = false;
    bool keep_alive = true;

    std::string header(std::string_view name) const;  // case-insensitive; empty when absent
    bool has_header(std::string_view name) const;
};

// Extra request headers, in order.
using Headers = std::vector<std::pair<std::string, std::string>>;

class TestClient {
public:
    explicit TestClient(std::uint16_t port);  // connects to 127.0.0.1:port, TCP_NODELAY
    ~TestClient();
    TestClient(const TestClient&) = delete;
    TestClient& operator=(const TestClient&) = delete;

    // Sends one HTTP/1.1 request (Host: 127.0.0.1:<port>, Content-Length when body is non-empty
    // or method is POST/PUT) and reads its response. Extra headers are added as given.
    Response request(std::string_view method, std::string_view target, std::string_view body = {},
                     const Headers& headers = {});

    void send_raw(std::string_view bytes);   // writes bytes as they are
    // Reads one response; `head` when it answers a HEAD request. Throws on timeout or error.
    Response read_response(bool head = false,
                           std::chrono::milliseconds timeout = std::chrono::seconds(10));
    // Reads only the status line and headers; then read_body_piece() returns body pieces one by one
    // (empty string at the end of the body).
    Response read_header(std::chrono::milliseconds timeout = std::chrono::seconds(10));
    std::string read_body_piece(std::chrono::milliseconds timeout = std::chrono::seconds(10));

    // True when the server closes the connection within `timeout` (reads and drops any bytes).
    bool wait_closed(std::chrono::milliseconds timeout);
    void close();                        // abortive close (RST is fine)
    void shutdown_send();                // half-close

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::test
