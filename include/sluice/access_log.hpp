// access_log: one line per request, and the generation statistics read from a stream's final line.
#pragma once

#include "sluice/router.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice {

using Clock = std::chrono::steady_clock;

// What Ollama's final `"done":true` line says about a generation (all fields optional:
// Ollama omits zero values).
struct GenerationStats {
    std::optional<std::uint64_t> prompt_eval_count;
    std::optional<std::uint64_t> eval_count;
    std::optional<std::uint64_t> eval_duration_ns;
    std::optional<std::uint64_t> load_duration_ns;
    std::string model;  // as Ollama names it; empty when the kept tail began after it

    std::optional<double> tokens_per_second() const;
};

// Reads the statistics of the last NDJSON line in `tail`. When the tail starts in the middle of
// that line (a long `context` array), the statistics that follow it are still read.
// Returns nullopt when the last line is not a final `done` line (SSE, error lines, ...).
std::optional<GenerationStats> parse_generation_stats(std::string_view tail);

// The last bytes of a response body, kept in a fixed ring so that the final line can be read
// when the stream ends, without allocating or reassembling lines while relaying. 1 KiB: Ollama
// writes the statistics last (about 200 bytes), and every stream carries the ring.
class StreamTail {
public:
    static constexpr std::size_t capacity = 1024;
    void append(std::string_view bytes);
    std::string contents() const;  // the kept bytes, oldest first
    void clear() { size_ = 0; }

private:
    std::array<char, capacity> ring_{};
    std::size_t size_ = 0;  // total bytes appended
};

// One proxied (or refused) request, as it is logged.
struct ExchangeRecord {
    std::string method;
    std::string target;
    std::string client;  // client IP
    std::string key;     // the name of the API key used (never the key); empty without one
    std::string model;   // the model the request named, when the rewriter read it (else the
                         // access log names the one Ollama's final line names)
    unsigned status = 0;
    std::uint64_t bytes_in = 0;   // request body bytes received from the client
    std::uint64_t bytes_out = 0;  // response body bytes sent to the client
    Clock::time_point start{};
    std::optional<Clock::time_point> first_byte;  // first response body byte sent
    bool generation = false;
    std::optional<GenerationStats> stats;
    std::string_view outcome;  // empty when complete; otherwise why it ended early
    // For metrics (metrics.hpp):
    Handler handler = Handler::proxy;   // what the router made of it: the route label
    bool streamed = false;              // the response came chunked (a stream): its TTFT means something
    bool client_gone = false;           // the client ended the exchange early (a cancel)
    bool upstream_unreachable = false;  // no connection to Ollama could be made
    std::string rewrites;               // X-Sluice-Rewrite's value; empty when nothing was changed
    std::string_view backend;           // which Ollama of a fleet answered (its label); empty with one
};

// `text` with control characters (CR, LF, ESC...) and backslashes written as \xNN: text a
// client or Ollama chose can neither forge a log line nor drive a terminal.
std::string escape_for_log(std::string_view text);

std::string format_access_line(const ExchangeRecord& record, Clock::time_point end);
void log_access(const ExchangeRecord& record);

}  // namespace sluice
