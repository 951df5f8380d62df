// key_limits: each key's request rate and streams at once, per process.
#include "sluice/key_limits.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace sluice {

KeyLimits::Stream::Stream(Stream&& other) noexcept
    : limits_(std::exchange(other.limits_, nullptr)), key_(std::move(other.key_)) {}

KeyLimits::Stream& KeyLimits::Stream::operator=(Stream&& other) noexcept {
    if (this != &other) {
        release();
        limits_ = std::exchange(other.limits_, nullptr);
        key_ = std::move(other.key_);
    }
    return *this;
}

void KeyLimits::Stream::release() {
    if (auto* limits = std::exchange(limits_, nullptr)) limits->stream_ended(key_);
}

void KeyLimits::stream_ended(const std::string& key) {
    const std::lock_guard lock(mutex_);
    if (auto usage = usage_.find(key); usage != usage_.end() && usage->second.streams > 0) --usage->second.streams;
}

KeyLimits::Decision KeyLimits::admit(const ApiKey& key, bool generation, Clock::time_point now) {
    const bool counts_streams = generation && key.max_streams != 0;
    if (key.requests_per_minute == 0 && !counts_streams) return {};
    const std::lock_guard lock(mutex_);
    Usage& usage = usage_[key.name];
    if (counts_streams && usage.streams >= key.max_streams) {
        return {429, fmt::format("sluice: key \"{}\" runs {} generations at once, its max_streams; retry when one ends",
                                 key.name, usage.streams),
                1};
    }
    if (key.requests_per_minute != 0) {
        // GCRA: each request moves next_free on by one interval; a minute's worth may be ahead.
        const auto interval = std::chrono::duration_cast<Clock::duration>(std::chrono::minutes(1)) / key.requests_per_minute;
        const auto burst = std::chrono::duration_cast<Clock::duration>(std::chrono::minutes(1)) - interval;
        const auto next_free = std::max(usage.next_free, now);
        if (next_free - now > burst) {
            const auto wait = std::chrono::ceil<std::chrono::seconds>(next_free - now - burst);
            return {429, fmt::format("sluice: key \"{}\" may start {} requests a minute; retry in {} s", key.name,
                                     key.requests_per_minute, wait.count()),
                    static_cast<unsigned>(std::max<long long>(wait.count(), 1))};
        }
        usage.next_free = next_free + interval;
    }
    Decision decision;
    if (counts_streams) {
        ++usage.streams;
        decision.stream = Stream(this, key.name);
    }
    return decision;
}

}  // namespace sluice
