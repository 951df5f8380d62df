// key_limits: how much each API key may ask of Ollama: requests_per_minute (the requests it may
// start, a minute's worth at once and then one per 60/N seconds: GCRA, one time stamp per key)
// and max_streams (generations running at once). Counted by this sluice process and shared by
// its event loops: one lock per request, never per line. Past either limit: 429 with
// Retry-After. Keys are looked up by name, so a reload that changes a key's limits applies to
// its next request and leaves what runs alone.
#pragma once

#include "sluice/config.hpp"

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace sluice {

class KeyLimits {
public:
    using Clock = std::chrono::steady_clock;

    // One of a key's max_streams, held for a generation's life; given back when destroyed.
    class Stream {
    public:
        Stream() = default;
        Stream(Stream&& other) noexcept;
        Stream& operator=(Stream&& other) noexcept;
        ~Stream() { release(); }
        void release();

    private:
        friend class KeyLimits;
        Stream(KeyLimits* limits, std::string key) : limits_(limits), key_(std::move(key)) {}
        KeyLimits* limits_ = nullptr;
        std::string key_;
    };

    struct Decision {
        unsigned status = 0;       // 0: go on; 429: refused with `message`
        std::string message;
        unsigned retry_after = 0;  // seconds
        Stream stream;             // held when the request is a generation and the key has max_streams
    };

    // A request to Ollama by `key` at `now`; `generation` (chat, generate, /v1 completions, a
    // page chat) also takes one of its streams.
    Decision admit(const ApiKey& key, bool generation, Clock::time_point now = Clock::now());

private:
    struct Usage {
        Clock::time_point next_free{};  // GCRA's theoretical arrival time
        unsigned streams = 0;
    };
    void stream_ended(const std::string& key);

    std::mutex mutex_;
    std::unordered_map<std::string, Usage> usage_;  // by key name: as many as the config has had
};

}  // namespace sluice
