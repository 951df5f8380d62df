// Integration tests of the graceful shutdown (Server::drain, what SIGTERM starts): streams in
// flight finish, new work is turned away, and streams past timeouts.drain are cut upstream.
#include "sluice_under_test.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <future>
#include <thread>

namespace sluice::test {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view chat_body = R"({"model":"qwen3:14b","messages":[{"role":"user","content":"hi"}]})";

class DrainTest : public SluiceUnderTest {
protected:
    void SetUp() override {
        Config config;
        config.threads = 2;
        start(config);
    }

    void drain(std::chrono::milliseconds timeout) {
        server->drain(timeout, [this] { drained.set_value(); });
    }
    bool drained_within(std::chrono::milliseconds timeout) {
        return drained_future.wait_for(timeout) == std::future_status::ready;
    }

    std::promise<void> drained;
    std::future<void> drained_future = drained.get_future();
};

bool connection_refused(std::uint16_t port) {
    try {
        TestClient client(port);
        return false;
    } catch (const std::runtime_error&) {
        return true;
    }
}

TEST_F(DrainTest, StreamInFlightCompletesAndNewConnectionsAreRefused) {
    ollama.set_knobs({.token_interval = 20ms, .tokens = 40});
    TestClient client(server->port());
    client.send_raw(fmt::format("POST /api/chat HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n{}", chat_body.size(),
                                chat_body));
    ASSERT_EQ(client.read_header().status, 200u);

    drain(10s);
    std::this_thread::sleep_for(50ms);  // the loops close their acceptors
    EXPECT_TRUE(connection_refused(server->port()));
    EXPECT_FALSE(drained_within(0ms)) << "the drain ended with a stream in flight";

    std::string body;
    for (auto piece = client.read_body_piece(); !piece.empty(); piece = client.read_body_piece()) body += piece;
    EXPECT_NE(body.find("\"done\":true"), std::string::npos) << body;
    EXPECT_EQ(ollama.streams_cancelled(), 0u);
    EXPECT_TRUE(drained_within(5s));
}

TEST_F(DrainTest, KeptAliveConnectionGets503AndClose) {
    TestClient idle(server->port());
    ASSERT_EQ(idle.request("GET", "/api/version").status, 200u);

    // A stream in flight holds the drain open while the idle connection asks again.
    ollama.set_knobs({.token_interval = 20ms, .tokens = 40});
    TestClient streaming(server->port());
    streaming.send_raw(fmt::format("POST /api/chat HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n{}",
                                   chat_body.size(), chat_body));
    ASSERT_EQ(streaming.read_header().status, 200u);
    drain(10s);

    const auto requests_before = ollama.requests().size();
    const auto response = idle.request("POST", "/api/chat", chat_body);
    EXPECT_EQ(response.status, 503u);
    EXPECT_EQ(response.body, R"({"error":"sluice: shutting down"})");
    EXPECT_EQ(response.header("Connection"), "close");
    EXPECT_TRUE(idle.wait_closed(2s));
    EXPECT_EQ(ollama.requests().size(), requests_before) << "a request reached Ollama during the drain";
    EXPECT_TRUE(drained_within(5s));
}

TEST_F(DrainTest, StreamPastTheTimeoutIsCutUpstream) {
    ollama.set_knobs({.mode = StreamMode::stall, .fail_after = 2});
    TestClient client(server->port());
    client.send_raw(fmt::format("POST /api/chat HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n{}", chat_body.size(),
                                chat_body));
    ASSERT_EQ(client.read_header().status, 200u);

    const auto started = Clock::now();
    drain(300ms);
    EXPECT_TRUE(ollama.wait_streams_cancelled(1, 5s)) << "Ollama's connection stayed open past the drain timeout";
    EXPECT_GE(Clock::now() - started, 250ms);
    EXPECT_TRUE(drained_within(5s));
    EXPECT_TRUE(client.wait_closed(2s));
}

TEST_F(DrainTest, WithNothingInFlightEndsAtOnce) {
    TestClient idle(server->port());
    ASSERT_EQ(idle.request("GET", "/api/version").status, 200u);
    drain(10s);
    EXPECT_TRUE(drained_within(1s));
}

}  // namespace
}  // namespace sluice::test
