// Integration test of the access log as the user reads it: the real binary's log file, one line
// per request, for a proxied chat and a chat from the page's WebSocket.
#include "child_process.hpp"
#include "fake_ollama.hpp"
#include "ports.hpp"
#include "test_client.hpp"
#include "ws_client.hpp"

#include <gtest/gtest.h>

#include <fmt/format.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace sluice::test {
namespace {

using namespace std::chrono_literals;

TEST(AccessLog, EachChatsLineNamesItsModelAndWhatTheRewriterChanged) {
    FakeOllama ollama;
    ollama.set_knobs({.tokens = 3});
    const auto base = std::filesystem::temp_directory_path() / fmt::format("sluice-access-log-{}", ::getpid());
    const auto config = base.string() + ".yaml";
    const auto log = base.string() + ".log";
    const auto port = closed_loopback_port();
    std::ofstream(config) << fmt::format("listen: 127.0.0.1:{}\nupstream: {}\nthreads: 1\n"
                                         "rewrite:\n  models:\n    - match: \"qwen3:*\"\n"
                                         "      options: {{num_ctx: 8192}}\n",
                                         port, ollama.url());
    ChildProcess sluice({SLUICE_BINARY, "--config", config}, {}, log);
    auto client = connect_when_listening(port, 5s);
    ASSERT_TRUE(client);
    const auto chat = R"({"model":"qwen3:14b","messages":[{"role":"user","content":"hi"}]})";
    EXPECT_EQ(client->request("POST", "/api/chat", chat).status, 200u);
    WsClient page(port);
    page.chat("c1");
    EXPECT_TRUE(page.read_until_end_of("c1").back().done);
    EXPECT_EQ(client->request("GET", "/api/tags").status, 200u);
    sluice.signal(SIGTERM);
    EXPECT_EQ(sluice.wait_exit(10s), std::optional<int>(0));

    std::stringstream text;
    text << std::ifstream(log).rdbuf();
    const auto output = text.str();
    EXPECT_NE(output.find(R"(POST /api/chat 200 )"), std::string::npos) << output;
    EXPECT_NE(output.find(R"(tok/s model=qwen3:14b rewrite="num_ctx=8192")"), std::string::npos) << output;
    EXPECT_NE(output.find(R"(WS /api/chat 200 )"), std::string::npos) << output;
    // Both chats' lines carry the fields: the HTTP one and the page's.
    const auto first = output.find(R"(model=qwen3:14b rewrite="num_ctx=8192")");
    EXPECT_NE(output.find(R"(model=qwen3:14b rewrite="num_ctx=8192")", first + 1), std::string::npos) << output;
    const auto tags = output.find("GET /api/tags 200");
    ASSERT_NE(tags, std::string::npos) << output;
    EXPECT_EQ(output.substr(tags, output.find('\n', tags) - tags).find("model="), std::string::npos) << output;
    std::filesystem::remove(config);
    std::filesystem::remove(log);
}

}  // namespace
}  // namespace sluice::test
