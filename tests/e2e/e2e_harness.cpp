// e2e_harness: sluice's Server in front of the fake Ollama, for the browser tests. Prints
// "port <n>" once listening (with one rewrite rule, so the page has a change to show), then takes
// commands on stdin, one a line, answering each with a line:
//   knobs <token_interval_ms> <tokens> [text<TAB>text...]   the next replies' pace and content
//                                                         (\n in a text is a newline)
//   cancelled                                             streams the fake saw cancelled
//   last-chat                                             the body of the newest /api/chat request
//   quit
#include "fake_ollama.hpp"

#include "sluice/server.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <iostream>
#include <sstream>
#include <string>

namespace {

std::string unescape_newlines(std::string text) {
    for (auto at = text.find("\\n"); at != std::string::npos; at = text.find("\\n", at + 1)) text.replace(at, 2, 1, '\n');
    return text;
}

}  // namespace

int main() {
    spdlog::set_default_logger(spdlog::stderr_color_mt("sluice"));  // stdout carries the answers
    sluice::test::FakeOllama ollama;
    auto config = sluice::parse_config(R"(
rewrite:
  models:
    - match: "qwen3:14b"
      options: {num_ctx: 8192}
)", "e2e_harness");
    config.listen = {"127.0.0.1", 0};
    config.upstream = sluice::parse_upstream_url(ollama.url());
    config.log.access = false;
    sluice::Server server(config);
    server.start();
    std::cout << "port " << server.port() << std::endl;

    std::string line;
    while (std::getline(std::cin, line)) {
        std::istringstream command(line);
        std::string verb;
        command >> verb;
        if (verb == "knobs") {
            sluice::test::FakeOllamaKnobs knobs;
            long interval_ms = 0;
            command >> interval_ms >> knobs.tokens;
            knobs.token_interval = std::chrono::milliseconds(interval_ms);
            command.get();  // the space before the texts
            std::string text;
            while (std::getline(command, text, '\t')) knobs.texts.push_back(unescape_newlines(text));
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
