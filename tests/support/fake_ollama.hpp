// fake_ollama: an Ollama-shaped HTTP server on loopback for integration tests.
//
// It speaks Ollama's wire format (see tests/fixtures and ollama-api.md): chunked NDJSON streams
// with created_at stamped at send time, SSE for /v1, errors as {"error": "..."}, pull progress,
// blob uploads, and Ollama's Host and Origin checks. Knobs make it slow, broken or huge, and it
// records every request it received so tests can assert exactly what sluice sent.
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

struct RecordedRequest {
    std::string method;   // "POST"
    std::string target;   // "/api/chat?x=1", as received
    unsigned version = 11;
    std::vector<std::pair<std::string, std::string>> headers;  // as received, in order
    std::string body;     // de-chunked body bytes (blob uploads: empty, see body_bytes)
    std::size_t body_bytes = 0;  // body length as received (counted for blob uploads too)
    bool chunked = false;        // the request used Transfer-Encoding: chunked
    std::uint64_t connection_id = 0;  // which TCP connection carried it (1, 2, ...)

    // Case-insensitive lookup; empty when absent.
    std::string header(std::string_view name) const;
    bool has_header(std::string_view name) const;
};

// How streaming routes (chat, generate, v1 chat/completions, v1 completions, pull) behave.
enum class StreamMode {
    normal,           // all lines, then a final done line
    error_midstream,  // `fail_after` lines, then {"error":"..."} line, then end of stream
    abrupt_close,     // `fail_after` lines, then the TCP connection is closed with no terminating chunk
    stall,            // `fail_after` lines, then nothing more until the peer closes
    huge_line,        // one line of `huge_line_bytes` bytes (a long JSON string), then the done line
};

struct FakeOllamaKnobs {
    std::chrono::microseconds token_interval{std::chrono::milliseconds(2)};  // gap between lines
    std::chrono::milliseconds first_byte_delay{0};  // before the status line (model load)
    int tokens = 8;            // content lines before the final done line
    StreamMode mode = StreamMode::normal;
    int fail_after = 3;        // lines before the failure, for error_midstream/abrupt_close/stall
    std::size_t huge_line_bytes = 1 << 20;
    // When set, the content of line i is texts[i % size] instead of "tok<i> " (a reply with
    // markup, or inline <think>, for the browser tests).
    std::vector<std::string> texts{};
    // Whether Expect: 100-continue is answered with 100 before the body is read (Go's server
    // does; a server that reads the body without it is what a client that does not wait meets).
    bool send_continue = true;
    // When set, what /api/ps answers instead of tests/fixtures/ps.json (a model partly on the CPU).
    std::string ps_json{};
    // When set, what /api/tags answers instead of tests/fixtures/tags.json (a vision model too).
    std::string tags_json{};
};

class FakeOllama {
public:
    FakeOllama();   // listens on 127.0.0.1 on an ephemeral port, serves on its own thread
    ~FakeOllama();  // stops and joins
    FakeOllama(const FakeOllama&) = delete;
    FakeOllama& operator=(const FakeOllama&) = delete;

    std::uint16_t port() const;
    std::string url() const;  // "http://127.0.0.1:<port>"

    // Knobs apply to requests that start after the call; thread-safe.
    void set_knobs(const FakeOllamaKnobs& knobs);
    FakeOllamaKnobs knobs() const;

    // sluice's readiness probe (User-Agent: sluice-readiness) is answered but neither recorded
    // nor counted in connections_accepted().
    std::vector<RecordedRequest> requests() const;  // every request fully received so far
    RecordedRequest last_request() const;           // the newest (throws if none)
    std::size_t connections_accepted() const;       // TCP connections accepted so far
    std::size_t open_connections() const;           // TCP connections currently open

    // Streams that ended because the peer (sluice) closed the connection before the stream
    // finished, and a wait for the count to reach `n` (false on timeout).
    std::size_t streams_cancelled() const;
    bool wait_streams_cancelled(std::size_t n, std::chrono::milliseconds timeout) const;
    // Lines written so far across all streams (to see that a stalled client stops production).
    std::size_t lines_sent() const;
    // Waits (up to `timeout`) until lines_sent() stops growing for `quiet` and returns it: where
    // production stalls when every buffer between Ollama and a client that reads nothing is full.
    std::size_t wait_production_stalled(std::chrono::milliseconds timeout,
                                        std::chrono::milliseconds quiet = std::chrono::milliseconds(300)) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::test
