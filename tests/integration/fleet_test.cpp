// Integration tests of a fleet (upstreams:): three fake Ollamas with different models loaded and
// installed, and sluice in front of them on loopback. A request goes where its model is loaded,
// else installed; a backend that cannot be reached is passed over before anything is sent, never
// after a byte of the answer came; model management goes to the managing backend alone.
#include "fake_ollama.hpp"
#include "ports.hpp"
#include "test_client.hpp"
#include "ws_client.hpp"

#include "sluice/server.hpp"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <thread>
#include <vector>

namespace sluice::test {
namespace {

using namespace std::chrono_literals;

// /api/tags and /api/ps of a fake: `names` as entries.
std::string listing(std::initializer_list<std::string_view> names) {
    std::string json = R"({"models":[)";
    for (const auto name : names) {
        if (json.back() == '}') json += ',';
        json += fmt::format(R"({{"name":"{0}","model":"{0}","size":1000,"digest":"d-{0}"}})", name);
    }
    return json + "]}";
}

// A chat with a message (one without is Ollama's "load the model", answered with one line).
std::string chat_body(std::string_view model) {
    return fmt::format(R"({{"model":"{}","messages":[{{"role":"user","content":"hi"}}]}})", model);
}

// A chat with `body` as the bytes of a request, for a client that reads the answer piece by piece.
std::string raw_chat_request(std::string_view body) {
    return fmt::format("POST /api/chat HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n{}", body.size(), body);
}

std::string raw_chat(std::string_view model) { return raw_chat_request(chat_body(model)); }

std::size_t chats(const FakeOllama& ollama) {
    std::size_t count = 0;
    for (const auto& request : ollama.requests()) count += request.target == "/api/chat";
    return count;
}

class FleetTest : public ::testing::Test {
protected:
    FleetTest() {
        // gpu1 runs qwen3:14b; gpu2 runs llama3.2 and has qwen3:14b on disk; gpu3 has only gemma3.
        gpu1.set_knobs({.ps_json = listing({"qwen3:14b"}), .tags_json = listing({"qwen3:14b", "llama3.2:latest"})});
        gpu2.set_knobs({.ps_json = listing({"llama3.2:latest"}), .tags_json = listing({"llama3.2:latest", "qwen3:14b"})});
        gpu3.set_knobs({.ps_json = listing({}), .tags_json = listing({"gemma3:27b"})});
    }

    // sluice in front of `backends` (YAML list items), with two loops; `more` is YAML beside them.
    void start(const std::string& backends, const std::string& more = {}) {
        auto config = parse_config("upstreams:\n" + backends + more, "fleet.yaml");
        config.listen = {"127.0.0.1", 0};
        config.threads = 2;
        config.log.access = false;
        config.store.enabled = false;
        server = std::make_unique<Server>(config);
        server->start();
    }
    std::string item(const FakeOllama& ollama, std::string_view extra = {}) const {
        return fmt::format("  - {{url: {}{}}}\n", ollama.url(), extra);
    }

    Response chat(std::string_view model) const {
        TestClient client(server->port());
        return client.request("POST", "/api/chat", chat_body(model));
    }
    // Chats for `model` until one lands on `expected` (the probes answer in the background
    // after start-up); false after 5 s.
    bool lands_on(std::string_view model, const FakeOllama& expected) const {
        for (const auto deadline = Clock::now() + 5s; Clock::now() < deadline; std::this_thread::sleep_for(20ms)) {
            const auto before = chats(expected);
            if (chat(model).status == 200 && chats(expected) > before) return true;
        }
        return false;
    }

