// access_log: one line per request, and the generation statistics read from a stream's final line.
#include "sluice/access_log.hpp"

#include "sluice/ascii.hpp"

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

namespace sluice {
namespace {

std::optional<std::uint64_t> read_count(simdjson::ondemand::value value) {
    std::uint64_t number = 0;
    if (value.get_uint64().get(number) != simdjson::SUCCESS) return std::nullopt;
    return number;
}

std::optional<GenerationStats> parse_line(std::string_view line) {
    simdjson::ondemand::parser parser;
    const simdjson::padded_string padded(line);
    simdjson::ondemand::document doc;
    simdjson::ondemand::object object;
    if (parser.iterate(padded).get(doc) != simdjson::SUCCESS ||
        doc.get_object().get(object) != simdjson::SUCCESS) {
        return std::nullopt;
    }
    GenerationStats stats;
    bool done = false;
    bool saw_stats = false;
    for (auto field : object) {
        std::string_view key;
        simdjson::ondemand::value value;
        if (field.unescaped_key().get(key) != simdjson::SUCCESS ||
            field.value().get(value) != simdjson::SUCCESS) {
            return std::nullopt;
        }
        if (key == "done") {
            bool flag = false;
            done = value.get_bool().get(flag) == simdjson::SUCCESS && flag;
        } else if (key == "eval_count") {
            stats.eval_count = read_count(value);
        } else if (key == "eval_duration") {
            stats.eval_duration_ns = read_count(value);
        } else if (key == "prompt_eval_count") {
            stats.prompt_eval_count = read_count(value);
        } else if (key == "load_duration") {
            stats.load_duration_ns = read_count(value);
        } else if (key == "model") {
            std::string_view model;
            if (value.get_string().get(model) == simdjson::SUCCESS) stats.model = model;
        } else if (key == "total_duration") {
            saw_stats = true;
        }
    }
    // A truncated line lost its "done" key; its statistics keys say it was the final line.
    if (!done && !saw_stats) return std::nullopt;
    return stats;
}

double to_ms(Clock::duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
}

}  // namespace

std::optional<double> GenerationStats::tokens_per_second() const {
    if (!eval_count || !eval_duration_ns || *eval_duration_ns == 0) return std::nullopt;
    return static_cast<double>(*eval_count) * 1e9 / static_cast<double>(*eval_duration_ns);
}

std::optional<GenerationStats> parse_generation_stats(std::string_view tail) {
    tail = trim_ascii_whitespace(tail);
    const auto line_start = tail.rfind('\n');
    if (line_start != std::string_view::npos) {
        return parse_line(trim_ascii_whitespace(tail.substr(line_start + 1)));
    }
    if (!tail.empty() && tail.front() == '{') {
        return parse_line(tail);
    }
    // The tail begins inside the final line: Ollama writes the statistics after the long
    // fields, so `{` + the text from "total_duration" on is still a JSON object.
    const auto stats_start = tail.find("\"total_duration\"");
    if (stats_start == std::string_view::npos) return std::nullopt;
    std::string object = "{";
    object += tail.substr(stats_start);
    return parse_line(object);
}

void StreamTail::append(std::string_view bytes) {
    if (bytes.size() > capacity) {
        size_ += bytes.size() - capacity;
        bytes.remove_prefix(bytes.size() - capacity);
    }
    const std::size_t at = size_ % capacity;
    const std::size_t first = std::min(bytes.size(), capacity - at);
    std::memcpy(ring_.data() + at, bytes.data(), first);
    std::memcpy(ring_.data(), bytes.data() + first, bytes.size() - first);
    size_ += bytes.size();
}

std::string StreamTail::contents() const {
    if (size_ <= capacity) return {ring_.data(), size_};
    const std::size_t at = size_ % capacity;
    std::string out(ring_.data() + at, capacity - at);
    out.append(ring_.data(), at);
    return out;
}

std::string escape_for_log(std::string_view text) {
    std::string escaped;
    escaped.reserve(text.size());
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7F || c == '\\') {
            escaped += fmt::format("\\x{:02x}", byte);
        } else {
            escaped += c;
        }
    }
    return escaped;
}

namespace {

// A key=value field's value: also no space (or, quoted, no quote) a client chose may end it
// early and fake the fields after it.
std::string escape_log_value(std::string_view text, bool quoted = false) {
    std::string escaped = escape_for_log(text);
    for (std::size_t at = 0; (at = escaped.find(quoted ? '"' : ' ', at)) != std::string::npos;) {
        escaped.replace(at, 1, quoted ? "\\x22" : "\\x20");
    }
    return escaped;
}

}  // namespace

std::string format_access_line(const ExchangeRecord& r, Clock::time_point end) {
    std::string line = fmt::format("{} {} {} {} in={} out={} {:.1f}ms", r.client, escape_for_log(r.method),
                                   escape_for_log(r.target), r.status, r.bytes_in, r.bytes_out, to_ms(end - r.start));
    if (r.generation && r.first_byte) {
        line += fmt::format(" ttft={:.1f}ms", to_ms(*r.first_byte - r.start));
    }
    if (r.stats) {
        if (r.stats->prompt_eval_count) line += fmt::format(" prompt={}tok", *r.stats->prompt_eval_count);
        if (r.stats->eval_count) line += fmt::format(" eval={}tok", *r.stats->eval_count);
        if (const auto rate = r.stats->tokens_per_second()) line += fmt::format(" {:.1f}tok/s", *rate);
    }
    if (const std::string_view model = !r.model.empty() ? r.model : r.stats ? r.stats->model : std::string_view();
        !model.empty()) {
        line += " model=";
        line += escape_log_value(model);
    }
    if (!r.rewrites.empty()) {
        line += " rewrite=\"";
        line += escape_log_value(r.rewrites, true);
        line += '"';
    }
    if (!r.key.empty()) line += fmt::format(" key={}", r.key);
    if (!r.backend.empty()) line += fmt::format(" backend={}", r.backend);
    if (!r.outcome.empty()) {
        line += " (";
        line += r.outcome;
        line += ')';
    }
    return line;
}

void log_access(const ExchangeRecord& record) {
    spdlog::info("{}", format_access_line(record, Clock::now()));
}

}  // namespace sluice
