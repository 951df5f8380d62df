// fake_ollama: an Ollama-shaped HTTP server on loopback, one coroutine per connection.
#include "fake_ollama.hpp"

#include "fixtures.hpp"

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <exception>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <unistd.h>

#ifndef SLUICE_FIXTURES_DIR
#error "SLUICE_FIXTURES_DIR must name the tests/fixtures directory"
#endif

namespace sluice::test {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using namespace asio::experimental::awaitable_operators;

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

// Go's net/http sends Content-Length only for bodies it could buffer whole; larger ones are chunked.
constexpr std::size_t chunking_threshold = 2048;
// Bytes a client may pipeline while a stream is being written before we stop reading ahead.
constexpr std::size_t max_read_ahead = 1 << 20;
constexpr std::string_view json_type = "application/json; charset=utf-8";
constexpr std::string_view always_present_blob =
    "sha256:0000000000000000000000000000000000000000000000000000000000000000";
constexpr std::string_view model_failure = "an error was encountered while running the model: unexpected EOF";
constexpr std::string_view continue_line = "HTTP/1.1 100 Continue\r\n\r\n";
// /api/show for nomic-embed-text, cut down to what clients read.
constexpr std::string_view embedding_show_json =
    R"({"license":"Apache-2.0","modelfile":"","parameters":"num_ctx 8192","template":"{{ .Prompt }}",)"
    R"("details":{"parent_model":"","format":"gguf","family":"nomic-bert","families":["nomic-bert"],)"
    R"("parameter_size":"137M","quantization_level":"F16"},"model_info":{"general.architecture":"nomic-bert",)"
    R"("general.parameter_count":136727040,"nomic-bert.block_count":12,"nomic-bert.context_length":2048,)"
    R"("nomic-bert.embedding_length":768,"nomic-bert.attention.head_count":12},"capabilities":["embedding"],)"
    R"("modified_at":"2025-04-01T10:00:00Z"})";

// /api/show for a vision model (qwen2.5vl), cut down to what clients read.
constexpr std::string_view vision_show_json =
    R"({"license":"Apache-2.0","modelfile":"","parameters":"","template":"{{ .Prompt }}",)"
    R"("details":{"parent_model":"","format":"gguf","family":"qwen25vl","families":["qwen25vl"],)"
    R"("parameter_size":"8.3B","quantization_level":"Q4_K_M"},"model_info":{"general.architecture":"qwen25vl",)"
    R"("general.parameter_count":8292166656,"qwen25vl.context_length":128000},"capabilities":["completion","vision"],)"
    R"("modified_at":"2025-05-03T10:00:00Z"})";

// ---------------------------------------------------------------------------------------------
// Small text helpers

char lower_char(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower_char(x) == lower_char(y); });
}

std::string to_lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = lower_char(c);
    return out;
}

// A JSON string literal, escaped the way Go's encoding/json does it (including <, >, &).
std::string json_quote(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    out += '"';
    for (const char c : s) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '<': out += "\\u003c"; break;
        case '>': out += "\\u003e"; break;
        case '&': out += "\\u0026"; break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                char escaped[8];
                std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
                out += escaped;
            } else {
                out += c;
            }
        }
    }
    out += '"';
    return out;
}

// Realtime now as Go's RFC3339Nano in UTC: nine fraction digits at most, trailing zeros dropped.
std::string rfc3339_now() {
    const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch).count();
    const auto seconds = static_cast<std::time_t>(ns / 1'000'000'000);
    const auto fraction = static_cast<long>(ns % 1'000'000'000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char text[64];
    std::size_t length = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
    if (fraction != 0) {
        length += static_cast<std::size_t>(std::snprintf(text + length, sizeof text - length, ".%09ld", fraction));
        while (text[length - 1] == '0') --length;
    }
    return std::string(text, length) + "Z";
}

std::string http_date() {
    const std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    char text[64];
    const std::size_t length = std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &utc);
    return std::string(text, length);
}

std::string status_line(unsigned status) {
    const auto reason = http::obsolete_reason(static_cast<http::status>(status));
    return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
}

// A fixture without its trailing newline.
std::string read_fixture(std::string_view name) {
    std::string content = fixture(name);
    while (!content.empty() && (content.back() == '\n' || content.back() == '\r')) content.pop_back();
    return content;
}

std::vector<std::string> split_lines(std::string_view text) {
    std::vector<std::string> lines;
    while (!text.empty()) {
        const auto end = text.find('\n');
        if (const auto line = text.substr(0, end); !line.empty()) lines.emplace_back(line);
        if (end == std::string_view::npos) break;
        text.remove_prefix(end + 1);
    }
    return lines;
}

// ---------------------------------------------------------------------------------------------
// Ollama's Host and Origin checks (server/routes.go: allowedHost, and the CORS configuration)

bool is_local_address(const asio::ip::address& address) {
    if (address.is_loopback() || address.is_unspecified()) return true;
    if (address.is_v4()) {
        const auto b = address.to_v4().to_bytes();
        return b[0] == 10 || (b[0] == 172 && (b[1] & 0xf0) == 16) || (b[0] == 192 && b[1] == 168);
    }
    const auto v6 = address.to_v6();
    if (v6.is_v4_mapped()) return is_local_address(asio::ip::make_address_v4(asio::ip::v4_mapped, v6));
    return (v6.to_bytes()[0] & 0xfe) == 0xfc;  // fc00::/7, unique local
}

bool host_is_local(std::string_view host_header, std::string_view own_hostname) {
    std::string_view host = host_header;
    if (!host.empty() && host.front() == '[') {
        host = host.substr(1, host.find(']') == std::string_view::npos ? std::string_view::npos : host.find(']') - 1);
    } else if (const auto colon = host.find(':');
               colon != std::string_view::npos && host.find(':', colon + 1) == std::string_view::npos) {
        host = host.substr(0, colon);
    }
    const std::string name = to_lower(host);
    if (name.empty() || name == "localhost" || name == own_hostname) return true;
    if (name.ends_with(".localhost") || name.ends_with(".local") || name.ends_with(".internal")) return true;
    error_code ec;
    const auto address = asio::ip::make_address(name, ec);
    return !ec && is_local_address(address);
}

