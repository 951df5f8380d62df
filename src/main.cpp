// main: command line (CLI11), config loading, logging set-up, and the server's lifetime.
#include "sluice/access_control.hpp"
#include "sluice/ascii.hpp"
#include "sluice/config.hpp"
#include "sluice/doctor.hpp"
#include "sluice/explain.hpp"
#include "sluice/server.hpp"
#include "sluice/systemd.hpp"
#include "sluice/tls_cert.hpp"
#include "sluice/user_bench.hpp"

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <csignal>
#include <functional>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <optional>
#include <string_view>
#include <vector>

namespace {

struct Options {
    std::string config_path;
    std::optional<std::string> listen;
    std::optional<std::string> upstream;
    std::optional<std::string> log_level;
    std::optional<unsigned> threads;
    bool check_config = false;
    std::string explain_path = "/api/chat";
    bool doctor_json = false;
};

// "<N>", the syslog priority of a log line, for journald (sd-daemon(3)): journalctl then shows
// and filters sluice's levels (journalctl -u sluice -p warning).
class SyslogPriority : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& message, const std::tm&, spdlog::memory_buf_t& out) override {
        static constexpr std::array<std::string_view, 7> prefixes{"<7>", "<7>", "<6>", "<4>", "<3>", "<2>", "<6>"};
        const auto prefix = prefixes[static_cast<std::size_t>(message.level)];  // trace .. critical, off
        out.append(prefix.data(), prefix.data() + prefix.size());
    }
    std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<SyslogPriority>(); }
};

// The file (or the defaults), then each flag given on the command line over it.
sluice::Config load(const Options& options) {
    auto config = options.config_path.empty() ? sluice::Config{} : sluice::load_config_file(options.config_path);
    const auto flag = [](std::string_view name, auto parse) {
        try {
            return parse();
        } catch (const sluice::ConfigError& e) {
            throw sluice::ConfigError(fmt::format("--{}: {}", name, e.what()));
        }
    };
    if (options.listen) {
        config.listen = flag("listen", [&] { return sluice::parse_host_port(*options.listen); });
        if (!sluice::may_face_the_network(config) && !sluice::is_loopback_host(config.listen.host)) {
            throw sluice::ConfigError("--listen: " + sluice::unauthenticated_exposure_message(*options.listen));
        }
    }
    if (options.upstream) {
        auto url = flag("upstream", [&] { return sluice::parse_upstream_url(*options.upstream); });
        config.upstreams = sluice::single_upstream(std::move(url));
    }
    if (options.log_level) {
        flag("log-level", [&] { sluice::validate_log_level(*options.log_level); return 0; });
        config.log.level = *options.log_level;
    }
    if (options.threads) config.threads = *options.threads;
    return config;
}

