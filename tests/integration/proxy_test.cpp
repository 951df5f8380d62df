// Integration tests of the proxy: real sockets on loopback, sluice's Server between a test
// client and the fake Ollama, asserting what an Ollama client would see and what Ollama received.
#include "sluice_under_test.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <boost/asio.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <thread>

namespace sluice::test {
namespace {

using namespace std::chrono_literals;

// sluice running on its own threads in front of a fake Ollama.
class ProxyTest : public SluiceUnderTest {
protected:
    void SetUp() override { start(); }
};

std::vector<std::string> lines_of(const std::string& body) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (start < body.size()) {
        const auto end = body.find('\n', start);
        if (end == std::string::npos) {
            lines.push_back(body.substr(start));
            break;
        }
        lines.push_back(body.substr(start, end - start));
        start = end + 1;
    }
    return lines;
}

bool is_json_object(const std::string& text) {
    simdjson::dom::parser parser;
    simdjson::dom::element element;
    return parser.parse(text).get(element) == simdjson::SUCCESS && element.is_object();
}

// How many upstream connections carried the requests Ollama recorded (sluice's own readiness
// probe is not recorded, and may open its connection at any moment, so accepts are not counted).
std::size_t connections_carrying_requests(const FakeOllama& ollama) {
    std::set<std::uint64_t> ids;
    for (const auto& request : ollama.requests()) ids.insert(request.connection_id);
    return ids.size();
}

std::size_t resident_kib(std::string_view field) {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.starts_with(field)) return std::stoul(line.substr(field.size() + 1));
    }
    return 0;
}

// --- every route passes through ------------------------------------------------------------

TEST_F(ProxyTest, RootAnswersAsOllamaDoes) {
    TestClient client(port());
    const auto response = client.request("GET", "/");
    EXPECT_EQ(response.status, 200u);
    EXPECT_EQ(response.body, "Ollama is running");
    EXPECT_EQ(response.header("Content-Type"), "text/plain; charset=utf-8");
}

