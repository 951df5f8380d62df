// Integration tests of /metrics over real sockets: sluice's Server in front of the fake Ollama,
// a known set of requests (streamed chats, a 404, a client cancel, Ollama down, a WebSocket
// chat), then a scrape whose counters must match them exactly and which promtool accepts.
#include "fake_ollama.hpp"
#include "ports.hpp"
#include "test_client.hpp"

#include "sluice/server.hpp"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <utility>

namespace sluice::test {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view chat_body = R"({"model":"qwen3:14b","messages":[{"role":"user","content":"hi"}]})";

// With `rewrite`, every chat gets keep_alive added (one rewrite of kind keep_alive each), and the
// model catalog asks Ollama for /api/tags and /api/show.
std::unique_ptr<Server> start_server(const std::string& upstream, std::string_view metrics_path = "/metrics",
                                     bool rewrite = true) {
    Config config =
        rewrite ? parse_config("rewrite:\n  models:\n    - match: \"*\"\n      keep_alive: 30m\n", "test.yaml") : Config{};
    config.listen = {"127.0.0.1", 0};
    config.upstreams = single_upstream(parse_upstream_url(upstream));
    config.threads = 2;  // exchanges on both loops land in the same counters
    config.log.access = false;
    config.metrics.path = metrics_path;
    auto server = std::make_unique<Server>(config);
    server->start();
    return server;
}

Response scrape(std::uint16_t port, int* scrapes = nullptr) {
    if (scrapes) ++*scrapes;
    TestClient client(port);
    return client.request("GET", "/metrics");
}

// The value of one sample line ("name{labels} value"), or -1 when the series is absent.
double sample(const std::string& text, std::string_view series) {
    const std::string prefix = "\n" + std::string(series) + " ";
    const auto at = ("\n" + text).find(prefix);
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + prefix.size() - 1));
}

// Scrapes until `series` reaches `value` (exchanges are counted as they finish, after the
// client has seen their end), or returns the last scrape.
std::string scrape_until(std::uint16_t port, std::string_view series, double value, int* scrapes = nullptr) {
    const auto deadline = Clock::now() + 5s;
    for (;;) {
        auto text = scrape(port, scrapes).body;
        if (sample(text, series) == value || Clock::now() >= deadline) return text;
        std::this_thread::sleep_for(10ms);
    }
}

// A scrape once every exchange made before it has been counted: an exchange is counted just after
// its last byte is written, so its client (and the next request, maybe on another loop) can be
// first. Streams count when they end (sluice_active_streams is 0 after), scrapes too.
std::string settled_scrape(std::uint16_t port, int& scrapes) {
    const auto deadline = Clock::now() + 5s;
    for (;;) {
        const int before = scrapes;
        auto text = scrape(port, &scrapes).body;
        const bool scrapes_counted =
            sample(text, R"(sluice_requests_total{route="metrics",status="200"})") == (before ? before : -1);
        if ((scrapes_counted && sample(text, "sluice_active_streams") == 0) || Clock::now() >= deadline) return text;
        std::this_thread::sleep_for(10ms);
    }
}

// `promtool check metrics` on the text: its exit status, and what it said.
std::pair<int, std::string> promtool_check(const std::string& text) {
    const auto dir = std::filesystem::temp_directory_path();
    const auto in = dir / fmt::format("sluice-metrics-{}.txt", ::getpid());
    const auto out = dir / fmt::format("sluice-promtool-{}.txt", ::getpid());
    std::ofstream(in) << text;
    const int status = std::system(fmt::format("promtool check metrics < {} > {} 2>&1", in.string(), out.string()).c_str());
    std::stringstream said;
    said << std::ifstream(out).rdbuf();
    std::filesystem::remove(in);
    std::filesystem::remove(out);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, said.str()};
}

bool have_promtool() { return std::system("command -v promtool > /dev/null 2>&1") == 0; }

