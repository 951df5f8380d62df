// Integration tests of the browser UI's WebSocket (/_sluice/ws): a Beast WebSocket client on
// loopback, sluice's Server, and the fake Ollama behind it.
#include "one_answer_upstream.hpp"
#include "sluice_under_test.hpp"
#include "ws_client.hpp"

#include "sluice/access_control.hpp"
#include "sluice/server.hpp"
#include "sluice/ui_assets.hpp"

#include <gtest/gtest.h>
#include <unistd.h>
#include <simdjson.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <thread>

namespace sluice::test {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

class WebSocketTest : public SluiceUnderTest {
protected:
    void SetUp() override { start(); }
    // The page's login: the session cookie ("sluice_session=...") for `key`.
    std::string login(std::string_view key) const {
        const auto response = request("POST", "/_sluice/login", {}, {{"Authorization", fmt::format("Bearer {}", key)}});
        const auto set_cookie = response.header("Set-Cookie");
        return set_cookie.substr(0, set_cookie.find(';'));
    }
};

TEST_F(WebSocketTest, EachOllamaLineArrivesAsOneFrameTaggedWithItsId) {
    ollama.set_knobs({.tokens = 5});
    WsClient client(port());
    ASSERT_TRUE(client.open());
    client.chat("c1");
    const auto frames = client.read_until_end_of("c1");
    ASSERT_EQ(frames.size(), 7u);  // 5 content lines, the done line, sluice's end frame
    for (std::size_t i = 0; i < 6; ++i) {
        EXPECT_EQ(frames[i].id, "c1");
        EXPECT_NE(frames[i].line.find(R"("model":"qwen3:14b")"), std::string::npos) << frames[i].raw;
        // The line is spliced in as Ollama sent it: the envelope is the only thing around it.
        EXPECT_TRUE(frames[i].raw.starts_with(R"({"id":"c1","line":{)")) << frames[i].raw;
    }
    EXPECT_NE(frames[5].line.find(R"("done":true)"), std::string::npos);
    EXPECT_NE(frames[5].line.find("eval_count"), std::string::npos);
    EXPECT_TRUE(frames[6].done);
    EXPECT_FALSE(frames[6].cancelled);
    const auto request = ollama.last_request();
    EXPECT_EQ(request.method, "POST");
    EXPECT_EQ(request.target, "/api/chat");
    EXPECT_NE(request.body.find(R"("content":"hi")"), std::string::npos);
}

// Ollama faster than the browser: each read brings hundreds of lines, which go out a window of
// frames at a time (one write at a time on the socket). Every line arrives, whole and in order.
TEST_F(WebSocketTest, ABurstOfLinesFromTwoChatsArrivesWholeAndInOrder) {
    constexpr int tokens = 3000;
    ollama.set_knobs({.token_interval = std::chrono::microseconds(0), .tokens = tokens});
    WsClient client(port());
    client.chat("a");
    client.chat("b");
    std::map<std::string, int> next;  // the next content line expected per chat
    std::map<std::string, bool> ended;
    while (!ended["a"] || !ended["b"]) {
        const auto read = client.read();
        ASSERT_TRUE(read) << "the socket closed or went quiet";
        const auto& frame = *read;
        if (frame.done) {
            EXPECT_EQ(next[frame.id], tokens + 1) << frame.raw;  // every content line and the done line
            ended[frame.id] = true;
            continue;
        }
        auto& expected = next[frame.id];
        if (expected < tokens) {
            ASSERT_NE(frame.line.find(fmt::format(R"("content":"tok{} ")", expected)), std::string::npos)
                << "chat " << frame.id << " line " << expected << ": " << frame.raw;
        } else {
            EXPECT_NE(frame.line.find(R"("done":true)"), std::string::npos) << frame.raw;
        }
        ++expected;
    }
}

TEST_F(WebSocketTest, EndFrameSaysWhatTheRewriterChanged) {
    ollama.set_knobs({.tokens = 2});
    WsClient plain(port());
    plain.chat("as-sent");
    EXPECT_EQ(plain.read_until_end_of("as-sent").back().raw, R"({"id":"as-sent","done":true,"status":200})");

    start(parse_config(R"(
rewrite:
  models:
    - match: "qwen3:14b"
      options: {num_ctx: 8192}
)", "sluice.yaml"));
    WsClient client(port());
    client.chat("rewritten");
    const auto end = client.read_until_end_of("rewritten").back();
    EXPECT_TRUE(end.done);
    EXPECT_EQ(end.rewrite, "num_ctx=8192");
    EXPECT_NE(ollama.last_request().body.find(R"("num_ctx":8192)"), std::string::npos) << ollama.last_request().body;
}

TEST_F(WebSocketTest, TwoChatsStreamAtOnceOnOneSocket) {
    ollama.set_knobs({.token_interval = 20ms, .tokens = 10});
    WsClient client(port());
    client.chat("a");
    client.chat("b");
    std::map<std::string, std::size_t> lines;
    std::map<std::string, bool> done;
    std::size_t b_lines_before_a_done = 0;
    while (!(done["a"] && done["b"])) {
        const auto frame = client.read();
        ASSERT_TRUE(frame) << "a chat stalled";
        if (!frame->line.empty()) ++lines[frame->id];
        if (frame->done) done[frame->id] = true;
        if (frame->id == "b" && !frame->line.empty() && !done["a"]) ++b_lines_before_a_done;
    }
    EXPECT_EQ(lines["a"], 11u);
    EXPECT_EQ(lines["b"], 11u);
    EXPECT_GT(b_lines_before_a_done, 3u) << "the chats did not interleave";
    EXPECT_EQ(ollama.requests().size(), 2u);
}

TEST_F(WebSocketTest, CancelClosesThatChatsUpstreamConnectionOnly) {
    ollama.set_knobs({.token_interval = 20ms, .tokens = 1000});
    WsClient client(port());
    client.chat("stop-me");
    client.chat("keep-me");
    std::optional<WsFrame> frame;
    do {
        frame = client.read();
        ASSERT_TRUE(frame);
    } while (frame->id != "stop-me");
    client.cancel("stop-me");
    EXPECT_TRUE(ollama.wait_streams_cancelled(1, 3s));
    bool cancelled = false;
    std::size_t keep_lines_after = 0;
    while (keep_lines_after < 5) {
        frame = client.read();
        ASSERT_TRUE(frame);
        if (frame->id == "stop-me" && frame->done) {
            EXPECT_TRUE(frame->cancelled);
            cancelled = true;
        }
        if (frame->id == "keep-me" && cancelled) ++keep_lines_after;
    }
    EXPECT_TRUE(cancelled);
    EXPECT_EQ(ollama.streams_cancelled(), 1u);
}

TEST_F(WebSocketTest, ClosingTheSocketCancelsEveryChat) {
    ollama.set_knobs({.token_interval = 20ms, .tokens = 1000});
    WsClient client(port());
    client.chat("a");
    client.chat("b");
    std::set<std::string> started;
    while (started.size() < 2) {
        const auto frame = client.read();
        ASSERT_TRUE(frame);
        started.insert(frame->id);
    }
    client.drop();
    EXPECT_TRUE(ollama.wait_streams_cancelled(2, 3s));
}

TEST_F(WebSocketTest, CancelWhileTheModelLoadsClosesTheUpstreamRequest) {
    ollama.set_knobs({.first_byte_delay = 10s});
    WsClient client(port());
    client.chat("slow");
    std::this_thread::sleep_for(200ms);
    client.cancel("slow");
    EXPECT_TRUE(ollama.wait_streams_cancelled(1, 3s));
    const auto frame = client.read();
    ASSERT_TRUE(frame);
    EXPECT_TRUE(frame->done && frame->cancelled) << frame->raw;
}

TEST_F(WebSocketTest, OllamaErrorIsForwardedThenTheChatEnds) {
    ollama.set_knobs({.tokens = 5, .mode = StreamMode::error_midstream, .fail_after = 2});
    WsClient client(port());
    client.chat("e");
    const auto frames = client.read_until_end_of("e");
    ASSERT_EQ(frames.size(), 4u);
    EXPECT_NE(frames[2].line.find("error"), std::string::npos) << frames[2].raw;
    EXPECT_TRUE(frames[3].done);
}

TEST_F(WebSocketTest, OllamaDownEndsTheChatWithAnError) {
    start({}, fmt::format("http://127.0.0.1:{}", ollama.port() == 1 ? 2 : 1));
    WsClient client(port());
    client.chat("x");
    const auto frame = client.read();
    ASSERT_TRUE(frame);
    EXPECT_EQ(frame->id, "x");
    EXPECT_NE(frame->error.find("cannot reach ollama"), std::string::npos) << frame->raw;
}

// A chat from the page takes the exchange a proxied chat takes (UpstreamCall): it goes up
// forwarded for the browser, and Ollama's failures read the same on both front ends.
TEST_F(WebSocketTest, AChatGoesUpWithTheForwardingHeadersAProxiedChatCarries) {
    WsClient client(port(), {}, {{"X-Forwarded-For", "203.0.113.7"}});
    client.chat("f");
    const auto frames = client.read_until_end_of("f");
    ASSERT_FALSE(frames.empty());
    EXPECT_TRUE(frames.back().done) << frames.back().raw;
    const auto seen = ollama.last_request();
    EXPECT_EQ(seen.target, "/api/chat");
    EXPECT_EQ(seen.header("X-Forwarded-For"), "203.0.113.7, 127.0.0.1");
    EXPECT_EQ(seen.header("X-Forwarded-Proto"), "http");
}

TEST_F(WebSocketTest, OllamaSilentPastTheHeaderTimeoutReadsAsOverHttp) {
    Config config;
    config.timeouts.upstream_headers = 300ms;
    start(config);
    ollama.set_knobs({.first_byte_delay = 3s});
    TestClient http_client(port());
    const auto response = http_client.request("POST", "/api/chat", R"({"model":"qwen3:14b"})");
    ASSERT_EQ(response.status, 504u);
    WsClient client(port());
    client.chat("t");
    const auto frame = client.read();
    ASSERT_TRUE(frame);
    EXPECT_EQ(frame->id, "t");
    EXPECT_EQ(fmt::format(R"({{"error":"{}"}})", frame->error), response.body) << frame->raw;
}

// One replay rule for both front ends: when Ollama closes a kept-alive connection as a request
// goes into it, a request that cannot have run twice (a GET) goes again on a new connection; a
// chat, which Ollama may have started generating, never does, and fails with one text on both.
TEST_F(WebSocketTest, TheReplayRuleOfAProxiedRequestHoldsForAPageChat) {
    OneAnswerUpstream upstream;
    Config config;
    config.threads = 1;  // one loop: one pool of kept-alive connections
    start(config, upstream.url());
    EXPECT_EQ(request("GET", "/api/tags").status, 200u);  // answered; its connection kept alive
    EXPECT_EQ(request("GET", "/api/tags").status, 200u);  // that connection closed on it: replayed
    EXPECT_EQ(upstream.connections(), 2u);
    const auto chat = request("POST", "/api/chat", R"({"model":"m","messages":[]})");  // on the kept-alive one
    EXPECT_EQ(chat.status, 502u) << chat.body;
    EXPECT_EQ(upstream.connections(), 2u);  // not sent again

    EXPECT_EQ(request("GET", "/api/tags").status, 200u);  // a new connection, kept alive
    ASSERT_EQ(upstream.connections(), 3u);
    WsClient page(port());
    page.chat("twice?");
    const auto frames = page.read_until_end_of("twice?");
    ASSERT_FALSE(frames.empty());
    EXPECT_EQ(fmt::format(R"({{"error":"{}"}})", frames.back().error), chat.body) << frames.back().raw;
    EXPECT_EQ(upstream.connections(), 3u);
}

TEST_F(WebSocketTest, MalformedMessageGetsAnErrorAndTheSocketStaysUsable) {
    ollama.set_knobs({.tokens = 1});
    WsClient client(port());
    client.send("not json");
    auto frame = client.read();
    ASSERT_TRUE(frame);
    EXPECT_FALSE(frame->error.empty());
    client.send(R"({"id":"n"})");
    frame = client.read();
    ASSERT_TRUE(frame);
    EXPECT_EQ(frame->id, "n");
    EXPECT_FALSE(frame->error.empty());
    client.chat("ok");
    EXPECT_EQ(count_lines(client.read_until_end_of("ok"), "ok"), 2u);
}

// A browser that stops reading makes sluice stop reading that chat from Ollama; nothing is lost.
TEST_F(WebSocketTest, SlowBrowserPushesBackOnOllamaAndLosesNothing) {
    constexpr int tokens = 400000;
    ollama.set_knobs({.token_interval = 0us, .tokens = tokens});
    WsClient client(port());
    client.chat("big");
    const auto stalled_at = ollama.wait_production_stalled(30s);
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(ollama.lines_sent(), stalled_at) << "Ollama kept producing for a browser that reads nothing";
    EXPECT_LT(stalled_at, static_cast<std::size_t>(tokens) / 2);
    EXPECT_EQ(count_lines(client.read_until_end_of("big"), "big"), static_cast<std::size_t>(tokens) + 1);
}

constexpr std::string_view phone_key = "sk-sluice-phone-0123456789abcdef";
constexpr std::string_view laptop_key = "sk-sluice-laptop-0123456789abcdef";
constexpr std::string_view desk_key = "sk-sluice-desk-0123456789abcdef";

// A config whose auth.keys are `keys`, each {name, hash}.
Config config_with_keys(const std::vector<std::pair<std::string_view, std::string>>& keys) {
    std::string yaml = "auth:\n  keys:\n";
    for (const auto& [name, hash] : keys) yaml += fmt::format("    - name: {}\n      hash: \"{}\"\n", name, hash);
    return parse_config(yaml, "sluice.yaml");
}

// Issue 11, item 8: a page's socket outlived its logout and kept chatting.
TEST_F(WebSocketTest, LogoutClosesTheSocketsOfThatSessionWith1008) {
    start(config_with_keys({{"phone", hash_api_key(phone_key)}}));
    const auto cookie = login(phone_key);
    const auto other_cookie = login(phone_key);  // another browser, same key
    ollama.set_knobs({.token_interval = 20ms, .tokens = 1000});
    WsClient page(port(), {}, {{"Cookie", cookie}});
    WsClient other_page(port(), {}, {{"Cookie", other_cookie}});
    ASSERT_TRUE(page.open() && other_page.open());
    page.chat("running");
    ASSERT_TRUE(page.read());

    TestClient client(port());
    EXPECT_EQ(client.request("POST", "/_sluice/logout", {}, {{"Cookie", cookie}}).status, 200u);
    EXPECT_EQ(page.read_until_closed(), 1008u);
    EXPECT_EQ(page.close_reason(), "logged out");
    EXPECT_TRUE(ollama.wait_streams_cancelled(1, 3s));

    ollama.set_knobs({.tokens = 2});
    other_page.chat("still");
    EXPECT_TRUE(other_page.read_until_end_of("still").back().done);
}

// Issue 11, item 3a: the chat is checked as Ollama reads it (the last member matching "model"
// case-insensitively) and forwarded as the page sent it, byte for byte.
TEST_F(WebSocketTest, AKeysModelsHoldAsOllamaReadsTheChatAndItGoesUpAsSent) {
    Config config = config_with_keys({{"phone", hash_api_key(phone_key)}});
    config.auth.keys.front().models = {"qwen3:*"};
    start(config);
    WsClient page(port(), {}, {{"Cookie", login(phone_key)}});
    ASSERT_TRUE(page.open());
    page.send(R"({"id":"a","chat":{"model":"qwen3:14b","MODEL":"llama3:70b","messages":[]}})");
    auto frames = page.read_until_end_of("a");
    EXPECT_EQ(frames.back().error, R"(sluice: key "phone" may not use model "llama3:70b")");
    EXPECT_TRUE(ollama.requests().empty());

    ollama.set_knobs({.tokens = 2});
    const std::string chat = R"({ "messages" : [ {"role":"user","content":"caf\u00e9"} ],"model":"qwen3:14b" })";
    page.send(R"({"id":"b","chat":)" + chat + "}");
    EXPECT_TRUE(page.read_until_end_of("b").back().done);
    EXPECT_EQ(ollama.last_request().body, chat);
}

// An idle socket too: a reload that removes its key, or changes it under the same name, closes
// it at once, whether it was opened with the page's cookie or a Bearer key.
TEST_F(WebSocketTest, ReloadRemovingOrChangingItsKeyClosesTheSocketWith1008) {
    const auto desk_hash = hash_api_key(desk_key);
    start(config_with_keys({{"phone", hash_api_key(phone_key)}, {"laptop", hash_api_key(laptop_key)}, {"desk", desk_hash}}));
    WsClient phone(port(), {}, {{"Cookie", login(phone_key)}});
    WsClient laptop(port(), {}, {{"Authorization", fmt::format("Bearer {}", laptop_key)}});
    WsClient desk(port(), {}, {{"Cookie", login(desk_key)}});
    ASSERT_TRUE(phone.open() && laptop.open() && desk.open());

    server->reload(local(config_with_keys({{"laptop", hash_api_key("sk-sluice-laptop-new-0123456789ab")}, {"desk", desk_hash}})));
    EXPECT_EQ(phone.read_until_closed(), 1008u);
    EXPECT_EQ(phone.close_reason(), "key removed");
    EXPECT_EQ(laptop.read_until_closed(), 1008u);
    EXPECT_EQ(laptop.close_reason(), "key removed");

    ollama.set_knobs({.tokens = 2});
    desk.chat("kept");
    EXPECT_TRUE(desk.read_until_end_of("kept").back().done);
}

TEST_F(WebSocketTest, ForeignOriginIsRefused) {
    WsClient foreign(port(), "http://evil.example");
    EXPECT_FALSE(foreign.open());
    EXPECT_EQ(foreign.handshake_status(), 403u);
    WsClient same(port(), fmt::format("http://127.0.0.1:{}", port()));
    EXPECT_TRUE(same.open());
    EXPECT_EQ(same.handshake_status(), 101u);
}

TEST_F(WebSocketTest, PlainRequestToTheWebSocketPathIs400) {
    TestClient client(port());
    EXPECT_EQ(client.request("GET", "/_sluice/ws").status, 400u);
    EXPECT_TRUE(ollama.requests().empty());
}

// Ollama clients probe `GET /`; only a browser asking for HTML gets sluice's page.
TEST_F(WebSocketTest, RootWithoutHtmlAcceptStillReachesOllama) {
    TestClient client(port());
    auto response = client.request("GET", "/", {}, {{"Accept", "*/*"}});
    EXPECT_EQ(response.status, 200u);
    EXPECT_EQ(response.body, "Ollama is running");
    client.send_raw("HEAD / HTTP/1.1\r\nHost: localhost\r\nAccept: text/html\r\n\r\n");
    EXPECT_EQ(client.read_response(true).header("Content-Length"), "17");
    EXPECT_EQ(ollama.requests().size(), 2u);
}

TEST_F(WebSocketTest, BrowserAskingForHtmlAtRootGetsTheEmbeddedPage) {
    TestClient client(port());
    const auto page = client.request("GET", "/", {}, {{"Accept", "text/html,application/xhtml+xml"}});
    EXPECT_EQ(page.status, 200u);
    EXPECT_EQ(page.header("Content-Type"), "text/html; charset=utf-8");
    EXPECT_EQ(page.header("Cache-Control"), "no-cache");
    EXPECT_NE(page.body.find("<title>sluice</title>"), std::string::npos);
    EXPECT_TRUE(ollama.requests().empty());
    EXPECT_EQ(client.request("GET", "/_sluice/").body, page.body);

    // Every file is served from under /_sluice/, named by the page or by another file (a chunk
    // loaded when first needed, a font its stylesheet names), and immutable ones say so.
    const auto named_by_another = [](std::string_view path) {
        const auto name = path.substr(path.rfind('/') + 1);
        return std::any_of(ui_assets, ui_assets + ui_asset_count,
                           [&](const UiAsset& other) { return other.path != path && other.body.find(name) != std::string_view::npos; });
    };
    for (const auto* asset = ui_assets; asset != ui_assets + ui_asset_count; ++asset) {
        if (asset->path == "index.html") continue;
        const auto file = client.request("GET", fmt::format("/_sluice/{}", asset->path));
        EXPECT_EQ(file.status, 200u) << asset->path;
        EXPECT_EQ(file.body, asset->body) << asset->path;
        EXPECT_EQ(file.header("Content-Type"), ui_content_type(asset->path));
        if (asset->path.starts_with("assets/")) {
            EXPECT_TRUE(page.body.find(fmt::format("/_sluice/{}", asset->path)) != std::string::npos ||
                        named_by_another(asset->path))
                << asset->path;
            EXPECT_EQ(file.header("Cache-Control"), "public, max-age=31536000, immutable");
        }
    }
    EXPECT_EQ(client.request("GET", "/_sluice/no-such-file.js").status, 404u);
}

// ui.dir: the page is read from a directory as it is asked for, so a rebuilt page shows on reload.
TEST_F(WebSocketTest, UiDirServesThePageFromADirectoryForDevelopment) {
    const auto dir = std::filesystem::temp_directory_path() / fmt::format("sluice-ui-{}", ::getpid());
    std::filesystem::create_directories(dir / "assets");
    std::ofstream(dir / "index.html") << "<title>dev build</title>";
    std::ofstream(dir / "assets" / "app.js") << "console.log(1)";
    std::ofstream(dir.parent_path() / fmt::format("sluice-ui-secret-{}", ::getpid())) << "secret";
    Config config = parse_config(fmt::format("ui:\n  dir: {}\n", dir.string()), "sluice.yaml");
    start(config);

    TestClient client(port());
    const auto page = client.request("GET", "/", {}, {{"Accept", "text/html"}, {"Accept-Encoding", "gzip"}});
    EXPECT_EQ(page.status, 200u);
    EXPECT_EQ(page.body, "<title>dev build</title>");
    EXPECT_EQ(page.header("Content-Encoding"), "");
    EXPECT_EQ(page.header("Cache-Control"), "no-cache");
    const auto script = client.request("GET", "/_sluice/assets/app.js");
    EXPECT_EQ(script.body, "console.log(1)");
    EXPECT_EQ(script.header("Content-Type"), "text/javascript; charset=utf-8");
    EXPECT_EQ(script.header("Cache-Control"), "no-cache");

    std::ofstream(dir / "index.html") << "<title>rebuilt</title>";
    EXPECT_EQ(client.request("GET", "/_sluice/index.html").body, "<title>rebuilt</title>");
    EXPECT_EQ(client.request("GET", "/_sluice/missing.js").status, 404u);
    // A ".." segment is refused before any file is looked up (request_target).
    EXPECT_EQ(TestClient(port()).request("GET", fmt::format("/_sluice/../sluice-ui-secret-{}", ::getpid())).status, 400u);
    EXPECT_EQ(TestClient(port()).request("GET", "/_sluice/assets/../../etc/passwd").status, 400u);
    std::filesystem::remove_all(dir);
    std::filesystem::remove(dir.parent_path() / fmt::format("sluice-ui-secret-{}", ::getpid()));

    EXPECT_THROW(parse_config("ui:\n  dir: /nonexistent/sluice-ui\n", "sluice.yaml"), ConfigError);
}

TEST_F(WebSocketTest, PageIsSentGzippedWhenTheBrowserTakesIt) {
    TestClient client(port());
    const auto page = client.request("GET", "/_sluice/index.html", {}, {{"Accept-Encoding", "gzip, br"}});
    EXPECT_EQ(page.status, 200u);
    EXPECT_EQ(page.header("Content-Encoding"), "gzip");
    ASSERT_GE(page.body.size(), 2u);
    EXPECT_EQ(static_cast<unsigned char>(page.body[0]), 0x1fu);  // gzip's magic bytes
    EXPECT_EQ(static_cast<unsigned char>(page.body[1]), 0x8bu);
    EXPECT_EQ(page.header("Vary"), "Accept-Encoding");
}

// A gzip copy that is not smaller (a small icon) is not embedded: that file is sent as it is.
TEST_F(WebSocketTest, OnlyGzipCopiesThatAreSmallerAreEmbeddedAndSent) {
    for (std::size_t i = 0; i < ui_asset_count; ++i) {
        const UiAsset& asset = ui_assets[i];
        EXPECT_TRUE(asset.gzip.empty() || asset.gzip.size() < asset.body.size()) << asset.path;
        if (!asset.gzip.empty()) continue;
        const auto file = TestClient(port()).request("GET", fmt::format("/_sluice/{}", asset.path), {},
                                                     {{"Accept-Encoding", "gzip"}});
        EXPECT_EQ(file.status, 200u) << asset.path;
        EXPECT_EQ(file.header("Content-Encoding"), "") << asset.path;
        EXPECT_EQ(file.body, asset.body) << asset.path;
    }
}

}  // namespace
}  // namespace sluice::test