bool origin_allowed(std::string_view origin, std::string_view host) {
    if (origin.empty()) return true;
    if (origin == "http://" + std::string(host) || origin == "https://" + std::string(host)) return true;
    for (const std::string_view scheme : {"http://", "https://"}) {
        for (const std::string_view name : {"localhost", "127.0.0.1", "0.0.0.0"}) {
            const std::string allowed = std::string(scheme) + std::string(name);
            if (origin == allowed || origin.starts_with(allowed + ":")) return true;
        }
    }
    for (const std::string_view scheme : {"app://", "file://", "tauri://", "vscode-webview://", "vscode-file://"}) {
        if (origin.starts_with(scheme)) return true;
    }
    return false;
}

// "sha256:<64 hex>" (or with '-'), normalised to the ':' form; nullopt when malformed.
std::optional<std::string> normalize_digest(std::string_view digest) {
    if (digest.size() != 71 || !digest.starts_with("sha256") || (digest[6] != ':' && digest[6] != '-')) {
        return std::nullopt;
    }
    for (const char c : digest.substr(7)) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
    }
    std::string normal(digest);
    normal[6] = ':';
    return normal;
}

// Methods Ollama routes for a path ("" for an unknown path).
std::string_view allowed_methods(std::string_view path) {
    if (path == "/" || path == "/api/version" || path == "/api/tags") return "GET, HEAD";
    if (path == "/api/status" || path == "/api/ps" || path == "/v1/models") return "GET";
    if (path == "/api/delete") return "DELETE";
    if (path.starts_with("/api/blobs/") && path.size() > 11 && path.find('/', 11) == std::string_view::npos) {
        return "HEAD, POST";
    }
    for (const std::string_view post_path : {"/api/show", "/api/chat", "/api/generate", "/api/embed",
                                             "/api/embeddings", "/api/pull", "/api/copy",
                                             "/v1/chat/completions", "/v1/completions"}) {
        if (path == post_path) return "POST";
    }
    return {};
}

bool method_listed(std::string_view allow, std::string_view method) {
    while (!allow.empty()) {
        const auto comma = allow.find(", ");
        if (allow.substr(0, comma) == method) return true;
        if (comma == std::string_view::npos) break;
        allow.remove_prefix(comma + 2);
    }
    return false;
}

bool is_missing_model(std::string_view model) { return model.starts_with("missing"); }

// ---------------------------------------------------------------------------------------------
// Request bodies, read with simdjson and judged the way Go's encoding/json would

std::string_view go_type_name(simdjson::dom::element_type type) {
    switch (type) {
    case simdjson::dom::element_type::ARRAY: return "array";
    case simdjson::dom::element_type::OBJECT: return "object";
    case simdjson::dom::element_type::STRING: return "string";
    case simdjson::dom::element_type::BOOL: return "bool";
    case simdjson::dom::element_type::NULL_VALUE: return "null";
    default: return "number";
    }
}

class RequestJson {
public:
    explicit RequestJson(const std::string& body) {
        const auto start = body.find_first_not_of(" \t\r\n");
        if (start == std::string::npos) {
            error_ = "missing request body";
            return;
        }
        if (const auto err = parser_.parse(body).get(root_); err) {
            error_ = describe(body[start], err);
            return;
        }
        if (!root_.is_object()) {
            error_ = "json: cannot unmarshal " + std::string(go_type_name(root_.type())) +
                     " into Go value of type api.Request";
        }
    }

    bool ok() const { return error_.empty(); }
    const std::string& error() const { return error_; }

    // A field's value; nullopt when absent or null (or the body is unusable).
    std::optional<simdjson::dom::element> field(std::string_view key) const {
        simdjson::dom::element value;
        if (!ok() || root_[key].get(value) || value.is_null()) return std::nullopt;
        return value;
    }

    std::optional<std::string> string_field(std::string_view key) {
        const auto value = field(key);
        std::string_view text;
        if (!value) return std::nullopt;
        if (value->get(text)) return type_error(key, *value, "string");
        return std::string(text);
    }

    std::optional<bool> bool_field(std::string_view key) {
        const auto value = field(key);
        bool flag = false;
        if (!value) return std::nullopt;
        if (value->get(flag)) {
            type_error(key, *value, "bool");
            return std::nullopt;
        }
        return flag;
    }

private:
    static std::string describe(char first, simdjson::error_code err) {
        if (std::string_view("{[\"-0123456789tfn").find(first) == std::string_view::npos) {
            return std::string("invalid character '") + first + "' looking for beginning of value";
        }
        if (err == simdjson::INCOMPLETE_ARRAY_OR_OBJECT || err == simdjson::UNCLOSED_STRING) return "unexpected EOF";
        return std::string("invalid character in request body: ") + simdjson::error_message(err);
    }

    std::nullopt_t type_error(std::string_view key, simdjson::dom::element value, std::string_view wanted) {
        error_ = "json: cannot unmarshal " + std::string(go_type_name(value.type())) + " into Go struct field ." +
                 std::string(key) + " of type " + std::string(wanted);
        return std::nullopt;
    }

    simdjson::dom::parser parser_;
    simdjson::dom::element root_;
    std::string error_;
};

// ---------------------------------------------------------------------------------------------
// What a generating route sends

enum class Api { chat, generate, openai_chat, openai_completion, pull };
enum class Outcome { cancelled, completed, server_closed };
enum class Next { keep_going, close_gracefully, close_now };

struct Generation {
    Api api = Api::chat;
    FakeOllamaKnobs knobs;
    std::string model;
    bool stream = true;
    bool include_usage = false;
    int prompt_tokens = 1;
    std::string id;             // OpenAI "id"
    std::int64_t created = 0;   // OpenAI "created" (unix seconds)
    std::chrono::steady_clock::time_point started;
    const std::vector<std::string>* pull_lines = nullptr;

