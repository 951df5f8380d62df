// user_bench: streaming /api/chat requests, direct and through sluice, timed from the client.
#include "sluice/user_bench.hpp"

#include "sluice/config.hpp"
#include "sluice/json_edit.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <exception>
#include <optional>
#include <vector>

namespace sluice {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;

// Short questions with short answers: the bench measures the path, not the model's patience.
constexpr std::array<std::string_view, 8> questions = {
    "In two sentences, why is the sky blue?",
    "Write a haiku about autumn rain.",
    "What is the capital of Australia, and why is it not Sydney?",
    "Give three tips for writing readable Python.",
    "Summarize the plot of Romeo and Juliet in three sentences.",
    "What does the HTTP status code 404 mean?",
    "Name three common uses of a hash map.",
    "Translate 'good morning' into French, German and Japanese.",
};

constexpr std::size_t max_error_body = 64 * 1024;

struct Path {
    std::string_view name;  // "Ollama", "sluice": as the messages say it
    UpstreamUrl url;
    std::shared_ptr<asio::ssl::context> tls;  // set for an https URL (a sluice with tls:)
};

// What one request did, as the client saw it.
struct Exchange {
    std::string failure;          // empty when the request completed
    std::string failure_phase;    // "connect" when it never reached the server
    unsigned status = 0;
    std::string error_message;    // Ollama's {"error": ...}, from an error answer or a line
    std::string rewrite;          // the X-Sluice-Rewrite header
    std::string model;            // the model Ollama says answered (its lines' "model")
    std::optional<Clock::duration> ttft;
    Clock::time_point first_line{}, last_line{};
    std::size_t lines = 0;        // lines before the final one (one per token)
    bool done = false;            // the final line ("done": true) arrived
    std::uint64_t eval_count = 0, eval_duration_ns = 0;
};

std::string chat_body(std::string_view model, std::optional<std::string_view> question, int num_predict) {
    if (!question) return fmt::format(R"({{"model":{},"messages":[],"stream":true}})", json_quote(model));
    return fmt::format(R"({{"model":{},"messages":[{{"role":"user","content":{}}}],"stream":true,"options":{{"num_predict":{}}}}})",
                       json_quote(model), json_quote(*question), num_predict);
}

// Reads one NDJSON line into the exchange's counters.
void take_line(std::string_view line, Exchange& exchange, Clock::time_point at, simdjson::dom::parser& parser) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty()) return;
    simdjson::dom::element document;
    if (parser.parse(line).get(document) != simdjson::SUCCESS) {
        exchange.error_message = fmt::format("a line that is not JSON: {:.80}", line);
        return;
    }
    std::string_view error;
    if (document["error"].get_string().get(error) == simdjson::SUCCESS) {
        exchange.error_message = error;
        return;
    }
    if (std::string_view model; exchange.model.empty() && document["model"].get_string().get(model) == simdjson::SUCCESS) {
        exchange.model = model;
    }
    bool done = false;
    if (document["done"].get_bool().get(done) != simdjson::SUCCESS) done = false;
    if (exchange.lines == 0 && !exchange.done) exchange.first_line = at;
    exchange.last_line = at;
    if (!done) {
        ++exchange.lines;
        return;
    }
    exchange.done = true;
    // A final line without statistics leaves them 0: the table then shows no Ollama tokens/s.
    if (document["eval_count"].get_uint64().get(exchange.eval_count) != simdjson::SUCCESS) exchange.eval_count = 0;
    if (document["eval_duration"].get_uint64().get(exchange.eval_duration_ns) != simdjson::SUCCESS) {
        exchange.eval_duration_ns = 0;
    }
}

