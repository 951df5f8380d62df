// Integration tests of the browser UI's WebSocket (/_sluice/ws): a Beast WebSocket client on
// loopback, sluice's Server, and the fake Ollama behind it.
#include "fake_ollama.hpp"
#include "test_client.hpp"

#include "sluice/server.hpp"
#include "sluice/ui_assets.hpp"

#include <gtest/gtest.h>
#include <unistd.h>
#include <simdjson.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <fmt/format.h>

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

// A frame from sluice, parsed.
struct Frame {
    std::string raw;
    std::string id;
    std::string line;  // the NDJSON line, as Ollama sent it ("" when not a line frame)
    bool done = false;
    bool cancelled = false;
    std::string error;
    std::string rewrite;  // the end frame's X-Sluice-Rewrite value
};

Frame parse_frame(std::string raw) {
    Frame frame;
    frame.raw = std::move(raw);
    simdjson::dom::parser parser;
    simdjson::dom::object object;
    if (parser.parse(frame.raw).get(object) != simdjson::SUCCESS) {
        ADD_FAILURE() << "frame is not a JSON object: " << frame.raw;
        return frame;
    }
    std::string_view text;
    if (object["id"].get(text) == simdjson::SUCCESS) frame.id = text;
    if (object["error"].get(text) == simdjson::SUCCESS) frame.error = text;
    if (object["rewrite"].get(text) == simdjson::SUCCESS) frame.rewrite = text;
    bool flag = false;
    if (object["done"].get(flag) == simdjson::SUCCESS) frame.done = flag;
    if (object["cancelled"].get(flag) == simdjson::SUCCESS) frame.cancelled = flag;
    simdjson::dom::element line;
    if (object["line"].get(line) == simdjson::SUCCESS) frame.line = simdjson::minify(line);
    return frame;
}

// A blocking WebSocket client whose reads give up after a timeout.
class WsClient {
public:
    WsClient(std::uint16_t port, std::string origin = {}) : ws_(io_) {
        beast::get_lowest_layer(ws_).connect({asio::ip::make_address("127.0.0.1"), port});
        if (!origin.empty()) {
            ws_.set_option(websocket::stream_base::decorator(
                [origin](websocket::request_type& request) { request.set(http::field::origin, origin); }));
        }
        ws_.handshake(response_, fmt::format("127.0.0.1:{}", port), "/_sluice/ws", handshake_error_);
        ws_.text(true);
    }

    bool open() const { return !handshake_error_; }
    unsigned handshake_status() const { return response_.result_int(); }

    void send(std::string_view text) { ws_.write(asio::buffer(text)); }
    void chat(std::string_view id) {
        send(fmt::format(R"({{"id":"{}","chat":{{"model":"qwen3:14b","messages":[{{"role":"user","content":"hi"}}]}}}})", id));
    }
    void cancel(std::string_view id) { send(fmt::format(R"({{"id":"{}","cancel":true}})", id)); }

    std::optional<Frame> read(std::chrono::milliseconds timeout = 10s) {
        beast::flat_buffer buffer;
        boost::system::error_code result = asio::error::timed_out;
        bool finished = false;
        ws_.async_read(buffer, [&](boost::system::error_code ec, std::size_t) {
            result = ec;
            finished = true;
        });
        io_.restart();
        io_.run_for(timeout);
        if (!finished) {
            beast::get_lowest_layer(ws_).close();
            io_.restart();
            io_.run();
            return std::nullopt;
        }
        if (result) return std::nullopt;
        return parse_frame(beast::buffers_to_string(buffer.data()));
    }

    // Reads frames until chat `id` ends; returns every frame read, of all chats.
    std::vector<Frame> read_until_end_of(std::string_view id) {
        std::vector<Frame> frames;
        while (auto frame = read()) {
            frames.push_back(*frame);
            if (frame->id == id && (frame->done || !frame->error.empty())) return frames;
        }
        ADD_FAILURE() << "chat " << id << " did not end";
        return frames;
    }

    void drop() { beast::get_lowest_layer(ws_).close(); }

private:
    asio::io_context io_;
    websocket::stream<asio::ip::tcp::socket> ws_;
    websocket::response_type response_;
    boost::system::error_code handshake_error_;
};

class WebSocketTest : public ::testing::Test {
protected:
    void SetUp() override { start(Config{}); }
    // Replaces the server with one configured as `config` (listening on a new port).
    void start(Config config) {
        server.reset();
        config.listen = {"127.0.0.1", 0};
        config.upstream = parse_upstream_url(ollama.url());
        config.log.access = false;
        server = std::make_unique<Server>(config);
        server->start();
    }
    std::uint16_t port() const { return server->port(); }

    FakeOllama ollama;
    std::unique_ptr<Server> server;
};

std::size_t count_lines(const std::vector<Frame>& frames, std::string_view id) {
    return static_cast<std::size_t>(
        std::count_if(frames.begin(), frames.end(), [id](const Frame& f) { return f.id == id && !f.line.empty(); }));
}

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
    std::optional<Frame> frame;
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
    const auto ollama_port = ollama.port();
    server.reset();
    Config config;
    config.listen = {"127.0.0.1", 0};
    config.upstream = parse_upstream_url(fmt::format("http://127.0.0.1:{}", ollama_port == 1 ? 2 : 1));
    config.log.access = false;
    server = std::make_unique<Server>(config);
    server->start();
    WsClient client(port());
    client.chat("x");
    const auto frame = client.read();
    ASSERT_TRUE(frame);
    EXPECT_EQ(frame->id, "x");
    EXPECT_NE(frame->error.find("cannot reach ollama"), std::string::npos) << frame->raw;
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

    // Every file the page names is served from under /_sluice/, and immutable ones say so.
    for (const auto* asset = ui_assets; asset != ui_assets + ui_asset_count; ++asset) {
        if (asset->path == "index.html") continue;
        const auto file = client.request("GET", fmt::format("/_sluice/{}", asset->path));
        EXPECT_EQ(file.status, 200u) << asset->path;
        EXPECT_EQ(file.body, asset->body) << asset->path;
        EXPECT_EQ(file.header("Content-Type"), ui_content_type(asset->path));
        if (asset->path.starts_with("assets/")) {
            EXPECT_NE(page.body.find(fmt::format("/_sluice/{}", asset->path)), std::string::npos) << asset->path;
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

}  // namespace
}  // namespace sluice::test
