// rfc3339: Ollama's `created_at` timestamps, written and read at nanosecond precision, and the
// clocks the benchmark tools read.
//
// fast_upstream stamps every line with the realtime clock at send; the load generator parses the
// stamp back to compute the latency a proxy adds. Both sides work on int64 nanoseconds since the
// Unix epoch, UTC.
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string_view>

namespace sluice::bench {

inline std::int64_t realtime_ns() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);  // vDSO: no syscall
    return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

inline std::int64_t monotonic_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's well-known algorithm).
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

// Writes "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" (kStampLength bytes). The date-and-time part changes
// once a second, so it is cached; only the nine fraction digits are formatted per call.
class StampWriter {
public:
    static constexpr std::size_t kStampLength = 30;

    void write(std::int64_t ns, char* out) {
        const std::int64_t sec = ns / 1'000'000'000;
        auto frac = static_cast<std::uint32_t>(ns % 1'000'000'000);
        if (sec != cached_sec_) {
            cache_seconds(sec);
        }
        for (std::size_t i = 0; i < 19; ++i) {
            out[i] = seconds_text_[i];
        }
        out[19] = '.';
        for (int i = 28; i >= 20; --i) {
            out[i] = static_cast<char>('0' + frac % 10);
            frac /= 10;
        }
        out[29] = 'Z';
    }

private:
    void cache_seconds(std::int64_t sec) {
        cached_sec_ = sec;
        const auto t = static_cast<time_t>(sec);
        tm parts{};
        gmtime_r(&t, &parts);
        strftime(seconds_text_, sizeof seconds_text_, "%Y-%m-%dT%H:%M:%S", &parts);
    }

    std::int64_t cached_sec_ = -1;
    char seconds_text_[20] = {};
};

namespace detail {
inline bool digits(std::string_view s, std::size_t pos, std::size_t n, unsigned& value) {
    if (pos + n > s.size()) {
        return false;
    }
    value = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
        const char c = s[i];
        if (c < '0' || c > '9') {
            return false;
        }
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    return true;
}
}  // namespace detail

// Parses an RFC 3339 timestamp leniently, as Ollama writes it: 0 to 9 fraction digits, `Z` or a
// numeric offset. Returns nanoseconds since the epoch, or nothing if `s` does not start with one.
inline std::optional<std::int64_t> parse_rfc3339_ns(std::string_view s) {
    unsigned year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    if (!detail::digits(s, 0, 4, year) || s.size() < 20 || s[4] != '-' ||
        !detail::digits(s, 5, 2, month) || s[7] != '-' || !detail::digits(s, 8, 2, day) ||
        (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !detail::digits(s, 11, 2, hour) ||
        s[13] != ':' || !detail::digits(s, 14, 2, minute) || s[16] != ':' ||
        !detail::digits(s, 17, 2, second) || month < 1 || month > 12 || day < 1 || day > 31) {
        return std::nullopt;
    }
    std::size_t pos = 19;
    std::int64_t frac_ns = 0;
    if (pos < s.size() && s[pos] == '.') {
        ++pos;
        std::int64_t scale = 100'000'000;
        const std::size_t first = pos;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            frac_ns += (s[pos] - '0') * scale;  // digits past the ninth add zero
            scale /= 10;
            ++pos;
        }
        if (pos == first) {
            return std::nullopt;
        }
    }
    std::int64_t offset_s = 0;
    if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
        ++pos;
    } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
        unsigned oh = 0, om = 0;
        if (!detail::digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
            !detail::digits(s, pos + 4, 2, om)) {
            return std::nullopt;
        }
        offset_s = (s[pos] == '+' ? 1 : -1) * static_cast<std::int64_t>(oh * 3600 + om * 60);
    } else {
        return std::nullopt;
    }
    const std::int64_t days = days_from_civil(year, month, day);
    const std::int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_s;
    return secs * 1'000'000'000 + frac_ns;
}

}  // namespace sluice::bench