    bool openai() const { return api == Api::openai_chat || api == Api::openai_completion; }
    // Content lines before the done line.
    int content_lines() const {
        if (api == Api::pull) return static_cast<int>(pull_lines->size()) - 1;
        return knobs.mode == StreamMode::huge_line ? 1 : std::max(knobs.tokens, 0);
    }
    std::string token(int index) const {
        if (knobs.mode == StreamMode::huge_line) return std::string(knobs.huge_line_bytes, 'x');
        if (!knobs.texts.empty()) return knobs.texts[static_cast<std::size_t>(index) % knobs.texts.size()];
        return "tok" + std::to_string(index) + " ";
    }
};

std::string created_at() { return "\"created_at\":\"" + rfc3339_now() + "\""; }

// Statistics of a final line, in nanoseconds; eval_duration follows token_interval (1 us at least).
std::string stats_fields(const Generation& g, int eval_count) {
    using std::chrono::duration_cast;
    using std::chrono::nanoseconds;
    const std::int64_t interval = std::max<std::int64_t>(duration_cast<nanoseconds>(g.knobs.token_interval).count(), 1000);
    const std::int64_t eval = interval * eval_count;
    const std::int64_t load = duration_cast<nanoseconds>(g.knobs.first_byte_delay).count() + 1'000'000;
    const std::int64_t prompt_eval = 2'000'000;
    const std::int64_t measured = duration_cast<nanoseconds>(std::chrono::steady_clock::now() - g.started).count();
    const std::int64_t total = std::max(measured, load + prompt_eval + eval);
    return "\"total_duration\":" + std::to_string(total) + ",\"load_duration\":" + std::to_string(load) +
           ",\"prompt_eval_count\":" + std::to_string(g.prompt_tokens) +
           ",\"prompt_eval_duration\":" + std::to_string(prompt_eval) + ",\"eval_count\":" + std::to_string(eval_count) +
           ",\"eval_duration\":" + std::to_string(eval);
}

std::string openai_prefix(const Generation& g, std::string_view object) {
    return "{\"id\":" + json_quote(g.id) + ",\"object\":\"" + std::string(object) +
           "\",\"created\":" + std::to_string(g.created) + ",\"model\":" + json_quote(g.model) +
           ",\"system_fingerprint\":\"fp_ollama\",";
}

std::string openai_usage(const Generation& g, int completion_tokens) {
    return "\"usage\":{\"prompt_tokens\":" + std::to_string(g.prompt_tokens) +
           ",\"completion_tokens\":" + std::to_string(completion_tokens) +
           ",\"total_tokens\":" + std::to_string(g.prompt_tokens + completion_tokens) + "}";
}

std::string content_line(const Generation& g, int index) {
    switch (g.api) {
    case Api::chat:
        return "{\"model\":" + json_quote(g.model) + "," + created_at() +
               ",\"message\":{\"role\":\"assistant\",\"content\":" + json_quote(g.token(index)) + "},\"done\":false}";
    case Api::generate:
        return "{\"model\":" + json_quote(g.model) + "," + created_at() + ",\"response\":" + json_quote(g.token(index)) +
               ",\"done\":false}";
    case Api::openai_chat:
        // Since 0.32.6 the role comes only in the first chunk.
        return openai_prefix(g, "chat.completion.chunk") + "\"choices\":[{\"index\":0,\"delta\":{" +
               (index == 0 ? "\"role\":\"assistant\"," : "") + "\"content\":" + json_quote(g.token(index)) +
               "},\"finish_reason\":null}]}";
    case Api::openai_completion:
        return openai_prefix(g, "text_completion") + "\"choices\":[{\"text\":" + json_quote(g.token(index)) +
               ",\"index\":0,\"finish_reason\":null}]}";
    case Api::pull: return (*g.pull_lines)[static_cast<std::size_t>(index)];
    }
    return {};
}

// The payloads that end a normal stream (for SSE: finish chunk, optional usage chunk, [DONE]).
std::vector<std::string> final_lines(const Generation& g) {
    const int eval_count = g.content_lines();
    switch (g.api) {
    case Api::chat:
        return {"{\"model\":" + json_quote(g.model) + "," + created_at() +
                ",\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done_reason\":\"stop\",\"done\":true," +
                stats_fields(g, eval_count) + "}"};
    case Api::generate:
        return {"{\"model\":" + json_quote(g.model) + "," + created_at() +
                ",\"response\":\"\",\"done\":true,\"done_reason\":\"stop\",\"context\":[1,2,3]," +
                stats_fields(g, eval_count) + "}"};
    case Api::openai_chat:
    case Api::openai_completion: {
        const bool chat = g.api == Api::openai_chat;
        std::vector<std::string> lines;
        lines.push_back(chat ? openai_prefix(g, "chat.completion.chunk") +
                                   "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}"
                             : openai_prefix(g, "text_completion") +
                                   "\"choices\":[{\"text\":\"\",\"index\":0,\"finish_reason\":\"stop\"}]}");
        if (g.include_usage) {
            lines.push_back(openai_prefix(g, chat ? "chat.completion.chunk" : "text_completion") + "\"choices\":[]," +
                            openai_usage(g, eval_count) + "}");
        }
        lines.emplace_back("[DONE]");
        return lines;
    }
    case Api::pull: return {g.pull_lines->back()};
    }
    return {};
}

// What a stream says when generation fails after it started. /v1 loses the error (as Ollama does):
// an empty-delta chunk and no [DONE].
std::string failure_line(const Generation& g) {
    if (g.api == Api::openai_chat) {
        return openai_prefix(g, "chat.completion.chunk") + "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":null}]}";
    }
    if (g.api == Api::openai_completion) {
        return openai_prefix(g, "text_completion") + "\"choices\":[{\"text\":\"\",\"index\":0,\"finish_reason\":null}]}";
    }
    return "{\"error\":" + json_quote(model_failure) + "}";
}

std::string frame(const Generation& g, std::string_view payload) {
    return g.openai() ? "data: " + std::string(payload) + "\n\n" : std::string(payload) + "\n";
}