// One chat on a connected stream (plain or TLS): the request, then the streamed answer.
template <class Stream>
asio::awaitable<void> chat_over(Stream& stream, const Path& path, std::string body, Exchange& exchange, const char*& phase) {
    phase = "request";
    http::request<http::string_body> request{http::verb::post, "/api/chat", 11};
    request.set(http::field::host, path.url.host_header);
    request.set(http::field::user_agent, "sluice-bench");
    request.set(http::field::content_type, "application/json");
    request.body() = std::move(body);
    request.prepare_payload();
    const auto sent = Clock::now();
    co_await http::async_write(stream, request, asio::use_awaitable);

    phase = "response";
    beast::flat_buffer buffer;
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(boost::none);
    co_await http::async_read_header(stream, buffer, parser, asio::use_awaitable);
    exchange.status = parser.get().result_int();
    exchange.rewrite = std::string(parser.get()["X-Sluice-Rewrite"]);

    std::array<char, 16 * 1024> piece;
    std::string pending;  // a line not yet ended, or an error answer's body
    simdjson::dom::parser json;
    while (!parser.is_done()) {
        parser.get().body().data = piece.data();
        parser.get().body().size = piece.size();
        boost::system::error_code ec;
        co_await http::async_read_some(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
        if (ec && ec != http::error::need_buffer) throw boost::system::system_error(ec);
        const std::size_t got = piece.size() - parser.get().body().size;
        if (got == 0) continue;
        const auto at = Clock::now();
        if (!exchange.ttft) exchange.ttft = at - sent;
        if (exchange.status != 200) {
            pending.append(piece.data(), std::min(got, max_error_body - std::min(max_error_body, pending.size())));
            continue;
        }
        pending.append(piece.data(), got);
        std::size_t start = 0;
        for (auto end = pending.find('\n'); end != std::string::npos; end = pending.find('\n', start)) {
            take_line(std::string_view(pending).substr(start, end - start), exchange, at, json);
            start = end + 1;
        }
        pending.erase(0, start);
    }
    if (exchange.status == 200) {
        take_line(pending, exchange, Clock::now(), json);  // a last line without '\n'
    } else {
        simdjson::dom::element document;
        std::string_view message;
        if (json.parse(pending).get(document) == simdjson::SUCCESS &&
            document["error"].get_string().get(message) == simdjson::SUCCESS) {
            exchange.error_message = message;
        } else {
            exchange.error_message = pending.substr(0, 200);
        }
    }
}

// Connects (and, for https, handshakes, checking the certificate's name) within `timeout`,
// which covers the whole exchange; the connection closes when it ends.
asio::awaitable<void> stream_chat(const Path& path, std::string body, Clock::duration timeout, Exchange& exchange) {
    const auto executor = co_await asio::this_coro::executor;
    beast::tcp_stream stream(executor);
    stream.expires_after(timeout);  // one deadline for the whole exchange
    const char* phase = "connect";
    try {
        asio::ip::tcp::resolver resolver(executor);
        const auto endpoints =
            co_await resolver.async_resolve(path.url.host, std::to_string(path.url.port), asio::use_awaitable);
        co_await stream.async_connect(endpoints, asio::use_awaitable);
        stream.socket().set_option(asio::ip::tcp::no_delay(true));
        if (!path.tls) {
            co_await chat_over(stream, path, std::move(body), exchange, phase);
            co_return;
        }
        beast::ssl_stream<beast::tcp_stream> tls(std::move(stream), *path.tls);
        tls.set_verify_callback(asio::ssl::host_name_verification(path.url.host));
        if (!SSL_set_tlsext_host_name(tls.native_handle(), path.url.host.c_str())) {
            throw boost::system::system_error(static_cast<int>(::ERR_get_error()), asio::error::get_ssl_category());
        }
        co_await tls.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
        co_await chat_over(tls, path, std::move(body), exchange, phase);
    } catch (const boost::system::system_error& e) {
        exchange.failure_phase = phase;
        exchange.failure = e.code() == beast::error::timeout
                               ? "timeout"
                               : (e.code() == http::error::end_of_stream ? "the connection closed" : e.code().message());
    }
}

Exchange run_exchange(const Path& path, std::string body, std::chrono::milliseconds timeout) {
    asio::io_context io;
    Exchange exchange;
    std::exception_ptr failure;
    asio::co_spawn(io, stream_chat(path, std::move(body), timeout, exchange),
                   [&failure](std::exception_ptr e) { failure = e; });
    io.run();
    if (failure) std::rethrow_exception(failure);
    return exchange;
}

// The sluice to measure: http:// as Ollama's URLs are, or https:// (a sluice with tls:), whose
// certificate is checked against `ca_file` when given, else the system's trusted CAs.
Path sluice_path(const UserBenchOptions& options) {
    constexpr std::string_view https = "https://";
    if (!options.sluice_url.starts_with(https)) return {"sluice", parse_upstream_url(options.sluice_url), nullptr};
    Path path{"sluice", parse_upstream_url("http://" + options.sluice_url.substr(https.size())), nullptr};
    path.url.url = std::string(https) + path.url.host_header;
    path.tls = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    path.tls->set_verify_mode(asio::ssl::verify_peer);
    if (options.ca_file.empty()) {
        path.tls->set_default_verify_paths();
    } else {
        path.tls->load_verify_file(options.ca_file);
    }
    return path;
}

// A failed request, as one sentence saying what to do; empty when the exchange is usable.
std::string diagnose(const Exchange& exchange, const Path& path, const Path& ollama, const UserBenchOptions& options) {
    const bool through_sluice = &path != &ollama;
    if (!exchange.failure.empty()) {
        if (exchange.failure == "timeout") {
            return fmt::format("a request to {} at {} did not finish within {} s: raise --timeout, or lower --num-predict",
                               path.name, path.url.url, options.timeout.count() / 1000.0);
        }
        if (exchange.failure_phase == "connect" && path.tls && exchange.failure.find("certificate") != std::string::npos) {
            return fmt::format("sluice at {} presents a certificate this machine does not trust ({}): pass --ca with "
                               "the CA that signed it (sluice cert's ca.crt)",
                               path.url.url, exchange.failure);
        }
        if (exchange.failure_phase == "connect") {
            return through_sluice
                       ? fmt::format("cannot connect to sluice at {} ({}): start it in front of this Ollama "
                                     "(sluice --upstream {}) or pass --sluice URL",
                                     path.url.url, exchange.failure, ollama.url.url)
                       : fmt::format("cannot connect to Ollama at {} ({}): start it (ollama serve) or pass --ollama URL",
                                     path.url.url, exchange.failure);
        }
        return fmt::format("{} at {} failed during the {} ({}): check that it is {} at that address", path.name,
                           path.url.url, exchange.failure_phase, exchange.failure,
                           through_sluice ? "sluice" : "Ollama");
    }
    if (exchange.status == 404 && !through_sluice) {
        return fmt::format("model \"{}\" is not installed in Ollama at {} (Ollama says: {}): pull it with "
                           "`ollama pull {}`, or pick one from `ollama list`",
                           options.model, path.url.url, exchange.error_message, options.model);
    }
    if (exchange.status == 404) {
        return fmt::format("sluice at {} answered 404 ({}) although Ollama at {} has the model: check that sluice's "
                           "--upstream is that Ollama",
                           path.url.url, exchange.error_message, ollama.url.url);
    }
    if (exchange.status != 200) {
        return fmt::format("{} at {} answered {} ({}): fix that, then rerun", path.name, path.url.url, exchange.status,
                           exchange.error_message.empty() ? "no error message" : exchange.error_message);
    }
    if (!exchange.error_message.empty()) {
        return fmt::format("{} at {} reported an error while streaming ({}): see Ollama's log", path.name, path.url.url,
                           exchange.error_message);
    }
    if (!exchange.done) {
        return fmt::format("{} at {} ended the stream without its final line: see {}'s log", path.name, path.url.url,
                           path.name);
    }
    return {};
}

// The figures of one request.
struct Sample {
    double ttft_ms = 0;
    double ollama_tokens_per_s = 0;  // 0 when the final line had no eval_duration
    double client_tokens_per_s = 0;  // 0 with fewer than two lines
};

Sample sample_of(const Exchange& exchange) {
    Sample sample;
    sample.ttft_ms = std::chrono::duration<double, std::milli>(exchange.ttft.value_or(Clock::duration{})).count();
    if (exchange.eval_duration_ns > 0) {
        sample.ollama_tokens_per_s = static_cast<double>(exchange.eval_count) * 1e9 / static_cast<double>(exchange.eval_duration_ns);
    }
    const double streaming_s = std::chrono::duration<double>(exchange.last_line - exchange.first_line).count();
    if (exchange.lines >= 1 && streaming_s > 0) sample.client_tokens_per_s = static_cast<double>(exchange.lines) / streaming_s;
    return sample;
}

struct Spread {
    double median = 0, min = 0, max = 0;
};

Spread spread_of(std::vector<double> values) {
    if (values.empty()) return {};
    std::sort(values.begin(), values.end());
    const std::size_t n = values.size();
    const double median = n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
    return {median, values.front(), values.back()};
}

std::string cell(const Spread& s, int decimals) {
    return fmt::format("{:.{}f} ({:.{}f}-{:.{}f})", s.median, decimals, s.min, decimals, s.max, decimals);
}

std::string ratio(const Spread& sluice, const Spread& direct) {
    return direct.median > 0 ? fmt::format("{:.3f}", sluice.median / direct.median) : "-";
}

// Whether sluice's changes make Ollama load the model differently from the direct requests
// (another model, num_ctx or other load options); keep_alive and think do not.
bool changes_how_the_model_loads(std::string_view rewrite) {
    while (!rewrite.empty()) {
        const auto end = rewrite.find("; ");
        const std::string_view change = rewrite.substr(0, end);
        const std::string_view key = change.substr(0, change.find('='));
        if (!key.empty() && key != "keep_alive" && key != "think") return true;
        if (end == std::string_view::npos) break;
        rewrite.remove_prefix(end + 2);
    }
    return false;
}

}  // namespace