// `sluice hash-key`: a new key and its hash (what auth.keys stores), or the hash of a key read
// from stdin. The key is shown once: sluice keeps only the hash.
int hash_key(bool from_stdin) {
    constexpr std::size_t min_key_length = 16;
    if (!from_stdin) {
        const auto key = sluice::generate_api_key();
        const auto hash = sluice::hash_api_key(key);
        fmt::print("key:  {}\nhash: {}\n\n"
                   "Give the key to its holder (sluice keeps only the hash) and add to the config file:\n"
                   "auth:\n  keys:\n    - name: laptop        # who holds it; logs show this, never the key\n"
                   "      hash: \"{}\"\n"
                   "      routes: all         # or chat: all but pull, push, create, copy, delete, blobs\n",
                   key, hash, hash);
        return 0;
    }
    std::string key{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
    while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
    if (key.size() < min_key_length || key.size() > 512 || key.find_first_of(" \t\r\n") != std::string::npos) {
        std::fprintf(stderr, "sluice hash-key: a key is %zu to 512 characters without spaces; run `sluice hash-key` "
                             "without --stdin to make a random one\n", min_key_length);
        return 2;
    }
    fmt::print("{}\n", sluice::hash_api_key(key));
    return 0;
}

// `sluice cert`: a local CA and a certificate for this machine's names, then what to do with them.
int make_cert(sluice::CertRequest request) {
    auto names = sluice::default_dns_names();
    for (auto& name : request.dns_names) {
        if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(std::move(name));
    }
    auto addresses = sluice::default_ip_addresses();
    for (auto& address : request.ip_addresses) {
        if (std::find(addresses.begin(), addresses.end(), address) == addresses.end()) addresses.push_back(std::move(address));
    }
    request.dns_names = std::move(names);
    request.ip_addresses = std::move(addresses);
    sluice::CertFiles files;
    try {
        files = sluice::make_certificate(request);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sluice cert: %s\n", e.what());
        return 1;
    }
    fmt::print("{} {}\ncertificate for {}, {} (valid {} days): {}\n\n",
               files.ca_created ? "made a local CA:" : "kept the local CA:", files.ca_cert.string(),
               sluice::join(request.dns_names), sluice::join(request.ip_addresses), request.days, files.cert.string());
    fmt::print("1. In the config file:\n"
               "     tls:\n       cert: {}\n       key: {}\n"
               "   As a systemd service, sluice runs as its own user and cannot read that key: `sudo systemctl edit sluice`,\n"
               "   add\n"
               "     [Service]\n     LoadCredential=sluice.crt:{}\n     LoadCredential=sluice.key:{}\n"
               "   and use cert: /run/credentials/sluice.service/sluice.crt, key: /run/credentials/sluice.service/sluice.key.\n"
               "2. Restart sluice and open https://{}:<port>/\n"
               "3. On each device, trust {} once (browsers warn about the certificate until then).\n"
               "Renewal: run this again (the CA is kept), then restart sluice (or reload, without systemd credentials).\n",
               files.cert.string(), files.key.string(), files.cert.string(), files.key.string(),
               request.dns_names.front(), files.ca_cert.string());
    return 0;
}

// `sluice explain`: the body from stdin as it would go to Ollama on stdout, the story on stderr.
int explain(const Options& options, const sluice::Config& config) {
    if (::isatty(STDIN_FILENO)) std::fputs("sluice explain: reading the request body from stdin (end it with Ctrl-D)\n", stderr);
    const std::string body{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
    const auto explanation = sluice::explain_request(
        config, options.config_path.empty() ? "the defaults (no --config)" : options.config_path, options.explain_path, body);
    for (const auto& line : explanation.lines) fmt::print(stderr, "{}\n", line);
    std::fwrite(explanation.body.data(), 1, explanation.body.size(), stdout);
    if (::isatty(STDOUT_FILENO) && !explanation.body.ends_with('\n')) std::fputc('\n', stdout);
    return 0;
}

// `sluice doctor`: what Ollama shows, checked against the tuning steps. Exit 1 when something
// costs tokens/s (or Ollama cannot be asked), else 0.
int doctor(const Options& options, const sluice::Config& config) {
    const auto facts = sluice::gather_doctor_facts_here(config);
    const auto findings = sluice::diagnose(facts, config.rewrite);
    const auto report = options.doctor_json ? sluice::doctor_report_json(facts, findings) + "\n"
                                            : sluice::doctor_report_text(facts, findings);
    std::fwrite(report.data(), 1, report.size(), stdout);
    return std::any_of(findings.begin(), findings.end(),
                       [](const sluice::Finding& f) { return f.severity == sluice::Severity::costly; })
               ? 1
               : 0;
}

// -c/--config and --upstream, as the subcommands that ask Ollama take them.
void add_config_and_upstream(CLI::App& command, Options& options, const std::string& config_help,
                             const std::string& upstream_help) {
    command.add_option("-c,--config", options.config_path, config_help)->option_text("FILE");
    command.add_option("--upstream", options.upstream, upstream_help)->option_text("URL");
}

std::string listen_address(const sluice::HostPort& listen) {
    const auto& host = listen.host;
    return fmt::format("{}:{}", host.find(':') == std::string::npos ? host : "[" + host + "]", listen.port);
}

// Where a client on this machine reaches a sluice listening on `listen`: a wildcard address
// is reached on loopback.
std::string connect_address(sluice::HostPort listen) {
    if (listen.host.empty() || listen.host == "0.0.0.0") listen.host = "127.0.0.1";
    if (listen.host == "::") listen.host = "::1";
    return listen_address(listen);
}

// The address sluice serves when it reaches beyond this machine: the listen address, or the
// socket systemd passed (its ListenStream= replaces listen:, so the same rule applies to it).
std::optional<std::string> network_exposure(const sluice::Config& config, std::optional<int> inherited) {
    if (!inherited) {
        if (sluice::is_loopback_host(config.listen.host)) return std::nullopt;
        return listen_address(config.listen);
    }
    boost::asio::ip::tcp::endpoint bound;
    socklen_t length = static_cast<socklen_t>(bound.capacity());
    if (::getsockname(*inherited, bound.data(), &length) != 0) return std::nullopt;
    bound.resize(length);
    if (bound.address().is_loopback()) return std::nullopt;
    return fmt::format("the socket systemd passed ({})", listen_address({bound.address().to_string(), bound.port()}));
}

// SIGHUP: the file and the flags over it read again, here, off the event loops; requests that
// start from now on get the new config, streams in flight keep theirs. A file that fails to
// load, or would leave the network unauthenticated, changes nothing.
void reload(sluice::Server& server, const Options& options, const std::optional<std::string>& exposure,
            const std::string& status) {
    if (options.config_path.empty()) {
        spdlog::warn("reload: sluice runs without --config; there is no file to read again");
        return;
    }
    sluice::systemd::notify_reloading("reloading " + options.config_path);
    try {
        auto next = load(options);
        if (exposure && !sluice::may_face_the_network(next)) {
            throw sluice::ConfigError(sluice::unauthenticated_exposure_message(*exposure));
        }
        const auto level = next.log.level;
        for (const auto& key : server.reload(std::move(next))) {
            spdlog::warn("reload: {} changed in {}; it takes effect when sluice restarts", key, options.config_path);
        }
        spdlog::set_level(spdlog::level::from_str(level));
        spdlog::info("reload: {} is in force for new requests; streams in flight keep the config they started with",
                     options.config_path);
    } catch (const sluice::ConfigError& e) {
        spdlog::error("reload refused, the running config stays: {}", e.what());
    }
    sluice::systemd::notify_ready(status);
}

// Runs the server until SIGTERM or SIGINT has drained it (a second signal stops it at once),
// reloading the config on SIGHUP, and telling systemd each step when it runs under it.
int serve(const sluice::Config& config, const Options& options) {
    const auto inherited = sluice::systemd::inherited_listener();
    const auto exposure = network_exposure(config, inherited);
    if (exposure && !sluice::may_face_the_network(config)) {
        throw std::runtime_error(sluice::unauthenticated_exposure_message(*exposure));
    }
    sluice::Server server(config, inherited);
    const auto status = fmt::format(
        "listening on {}, {}",
        inherited ? fmt::format("the socket systemd passed (port {})", server.port())
                  : listen_address({config.listen.host, server.port()}),
        sluice::describe_upstreams(config));
    boost::asio::io_context signals_io;
    boost::asio::signal_set signals(signals_io, SIGINT, SIGTERM, SIGHUP);
    std::function<void(const boost::system::error_code&, int)> on_signal = [&](const auto& ec, int signal) {
        if (ec) return;
        if (signal == SIGHUP) {
            if (!server.draining()) reload(server, options, exposure, status);
            signals.async_wait(on_signal);
            return;
        }
        if (server.draining()) {
            spdlog::info("signal {} during the drain: stopping now", signal);
            server.stop();
            signals_io.stop();
            return;
        }
        spdlog::info("signal {}: draining (up to timeouts.drain, {}s); a second signal stops at once", signal,
                     std::chrono::duration<double>(config.timeouts.drain).count());
        sluice::systemd::notify_stopping("draining: finishing replies in flight");
        server.drain(config.timeouts.drain, [&signals_io] { signals_io.stop(); });
        signals.async_wait(on_signal);
    };
    signals.async_wait(on_signal);
    std::signal(SIGPIPE, SIG_IGN);
    // The watchdog is fed only while every event loop answers: a stuck loop gets sluice restarted.
    if (const auto interval = sluice::systemd::watchdog_interval()) server.heartbeat(*interval, sluice::systemd::notify_watchdog);
    server.start();
    sluice::systemd::notify_ready(status);
    signals_io.run();
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"sluice: a streaming reverse proxy for the Ollama API.\n"
                 "Point Ollama clients at sluice instead of port 11434: every request goes through, each streamed\n"
                 "chunk the moment it arrives. Rewrite rules in the config (rewrite.models) can pick a model variant,\n"
                 "set default options, size num_ctx and switch thinking; `sluice explain` shows what they do.",
                 "sluice"};  // named, so usage lines say sluice whatever path it was run by
    app.set_version_flag("--version", std::string("sluice ") + SLUICE_VERSION);
    app.set_help_all_flag("--help-all", "Print this help message with every subcommand's options and exit");
    app.footer("Flags override the config file's keys named beside them; SLUICE_CONFIG, SLUICE_LISTEN and\n"
               "SLUICE_UPSTREAM in the environment stand for the flags not given (a container's settings).\n"
               "Exit status: 0; 1 when serving fails (the port is in use); 2 for a config error; 100 or more for\n"
               "a command line that cannot be parsed.\n"
               "SIGTERM or SIGINT drains replies in flight and exits. `sluice help SUBCOMMAND` describes one.\n"
               "More: man sluice.");
    Options options;
    app.add_option("-c,--config", options.config_path,
                   "YAML config file (every key optional; without it, the defaults). Installed: /etc/sluice/sluice.yaml")
        ->option_text("FILE")
        ->envname("SLUICE_CONFIG");
    app.add_option("--listen", options.listen,
                   "address to accept connections on (listen:), default 127.0.0.1:8434; [::1]:8434 for IPv6")
        ->option_text("HOST:PORT")
        ->envname("SLUICE_LISTEN");
    app.add_option("--upstream", options.upstream, "Ollama's URL (upstream:), default http://127.0.0.1:11434")
        ->option_text("URL")
        ->envname("SLUICE_UPSTREAM");
    app.add_option("--log-level", options.log_level,
                   "least severe message logged (log.level): trace, debug, info, warn, error, critical or off;\n"
                   "default info")
        ->option_text("LEVEL");
    app.add_option("--threads", options.threads, "event loops (threads:), 0 to 256; 0 (the default) = one per CPU core")
        ->check(CLI::Range(0u, 256u))
        ->option_text("N");
    app.add_flag("--check-config", options.check_config,
                 "validate the config file and flags, print the result, and exit (status 0 or 2)");

    auto* explain_command =
        app.add_subcommand("explain", "show what the rewrite rules do to a request body read from stdin");
    explain_command->footer("Prints the body as it would go to Ollama on stdout; on stderr, what Ollama has installed, the\n"
                            "rule that matched (file:line), each change and its reason. Exit status 0, or 2 for a config\n"
                            "error. Example: sluice explain --config sluice.yaml --path /api/generate < body.json");
    add_config_and_upstream(*explain_command, options, "YAML config file with the rewrite rules",
                            "Ollama's URL, asked for the installed models (default: the config's upstream)");
    explain_command
        ->add_option("--path", options.explain_path,
                     "the route the body is for: /api/chat (default), /api/generate, /v1/chat/completions,\n"
                     "/v1/completions, /api/embed or /api/embeddings")
        ->check(CLI::IsMember({"/api/chat", "/api/generate", "/v1/chat/completions", "/v1/completions", "/api/embed",
                               "/api/embeddings"}))
        ->option_text("ROUTE");

    auto* doctor_command =
        app.add_subcommand("doctor", "check Ollama's models, contexts and settings for what costs tokens/s");
    doctor_command->footer("Asks Ollama (/api/ps, /api/tags, /api/show) and its systemd unit's environment, then prints each\n"
                           "finding with its fix. Exit status 0, 1 when something costs tokens/s (or Ollama cannot be\n"
                           "asked), 2 for a config error. Example: sluice doctor --config /etc/sluice/sluice.yaml");
    add_config_and_upstream(*doctor_command, options, "YAML config file (upstream, rewrite rules, gpu_memory)",
                            "Ollama's URL (default: the config's upstream)");
    doctor_command->add_flag("--json", options.doctor_json, "print the facts and findings as JSON");

    bool hash_from_stdin = false;
    auto* hash_command = app.add_subcommand("hash-key", "make a new API key and print it with the hash auth.keys stores");
    hash_command->add_flag("--stdin", hash_from_stdin, "print only the hash of a key read from stdin");
    hash_command->footer("Keys go in requests as 'Authorization: Bearer <key>' (what OpenAI's SDKs send as api_key), or\n"
                         "once in the browser page's login. Example: echo -n \"$KEY\" | sluice hash-key --stdin");

    sluice::CertRequest cert{"/etc/sluice/tls", {}, {}, 397};
    auto* cert_command = app.add_subcommand("cert", "make a local CA and an HTTPS certificate for this machine's names");
    cert_command->footer("Writes ca.crt, ca.key, sluice.crt and sluice.key to DIR; the certificate names this machine's host\n"
                         "name, <host>.local, localhost and its addresses. Running it again keeps the CA and renews the\n"
                         "certificate. Example: sudo sluice cert --name gpu-box.lan");
    cert_command->add_option("--dir", cert.dir, "where the files go")->capture_default_str()->type_name("DIR");
    cert_command->add_option("--name", cert.dns_names, "another DNS name the certificate carries (repeatable)")
        ->type_name("NAME");
    cert_command->add_option("--ip", cert.ip_addresses, "another IP address the certificate carries (repeatable)")
        ->type_name("ADDRESS");
    cert_command->add_option("--days", cert.days, "validity of the certificate, 1 to 398 days (Apple accepts no more)")
        ->capture_default_str()
        ->check(CLI::Range(1, 398).description(""))
        ->type_name("N");

    sluice::UserBenchOptions bench;
    double bench_timeout_seconds = 300;
    auto* bench_command =
        app.add_subcommand("bench", "TTFT and tokens/s of a model on your Ollama, directly and through a running sluice");
    bench_command->footer("Prints a table (median and range of each figure, and sluice / direct). Exit status 0, or 1 with\n"
                          "one line saying what to do. Details: bench/README.md. Example: sluice bench --model qwen3:14b");
    bench_command->add_option("--model", bench.model, "the model to run (installed in Ollama)")->required()->type_name("MODEL");
    bench_command->add_option("-c,--config", options.config_path, "the running sluice's config file: its upstream and listen\n"
                                                                  "addresses are the defaults of --ollama and --sluice")
        ->option_text("FILE");
    auto* bench_ollama = bench_command->add_option("--ollama", bench.ollama_url, "Ollama's URL")->capture_default_str()->type_name("URL");
    auto* bench_sluice =
        bench_command->add_option("--sluice", bench.sluice_url, "the running sluice's URL (https:// when it has tls:)")
            ->capture_default_str()
            ->type_name("URL");
    bench_command->add_option("--ca", bench.ca_file, "for an https sluice: trust this CA (sluice cert's ca.crt)\n"
                                                     "instead of the system's")
        ->type_name("FILE");
    bench_command->add_option("--prompts", bench.prompts, "timed requests per path, 1 to 1000")
        ->capture_default_str()
        ->check(CLI::Range(1, 1000).description(""))
        ->type_name("K");
    bench_command->add_option("--num-predict", bench.num_predict, "tokens per answer at most, 1 to 100000")
        ->capture_default_str()
        ->check(CLI::Range(1, 100000).description(""))
        ->type_name("N");
    bench_command->add_option("--timeout", bench_timeout_seconds, "seconds per request, connect to last byte")
        ->capture_default_str()
        ->check(CLI::PositiveNumber.description(""))
        ->type_name("SECONDS");
    // `sluice help [SUBCOMMAND]` is `sluice [SUBCOMMAND] --help` (as a subcommand of its own it
    // would meet the other subcommand's required options first).
    std::vector<char*> arguments(argv, argv + argc);
    char help_flag[] = "--help";
    if (arguments.size() >= 2 && std::string_view(arguments[1]) == "help") {
        arguments.erase(arguments.begin() + 1);
        arguments.push_back(help_flag);
    }
    CLI11_PARSE(app, static_cast<int>(arguments.size()), arguments.data());
    if (*hash_command) return hash_key(hash_from_stdin);
    if (*cert_command) return make_cert(std::move(cert));
    if (*bench_command) {
        bench.timeout = std::chrono::milliseconds(static_cast<long long>(bench_timeout_seconds * 1000));
        if (!options.config_path.empty()) {
            try {
                const auto config = sluice::load_config_file(options.config_path);
                if (bench_ollama->count() == 0) bench.ollama_url = config.upstream().url;
                if (bench_sluice->count() == 0) {
                    bench.sluice_url = (config.tls.context ? "https://" : "http://") + connect_address(config.listen);
                }
            } catch (const sluice::ConfigError& e) {
                std::fprintf(stderr, "sluice: config error: %s\n", e.what());
                return 2;
            }
        }
        return sluice::run_user_bench(bench, std::cout, std::cerr);
    }

    spdlog::set_default_logger(spdlog::stderr_color_mt("sluice"));
    if (sluice::systemd::stderr_is_journal()) {
        // journald reads the priority from the prefix and stamps the time itself.
        auto formatter = std::make_unique<spdlog::pattern_formatter>();
        formatter->add_flag<SyslogPriority>('*').set_pattern("%*%v");
        spdlog::set_formatter(std::move(formatter));
    } else {
        spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
    }

    sluice::Config config;
    try {
        config = load(options);
    } catch (const sluice::ConfigError& e) {
        std::fprintf(stderr, "sluice: config error: %s\n", e.what());
        return 2;
    }
    if (*explain_command) {
        spdlog::set_level(spdlog::level::err);  // what the catalog would warn about, explain says itself
        return explain(options, config);
    }
    if (*doctor_command) {
        spdlog::set_level(spdlog::level::err);
        return doctor(options, config);
    }
    if (options.check_config) {
        fmt::print("config OK: listen {}{}, {}\n", listen_address(config.listen),
                   config.tls.context ? " (HTTPS, " + config.tls.cert + ")" : "",
                   config.upstreams.size() == 1 ? "upstream " + config.upstream().url : describe_upstreams(config));
        return 0;
    }
    spdlog::set_level(spdlog::level::from_str(config.log.level));

    try {
        return serve(config, options);
    } catch (const std::exception& e) {
        spdlog::critical("{}", e.what());
        return 1;
    }
    return 0;
}