TEST(Metrics, CountersMatchTheRequestsMade) {
    auto ollama = std::make_unique<FakeOllama>();
    const auto server = start_server(ollama->url());
    const auto port = server->port();
    const auto knobs = ollama->knobs();  // 8 tokens 2 ms apart: eval_duration 16 ms, 500 tok/s

    constexpr int chats = 3;
    std::size_t chat_bytes_received = 0;
    for (int i = 0; i < chats; ++i) {
        TestClient client(port);
        const auto response = client.request("POST", "/api/chat", chat_body);
        ASSERT_EQ(response.status, 200u);
        ASSERT_TRUE(response.chunked);
        ASSERT_NE(response.body.find("\"eval_count\":8"), std::string::npos) << response.body;
        chat_bytes_received += response.body.size();
    }
    {
        TestClient client(port);
        const auto response = client.request("GET", "/api/nope");
        ASSERT_EQ(response.status, 404u);
        ASSERT_EQ(response.body, "404 page not found");
    }
    {
        ollama->set_knobs({.token_interval = 20ms, .tokens = 100});
        TestClient client(port);
        client.send_raw(fmt::format("POST /api/chat HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n{}", chat_body.size(),
                                    chat_body));
        ASSERT_EQ(client.read_header().status, 200u);
        ASSERT_FALSE(client.read_body_piece().empty());
        client.close();
        ASSERT_TRUE(ollama->wait_streams_cancelled(1, 2s));
        ollama->set_knobs(knobs);
    }
    int scrapes = 0;
    scrape_until(port, R"(sluice_client_cancels_total{route="/api/chat"})", 1, &scrapes);
    ollama.reset();  // nothing listens on its port now: the next chat cannot connect
    {
        TestClient client(port);
        const auto response = client.request("POST", "/api/chat", chat_body);
        ASSERT_EQ(response.status, 502u);
        ASSERT_NE(response.body.find("cannot reach ollama"), std::string::npos) << response.body;
    }

    const auto first = scrape(port, &scrapes);
    EXPECT_EQ(first.status, 200u);
    EXPECT_EQ(first.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
    const auto text = settled_scrape(port, scrapes);
    const auto expect = [&](std::string_view series, double value) {
        EXPECT_EQ(sample(text, series), value) << series << "\nin:\n" << text;
    };
    // The cancelled chat's status line had gone out: it counts as a 200, and as a cancel.
    expect(R"(sluice_requests_total{route="/api/chat",status="200"})", chats + 1);
    expect(R"(sluice_requests_total{route="/api/chat",status="502"})", 1);
    expect(R"(sluice_requests_total{route="other",status="404"})", 1);
    expect(R"(sluice_requests_total{route="metrics",status="200"})", scrapes - 1);  // all but this one
    expect(R"(sluice_client_cancels_total{route="/api/chat"})", 1);
    expect("sluice_upstream_connect_errors_total", 1);
    expect("sluice_active_streams", 0);
    expect(R"(sluice_rewrites_total{kind="keep_alive"})", chats + 2);  // the rewrite precedes the connect
    expect(R"(sluice_request_body_bytes_total{route="/api/chat"})", static_cast<double>((chats + 2) * chat_body.size()));
    expect(R"(sluice_request_body_bytes_total{route="other"})", 0);
    expect(R"(sluice_response_body_bytes_total{route="other"})", 18);  // "404 page not found", Content-Length framed
    // Chunked bodies count as framed on the wire: more than the chats' de-chunked bytes, plus the
    // cancelled one's first piece and the 502's error.
    const auto chat_out = sample(text, R"(sluice_response_body_bytes_total{route="/api/chat"})");
    EXPECT_GT(chat_out, static_cast<double>(chat_bytes_received)) << text;
    EXPECT_LT(chat_out, static_cast<double>(chat_bytes_received) * 1.5 + 4096) << text;
    // The completed chats' final lines (the cancelled one had none), by the model they name.
    expect(R"(sluice_time_to_first_token_seconds_count{model="qwen3:14b"})", chats);
    expect(R"(sluice_generation_tokens_per_second_count{model="qwen3:14b"})", chats);
    expect(R"(sluice_generation_tokens_per_second_sum{model="qwen3:14b"})", chats * 500.0);
    expect(R"(sluice_generation_tokens_per_second_bucket{model="qwen3:14b",le="300"})", 0);
    expect(R"(sluice_generation_tokens_per_second_bucket{model="qwen3:14b",le="500"})", chats);
    EXPECT_EQ(sample(text, fmt::format("sluice_build_info{{version=\"{}\"}}", SLUICE_PROJECT_VERSION)), 1) << text;

    if (!have_promtool()) GTEST_SKIP() << "promtool not installed (Debian package prometheus; scripts/setup.sh)";
    const auto [status, said] = promtool_check(text);
    EXPECT_EQ(status, 0) << said << "\nfor:\n" << text;
}

TEST(Metrics, PromtoolRejectsBrokenTextSoTheCheckCanFail) {
    if (!have_promtool()) GTEST_SKIP() << "promtool not installed (Debian package prometheus; scripts/setup.sh)";
    EXPECT_NE(promtool_check("# TYPE sluice_requests counter\nsluice_requests{route=\"/\"} 1\n").first, 0);
}

TEST(Metrics, ReadOnlyGetAndHeadAndNeverForwarded) {
    FakeOllama ollama;
    const auto server = start_server(ollama.url(), "/prom", false);
    TestClient client(server->port());
    const auto get = client.request("GET", "/prom?x=1");
    EXPECT_EQ(get.status, 200u);
    EXPECT_EQ(get.header("Cache-Control"), "no-store");
    EXPECT_NE(get.body.find("# TYPE sluice_build_info gauge"), std::string::npos) << get.body;
    EXPECT_NE(client.request("GET", "/prom").body.find("sluice_requests_total{route=\"metrics\",status=\"200\"} 1\n"),
              std::string::npos);
    client.send_raw("HEAD /prom HTTP/1.1\r\nHost: localhost\r\n\r\n");
    const auto head = client.read_response(true);
    EXPECT_EQ(head.status, 200u);
    EXPECT_FALSE(head.header("Content-Length").empty());
    EXPECT_TRUE(head.body.empty());
    const auto post = client.request("POST", "/prom", "{}");
    EXPECT_EQ(post.status, 405u);
    EXPECT_EQ(post.body, R"({"error":"sluice: /prom takes GET or HEAD"})");
    EXPECT_TRUE(ollama.requests().empty());
    // /metrics is not sluice's here: it goes to Ollama (the fake has no such route).
    EXPECT_EQ(TestClient(server->port()).request("GET", "/metrics").status, 404u);
    EXPECT_EQ(ollama.requests().size(), 1u);
}

TEST(Metrics, OffMeansOllamasPath) {
    FakeOllama ollama;
    const auto server = start_server(ollama.url(), "", false);
    TestClient client(server->port());
    EXPECT_EQ(client.request("GET", "/metrics").status, 404u);
    EXPECT_EQ(ollama.requests().size(), 1u);
}

TEST(Metrics, AWebSocketChatCountsOnRouteWs) {
    namespace beast = boost::beast;
    namespace websocket = beast::websocket;
    FakeOllama ollama;
    const auto server = start_server(ollama.url());
    {
        boost::asio::io_context io;
        websocket::stream<beast::tcp_stream> ws(io);
        beast::get_lowest_layer(ws).connect({boost::asio::ip::make_address("127.0.0.1"), server->port()});
        beast::get_lowest_layer(ws).expires_after(10s);
        ws.handshake(fmt::format("127.0.0.1:{}", server->port()), "/_sluice/ws");
        ws.write(boost::asio::buffer(fmt::format(R"({{"id":"a","chat":{}}})", chat_body)));
        for (;;) {
            beast::flat_buffer buffer;
            ws.read(buffer);
            if (beast::buffers_to_string(buffer.data()).find(R"("done":true,"status":200)") != std::string::npos) break;
        }
        ws.close(websocket::close_code::normal);
    }
    const auto text = scrape_until(server->port(), R"(sluice_requests_total{route="ws",status="200"})", 1);
    EXPECT_EQ(sample(text, R"(sluice_requests_total{route="ws",status="200"})"), 1) << text;  // the chat
    EXPECT_EQ(sample(text, R"(sluice_requests_total{route="ws",status="101"})"), 1) << text;  // the upgrade
    EXPECT_EQ(sample(text, R"(sluice_rewrites_total{kind="keep_alive"})"), 1) << text;
    EXPECT_EQ(sample(text, "sluice_active_streams"), 0) << text;
    EXPECT_EQ(sample(text, R"(sluice_client_cancels_total{route="ws"})"), -1) << text;
    // The chat's last line is Ollama's done line: its model, TTFT and tokens/s are counted too.
    EXPECT_EQ(sample(text, R"(sluice_time_to_first_token_seconds_count{model="qwen3:14b"})"), 1) << text;
    EXPECT_EQ(sample(text, R"(sluice_generation_tokens_per_second_count{model="qwen3:14b"})"), 1) << text;
}

}  // namespace
}  // namespace sluice::test
