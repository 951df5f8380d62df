// Integration tests of /healthz and /readyz over real sockets: answered by sluice itself (never
// forwarded), /readyz following what Ollama answered to the background /api/version probe.
#include "fake_ollama.hpp"
#include "ports.hpp"
#include "test_client.hpp"

#include "sluice/server.hpp"

#include <gtest/gtest.h>

#include <future>
#include <thread>

namespace sluice::test {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<Server> start_server(const std::string& upstream, std::chrono::milliseconds ready_within = 30s) {
    Config config;
    config.listen = {"127.0.0.1", 0};
    config.upstreams = single_upstream(parse_upstream_url(upstream));
    config.threads = 2;
    config.log.access = false;
    config.health.ready_within = ready_within;
    auto server = std::make_unique<Server>(config);
    server->start();
    return server;
}

// /readyz until it answers `status` (the probe runs in the background), or the last answer.
Response readyz_until(std::uint16_t port, unsigned status, std::chrono::milliseconds timeout = 5s) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        TestClient client(port);
        auto response = client.request("GET", "/readyz");
        if (response.status == status || Clock::now() >= deadline) return response;
        std::this_thread::sleep_for(20ms);
    }
}

TEST(Health, HealthzIsOkAndNeverReachesOllama) {
    FakeOllama ollama;
    const auto server = start_server(ollama.url());
    TestClient client(server->port());
    const auto response = client.request("GET", "/healthz");
    EXPECT_EQ(response.status, 200u);
    EXPECT_EQ(response.body, R"({"status":"ok"})");
    EXPECT_EQ(response.header("Content-Type"), "application/json; charset=utf-8");
    EXPECT_EQ(response.header("Cache-Control"), "no-store");
    EXPECT_TRUE(response.keep_alive);
    EXPECT_EQ(client.request("GET", "/healthz?probe=1").status, 200u);  // same connection, kept alive
    EXPECT_TRUE(ollama.requests().empty());
}

TEST(Health, HeadAnswersHeadersOnlyAndOtherMethodsGet405) {
    FakeOllama ollama;
    const auto server = start_server(ollama.url());
    TestClient client(server->port());
    client.send_raw("HEAD /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
    const auto head = client.read_response(true);
    EXPECT_EQ(head.status, 200u);
    EXPECT_EQ(head.header("Content-Length"), "15");
    EXPECT_TRUE(head.body.empty());
    const auto post = client.request("POST", "/readyz", "{}");
    EXPECT_EQ(post.status, 405u);
    EXPECT_EQ(post.body, R"({"error":"sluice: /readyz takes GET or HEAD"})");
    EXPECT_TRUE(ollama.requests().empty());
}

TEST(Health, ReadyzNamesOllamasVersionOnceItAnswered) {
    FakeOllama ollama;
    const auto server = start_server(ollama.url());
    const auto response = readyz_until(server->port(), 200);
    EXPECT_EQ(response.status, 200u) << response.body;
    EXPECT_EQ(response.body, R"({"status":"ready","ollama":"0.12.6"})");
}

TEST(Health, ReadyzIs503WhileOllamaIsDownAndSaysWhy) {
    const auto upstream = "http://127.0.0.1:" + std::to_string(closed_loopback_port());
    const auto server = start_server(upstream);
    TestClient client(server->port());
    std::this_thread::sleep_for(200ms);  // the first probe has failed by now
    const auto response = client.request("GET", "/readyz");
    EXPECT_EQ(response.status, 503u);
    EXPECT_EQ(response.body.rfind(R"({"error":"sluice: ollama at )" + upstream +
                                      " has not answered /api/version since sluice started ",
                                  0),
              0u)
        << response.body;
    EXPECT_NE(response.body.find("Connection refused"), std::string::npos) << response.body;
    EXPECT_EQ(client.request("GET", "/healthz").status, 200u);  // sluice itself is fine
}

TEST(Health, ReadyzTurns503WhenOllamaStopsAnsweringWithinReadyWithin) {
    auto ollama = std::make_unique<FakeOllama>();
    const auto server = start_server(ollama->url(), 400ms);  // probes every 200ms
    ASSERT_EQ(readyz_until(server->port(), 200).status, 200u);
    ollama.reset();
    const auto response = readyz_until(server->port(), 503, 3s);
    EXPECT_EQ(response.status, 503u);
    EXPECT_NE(response.body.find("health.ready_within is 400ms"), std::string::npos) << response.body;
}

TEST(Health, ConfiguredPathsMoveTheEndpoints) {
    FakeOllama ollama;
    Config config;
    config.listen = {"127.0.0.1", 0};
    config.upstreams = single_upstream(parse_upstream_url(ollama.url()));
    config.threads = 1;
    config.health.healthz = "/live";
    Server server(config);
    server.start();
    TestClient client(server.port());
    EXPECT_EQ(client.request("GET", "/live").body, R"({"status":"ok"})");
    EXPECT_EQ(client.request("GET", "/healthz").status, 404u);  // now Ollama's: the fake has no such route
    EXPECT_EQ(ollama.requests().size(), 1u);
}

TEST(Health, HealthzIs503WhileDraining) {
    FakeOllama ollama;
    ollama.set_knobs({.token_interval = 20ms, .tokens = 40});
    const auto server = start_server(ollama.url());
    TestClient idle(server->port());
    ASSERT_EQ(idle.request("GET", "/healthz").status, 200u);
    TestClient streaming(server->port());
    streaming.send_raw("POST /api/chat HTTP/1.1\r\nHost: localhost\r\nContent-Length: 21\r\n\r\n{\"model\":\"qwen3:14b\"}");
    ASSERT_EQ(streaming.read_header().status, 200u);
    std::promise<void> drained;
    server->drain(10s, [&] { drained.set_value(); });
    const auto response = idle.request("GET", "/healthz");
    EXPECT_EQ(response.status, 503u);
    EXPECT_EQ(response.body, R"({"error":"sluice: shutting down"})");
    EXPECT_FALSE(response.keep_alive);
    while (!streaming.read_body_piece().empty()) {
    }
    EXPECT_EQ(drained.get_future().wait_for(5s), std::future_status::ready);
}

}  // namespace
}  // namespace sluice::test