// The body of a stream:false answer.
std::string single_body(const Generation& g) {
    const int eval_count = g.content_lines();
    std::string text;
    if (g.api != Api::pull) {
        for (int i = 0; i < eval_count; ++i) text += g.token(i);
    }
    switch (g.api) {
    case Api::chat:
        return "{\"model\":" + json_quote(g.model) + "," + created_at() +
               ",\"message\":{\"role\":\"assistant\",\"content\":" + json_quote(text) +
               "},\"done_reason\":\"stop\",\"done\":true," + stats_fields(g, eval_count) + "}";
    case Api::generate:
        return "{\"model\":" + json_quote(g.model) + "," + created_at() + ",\"response\":" + json_quote(text) +
               ",\"done\":true,\"done_reason\":\"stop\",\"context\":[1,2,3]," + stats_fields(g, eval_count) + "}";
    case Api::openai_chat:
        return openai_prefix(g, "chat.completion") + "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":" +
               json_quote(text) + "},\"finish_reason\":\"stop\"}]," + openai_usage(g, eval_count) + "}";
    case Api::openai_completion:
        return openai_prefix(g, "text_completion") + "\"choices\":[{\"text\":" + json_quote(text) +
               ",\"index\":0,\"finish_reason\":\"stop\"}]," + openai_usage(g, eval_count) + "}";
    case Api::pull: return g.pull_lines->back();
    }
    return {};
}

std::string error_body(bool openai, unsigned status, std::string_view message) {
    if (!openai) return "{\"error\":" + json_quote(message) + "}";
    const std::string_view type = status == 404 ? "not_found_error"
                                  : status >= 500 ? "api_error"
                                                  : "invalid_request_error";
    return "{\"error\":{\"message\":" + json_quote(message) + ",\"type\":\"" + std::string(type) +
           "\",\"param\":null,\"code\":null}}";
}

// ---------------------------------------------------------------------------------------------
// State shared by the connections and the test thread

struct Shared {
    mutable std::mutex mutex;
    mutable std::condition_variable cancelled_changed;
    FakeOllamaKnobs knobs;
    std::vector<RecordedRequest> requests;
    std::size_t streams_cancelled = 0;
    std::atomic<std::size_t> connections_accepted{0};
    std::atomic<std::size_t> probe_connections{0};  // sluice's readiness probe's, not counted
    std::atomic<std::size_t> open_connections{0};
    std::atomic<std::size_t> lines_sent{0};
    std::atomic<bool> stopping{false};

    std::string tags_json;
    std::string ps_json;
    std::string show_json;
    std::vector<std::string> pull_lines;
    std::string hostname;

    // Touched only on the I/O thread.
    std::set<std::string> blobs;
    std::map<std::uint64_t, tcp::socket*> live_sockets;
    std::uint64_t completion_ids = 0;

    FakeOllamaKnobs current_knobs() const {
        std::lock_guard lock(mutex);
        return knobs;
    }
    void record(RecordedRequest request) {
        std::lock_guard lock(mutex);
        requests.push_back(std::move(request));
    }
    void count_cancelled() {
        {
            std::lock_guard lock(mutex);
            ++streams_cancelled;
        }
        cancelled_changed.notify_all();
    }
};

struct Reply {
    unsigned status = 200;
    std::string content_type;
    std::string body;
    std::string extra_headers;  // "Name: value\r\n" lines
};

Reply json_reply(unsigned status, std::string body) { return Reply{status, std::string(json_type), std::move(body), {}}; }

// ---------------------------------------------------------------------------------------------
// One TCP connection: read a request, answer it, repeat while keep-alive holds.

class Session {
public:
    Session(Shared& shared, tcp::socket socket, std::uint64_t id)
        : shared_(shared), socket_(std::move(socket)), id_(id), scratch_(64 * 1024) {
        shared_.live_sockets[id_] = &socket_;
        ++shared_.open_connections;
    }
    ~Session() {
        shared_.live_sockets.erase(id_);
        --shared_.open_connections;
    }
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    asio::awaitable<void> run() {
        while (!shared_.stopping) {
            RequestParser parser;
            parser.header_limit(64 * 1024);
            parser.body_limit(boost::none);
            auto [ec, ignored] = co_await http::async_read_header(socket_, buffer_, parser, use_nothrow);
            if (ec) {
                if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
                    ec != http::error::end_of_stream && ec != http::error::partial_message) {
                    keep_alive_ = false;
                    head_only_ = false;
                    co_await respond(400, "text/plain; charset=utf-8", "400 Bad Request");
                    co_await linger_close();
                }
                co_return;
            }
            const Next next = co_await handle(parser);
            if (next == Next::close_gracefully) co_await linger_close();
            if (next != Next::keep_going) co_return;
        }
    }

