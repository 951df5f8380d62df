// http_lite: the few pieces of HTTP/1.1 parsing the benchmark tools need, without allocation.
//
// The load generator and the fast upstream parse their own messages so that the per-line cost
// of the measuring side stays a few hundred nanoseconds and is easy to see: a header-block
// scanner and an incremental chunked-transfer decoder. They accept what the proxies under test
// send; they are not a general HTTP implementation.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace sluice::bench {

inline bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) {
            return false;
        }
    }
    return true;
}

// True when the comma-separated header value `list` contains `token` (case-insensitive).
inline bool has_token(std::string_view list, std::string_view token) {
    while (!list.empty()) {
        const std::size_t comma = list.find(',');
        std::string_view item = list.substr(0, comma);
        while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
        while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
        if (iequals(item, token)) {
            return true;
        }
        if (comma == std::string_view::npos) {
            break;
        }
        list.remove_prefix(comma + 1);
    }
    return false;
}

inline std::optional<std::uint64_t> parse_decimal(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    if (s.empty() || s.size() > 19) {
        return std::nullopt;
    }
    std::uint64_t v = 0;
    for (const char c : s) {
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return v;
}

// What a message head says about framing and connection reuse. `first_line` is the request line
// or status line, without its CRLF.
struct MessageHead {
    std::string_view first_line;
    std::optional<std::uint64_t> content_length;
    bool chunked = false;
    bool close = false;            // Connection: close (or HTTP/1.0 without keep-alive)
    bool expect_continue = false;  // Expect: 100-continue
    bool valid = true;
};

// Parses a complete head (`text` ends with the blank line's CRLF CRLF).
inline MessageHead parse_message_head(std::string_view text) {
    MessageHead head;
    std::size_t eol = text.find("\r\n");
    head.first_line = text.substr(0, eol);
    if (head.first_line.find("HTTP/1.0") != std::string_view::npos) {
        head.close = true;
    }
    std::size_t pos = eol == std::string_view::npos ? text.size() : eol + 2;
    while (pos < text.size()) {
        eol = text.find("\r\n", pos);
        if (eol == std::string_view::npos || eol == pos) {
            break;
        }
        const std::string_view line = text.substr(pos, eol - pos);
        pos = eol + 2;
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) {
            head.valid = false;
            continue;
        }
        const std::string_view name = line.substr(0, colon);
        const std::string_view value = line.substr(colon + 1);
        if (iequals(name, "content-length")) {
            head.content_length = parse_decimal(value);
            head.valid = head.valid && head.content_length.has_value();
        } else if (iequals(name, "transfer-encoding")) {
            head.chunked = has_token(value, "chunked");
        } else if (iequals(name, "connection")) {
            if (has_token(value, "close")) head.close = true;
            if (has_token(value, "keep-alive")) head.close = false;
        } else if (iequals(name, "expect")) {
            head.expect_continue = has_token(value, "100-continue");
        }
    }
    return head;
}

// Status code of a status line ("HTTP/1.1 200 OK" -> 200), 0 if malformed.
inline unsigned status_code(std::string_view status_line) {
    const std::size_t sp = status_line.find(' ');
    if (sp == std::string_view::npos || sp + 4 > status_line.size()) {
        return 0;
    }
    const auto code = parse_decimal(status_line.substr(sp + 1, 3));
    return code ? static_cast<unsigned>(*code) : 0;
}

// Decodes Transfer-Encoding: chunked incrementally: feed it whatever arrived, it hands the body
// bytes to a callback and stops right after the last chunk's trailer, so bytes of a following
// message are left unconsumed.
class ChunkedDecoder {
public:
    bool done() const { return state_ == State::done; }
    bool failed() const { return state_ == State::failed; }
    void reset() { *this = ChunkedDecoder{}; }

    // Returns how many bytes of `in` were consumed; calls on_data(std::string_view) for body bytes.
    template <class OnData>
    std::size_t feed(std::string_view in, OnData&& on_data) {
        std::size_t i = 0;
        while (i < in.size() && state_ != State::done && state_ != State::failed) {
            const char c = in[i];
            switch (state_) {
            case State::size:
                if (const int digit = hex_value(c); digit >= 0 && size_digits_ < 15) {
                    remaining_ = remaining_ * 16 + static_cast<std::uint64_t>(digit);
                    ++size_digits_;
                } else if (size_digits_ > 0 && (c == ';' || c == ' ' || c == '\t')) {
                    state_ = State::extension;
                } else if (size_digits_ > 0 && c == '\r') {
                    state_ = State::size_lf;
                } else {
                    state_ = State::failed;
                }
                ++i;
                break;
            case State::extension:
                if (c == '\r') state_ = State::size_lf;
                ++i;
                break;
            case State::size_lf:
                state_ = c != '\n' ? State::failed : remaining_ == 0 ? State::trailer_start : State::data;
                ++i;
                break;
            case State::data: {
                const std::size_t take =
                    static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, in.size() - i));
                on_data(in.substr(i, take));
                remaining_ -= take;
                i += take;
                if (remaining_ == 0) state_ = State::data_cr;
                break;
            }
            case State::data_cr:
                state_ = c == '\r' ? State::data_lf : State::failed;
                ++i;
                break;
            case State::data_lf:
                state_ = c == '\n' ? State::size : State::failed;
                size_digits_ = 0;
                ++i;
                break;
            case State::trailer_start:  // an empty line ends the message; anything else is a trailer
                state_ = c == '\r' ? State::final_lf : State::trailer_line;
                ++i;
                break;
            case State::trailer_line:
                if (c == '\n') state_ = State::trailer_start;
                ++i;
                break;
            case State::final_lf:
                state_ = c == '\n' ? State::done : State::failed;
                ++i;
                break;
            case State::done:
            case State::failed:
                break;
            }
        }
        return i;
    }

private:
    enum class State { size, extension, size_lf, data, data_cr, data_lf, trailer_start, trailer_line,
                       final_lf, done, failed };

    static int hex_value(char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    }

    State state_ = State::size;
    std::uint64_t remaining_ = 0;
    unsigned size_digits_ = 0;
};

}  // namespace sluice::bench