TEST_F(ProxyTest, HeadKeepsContentLengthAndSendsNoBody) {
    TestClient client(port());
    client.send_raw("HEAD / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    const auto head = client.read_response(true);
    EXPECT_EQ(head.status, 200u);
    EXPECT_EQ(head.header("Content-Length"), "17");
    EXPECT_TRUE(head.body.empty());
    // The connection is still in step: the next request gets its own answer.
    EXPECT_EQ(client.request("GET", "/api/version").body, R"({"version":"0.12.6"})");
}

TEST_F(ProxyTest, NonStreamingJsonRoutesPassThrough) {
    TestClient client(port());
    const auto tags = client.request("GET", "/api/tags");
    EXPECT_EQ(tags.status, 200u);
    EXPECT_TRUE(is_json_object(tags.body));
    EXPECT_NE(tags.body.find("qwen3:14b"), std::string::npos);
    const auto show = client.request("POST", "/api/show", R"({"model":"qwen3:14b"})");
    EXPECT_EQ(show.status, 200u);
    EXPECT_NE(show.body.find("qwen3.block_count"), std::string::npos);
    const auto ps = client.request("GET", "/api/ps");
    EXPECT_EQ(ps.status, 200u);
    const auto embed = client.request("POST", "/api/embed", R"({"model":"qwen3:14b","input":"hi"})");
    EXPECT_EQ(embed.status, 200u);
    EXPECT_NE(embed.body.find("embeddings"), std::string::npos);
    const auto removed = client.request("DELETE", "/api/delete", R"({"model":"qwen3:14b"})");
    EXPECT_EQ(removed.status, 200u);
    EXPECT_EQ(ollama.last_request().method, "DELETE");
}

TEST_F(ProxyTest, UnknownPathsAndQueryStringsReachOllama) {
    TestClient client(port());
    const auto response = client.request("GET", "/api/not-yet-invented?verbose=1&x=%20y");
    EXPECT_EQ(response.status, 404u);
    EXPECT_EQ(response.body, "404 page not found");
    EXPECT_EQ(ollama.last_request().target, "/api/not-yet-invented?verbose=1&x=%20y");
}

TEST_F(ProxyTest, HeadersAreRewrittenForOllamaAndEndToEndOnesKept) {
    TestClient client(port());
    const auto response = client.request("POST", "/api/show", R"({"model":"qwen3:14b"})",
                                         {{"Host", "gpu-box.local:8434"},
                                          {"Authorization", "Bearer secret"},
                                          {"X-Custom", "kept"},
                                          {"Connection", "keep-alive, X-Hop"},
                                          {"X-Hop", "dropped"},
                                          {"Keep-Alive", "timeout=5"}});
    // Ollama's host check would answer 403 had the client's Host reached it.
    EXPECT_EQ(response.status, 200u);
    const auto seen = ollama.last_request();
    EXPECT_EQ(seen.header("Host"), fmt::format("127.0.0.1:{}", ollama.port()));
    EXPECT_EQ(seen.header("Authorization"), "Bearer secret");
    EXPECT_EQ(seen.header("X-Custom"), "kept");
    EXPECT_EQ(seen.header("X-Forwarded-For"), "127.0.0.1");
    EXPECT_EQ(seen.header("X-Forwarded-Proto"), "http");
    EXPECT_FALSE(seen.has_header("X-Hop"));
    EXPECT_FALSE(seen.has_header("Keep-Alive"));
}

TEST_F(ProxyTest, SameOriginBrowserRequestIsNotRefusedByOllama) {
    TestClient client(port());
    const auto response = client.request("POST", "/api/show", R"({"model":"qwen3:14b"})",
                                         {{"Host", "gpu-box.local:8434"}, {"Origin", "http://gpu-box.local:8434"}});
    EXPECT_EQ(response.status, 200u);
    EXPECT_FALSE(ollama.last_request().has_header("Origin"));
}

// DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1 reaches sluice with
// its own name in Host. Ollama refuses such a Host on loopback, but it sees only the Host sluice
// sends, so sluice refuses it itself.
TEST_F(ProxyTest, ForeignHostIsRefusedOnLoopback) {
    TestClient client(port());
    client.send_raw("GET /api/tags HTTP/1.1\r\nHost: evil.example:8434\r\n\r\n");
    const auto refused = client.read_response();
    EXPECT_EQ(refused.status, 403u);
    EXPECT_NE(refused.body.find("sluice: Host evil.example:8434 is not this machine"), std::string::npos) << refused.body;
    EXPECT_TRUE(ollama.requests().empty());
    TestClient local(port());
    EXPECT_EQ(local.request("GET", "/api/tags", {}, {{"Host", "localhost:11434"}}).status, 200u);
}

// Without any auth configured too: a page of another site is refused by sluice (cors), and
// Ollama never sees the request.
TEST_F(ProxyTest, ForeignOriginIsRefusedBySluice) {
    TestClient client(port());
    const auto response = client.request("POST", "/api/show", R"({"model":"qwen3:14b"})",
                                         {{"Origin", "http://evil.example"}});
    EXPECT_EQ(response.status, 403u);
    EXPECT_NE(response.body.find("sluice: requests from origin http://evil.example are refused"), std::string::npos);
    EXPECT_TRUE(ollama.requests().empty());
}

TEST_F(ProxyTest, RequestBodyReachesOllamaByteForByte) {
    // Odd spacing, escapes and key order must survive: sluice never re-encodes JSON.
    const std::string body = "{ \"model\" : \"qwen3:14b\",\"messages\":[{\"role\":\"user\",\"content\":\"caf\\u00e9 \xe4\xbd\xa0\"}],"
                             "\"options\":{\"temperature\":1.50}, \"stream\":false }";
    TestClient client(port());
    const auto response = client.request("POST", "/api/chat", body);
    EXPECT_EQ(response.status, 200u);
    EXPECT_EQ(ollama.last_request().body, body);
    EXPECT_EQ(response.header("Content-Type"), "application/json; charset=utf-8");
}

TEST_F(ProxyTest, ChunkedRequestBodyIsForwarded) {
    TestClient client(port());
    client.send_raw("POST /api/chat HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "f\r\n{\"model\":\"qwen3\r\n"
                    "f\r\n:14b\",\"stream\":\r\n"
                    "6\r\nfalse}\r\n0\r\n\r\n");
    const auto response = client.read_response();
    EXPECT_EQ(response.status, 200u);
    EXPECT_EQ(ollama.last_request().body, R"({"model":"qwen3:14b","stream":false})");
}

// --- streaming ----------------------------------------------------------------------------

TEST_F(ProxyTest, ChatLinesArriveAsTheyAreGeneratedNotInOneBurst) {
    ollama.set_knobs({.token_interval = 40ms, .tokens = 8});
    TestClient client(port());
    const std::string body = R"({"model":"qwen3:14b","messages":[{"role":"user","content":"h"}]})";
    client.send_raw(fmt::format("POST /api/chat HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n{}", body.size(), body));
    const auto response = client.read_response();
    ASSERT_EQ(response.status, 200u);
    EXPECT_EQ(response.header("Content-Type"), "application/x-ndjson");
    EXPECT_TRUE(response.chunked);
    const auto lines = lines_of(response.body);
    ASSERT_EQ(lines.size(), 9u);  // 8 tokens and the final done line
    for (const auto& line : lines) EXPECT_TRUE(is_json_object(line)) << line;
    EXPECT_NE(lines.back().find("\"done\":true"), std::string::npos);
    // Each line is relayed on its own, as it comes: many pieces, spread over the generation.
    ASSERT_GE(response.pieces.size(), 8u);
    EXPECT_GE(response.pieces.back().at - response.pieces.front().at, 200ms);
}

TEST_F(ProxyTest, GenerateStreamsResponsePieces) {
    ollama.set_knobs({.token_interval = 1ms, .tokens = 5});
    TestClient client(port());
    const auto response = client.request("POST", "/api/generate", R"({"model":"qwen3:14b","prompt":"hi"})");
    ASSERT_EQ(response.status, 200u);
    const auto lines = lines_of(response.body);
    ASSERT_EQ(lines.size(), 6u);
    EXPECT_NE(lines.front().find("\"response\""), std::string::npos);
    EXPECT_NE(lines.back().find("\"context\""), std::string::npos);
}

TEST_F(ProxyTest, OpenAiStreamIsServerSentEventsEndingWithDone) {
    ollama.set_knobs({.token_interval = 1ms, .tokens = 4});
    TestClient client(port());
    const auto response = client.request("POST", "/v1/chat/completions",
                                         R"({"model":"qwen3:14b","stream":true,"messages":[{"role":"user","content":"h"}]})");
    ASSERT_EQ(response.status, 200u);
    EXPECT_EQ(response.header("Content-Type"), "text/event-stream");
    EXPECT_TRUE(response.body.starts_with("data: {"));
    EXPECT_TRUE(response.body.ends_with("data: [DONE]\n\n"));
}

TEST_F(ProxyTest, PullProgressStreams) {
    ollama.set_knobs({.token_interval = 20ms});
    TestClient client(port());
    const auto response = client.request("POST", "/api/pull", R"({"model":"qwen3:14b"})");
    ASSERT_EQ(response.status, 200u);
    EXPECT_GE(response.pieces.size(), 3u);
    EXPECT_NE(response.body.find(R"({"status":"success"})"), std::string::npos);
}

TEST_F(ProxyTest, HugeLineIsRelayedWhole) {
    ollama.set_knobs({.tokens = 1, .mode = StreamMode::huge_line, .huge_line_bytes = 4 << 20});
    TestClient client(port());
    const auto response = client.request("POST", "/api/chat", R"({"model":"qwen3:14b"})");
    ASSERT_EQ(response.status, 200u);
    const auto lines = lines_of(response.body);
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_GT(lines.front().size(), 4u << 20);
    EXPECT_TRUE(is_json_object(lines.front()));
}

// --- Ollama's errors pass through unchanged --------------------------------------------------

TEST_F(ProxyTest, OllamaErrorsBeforeTheStreamPassThrough) {
    TestClient client(port());
    const auto missing = client.request("POST", "/api/chat", R"({"model":"missing"})");
    EXPECT_EQ(missing.status, 404u);
    EXPECT_EQ(missing.body, R"({"error":"model 'missing' not found"})");
    const auto bad = client.request("POST", "/api/chat", "{nope");
    EXPECT_EQ(bad.status, 400u);
    EXPECT_TRUE(bad.body.starts_with(R"({"error":"invalid character)")) << bad.body;
}

TEST_F(ProxyTest, ErrorLineInsideAStreamPassesThrough) {
    ollama.set_knobs({.token_interval = 1ms, .mode = StreamMode::error_midstream, .fail_after = 2});
    TestClient client(port());
    const auto response = client.request("POST", "/api/chat", R"({"model":"qwen3:14b"})");
    EXPECT_EQ(response.status, 200u);
    const auto lines = lines_of(response.body);
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_TRUE(lines.back().starts_with(R"({"error":)"));
}

TEST_F(ProxyTest, OllamaClosingMidStreamEndsTheClientStreamUnfinished) {
    ollama.set_knobs({.token_interval = 1ms, .mode = StreamMode::abrupt_close, .fail_after = 2});
    TestClient client(port());
    client.send_raw("POST /api/chat HTTP/1.1\r\nHost: localhost\r\nContent-Length: 21\r\n\r\n{\"model\":\"qwen3:14b\"}");
    const auto header = client.read_header();
    EXPECT_EQ(header.status, 200u);
    std::string body;
    EXPECT_THROW(
        {
            for (auto piece = client.read_body_piece(); !piece.empty(); piece = client.read_body_piece()) body += piece;
        },
        std::exception);
    EXPECT_EQ(lines_of(body).size(), 2u);
}

// --- cancellation ---------------------------------------------------------------------------

TEST_F(ProxyTest, ClientDisconnectMidStreamClosesTheUpstreamRequest) {
    ollama.set_knobs({.token_interval = 100ms, .tokens = 1000});
    TestClient client(port());
    client.send_raw("POST /api/chat HTTP/1.1\r\nHost: localhost\r\nContent-Length: 21\r\n\r\n{\"model\":\"qwen3:14b\"}");
    EXPECT_EQ(client.read_header().status, 200u);
    client.close();
    EXPECT_TRUE(ollama.wait_streams_cancelled(1, 2s));
}

TEST_F(ProxyTest, ClientDisconnectWhileTheModelLoadsClosesTheUpstreamRequest) {
    ollama.set_knobs({.first_byte_delay = 10s});
    TestClient client(port());
    client.send_raw("POST /api/chat HTTP/1.1\r\nHost: localhost\r\nContent-Length: 21\r\n\r\n{\"model\":\"qwen3:14b\"}");
    std::this_thread::sleep_for(100ms);
    client.close();
    EXPECT_TRUE(ollama.wait_streams_cancelled(1, 2s));
}

TEST_F(ProxyTest, CancelledUpstreamConnectionIsNotReused) {
    ollama.set_knobs({.token_interval = 100ms, .tokens = 1000});
    {
        TestClient client(port());
        client.send_raw("POST /api/chat HTTP/1.1\r\nHost: localhost\r\nContent-Length: 21\r\n\r\n{\"model\":\"qwen3:14b\"}");
        EXPECT_EQ(client.read_header().status, 200u);
        client.close();
        ASSERT_TRUE(ollama.wait_streams_cancelled(1, 2s));
    }
    ollama.set_knobs({});
    TestClient client(port());
    EXPECT_EQ(client.request("GET", "/api/version").status, 200u);
    EXPECT_EQ(connections_carrying_requests(ollama), 2u);
}

// A client that stops reading makes sluice stop reading from Ollama: what is in flight is
// bounded by socket buffers and the relay's fixed buffer, not by the length of the reply.
TEST_F(ProxyTest, SlowClientPushesBackOnOllamaAndLosesNothing) {
    constexpr int tokens = 400000;  // about 53 MB of NDJSON; the kernel's socket buffers hold ~8 MB of it
    ollama.set_knobs({.token_interval = 0us, .tokens = tokens});
    TestClient client(port());
    client.send_raw("POST /api/chat HTTP/1.1\r\nHost: localhost\r\nContent-Length: 21\r\n\r\n{\"model\":\"qwen3:14b\"}");
    const auto stalled_at = ollama.wait_production_stalled(30s);
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(ollama.lines_sent(), stalled_at) << "Ollama kept producing for a client that reads nothing";
    EXPECT_LT(stalled_at, static_cast<std::size_t>(tokens) / 2);

    EXPECT_EQ(client.read_header().status, 200u);
    std::size_t lines = 0;
    for (auto piece = client.read_body_piece(); !piece.empty(); piece = client.read_body_piece()) {
        lines += static_cast<std::size_t>(std::count(piece.begin(), piece.end(), '\n'));
    }
    EXPECT_EQ(lines, static_cast<std::size_t>(tokens) + 1);
}

// --- request bodies stream ----------------------------------------------------------------

constexpr std::string_view new_digest = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

TEST_F(ProxyTest, LargeBlobUploadStreamsThroughWithBoundedMemory) {
    constexpr std::size_t size = 256u << 20;
    std::ofstream("/proc/self/clear_refs") << "5";  // restarts VmHWM from the current RSS
    const auto before_kib = resident_kib("VmRSS");
    TestClient client(port());
    client.send_raw(fmt::format("POST /api/blobs/{} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n", new_digest, size));
    const std::string piece(1 << 20, 'g');
    for (std::size_t sent = 0; sent < size; sent += piece.size()) client.send_raw(piece);
    const auto response = client.read_response(false, 60s);
    EXPECT_EQ(response.status, 201u);
    EXPECT_EQ(ollama.last_request().body_bytes, size);
    // Neither sluice nor the fake may hold the body: the whole process grew far less than it.
    EXPECT_LT(resident_kib("VmHWM") - before_kib, 64u * 1024) << "peak RSS grew by more than 64 MiB";

    client.send_raw(fmt::format("HEAD /api/blobs/{} HTTP/1.1\r\nHost: localhost\r\n\r\n", new_digest));
    EXPECT_EQ(client.read_response(true).status, 200u);
}

TEST_F(ProxyTest, ExpectContinueIsAnsweredByOllamaThroughSluice) {
    TestClient client(port());
    client.send_raw(fmt::format("POST /api/blobs/{} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
                                new_digest));
    const auto interim = client.read_header();
    EXPECT_EQ(interim.status, 100u);
    client.send_raw("hello");
    EXPECT_EQ(client.read_response().status, 201u);
    EXPECT_EQ(ollama.last_request().body_bytes, 5u);
}

// RFC 9110 10.1.1: a client may send the body without waiting for 100 Continue, and a server
// may read it without sending one; sluice forwards the body as it comes either way.
TEST_F(ProxyTest, ExpectContinueBodySentWithoutWaitingGoesUp) {
    auto knobs = ollama.knobs();
    knobs.send_continue = false;
    ollama.set_knobs(knobs);
    TestClient client(port());
    client.send_raw(fmt::format("POST /api/blobs/{} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello",
                                new_digest));
    EXPECT_EQ(client.read_response(false, 5s).status, 201u);
    EXPECT_EQ(ollama.last_request().body_bytes, 5u);
}

TEST_F(ProxyTest, ExistingBlobIsAnsweredWithoutItsBody) {
    const std::string existing = "sha256:" + std::string(64, '0');
    TestClient client(port());
    client.send_raw(fmt::format("POST /api/blobs/{} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000000\r\nExpect: 100-continue\r\n\r\n",
                                existing));
    const auto response = client.read_response();
    EXPECT_EQ(response.status, 200u);
    EXPECT_FALSE(response.keep_alive);  // the unsent body cannot be told from a next request
}

TEST_F(ProxyTest, ReadBodyOverTheLimitIs413) {
    Config config;
    config.limits.max_body_bytes = 1024;
    start(config);
    TestClient client(port());
    const auto response = client.request("POST", "/api/chat", std::string(2048, ' '));
    EXPECT_EQ(response.status, 413u);
    EXPECT_EQ(response.header("Content-Type"), "application/json; charset=utf-8");
    EXPECT_TRUE(response.body.starts_with(R"({"error":"sluice: request body)")) << response.body;
    EXPECT_TRUE(ollama.requests().empty());
}

// --- upstream problems ----------------------------------------------------------------------

TEST_F(ProxyTest, OllamaDownIs502WithJsonError) {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor probe(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    const auto closed_port = probe.local_endpoint().port();
    probe.close();  // nothing listens there now
    start({}, fmt::format("http://127.0.0.1:{}", closed_port));
    TestClient client(port());
    const auto response = client.request("GET", "/api/tags");
    EXPECT_EQ(response.status, 502u);
    EXPECT_EQ(response.header("Content-Type"), "application/json; charset=utf-8");
    EXPECT_EQ(response.body, fmt::format(R"({{"error":"sluice: cannot reach ollama at http://127.0.0.1:{}: Connection refused"}})",
                                         closed_port));
    // The client connection stays usable.
    EXPECT_EQ(client.request("GET", "/").status, 502u);
}

TEST_F(ProxyTest, OllamaSilentPastTheHeaderTimeoutIs504) {
    Config config;
    config.timeouts.upstream_headers = 300ms;
    start(config);
    ollama.set_knobs({.first_byte_delay = 3s});
    TestClient client(port());
    const auto response = client.request("POST", "/api/chat", R"({"model":"qwen3:14b"})");
    EXPECT_EQ(response.status, 504u);
    EXPECT_NE(response.body.find("timeouts.upstream_headers"), std::string::npos);
}

TEST_F(ProxyTest, UpstreamConnectionsAreKeptAliveAndReused) {
    Config config;
    config.threads = 1;  // each event loop keeps its own pool
    start(config);
    for (int i = 0; i < 3; ++i) {
        TestClient client(port());
        EXPECT_EQ(client.request("POST", "/api/chat", R"({"model":"qwen3:14b","stream":false})").status, 200u);
        EXPECT_EQ(client.request("GET", "/api/tags").status, 200u);
    }
    EXPECT_EQ(connections_carrying_requests(ollama), 1u);
}

// --- client side hygiene -------------------------------------------------------------------

TEST_F(ProxyTest, PipelinedRequestsAreAnsweredInOrder) {
    TestClient client(port());
    client.send_raw("GET /api/version HTTP/1.1\r\nHost: localhost\r\n\r\n"
                    "POST /api/chat HTTP/1.1\r\nHost: localhost\r\nContent-Length: 36\r\n\r\n{\"model\":\"qwen3:14b\",\"stream\":false}"
                    "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    EXPECT_EQ(client.read_response().body, R"({"version":"0.12.6"})");
    EXPECT_NE(client.read_response().body.find("\"done\":true"), std::string::npos);
    EXPECT_EQ(client.read_response().body, "Ollama is running");
}

TEST_F(ProxyTest, MalformedRequestIs400AndTheConnectionCloses) {
    TestClient client(port());
    client.send_raw("GET / HTTP/1.1\r\nHost x\r\n\r\n");
    const auto response = client.read_response();
    EXPECT_EQ(response.status, 400u);
    EXPECT_TRUE(response.body.starts_with(R"({"error":"sluice: malformed request)")) << response.body;
    EXPECT_TRUE(client.wait_closed(2s));
    EXPECT_TRUE(ollama.requests().empty());
}

TEST_F(ProxyTest, OversizeHeaderIs431) {
    TestClient client(port());
    client.send_raw("GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: " + std::string(128 * 1024, 'a') + "\r\n\r\n");
    const auto response = client.read_response();
    EXPECT_EQ(response.status, 431u);
    EXPECT_TRUE(client.wait_closed(2s));
}

TEST_F(ProxyTest, SlowlorisHeaderIsCutOff) {
    Config config;
    config.timeouts.client_header = 300ms;
    start(config);
    TestClient client(port());
    client.send_raw("GET / HTTP/1.1\r\nHost: localhost\r\n");
    EXPECT_TRUE(client.wait_closed(2s));
}

TEST_F(ProxyTest, ConnectionsBeyondTheLimitGet503) {
    Config config;
    config.limits.max_connections = 2;
    start(config);
    TestClient first(port());
    TestClient second(port());
    EXPECT_EQ(first.request("GET", "/").status, 200u);
    EXPECT_EQ(second.request("GET", "/").status, 200u);
    TestClient third(port());
    const auto refused = third.read_response();
    EXPECT_EQ(refused.status, 503u);
    EXPECT_NE(refused.body.find("limits.max_connections"), std::string::npos);
}

TEST_F(ProxyTest, Http10ClientGetsTheStreamUntilClose) {
    ollama.set_knobs({.token_interval = 1ms, .tokens = 3});
    TestClient client(port());
    client.send_raw("POST /api/chat HTTP/1.0\r\nHost: localhost\r\nContent-Length: 21\r\n\r\n{\"model\":\"qwen3:14b\"}");
    const auto response = client.read_response();
    EXPECT_EQ(response.status, 200u);
    EXPECT_FALSE(response.chunked);
    EXPECT_EQ(lines_of(response.body).size(), 4u);
}

TEST_F(ProxyTest, SeveralEventLoopsServeConcurrentStreams) {
    Config config;
    config.threads = 2;
    start(config);
    ollama.set_knobs({.token_interval = 5ms, .tokens = 20});
    std::vector<std::thread> clients;
    std::atomic<int> complete{0};
    for (int i = 0; i < 8; ++i) {
        clients.emplace_back([&] {
            TestClient client(port());
            const auto response = client.request("POST", "/api/chat", R"({"model":"qwen3:14b"})");
            if (response.status == 200 && lines_of(response.body).size() == 21) ++complete;
        });
    }
    for (auto& t : clients) t.join();
    EXPECT_EQ(complete.load(), 8);
}

}  // namespace
}  // namespace sluice::test