private:
    using RequestParser = http::request_parser<http::buffer_body>;

    Next after_reply(bool written) const {
        if (!written) return Next::close_now;
        return keep_alive_ ? Next::keep_going : Next::close_gracefully;
    }

    asio::awaitable<Next> handle(RequestParser& parser) {
        const auto& req = parser.get();
        RecordedRequest rec;
        rec.method = std::string(req.method_string());
        rec.target = std::string(req.target());
        rec.version = req.version();
        for (const auto& field : req) rec.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
        rec.chunked = parser.chunked();
        rec.connection_id = id_;

        version_ = req.version();
        keep_alive_ = req.keep_alive();
        head_only_ = req.method() == http::verb::head;
        const std::string path = rec.target.substr(0, rec.target.find('?'));
        const bool body_pending = !parser.is_done();
        const bool expects_continue = iequals(req[http::field::expect], "100-continue");

        // sluice's readiness probe asks for /api/version on a connection of its own every few
        // seconds: answered, but left out of what tests count, so they see exactly what their
        // own requests caused.
        if (iequals(req[http::field::user_agent], "sluice-readiness")) {
            if (!probe_connection_) {
                probe_connection_ = true;
                ++shared_.probe_connections;
            }
            const Reply reply = simple_reply(rec, path);
            const bool written = co_await respond(reply.status, reply.content_type, reply.body, reply.extra_headers);
            co_return after_reply(written);
        }
        const std::string host(req[http::field::host]);
        const std::string origin(req[http::field::origin]);
        if (!host_is_local(host, shared_.hostname) || !origin_allowed(origin, host)) {
            if (body_pending) keep_alive_ = false;  // the body stays unread
            shared_.record(std::move(rec));
            const bool written = co_await respond(403, "", "");
            co_return after_reply(written);
        }
        if (req.method() == http::verb::post && allowed_methods(path) == "HEAD, POST") {
            co_return co_await upload_blob(parser, std::move(rec), path.substr(11), expects_continue);
        }
        if (body_pending) {
            if (expects_continue) {
                const bool written = co_await write_raw(continue_line);
                if (!written) co_return Next::close_now;
            }
            const bool complete = co_await read_body(parser, rec, true);
            if (!complete) co_return Next::close_now;
        }
        shared_.record(rec);

        if (rec.method == "POST") {
            if (path == "/api/chat") co_return co_await generate(Api::chat, rec);
            if (path == "/api/generate") co_return co_await generate(Api::generate, rec);
            if (path == "/api/pull") co_return co_await generate(Api::pull, rec);
            if (path == "/v1/chat/completions") co_return co_await generate(Api::openai_chat, rec);
            if (path == "/v1/completions") co_return co_await generate(Api::openai_completion, rec);
        }
        const Reply reply = simple_reply(rec, path);
        const bool written = co_await respond(reply.status, reply.content_type, reply.body, reply.extra_headers);
        co_return after_reply(written);
    }

    // Every route that answers at once.
    Reply simple_reply(const RecordedRequest& rec, const std::string& path) {
        const std::string_view allow = allowed_methods(path);
        if (allow.empty()) return Reply{404, "text/plain", "404 page not found", {}};
        if (!method_listed(allow, rec.method)) {
            return Reply{405, "text/plain", "405 method not allowed", "Allow: " + std::string(allow) + "\r\n"};
        }
        if (path == "/") return Reply{200, "text/plain; charset=utf-8", "Ollama is running", {}};
        if (path == "/api/version") return json_reply(200, R"({"version":"0.12.6"})");
        if (path == "/api/status") return json_reply(200, R"({"cloud":{"disabled":false,"source":"default"}})");
        if (path == "/api/tags") {
            auto installed = shared_.current_knobs().tags_json;
            return json_reply(200, installed.empty() ? shared_.tags_json : std::move(installed));
        }
        if (path == "/api/ps") {
            auto running = shared_.current_knobs().ps_json;
            return json_reply(200, running.empty() ? shared_.ps_json : std::move(running));
        }
        if (path == "/v1/models") {  // what Ollama's OpenAI layer makes of the installed models
            return json_reply(200, R"({"object":"list","data":[)"
                                   R"({"id":"qwen3:14b","object":"model","created":1748850000,"owned_by":"library"},)"
                                   R"({"id":"qwen3:14b-q8_0","object":"model","created":1748850000,"owned_by":"library"},)"
                                   R"({"id":"nomic-embed-text:latest","object":"model","created":1748850000,"owned_by":"library"}]})");
        }
        if (path.starts_with("/api/blobs/")) {  // HEAD
            const auto digest = normalize_digest(std::string_view(path).substr(11));
            if (!digest) return json_reply(400, R"({"error":"invalid digest format"})");
            const bool present = *digest == always_present_blob || shared_.blobs.contains(*digest);
            return Reply{present ? 200u : 404u, {}, {}, {}};
        }

        RequestJson json(rec.body);
        std::optional<std::string> model = json.string_field("model");
        if (!model) model = json.string_field("name");
        if (path == "/api/copy") {
            const auto source = json.string_field("source");
            const auto destination = json.string_field("destination");
            if (!json.ok()) return json_reply(400, error_body(false, 400, json.error()));
            if (!source || !destination || source->empty() || destination->empty()) {
                return json_reply(400, R"({"error":"source and destination are required"})");
            }
            if (is_missing_model(*source)) return json_reply(404, error_body(false, 404, "model '" + *source + "' not found"));
            return Reply{200, {}, {}, {}};
        }
        if (!json.ok()) return json_reply(400, error_body(false, 400, json.error()));
        if (!model || model->empty()) return json_reply(400, R"({"error":"model is required"})");
        if (is_missing_model(*model)) return json_reply(404, error_body(false, 404, "model '" + *model + "' not found"));
        if (path == "/api/show") {
            // An embedding or vision model's card says so, as Ollama's does; every other model is Qwen3-14B.
            if (model->find("embed") != std::string::npos) return json_reply(200, std::string(embedding_show_json));
            if (model->find("vl") != std::string::npos) return json_reply(200, std::string(vision_show_json));
            return json_reply(200, shared_.show_json);
        }
        if (path == "/api/delete") return Reply{200, {}, {}, {}};
        if (path == "/api/embeddings") return json_reply(200, R"({"embedding":[0.1,0.2]})");
        // /api/embed: one vector per input.
        std::size_t inputs = 1;
        if (const auto input = json.field("input")) {
            simdjson::dom::array list;
            if (!input->get(list)) inputs = list.size();
        }
        std::string vectors;
        for (std::size_t i = 0; i < inputs; ++i) vectors += (i == 0 ? "[0.1,0.2]" : ",[0.1,0.2]");
        return json_reply(200, "{\"model\":" + json_quote(*model) + ",\"embeddings\":[" + vectors +
                                   "],\"total_duration\":1500000,\"load_duration\":500000,\"prompt_eval_count\":" +
                                   std::to_string(inputs * 4) + "}");
    }

    // POST /api/blobs/:digest: a known blob is answered from the headers alone (the body stays
    // unread, so the connection closes); a new one is counted, never held, then 201.
    asio::awaitable<Next> upload_blob(RequestParser& parser, RecordedRequest rec, std::string raw_digest,
                                      bool expects_continue) {
        const auto digest = normalize_digest(raw_digest);
        const bool body_pending = !parser.is_done();
        if (!digest || *digest == always_present_blob || shared_.blobs.contains(*digest)) {
            if (body_pending) keep_alive_ = false;
            shared_.record(std::move(rec));
            const std::string body = digest ? "" : R"({"error":"invalid digest format"})";
            const bool written = co_await respond(digest ? 200 : 400, digest ? "" : json_type, body);
            co_return after_reply(written);
        }
        if (body_pending) {
            if (expects_continue && shared_.current_knobs().send_continue) {
                const bool written = co_await write_raw(continue_line);
                if (!written) co_return Next::close_now;
            }
            const bool complete = co_await read_body(parser, rec, false);
            if (!complete) co_return Next::close_now;
        }
        shared_.blobs.insert(*digest);
        shared_.record(std::move(rec));
        const bool written = co_await respond(201, "", "");
        co_return after_reply(written);
    }

    // Reads the rest of the body in pieces; keeps the bytes only when `keep`.
    asio::awaitable<bool> read_body(RequestParser& parser, RecordedRequest& rec, bool keep) {
        while (!parser.is_done()) {
            parser.get().body().data = scratch_.data();
            parser.get().body().size = scratch_.size();
            auto [ec, ignored] = co_await http::async_read(socket_, buffer_, parser, use_nothrow);
            if (ec == http::error::need_buffer) ec = {};
            if (ec) co_return false;
            const std::size_t got = scratch_.size() - parser.get().body().size;
            rec.body_bytes += got;
            if (keep) rec.body.append(scratch_.data(), got);
        }
        co_return true;
    }

    // chat, generate, pull and the /v1 completions: check the request, then produce the answer
    // while watching the socket so a peer that goes away is noticed at once.
    asio::awaitable<Next> generate(Api api, const RecordedRequest& rec) {
        Generation g;
        g.api = api;
        g.knobs = shared_.current_knobs();
        g.started = std::chrono::steady_clock::now();
        g.pull_lines = &shared_.pull_lines;
        g.prompt_tokens = static_cast<int>(rec.body.size() / 8) + 1;

        RequestJson json(rec.body);
        std::optional<std::string> model = json.string_field("model");
        if (!model && api == Api::pull) model = json.string_field("name");
        const std::optional<bool> stream = json.bool_field("stream");
        bool load_only = false;
        bool unload = false;
        if (api == Api::chat) {
            simdjson::dom::array messages;
            if (const auto field = json.field("messages"); field && !field->get(messages)) load_only = messages.size() == 0;
        }
        if (api == Api::generate) {
            const auto prompt = json.string_field("prompt");
            load_only = prompt && prompt->empty();
        }
        if (const auto keep = json.field("keep_alive")) {
            double seconds = 1;
            unload = !keep->get(seconds) && seconds == 0;
        }
        if (const auto options = json.field("stream_options")) {
            bool include = false;
            if (!(*options)["include_usage"].get(include)) g.include_usage = include;
        }

        std::optional<Reply> refusal;
        if (!json.ok()) {
            refusal = json_reply(400, error_body(g.openai(), 400, json.error()));
        } else if (!model || model->empty()) {
            refusal = json_reply(400, error_body(g.openai(), 400, "model is required"));
        } else if (api != Api::pull && is_missing_model(*model)) {
            refusal = json_reply(404, error_body(g.openai(), 404, "model '" + *model + "' not found"));
        } else if (load_only) {
            // An empty conversation or prompt only loads (or unloads) the model: one JSON object.
            const std::string reason = unload ? "unload" : "load";
            refusal = json_reply(200, "{\"model\":" + json_quote(*model) + "," + created_at() +
                                          (api == Api::chat ? ",\"message\":{\"role\":\"assistant\",\"content\":\"\"}"
                                                            : ",\"response\":\"\"") +
                                          ",\"done_reason\":\"" + reason + "\",\"done\":true}");
        }
        if (refusal) {
            const bool written = co_await respond(refusal->status, refusal->content_type, refusal->body);
            co_return after_reply(written);
        }

        g.model = *model;
        g.stream = stream.value_or(!g.openai());  // /v1 defaults to a single answer
        g.id = (api == Api::openai_chat ? "chatcmpl-" : "cmpl-") + std::to_string(++shared_.completion_ids);
        g.created = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch()).count();
        co_return co_await run_generation(std::move(g));
    }

    asio::awaitable<Next> run_generation(Generation g) {
        outcome_ = Outcome::cancelled;
        stream_head_.clear();
        if (g.stream) {
            co_await (produce_stream(g) || watch_peer());
        } else {
            co_await (produce_single(g) || watch_peer());
        }
        switch (outcome_) {
        case Outcome::completed: co_return keep_alive_ ? Next::keep_going : Next::close_gracefully;
        case Outcome::server_closed: co_return Next::close_now;
        case Outcome::cancelled: break;
        }
        if (!shared_.stopping) shared_.count_cancelled();
        co_return Next::close_now;
    }

    // The stream: head and first line together (nothing before first_byte_delay), one chunk per line.
    asio::awaitable<void> produce_stream(const Generation& g) {
        try {
            const auto& knobs = g.knobs;
            const bool chunked = version_ >= 11;
            if (!chunked) keep_alive_ = false;  // an HTTP/1.0 stream ends with the connection
            stream_head_ = status_line(200) + "Content-Type: " +
                           (g.openai() ? "text/event-stream" : "application/x-ndjson") + "\r\nDate: " + http_date() +
                           "\r\n" + (chunked ? "Transfer-Encoding: chunked\r\n" : "") +
                           (keep_alive_ && chunked ? "" : "Connection: close\r\n") + "\r\n";
            if (!co_await sleep(knobs.first_byte_delay)) co_return;

            const int available = g.content_lines();
            const bool fails = knobs.mode == StreamMode::error_midstream || knobs.mode == StreamMode::abrupt_close ||
                               knobs.mode == StreamMode::stall;
            const int count = fails ? std::clamp(knobs.fail_after, 0, available) : available;
            for (int i = 0; i < count; ++i) {
                if (i > 0) {
                    const bool slept = co_await sleep(knobs.token_interval);
                    if (!slept) co_return;
                }
                const std::string framed = frame(g, content_line(g, i));
                if (!co_await write_chunk(framed)) co_return;
            }
            if (count > 0) {
                const bool slept = co_await sleep(knobs.token_interval);
                if (!slept) co_return;
            }

            switch (knobs.mode) {
            case StreamMode::error_midstream: {
                const std::string framed = frame(g, failure_line(g));
                if (!co_await write_chunk(framed)) co_return;
                outcome_ = Outcome::completed;  // the stream ends properly; only its content failed
                co_await write_end();
                co_return;
            }
            case StreamMode::abrupt_close: {
                error_code ignored;
                socket_.close(ignored);
                outcome_ = Outcome::server_closed;
                co_return;
            }
            case StreamMode::stall: co_await wait_forever(); co_return;
            default: break;
            }
            for (const auto& payload : final_lines(g)) {
                const std::string framed = frame(g, payload);
                if (!co_await write_chunk(framed)) co_return;
                outcome_ = Outcome::completed;  // the final line is out
            }
            co_await write_end();
        } catch (const std::exception&) {
            // Cancelled by the watcher (the peer left) or by shutdown; outcome_ says what we got to.
        }
    }

    // stream:false: wait as long as generating would take, then one JSON object.
    asio::awaitable<void> produce_single(const Generation& g) {
        try {
            const auto& knobs = g.knobs;
            if (!co_await sleep(knobs.first_byte_delay)) co_return;
            if (g.api != Api::pull) {
                const bool slept = co_await sleep(knobs.token_interval * g.content_lines());
                if (!slept) co_return;
            }
            switch (knobs.mode) {
            case StreamMode::error_midstream: {
                const std::string body = error_body(g.openai(), 500, model_failure);
                if (co_await respond(500, json_type, body)) outcome_ = Outcome::completed;
                co_return;
            }
            case StreamMode::abrupt_close: {
                error_code ignored;
                socket_.close(ignored);
                outcome_ = Outcome::server_closed;
                co_return;
            }
            case StreamMode::stall: co_await wait_forever(); co_return;
            default: break;
            }
            const std::string body = single_body(g);
            if (co_await respond(200, json_type, body)) outcome_ = Outcome::completed;
        } catch (const std::exception&) {
        }
    }

    // Keeps a read outstanding while an answer is produced: it ends (and so cancels the producer)
    // when the peer closes or resets. Bytes the peer pipelines meanwhile are kept for the next request.
    asio::awaitable<void> watch_peer() {
        try {
            for (;;) {
                if (buffer_.size() >= max_read_ahead) {
                    co_await wait_forever();
                    co_return;
                }
                auto [ec, n] = co_await socket_.async_read_some(buffer_.prepare(4096), use_nothrow);
                if (ec) co_return;
                buffer_.commit(n);
            }
        } catch (const std::exception&) {
        }
    }

    asio::awaitable<bool> sleep(std::chrono::nanoseconds duration) {
        if (duration <= std::chrono::nanoseconds::zero()) co_return true;
        asio::steady_timer timer(socket_.get_executor());
        timer.expires_after(duration);
        auto [ec] = co_await timer.async_wait(use_nothrow);
        co_return !ec;
    }

    asio::awaitable<void> wait_forever() {
        asio::steady_timer timer(socket_.get_executor());
        timer.expires_at(asio::steady_timer::time_point::max());
        co_await timer.async_wait(use_nothrow);
    }

    asio::awaitable<bool> write_raw(std::string_view bytes) {
        auto [ec, ignored] = co_await asio::async_write(socket_, asio::buffer(bytes), use_nothrow);
        co_return !ec;
    }

    // One line (or SSE event) as one HTTP chunk, preceded by the response head the first time.
    asio::awaitable<bool> write_chunk(const std::string& payload) {
        std::string out = std::move(stream_head_);
        stream_head_.clear();
        if (version_ >= 11) {
            char size[24];
            std::snprintf(size, sizeof size, "%zx\r\n", payload.size());
            out.append(size).append(payload).append("\r\n");
        } else {
            out += payload;
        }
        const bool written = co_await write_raw(out);
        if (written) ++shared_.lines_sent;
        co_return written;
    }

    asio::awaitable<bool> write_end() {
        if (version_ < 11) co_return true;
        co_return co_await write_raw("0\r\n\r\n");
    }

    // A complete response with Content-Length (chunked past Go's buffering threshold).
    asio::awaitable<bool> respond(unsigned status, std::string_view content_type, std::string_view body,
                                  std::string_view extra_headers = {}) {
        std::string out = status_line(status);
        if (!content_type.empty()) out.append("Content-Type: ").append(content_type).append("\r\n");
        out.append("Date: ").append(http_date()).append("\r\n").append(extra_headers);
        const bool chunked = !head_only_ && version_ >= 11 && body.size() >= chunking_threshold;
        if (chunked) {
            out += "Transfer-Encoding: chunked\r\n";
        } else {
            out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
        }
        if (!keep_alive_) {
            out += "Connection: close\r\n";
        } else if (version_ < 11) {
            out += "Connection: keep-alive\r\n";
        }
        out += "\r\n";
        if (!head_only_) {
            if (chunked) {
                char size[24];
                std::snprintf(size, sizeof size, "%zx\r\n", body.size());
                out.append(size).append(body).append("\r\n0\r\n\r\n");
            } else {
                out += body;
            }
        }
        co_return co_await write_raw(out);
    }

    // Closes after a response like Go does: half-close, then drop what the peer still sends for a
    // moment so that unread request bytes do not turn the close into a reset that loses the response.
    asio::awaitable<void> linger_close() {
        error_code ignored;
        socket_.shutdown(tcp::socket::shutdown_send, ignored);
        co_await (drain() || pause(std::chrono::milliseconds(500)));
        socket_.close(ignored);
    }

    asio::awaitable<void> drain() {
        try {
            buffer_.consume(buffer_.size());
            for (;;) {
                auto [ec, ignored] = co_await socket_.async_read_some(asio::buffer(scratch_), use_nothrow);
                if (ec) co_return;
            }
        } catch (const std::exception&) {
        }
    }

    asio::awaitable<void> pause(std::chrono::milliseconds duration) {
        try {
            co_await sleep(duration);
        } catch (const std::exception&) {
        }
    }

    Shared& shared_;
    tcp::socket socket_;
    std::uint64_t id_;
    beast::flat_buffer buffer_;
    std::vector<char> scratch_;
    unsigned version_ = 11;
    bool probe_connection_ = false;
    bool keep_alive_ = true;
    bool head_only_ = false;
    Outcome outcome_ = Outcome::cancelled;
    std::string stream_head_;  // the status line and headers of a stream, sent with its first line
};

