// Integration tests of a config reload (Server::reload, what SIGHUP does): a stream in flight
// keeps the config it started with and completes; the next request sees the new rules.
// (The real binary's SIGHUP, its sd_notify messages and a refused file: systemd_test.cpp.)
#include "fake_ollama.hpp"
#include "test_client.hpp"

#include "sluice/server.hpp"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

namespace sluice::test {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view rules = R"(
rewrite:
  models:
    - match: "qwen3:*"
      options: {{num_ctx: {}}}
)";

constexpr std::string_view chat = R"({"model":"qwen3:14b","messages":[{"role":"user","content":"Hi"}]})";

class ReloadTest : public ::testing::Test {
protected:
    Config config_with(int num_ctx) {
        Config config = parse_config(fmt::format(rules, num_ctx), "sluice.yaml");
        config.listen = {"127.0.0.1", 0};
        config.upstreams = single_upstream(parse_upstream_url(ollama.url()));
        config.threads = 2;
        config.log.access = false;
        return config;
    }

    FakeOllama ollama;
};

TEST_F(ReloadTest, StreamInFlightKeepsItsConfigAndTheNextRequestGetsTheNewRule) {
    ollama.set_knobs({.token_interval = 20ms, .tokens = 40});
    Server server(config_with(4096));
    server.start();

    TestClient streaming(server.port());
    streaming.send_raw(fmt::format("POST /api/chat HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n{}", chat.size(), chat));
    const auto header = streaming.read_header();
    ASSERT_EQ(header.status, 200u);
    EXPECT_EQ(header.header("X-Sluice-Rewrite"), "num_ctx=4096");
    std::string body = streaming.read_body_piece();
    ASSERT_FALSE(body.empty());

    EXPECT_TRUE(server.reload(config_with(8192)).empty());  // only a rule changed: nothing needs a restart

    // Ask on another connection while the first stream runs: the new rule applies at once.
    TestClient next(server.port());
    const auto reloaded = next.request("POST", "/api/chat", chat);
    EXPECT_EQ(reloaded.status, 200u);
    EXPECT_EQ(reloaded.header("X-Sluice-Rewrite"), "num_ctx=8192");

    // The first stream is neither cut nor changed: every line up to the final done line.
    for (std::string piece; !(piece = streaming.read_body_piece()).empty();) body += piece;
    EXPECT_EQ(std::count(body.begin(), body.end(), '\n'), 41) << body;
    EXPECT_NE(body.find(R"("done":true)"), std::string::npos);
    std::vector<RecordedRequest> chats;  // the model catalog's /api/tags and /api/show (sent at any time) aside
    for (auto& request : ollama.requests()) {
        if (request.target == "/api/chat") chats.push_back(std::move(request));
    }
    ASSERT_EQ(chats.size(), 2u);
    EXPECT_NE(chats[0].body.find(R"("num_ctx":4096)"), std::string::npos) << chats[0].body;
    EXPECT_NE(chats[1].body.find(R"("num_ctx":8192)"), std::string::npos) << chats[1].body;
    EXPECT_EQ(ollama.streams_cancelled(), 0u);
}

TEST_F(ReloadTest, RestartOnlyKeysKeepTheirRunningValues) {
    Server server(config_with(4096));
    server.start();
    auto next = config_with(4096);
    next.upstreams = single_upstream(parse_upstream_url("http://127.0.0.1:1"));  // nothing listens there
    next.limits.max_body_bytes = 10;                           // reloadable: applies
    EXPECT_EQ(server.reload(std::move(next)), std::vector<std::string>{"upstream"});

    TestClient client(server.port());
    EXPECT_EQ(client.request("GET", "/api/tags").status, 200u);  // still the fake Ollama
    const auto too_big = client.request("POST", "/api/chat", chat);
    EXPECT_EQ(too_big.status, 413u) << too_big.body;
}

}  // namespace
}  // namespace sluice::test