    FakeOllama gpu1, gpu2, gpu3;
    std::unique_ptr<Server> server;
};

TEST_F(FleetTest, AChatGoesWhereItsModelIsLoadedElseInstalled) {
    start(item(gpu3) + item(gpu2) + item(gpu1));  // the first listed holds none of the chats' models
    ASSERT_TRUE(lands_on("qwen3:14b", gpu1));
    ASSERT_TRUE(lands_on("llama3.2", gpu2));       // "llama3.2" is llama3.2:latest
    ASSERT_TRUE(lands_on("GEMMA3:27b", gpu3));     // installed only; names compare as Ollama's do
    // Once the probes have answered, every chat goes to its place.
    const auto before = std::array{chats(gpu1), chats(gpu2), chats(gpu3)};
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(chat("qwen3:14b").status, 200u);
        EXPECT_EQ(chat("llama3.2:latest").status, 200u);
        EXPECT_EQ(chat("gemma3:27b").status, 200u);
    }
    EXPECT_EQ(chats(gpu1) - before[0], 4u);
    EXPECT_EQ(chats(gpu2) - before[1], 4u);
    EXPECT_EQ(chats(gpu3) - before[2], 4u);
    // The answer says which box it came from (a backend without a name is its host:port).
    EXPECT_EQ(chat("llama3.2").header("X-Sluice-Backend"), fmt::format("127.0.0.1:{}", gpu2.port()));
}

TEST_F(FleetTest, TiesGoToTheBackendWithFewestGenerationsInFlight) {
    // Both have qwen3:14b loaded: two long streams at once go one to each.
    gpu2.set_knobs({.ps_json = listing({"qwen3:14b"}), .tags_json = listing({"qwen3:14b"})});
    start(item(gpu1) + item(gpu2));
    ASSERT_TRUE(lands_on("qwen3:14b", gpu1));
    const FakeOllamaKnobs slow{.token_interval = 50ms, .tokens = 200, .ps_json = listing({"qwen3:14b"}),
                               .tags_json = listing({"qwen3:14b"})};
    gpu1.set_knobs(slow);
    gpu2.set_knobs(slow);
    const auto before = std::array{chats(gpu1), chats(gpu2)};
    const auto request = raw_chat("qwen3:14b");
    TestClient first(server->port());
    first.send_raw(request);
    ASSERT_EQ(first.read_header().status, 200u);
    TestClient second(server->port());
    second.send_raw(request);
    ASSERT_EQ(second.read_header().status, 200u);
    EXPECT_EQ(chats(gpu1) - before[0], 1u);
    EXPECT_EQ(chats(gpu2) - before[1], 1u);
}

// A turn of a conversation that opened with `opening`, sent; its answer's header read (the
// stream stays open, holding its generation, while the client lives).
std::unique_ptr<TestClient> turn(std::uint16_t port, std::string_view opening, int later_turns) {
    std::string messages = fmt::format(R"({{"role":"user","content":"{}"}})", opening);
    for (int i = 0; i < later_turns; ++i) {
        messages += fmt::format(R"(,{{"role":"assistant","content":"answer {0}"}},{{"role":"user","content":"more {0}"}})", i);
    }
    const auto body = fmt::format(R"({{"model":"qwen3:14b","messages":[{}]}})", messages);
    auto client = std::make_unique<TestClient>(port);
    client->send_raw(raw_chat_request(body));
    return client;
}

class FleetStickyTest : public FleetTest {
protected:
    // Both boxes run qwen3:14b, slowly (a stream holds its generation); gpu1 two at a time.
    void start_both(const std::string& more) {
        gpu2.set_knobs({.ps_json = listing({"qwen3:14b"}), .tags_json = listing({"qwen3:14b"})});
        start(item(gpu1, ", name: gpu1, max_generations: 2") + item(gpu2, ", name: gpu2"), more);
        ASSERT_TRUE(lands_on("qwen3:14b", gpu1));  // the probes have answered
        const FakeOllamaKnobs slow{.token_interval = 50ms, .tokens = 200, .ps_json = listing({"qwen3:14b"}),
                                   .tags_json = listing({"qwen3:14b"})};
        gpu1.set_knobs(slow);
        gpu2.set_knobs(slow);
        // The last probing chat's generation ends in sluice just after its client read the end.
        const auto idle = [&] {
            const auto metrics = TestClient(server->port()).request("GET", "/metrics").body;
            return metrics.find(R"(sluice_backend_active_generations{backend="gpu1"} 0)") != std::string::npos &&
                   metrics.find(R"(sluice_backend_active_generations{backend="gpu2"} 0)") != std::string::npos;
        };
        for (const auto deadline = Clock::now() + 5s; !idle() && Clock::now() < deadline;) std::this_thread::sleep_for(5ms);
        ASSERT_TRUE(idle());
    }
    // Where a turn went (its answer's X-Sluice-Backend), the turn kept running in `held`.
    std::string placed(std::string_view opening, int later_turns) {
        held.push_back(turn(server->port(), opening, later_turns));
        const auto header = held.back()->read_header();
        EXPECT_EQ(header.status, 200u);
        return header.header("X-Sluice-Backend");
    }
    std::vector<std::unique_ptr<TestClient>> held;
};

TEST_F(FleetStickyTest, AConversationsNextTurnGoesBackWhereItRanWhileThatBoxCanTakeIt) {
    start_both("routing: {sticky: 10m}\n");
    EXPECT_EQ(placed("plan a trip", 0), "gpu1");  // all idle: config order
    // gpu1 now runs that turn; the next turn still goes there, where its KV cache is, though
    // gpu2 is idle.
    EXPECT_EQ(placed("plan a trip", 1), "gpu1");
    // A new conversation goes to the idle box, and gpu1 is full (max_generations 2): the trip's
    // next turn is placed afresh, and its later turns follow it to where it went.
    EXPECT_EQ(placed("write a poem", 0), "gpu2");
    EXPECT_EQ(placed("plan a trip", 2), "gpu2");
    held.erase(held.begin(), held.begin() + 2);  // gpu1's two turns end
    EXPECT_EQ(placed("plan a trip", 3), "gpu2");  // gpu2 runs more than gpu1 now: still the trip's box
}

TEST_F(FleetStickyTest, WithoutStickinessEveryTurnGoesToTheLeastBusy) {
    start_both("");
    EXPECT_EQ(placed("plan a trip", 0), "gpu1");
    EXPECT_EQ(placed("plan a trip", 1), "gpu2");
    EXPECT_EQ(placed("plan a trip", 2), "gpu1");
}

TEST_F(FleetTest, APageChatGoesWhereItsModelIsAndItsEndFrameSaysWhichBoxAnswered) {
    start(item(gpu1, ", name: gpu1") + item(gpu2, ", name: gpu2"));
    ASSERT_TRUE(lands_on("llama3.2", gpu2));  // the probes have answered
    const auto on_gpu2 = chats(gpu2);
    WsClient page(server->port());
    page.chat("c1", "llama3.2");
    const auto end = page.read_until_end_of("c1").back();
    EXPECT_TRUE(end.done);
    EXPECT_NE(end.raw.find(R"("backend":"gpu2")"), std::string::npos) << end.raw;
    EXPECT_EQ(chats(gpu2), on_gpu2 + 1);
}

TEST_F(FleetTest, ABackendThatCannotBeReachedIsPassedOverBeforeAnythingIsSent) {
    const auto dead = closed_loopback_port();
    start(fmt::format("  - {{url: http://127.0.0.1:{}, name: dead}}\n", dead) + item(gpu1));
    // The first chat may be ranked onto the dead one (no probe has answered yet): it fails over.
    for (int i = 0; i < 5; ++i) {
        const auto response = chat("qwen3:14b");
        EXPECT_EQ(response.status, 200u) << response.body;
        EXPECT_NE(response.body.find("\"done\":true"), std::string::npos) << response.body;
    }
    EXPECT_EQ(chats(gpu1), 5u);
}

TEST_F(FleetTest, WhenNoBackendCanBeReachedTheClientGets502NamingTheLastOneTried) {
    const auto dead1 = closed_loopback_port();
    const auto dead2 = closed_loopback_port();
    start(fmt::format("  - http://127.0.0.1:{}\n  - http://127.0.0.1:{}\n", dead1, dead2));
    const auto response = chat("qwen3:14b");
    EXPECT_EQ(response.status, 502u);
    EXPECT_NE(response.body.find("sluice: cannot reach ollama at http://127.0.0.1:"), std::string::npos) << response.body;
}

TEST_F(FleetTest, ABackendThatFailsMidStreamEndsThatStreamOnlyAndNothingIsRetried) {
    start(item(gpu1) + item(gpu2));
    ASSERT_TRUE(lands_on("qwen3:14b", gpu1));
    gpu1.set_knobs({.token_interval = 1ms, .mode = StreamMode::abrupt_close, .fail_after = 2,
                    .ps_json = listing({"qwen3:14b"}), .tags_json = listing({"qwen3:14b"})});
    const auto on_gpu2 = chats(gpu2);
    TestClient client(server->port());
    client.send_raw(raw_chat("qwen3:14b"));
    ASSERT_EQ(client.read_header().status, 200u);
    std::string body;
    EXPECT_THROW(  // the chunked body never ends: the client sees the stream was cut
        {
            for (auto piece = client.read_body_piece(); !piece.empty(); piece = client.read_body_piece()) body += piece;
        },
        std::exception);
    EXPECT_NE(body.find("tok1"), std::string::npos) << body;
    EXPECT_EQ(chats(gpu2), on_gpu2);  // after the first byte, never sent again
    EXPECT_EQ(chat("llama3.2").status, 200u);  // the other backend goes on serving
}

TEST_F(FleetTest, ModelManagementGoesToTheManagingBackendOnly) {
    start(item(gpu1) + item(gpu2, ", manage: true") + item(gpu3));
    for (int i = 0; i < 3; ++i) {
        TestClient client(server->port());
        EXPECT_EQ(client.request("POST", "/api/pull", R"({"model":"gemma3:27b","stream":false})").status, 200u);
    }
    const auto pulls = [](const FakeOllama& ollama) {
        std::size_t count = 0;
        for (const auto& request : ollama.requests()) count += request.target == "/api/pull";
        return count;
    };
    EXPECT_EQ(pulls(gpu1), 0u);
    EXPECT_EQ(pulls(gpu2), 3u);
    EXPECT_EQ(pulls(gpu3), 0u);
}

TEST_F(FleetTest, ModelListsAreMergedWithWhereEachModelIs) {
    start(item(gpu1, ", name: gpu1") + item(gpu2, ", name: gpu2") + item(gpu3, ", name: gpu3"));
    TestClient client(server->port());
    const auto tags = client.request("GET", "/api/tags");
    ASSERT_EQ(tags.status, 200u) << tags.body;
    EXPECT_EQ(tags.header("Content-Type"), "application/json; charset=utf-8");
    EXPECT_EQ(tags.body,
              R"({"models":[)"
              R"({"name":"qwen3:14b","model":"qwen3:14b","size":1000,"digest":"d-qwen3:14b","sluice_backends":["gpu1","gpu2"]},)"
              R"({"name":"llama3.2:latest","model":"llama3.2:latest","size":1000,"digest":"d-llama3.2:latest","sluice_backends":["gpu1","gpu2"]},)"
              R"({"name":"gemma3:27b","model":"gemma3:27b","size":1000,"digest":"d-gemma3:27b","sluice_backends":["gpu3"]}]})");
    const auto ps = client.request("GET", "/api/ps");
    ASSERT_EQ(ps.status, 200u) << ps.body;
    EXPECT_NE(ps.body.find(R"("name":"qwen3:14b","model":"qwen3:14b","size":1000,"digest":"d-qwen3:14b","sluice_backends":["gpu1"]})"),
              std::string::npos) << ps.body;
    EXPECT_NE(ps.body.find(R"("sluice_backends":["gpu2"])"), std::string::npos) << ps.body;
    const auto models = client.request("GET", "/v1/models");
    ASSERT_EQ(models.status, 200u) << models.body;
    EXPECT_TRUE(models.body.starts_with(R"({"object":"list","data":[)")) << models.body;
    const auto version = client.request("GET", "/api/version");
    ASSERT_EQ(version.status, 200u) << version.body;
    EXPECT_TRUE(version.body.starts_with(R"({"version":")")) << version.body;
}

TEST_F(FleetTest, AListNoBackendAnswersIs502NamingEachBackendsFailure) {
    const auto dead1 = closed_loopback_port();
    const auto dead2 = closed_loopback_port();
    start(fmt::format("  - {{url: http://127.0.0.1:{}, name: a}}\n  - {{url: http://127.0.0.1:{}, name: b}}\n", dead1, dead2));
    TestClient client(server->port());
    const auto tags = client.request("GET", "/api/tags");
    EXPECT_EQ(tags.status, 502u);
    // Those the probes have not yet found down are asked; those they have are not asked again.
    EXPECT_NE(tags.body.find("sluice: no ollama of upstreams answered /api/tags ("), std::string::npos) << tags.body;
    EXPECT_NE(tags.body.find(": Connection refused"), std::string::npos) << tags.body;
    EXPECT_TRUE(tags.keep_alive);
}

TEST_F(FleetTest, MetricsSayPerBackendWhoAnsweredWhoIsUpAndWhatIsInFlight) {
    const auto dead = closed_loopback_port();
    start(item(gpu1, ", name: gpu1") + fmt::format("  - {{url: http://127.0.0.1:{}, name: dead}}\n", dead));
    ASSERT_TRUE(lands_on("qwen3:14b", gpu1));
    // The probe finds the dead one down, and the chat that landed is counted once it has ended
    // (just after its client read the last byte).
    const std::vector<std::string> expected{
        R"(sluice_backend_up{backend="dead"} 0)", R"(sluice_backend_up{backend="gpu1"} 1)",
        R"(sluice_backend_active_generations{backend="gpu1"} 0)", R"(sluice_backend_requests_total{backend="gpu1"} )"};
    const auto has_all = [&](const std::string& text) {
        return std::all_of(expected.begin(), expected.end(), [&](const auto& line) { return text.find(line) != std::string::npos; });
    };
    TestClient client(server->port());
    std::string scrape;
    for (const auto deadline = Clock::now() + 5s; Clock::now() < deadline && !has_all(scrape); std::this_thread::sleep_for(20ms)) {
        scrape = client.request("GET", "/metrics").body;
    }
    EXPECT_TRUE(has_all(scrape)) << scrape;
    EXPECT_EQ(scrape.find(R"(sluice_backend_requests_total{backend="dead"})"), std::string::npos) << scrape;
}

// --- the line: every backend that has the model runs its max_generations ---------------------

class FleetLineTest : public FleetTest {
protected:
    // gpu1 runs qwen3:14b, one generation at a time, slowly; gpu2 does not have it.
    void start_line(const std::string& queue) {
        gpu2.set_knobs({.ps_json = listing({"llama3.2:latest"}), .tags_json = listing({"llama3.2:latest"})});
        start(item(gpu1, ", name: gpu1, max_generations: 1") + item(gpu2, ", name: gpu2"), queue);
        ASSERT_TRUE(lands_on("llama3.2", gpu2));  // the probes have answered
        gpu1.set_knobs({.token_interval = 20ms, .tokens = 500, .ps_json = listing({"qwen3:14b"}),
                        .tags_json = listing({"qwen3:14b"})});
    }
    // A chat whose answer has begun on gpu1 (holding its one slot).
    std::unique_ptr<TestClient> running() {
        auto client = waiting();
        EXPECT_EQ(client->read_header().status, 200u);
        return client;
    }
    // A chat sent, its answer not read.
    std::unique_ptr<TestClient> waiting() {
        auto client = std::make_unique<TestClient>(server->port());
        client->send_raw(raw_chat("qwen3:14b"));
        return client;
    }
    // A 503 that says when to come back, and why.
    static void expect_busy(const Response& response, std::string_view why) {
        EXPECT_EQ(response.status, 503u);
        EXPECT_EQ(response.header("Retry-After"), "5");
        EXPECT_NE(response.body.find(why), std::string::npos) << response.body;
    }
};

TEST_F(FleetLineTest, WithoutALineABusyModelIs503WithRetryAfter) {
    start_line("queue: {max_waiting: 0}\n");
    const auto first = running();
    expect_busy(chat("qwen3:14b"), "sluice: every ollama that has qwen3:14b is running its max_generations");
    EXPECT_EQ(chats(gpu2), 1u);  // lands_on's llama only: a busy model never spills to a box without it
}

TEST_F(FleetLineTest, AChatWaitsItsTurnInArrivalOrderAndTheLineIsBounded) {
    start_line("queue: {max_waiting: 2}\n");
    auto first = running();
    auto second = waiting();
    std::this_thread::sleep_for(100ms);  // in line before the third
    auto third = waiting();
    EXPECT_THROW(second->read_header(300ms), std::exception);  // no answer while gpu1 is busy
    expect_busy(chat("qwen3:14b"), "2 requests wait for it (queue.max_waiting)");  // two wait already
    first->close();  // its generation ends: the first in line goes
    EXPECT_EQ(second->read_header(5s).status, 200u);
    EXPECT_THROW(third->read_header(300ms), std::exception);
    second->close();
    EXPECT_EQ(third->read_header(5s).status, 200u);
    EXPECT_EQ(chats(gpu2), 1u);
}

TEST_F(FleetLineTest, AChatThatWaitedMaxWaitIs503) {
    start_line("queue: {max_wait: 300ms}\n");
    const auto first = running();
    expect_busy(chat("qwen3:14b"), "had room within queue.max_wait (300ms)");
}

TEST_F(FleetLineTest, AClientThatLeavesTheLineTakesItsPlaceWithIt) {
    start_line("queue: {max_waiting: 1}\n");
    auto first = running();
    auto leaving = waiting();
    std::this_thread::sleep_for(100ms);
    leaving->close();
    std::this_thread::sleep_for(100ms);
    auto next = waiting();  // the one place is free again
    first->close();
    EXPECT_EQ(next->read_header(5s).status, 200u);
}

// The page's chats wait in the same line, and the page is told its place as it moves up.
TEST_F(FleetLineTest, APageChatWaitsInTheSameLineAndIsToldItsPlace) {
    start_line("queue: {max_waiting: 4}\n");
    auto first = running();  // gpu1's one slot
    auto api = waiting();    // an API client is in line first
    std::this_thread::sleep_for(100ms);
    WsClient page(server->port());
    ASSERT_TRUE(page.open());
    page.chat("p1");
    const auto place = [&] {
        const auto frame = page.read(5s);
        return frame && frame->id == "p1" && frame->waiting ? *frame->waiting : 99;
    };
    EXPECT_EQ(place(), 2u);  // "2nd in line"
    first->close();          // the API client's turn...
    EXPECT_EQ(api->read_header(5s).status, 200u);
    EXPECT_EQ(place(), 1u);  // ...and the page's chat moves up
    api->close();            // its turn
    EXPECT_EQ(place(), 0u);
    const auto line = page.read(5s);
    ASSERT_TRUE(line);
    EXPECT_NE(line->line.find(R"("model":"qwen3:14b")"), std::string::npos) << line->raw;
    page.cancel("p1");
    EXPECT_TRUE(page.read_until_end_of("p1").back().cancelled);
}

TEST_F(FleetLineTest, APageChatPastMaxWaitEndsWithTheReasonAndACancelLeavesTheLine) {
    start_line("queue: {max_waiting: 1, max_wait: 300ms}\n");
    auto first = running();
    WsClient page(server->port());
    ASSERT_TRUE(page.open());
    page.chat("late");
    auto frames = page.read_until_end_of("late");
    ASSERT_GE(frames.size(), 2u);
    EXPECT_EQ(frames.front().waiting, 1u);
    EXPECT_EQ(frames.back().error, "sluice: no ollama that has qwen3:14b had room within queue.max_wait (300ms)");

    page.chat("gives-up");
    EXPECT_EQ(page.read(5s)->waiting, 1u);
    page.cancel("gives-up");
    EXPECT_TRUE(page.read_until_end_of("gives-up").back().cancelled);
    auto next = waiting();  // the one place is free again
    first->close();
    EXPECT_EQ(next->read_header(5s).status, 200u);
}

TEST_F(FleetTest, ReadyWhileAnyBackendAnswers) {
    const auto dead = closed_loopback_port();
    start(fmt::format("  - http://127.0.0.1:{}\n", dead) + item(gpu1));
    Response ready;
    for (const auto deadline = Clock::now() + 5s; Clock::now() < deadline; std::this_thread::sleep_for(20ms)) {
        TestClient client(server->port());
        ready = client.request("GET", "/readyz");
        if (ready.status == 200) break;
    }
    EXPECT_EQ(ready.status, 200u) << ready.body;
}

}  // namespace
}  // namespace sluice::test
