// e2e_harness: sluice's Server in front of the fake Ollama, for the browser tests. Prints
// "port <n>" once listening (with one rewrite rule, so the page has a change to show), then takes
// commands on stdin, one a line, answering each with a line. Arguments: [--listen=<address>]
// (127.0.0.1 unless given), [--tls=<dir>:<name>] (HTTPS with `sluice cert`'s files, made in
// <dir> for <name> and 127.0.0.1), [--max-generations=<n>] (the fake's, so chats wait in
// sluice's line past n at once), then <name>:<key>[:<routes>[:<model glob>]] for each API key
// (auth.keys, hashed here). SLUICE_UI_DIR in the environment serves the page from that
// directory (ui.dir) instead of the embedded one, for UI work without a C++ build. The
// conversation store is a file in a temporary directory of the run's own.
//   knobs <token_interval_ms> <tokens> [text<TAB>text...]   the next replies' pace and content
//                                                         (\n in a text is a newline)
//   vision                                                /api/tags lists qwen2.5vl:7b too (a vision card)
//   cancelled                                             streams the fake saw cancelled
//   last-chat                                             the body of the newest /api/chat request
//   quit
#include "fake_ollama.hpp"
#include "fixtures.hpp"

#include "sluice/access_control.hpp"
#include "sluice/server.hpp"
#include "sluice/tls_cert.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace {

std::string unescape_newlines(std::string text) {
    for (auto at = text.find("\\n"); at != std::string::npos; at = text.find("\\n", at + 1)) text.replace(at, 2, 1, '\n');
    return text;
}

// auth.keys in YAML for arguments name:key[:routes[:model glob]].
std::string auth_yaml(std::span<char*> keys) {
    if (keys.empty()) return {};
    std::string yaml = "auth:\n  keys:\n";
    for (const char* key_argument : keys) {
        std::istringstream argument(key_argument);
        std::string name, key, routes, models;
        std::getline(argument, name, ':');
        std::getline(argument, key, ':');
        std::getline(argument, routes, ':');
        std::getline(argument, models);
        yaml += "    - name: " + name + "\n      hash: \"" + sluice::hash_api_key(key) + "\"\n";
        if (!routes.empty()) yaml += "      routes: " + routes + "\n";
        if (!models.empty()) yaml += "      models: [\"" + models + "\"]\n";
    }
    return yaml;
}

// tags.json with qwen2.5vl:7b first in its list.
std::string with_vision_model(std::string tags) {
    constexpr std::string_view list = R"({"models":[)";
    tags.insert(list.size(), R"({"name":"qwen2.5vl:7b","model":"qwen2.5vl:7b","modified_at":"2025-05-03T10:00:00.000000000Z",)"
                             R"("size":6000000000,"digest":"5a2b","details":{"parent_model":"","format":"gguf","family":"qwen25vl",)"
                             R"("families":["qwen25vl"],"parameter_size":"8.3B","quantization_level":"Q4_K_M"}},)");
    return tags;
}

}  // namespace

int main(int argc, char** argv) {
    std::span<char*> arguments(argv + 1, argv + argc);
    std::string listen_host = "127.0.0.1";
    std::string tls_yaml;
    unsigned max_generations = 0;
    for (; !arguments.empty() && std::string_view(arguments.front()).starts_with("--"); arguments = arguments.subspan(1)) {
        const std::string_view option = arguments.front();
        const auto value = option.substr(option.find('=') + 1);
        if (option.starts_with("--listen=")) {
            listen_host = value;
        } else if (option.starts_with("--max-generations=")) {
            max_generations = static_cast<unsigned>(std::stoul(std::string(value)));
        } else if (option.starts_with("--tls=")) {
            const auto colon = value.rfind(':');
            const auto files = sluice::make_certificate(
                {std::string(value.substr(0, colon)), {std::string(value.substr(colon + 1))}, {"127.0.0.1"}, 30});
            tls_yaml = "tls:\n  cert: " + files.cert.string() + "\n  key: " + files.key.string() + "\n";
        }
    }
    spdlog::set_default_logger(spdlog::stderr_color_mt("sluice"));  // stdout carries the answers
    sluice::test::FakeOllama ollama;
    auto config = sluice::parse_config(R"(
rewrite:
  models:
    - match: "qwen3:14b*"
      prefer: [-q8_0]
      options: {num_ctx: 8192}
)" + tls_yaml + auth_yaml(arguments), "e2e_harness");
    config.listen = {listen_host, 0};
    config.upstreams = sluice::single_upstream(sluice::parse_upstream_url(ollama.url()));
    config.upstreams.front().max_generations = max_generations;
    config.log.access = false;
    if (const char* dir = std::getenv("SLUICE_UI_DIR")) config.ui.dir = dir;  // a page built apart (UI work)
    // The conversation store in a directory of this run's own, gone when the harness ends.
    std::string store_dir = (std::filesystem::temp_directory_path() / "sluice-e2e-XXXXXX").string();
    if (!::mkdtemp(store_dir.data())) throw std::runtime_error("cannot make a directory for the conversation store");
    const struct RemoveAtExit {
        std::string dir;
        ~RemoveAtExit() { std::filesystem::remove_all(dir); }
    } remove_store{store_dir};
    config.store.path = store_dir + "/conversations.db";
    sluice::Server server(config);
    server.start();
    std::cout << "port " << server.port() << std::endl;

    std::string tags_json;  // "": the fixture's
    std::string line;
    while (std::getline(std::cin, line)) {
        std::istringstream command(line);
        std::string verb;
        command >> verb;
        if (verb == "knobs") {
            sluice::test::FakeOllamaKnobs knobs;
            knobs.tags_json = tags_json;
            long interval_ms = 0;
            command >> interval_ms >> knobs.tokens;
            knobs.token_interval = std::chrono::milliseconds(interval_ms);
            command.get();  // the space before the texts
            std::string text;
            while (std::getline(command, text, '\t')) knobs.texts.push_back(unescape_newlines(text));
            ollama.set_knobs(knobs);
            std::cout << "ok" << std::endl;
        } else if (verb == "vision") {
            // From now on /api/tags also lists a vision model (its /api/show card says "vision").
            tags_json = with_vision_model(sluice::test::fixture("tags.json"));
            sluice::test::FakeOllamaKnobs knobs;
            knobs.tags_json = tags_json;
            ollama.set_knobs(knobs);
            std::cout << "ok" << std::endl;
        } else if (verb == "offloaded") {
            // /api/ps now shows qwen3:14b-q8_0 with 11.2 GiB of its 34.5 GiB in system memory.
            sluice::test::FakeOllamaKnobs knobs;
            knobs.tags_json = tags_json;
            knobs.ps_json = R"({"models":[{"name":"qwen3:14b-q8_0","model":"qwen3:14b-q8_0","size":37000000000,)"
                            R"("size_vram":25000000000,"context_length":131072}]})";
            ollama.set_knobs(knobs);
            std::cout << "ok" << std::endl;
        } else if (verb == "cancelled") {
            std::cout << ollama.streams_cancelled() << std::endl;
        } else if (verb == "last-chat") {
            const auto requests = ollama.requests();
            const auto chat = std::find_if(requests.rbegin(), requests.rend(),
                                           [](const auto& request) { return request.target == "/api/chat"; });
            std::cout << (chat == requests.rend() ? "none" : chat->body) << std::endl;  // minified: one line
        } else if (verb == "quit") {
            break;
        } else {
            std::cout << "unknown command" << std::endl;
        }
    }
    server.stop();
}