asio::awaitable<void> serve(Shared& shared, tcp::socket socket, std::uint64_t id) {
    Session session(shared, std::move(socket), id);
    co_await session.run();
}

void report_failure(std::exception_ptr failure) {
    if (!failure) return;
    try {
        std::rethrow_exception(failure);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fake_ollama: %s\n", e.what());
    }
}

asio::awaitable<void> accept_loop(Shared& shared, tcp::acceptor& acceptor) {
    while (!shared.stopping) {
        auto [ec, socket] = co_await acceptor.async_accept(use_nothrow);
        if (shared.stopping || !acceptor.is_open()) co_return;
        if (ec) {
            // Out of descriptors or an aborted handshake: try again shortly.
            asio::steady_timer backoff(acceptor.get_executor(), std::chrono::milliseconds(5));
            co_await backoff.async_wait(use_nothrow);
            continue;
        }
        error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        const std::uint64_t id = ++shared.connections_accepted;
        asio::co_spawn(acceptor.get_executor(), serve(shared, std::move(socket), id), report_failure);
    }
}

}  // namespace

// ---------------------------------------------------------------------------------------------

std::string RecordedRequest::header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
        if (iequals(key, name)) return value;
    }
    return {};
}

bool RecordedRequest::has_header(std::string_view name) const {
    return std::any_of(headers.begin(), headers.end(), [&](const auto& h) { return iequals(h.first, name); });
}