int run_user_bench(const UserBenchOptions& options, std::ostream& out, std::ostream& err) {
    Path ollama{"Ollama", {}, nullptr};
    Path sluice{"sluice", {}, nullptr};
    try {
        ollama.url = parse_upstream_url(options.ollama_url);
    } catch (const ConfigError& e) {
        err << "sluice bench: --ollama: " << e.what() << "\n";
        return 2;
    }
    try {
        sluice = sluice_path(options);
    } catch (const ConfigError& e) {
        err << "sluice bench: --sluice: " << e.what() << "\n";
        return 2;
    } catch (const boost::system::system_error& e) {
        err << "sluice bench: --ca " << options.ca_file << ": " << e.code().message() << "\n";
        return 2;
    }
    if (options.model.empty() || options.prompts < 1 || options.num_predict < 1 || options.timeout.count() <= 0) {
        err << "sluice bench: --model is required, and --prompts, --num-predict and --timeout must be positive\n";
        return 2;
    }

    std::string rewrite;  // what sluice changed, from its last answer
    // One request; nullopt (and the sentence on err) when it failed.
    const auto request = [&](const Path& path, std::optional<std::string_view> question) -> std::optional<Exchange> {
        Exchange exchange = run_exchange(path, chat_body(options.model, question, options.num_predict), options.timeout);
        if (const std::string problem = diagnose(exchange, path, ollama, options); !problem.empty()) {
            err << "sluice bench: " << problem << ".\n";
            return std::nullopt;
        }
        if (&path == &sluice && !exchange.rewrite.empty()) rewrite = exchange.rewrite;
        return exchange;
    };

    err << fmt::format("sluice bench: loading {} (one untimed request to Ollama at {}, then one through sluice at {})\n",
                       options.model, ollama.url.url, sluice.url.url);
    if (!request(ollama, std::nullopt) || !request(sluice, std::nullopt)) return 1;

    // Which path each timed request takes, in order; a path's warm-up is marked nullopt.
    struct Step {
        const Path* path;
        std::optional<int> prompt;  // nullopt: an untimed warm-up
    };
    std::vector<Step> schedule;
    const bool blocks = changes_how_the_model_loads(rewrite);
    if (blocks) {
        for (int i = 0; i < options.prompts; ++i) schedule.push_back({&sluice, i});  // sluice loaded it last
        schedule.push_back({&ollama, std::nullopt});
        for (int i = 0; i < options.prompts; ++i) schedule.push_back({&ollama, i});
    } else {
        for (int i = 0; i < options.prompts; ++i) {
            schedule.push_back({&ollama, i});
            schedule.push_back({&sluice, i});
        }
    }

    std::vector<Sample> direct_samples, sluice_samples;
    std::uint64_t direct_tokens = 0, sluice_tokens = 0;
    std::string direct_model, sluice_model;  // what Ollama says answered each path
    for (const Step& step : schedule) {
        const auto question = step.prompt ? std::optional(questions[static_cast<std::size_t>(*step.prompt) % questions.size()])
                                          : std::nullopt;
        const auto exchange = request(*step.path, question);
        if (!exchange) return 1;
        if (!step.prompt) continue;
        (step.path == &sluice ? sluice_samples : direct_samples).push_back(sample_of(*exchange));
        (step.path == &sluice ? sluice_tokens : direct_tokens) += exchange->eval_count;
        if (!exchange->model.empty()) (step.path == &sluice ? sluice_model : direct_model) = exchange->model;
        err << fmt::format("sluice bench: {} {}/{}: TTFT {:.1f} ms, {} lines\n", step.path == &sluice ? "sluice" : "direct",
                           *step.prompt + 1, options.prompts, sample_of(*exchange).ttft_ms, exchange->lines);
    }

    const auto figure = [](const std::vector<Sample>& samples, double Sample::*member) {
        std::vector<double> values;
        for (const Sample& sample : samples) values.push_back(sample.*member);
        return spread_of(std::move(values));
    };
    const Spread direct_ttft = figure(direct_samples, &Sample::ttft_ms);
    const Spread sluice_ttft = figure(sluice_samples, &Sample::ttft_ms);
    const Spread direct_ollama = figure(direct_samples, &Sample::ollama_tokens_per_s);
    const Spread sluice_ollama = figure(sluice_samples, &Sample::ollama_tokens_per_s);
    const Spread direct_client = figure(direct_samples, &Sample::client_tokens_per_s);
    const Spread sluice_client = figure(sluice_samples, &Sample::client_tokens_per_s);

    out << fmt::format("sluice bench: {}, {} prompts per path (num_predict {}), streaming /api/chat\n", options.model,
                       options.prompts, options.num_predict);
    out << fmt::format("direct: Ollama at {}; sluice: {}\n", ollama.url.url, sluice.url.url);
    if (rewrite.empty()) {
        out << "sluice changed nothing in the requests (no X-Sluice-Rewrite header)\n";
    } else {
        out << fmt::format("sluice rewrote the requests (X-Sluice-Rewrite: {}): the sluice column includes its rules' effect\n",
                           rewrite);
    }
    out << (blocks ? "order: all through sluice, then all direct, each after its own warm-up (sluice's rules load the model "
                     "differently, so alternating would reload it every time)\n"
                   : "order: direct and sluice alternating, after one warm-up each\n");
    // A prefer or alias rule can send sluice's requests to another model: the columns then
    // measure two models, and a ratio between them would credit sluice with the model's speed.
    const bool two_models = !direct_model.empty() && !sluice_model.empty() && direct_model != sluice_model;
    if (two_models) {
        out << fmt::format("the two columns ran different models (direct: {}, through sluice: {}): no ratio is given; "
                           "compare the same model with --model {}\n",
                           direct_model, sluice_model, sluice_model);
    }
    const auto compare = [two_models](const Spread& through_sluice, const Spread& direct) {
        return two_models ? std::string("- (other model)") : ratio(through_sluice, direct);
    };
    out << (two_models ? fmt::format("\n| figure: median (min-max) | direct: {} | sluice: {} | sluice / direct |\n",
                                     direct_model, sluice_model)
                       : std::string("\n| figure: median (min-max) | direct | sluice | sluice / direct |\n"));
    out << "|---|---|---|---|\n";
    out << fmt::format("| requests | {} | {} | |\n", direct_samples.size(), sluice_samples.size());
    out << fmt::format("| tokens generated (eval_count, all requests) | {} | {} | |\n", direct_tokens, sluice_tokens);
    out << fmt::format("| TTFT ms (request sent -> first byte) | {} | {} | {} |\n", cell(direct_ttft, 2),
                       cell(sluice_ttft, 2), compare(sluice_ttft, direct_ttft));
    out << fmt::format("| tokens/s, Ollama (eval_count / eval_duration) | {} | {} | {} |\n", cell(direct_ollama, 1),
                       cell(sluice_ollama, 1), compare(sluice_ollama, direct_ollama));
    out << fmt::format("| tokens/s, client (lines / streaming time) | {} | {} | {} |\n", cell(direct_client, 1),
                       cell(sluice_client, 1), compare(sluice_client, direct_client));
    return 0;
}

}  // namespace sluice