struct FakeOllama::Impl {
    Shared shared;
    std::optional<asio::io_context> io;
    std::optional<tcp::acceptor> acceptor;
    std::uint16_t port = 0;
    std::promise<void> finished;
    std::thread thread;
};

FakeOllama::FakeOllama() : impl_(std::make_unique<Impl>()) {
    auto& shared = impl_->shared;
    shared.tags_json = read_fixture("tags.json");
    shared.ps_json = read_fixture("ps.json");
    shared.show_json = read_fixture("show-qwen3-14b.json");
    shared.pull_lines = split_lines(read_fixture("pull-progress.ndjson"));
    if (shared.pull_lines.empty()) throw std::runtime_error("fake_ollama: pull-progress.ndjson is empty");
    char hostname[256] = {};
    if (gethostname(hostname, sizeof hostname - 1) == 0) shared.hostname = to_lower(hostname);

    impl_->io.emplace(1);
    impl_->acceptor.emplace(*impl_->io, tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), 0));
    impl_->port = impl_->acceptor->local_endpoint().port();
    asio::co_spawn(*impl_->io, accept_loop(shared, *impl_->acceptor), report_failure);
    impl_->thread = std::thread([impl = impl_.get()] {
        for (;;) {
            try {
                impl->io->run();
                break;
            } catch (const std::exception& e) {
                std::fprintf(stderr, "fake_ollama: %s\n", e.what());
            }
        }
        impl->finished.set_value();
    });
}

FakeOllama::~FakeOllama() {
    auto& impl = *impl_;
    impl.shared.stopping = true;
    // Closing every socket ends every pending operation; the coroutines then unwind on their own.
    asio::post(*impl.io, [&impl] {
        error_code ignored;
        impl.acceptor->close(ignored);
        for (auto& entry : impl.shared.live_sockets) entry.second->close(ignored);
    });
    if (impl.finished.get_future().wait_for(std::chrono::seconds(5)) != std::future_status::ready) impl.io->stop();
    impl.thread.join();
    impl.acceptor.reset();
    impl.io.reset();  // destroys whatever coroutine was left suspended
}

std::uint16_t FakeOllama::port() const { return impl_->port; }

std::string FakeOllama::url() const { return "http://127.0.0.1:" + std::to_string(impl_->port); }

void FakeOllama::set_knobs(const FakeOllamaKnobs& knobs) {
    std::lock_guard lock(impl_->shared.mutex);
    impl_->shared.knobs = knobs;
}

FakeOllamaKnobs FakeOllama::knobs() const { return impl_->shared.current_knobs(); }

std::vector<RecordedRequest> FakeOllama::requests() const {
    std::lock_guard lock(impl_->shared.mutex);
    return impl_->shared.requests;
}

RecordedRequest FakeOllama::last_request() const {
    std::lock_guard lock(impl_->shared.mutex);
    if (impl_->shared.requests.empty()) throw std::runtime_error("fake_ollama: no request received yet");
    return impl_->shared.requests.back();
}

std::size_t FakeOllama::connections_accepted() const {
    return impl_->shared.connections_accepted - impl_->shared.probe_connections;
}

std::size_t FakeOllama::open_connections() const { return impl_->shared.open_connections; }

std::size_t FakeOllama::streams_cancelled() const {
    std::lock_guard lock(impl_->shared.mutex);
    return impl_->shared.streams_cancelled;
}

bool FakeOllama::wait_streams_cancelled(std::size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(impl_->shared.mutex);
    return impl_->shared.cancelled_changed.wait_for(lock, timeout,
                                                    [&] { return impl_->shared.streams_cancelled >= n; });
}

std::size_t FakeOllama::lines_sent() const { return impl_->shared.lines_sent; }

std::size_t FakeOllama::wait_production_stalled(std::chrono::milliseconds timeout,
                                                std::chrono::milliseconds quiet) const {
    std::size_t stalled_at = 0;
    for (const auto deadline = std::chrono::steady_clock::now() + timeout; std::chrono::steady_clock::now() < deadline;) {
        const auto before = lines_sent();
        std::this_thread::sleep_for(quiet);
        stalled_at = lines_sent();
        if (before == stalled_at && stalled_at > 0) break;
    }
    return stalled_at;
}

}  // namespace sluice::test
