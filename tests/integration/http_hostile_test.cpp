// Hostile input on the HTTP front end, through real sockets: each class of input a client or a
// misbehaving Ollama can send, with the answer sluice gives, and sluice still serving afterwards.
// Classes: oversize header fields (both directions), targets that could route twice (percent-
// encoding, dot segments, absolute-form, CONNECT, OPTIONS *), Host missing or doubled, request
// framing (Transfer-Encoding not ending in chunked, malformed chunks), key limits walked around
// (encoded paths, duplicate and case-variant JSON members, routes that name models elsewhere),
// and ui.dir entries that are not files.
#include "long_header_upstream.hpp"
#include "sluice_under_test.hpp"

#include "sluice/access_control.hpp"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <fmt/format.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

namespace sluice::test {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view chat_key = "sk-sluice-chat-0123456789abcdef";
constexpr std::string_view admin_key = "sk-sluice-admin-0123456789abcdef";

class HttpHostileTest : public SluiceUnderTest {
protected:
    void start_with_keys() {
        start_yaml(fmt::format(R"(
auth:
  keys:
    - name: chat
      hash: "{}"
      routes: chat
      models: ["qwen3:*"]
    - name: admin
      hash: "{}"
      models: ["qwen3:*"]
)",
                          hash_api_key(chat_key), hash_api_key(admin_key)));
    }
    // One raw request on a fresh connection; the response sluice gives.
    Response raw(std::string_view bytes) {
        TestClient client(server->port());
        client.send_raw(bytes);
        return client.read_response();
    }
    Response post(std::string_view target, std::string_view body, std::string_view key) {
        return request("POST", target, body, {{"Authorization", fmt::format("Bearer {}", key)}});
    }
    // sluice answers a plain request afterwards: nothing above took the process down.
    void expect_still_serving() {
        TestClient client(server->port());
        EXPECT_EQ(client.request("GET", "/healthz").status, 200u);
    }
};

TEST_F(HttpHostileTest, AnOversizeHeaderFieldFromOllamaIs502NotACrash) {
    LongHeaderUpstream upstream(70'000);  // more than Beast stores in one field
    start({}, upstream.url());
    for (int i = 0; i < 3; ++i) {
        TestClient client(server->port());
        const auto response = client.request("GET", "/api/%C3%A9");
        EXPECT_EQ(response.status, 502u);
        EXPECT_NE(response.body.find("sluice: ollama at"), std::string::npos) << response.body;
    }
    expect_still_serving();
}

TEST_F(HttpHostileTest, OversizeClientHeadersAre431AndLimitsStayWithinWhatBeastStores) {
    start();
    TestClient client(server->port());
    const auto response = client.request("GET", "/api/tags", {}, {{"X-Big", std::string(70'000, 'b')}});
    EXPECT_EQ(response.status, 431u);
    // A field just under the limit is forwarded, whole.
    TestClient second(server->port());
    EXPECT_EQ(second.request("GET", "/api/tags", {}, {{"X-Big", std::string(60'000, 'b')}}).status, 200u);
    EXPECT_EQ(ollama.last_request().header("X-Big").size(), 60'000u);
    EXPECT_THROW(parse_config("limits:\n  max_header_bytes: 1MiB\n", "sluice.yaml"), ConfigError);
    expect_still_serving();
}

TEST_F(HttpHostileTest, TargetsThatCouldRouteTwiceAreRefusedWith400) {
    start();
    for (const auto* target : {"/api/blobs%2fsha256:00", "/v1/%2e%2e/api/pull", "/api/./pull", "/api/%zz",
                               "http://127.0.0.1/api/pull", "*"}) {
        const auto response = raw(fmt::format("GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", target));
        EXPECT_EQ(response.status, 400u) << target;
        EXPECT_TRUE(response.body.starts_with(R"({"error":"sluice: )")) << response.body;
    }
    EXPECT_EQ(raw("CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n").status, 405u);
    EXPECT_EQ(raw("GET /api/tags HTTP/1.1\r\n\r\n").status, 400u);
    EXPECT_EQ(raw("GET /api/tags HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n\r\n").status, 400u);
    EXPECT_TRUE(ollama.requests().empty()) << "nothing refused may reach Ollama";
    // The decoded form is what Ollama gets: it routes on the decoded path too.
    EXPECT_EQ(raw("GET /api/%74ags HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").status, 200u);
    EXPECT_EQ(ollama.last_request().target, "/api/tags");
    expect_still_serving();
}

TEST_F(HttpHostileTest, AChatKeyCannotReachOtherRoutesThroughAnyEncoding) {
    start_with_keys();
    const auto auth = fmt::format("Authorization: Bearer {}\r\n", chat_key);
    for (const auto* target : {"/api/%70ull", "/api/%64elete", "/api/signout", "/api/me", "/api/user/keys/x",
                               "/%61pi/pull"}) {
        const auto response = raw(fmt::format("POST {} HTTP/1.1\r\nHost: 127.0.0.1\r\n{}Content-Length: 2\r\n\r\n{{}}",
                                              target, auth));
        EXPECT_EQ(response.status, 403u) << target << ' ' << response.body;
    }
    EXPECT_EQ(raw(fmt::format("POST http://127.0.0.1/api/pull HTTP/1.1\r\nHost: 127.0.0.1\r\n{}Content-Length: 2\r\n\r\n{{}}",
                              auth))
                  .status,
              400u);
    EXPECT_TRUE(ollama.requests().empty());
}

TEST_F(HttpHostileTest, AKeysModelsHoldForEveryRouteAndSpelling) {
    start_with_keys();
    const std::pair<std::string_view, std::string_view> refused[] = {
        {"/api/chat", R"({"model":"qwen3:14b","MODEL":"llama3:70b","messages":[]})"},
        {"/api/chat", R"({"model":"qwen3:14b","model":"llama3:70b","messages":[]})"},
        {"/v1/embeddings", R"({"model":"llama3:70b","input":"x"})"},
        {"/api/%63hat", R"({"model":"llama3:70b","messages":[]})"},
        {"/api/copy", R"({"source":"llama3:70b","destination":"qwen3:mine"})"},
        {"/api/copy", R"({"source":"qwen3:14b","destination":"llama3:70b"})"},
        {"/api/create", R"({"model":"qwen3:mine","from":"llama3:70b"})"},
        {"/api/pull", R"({"name":"llama3:70b"})"},
    };
    for (const auto& [target, body] : refused) {
        const auto response = post(target, body, admin_key);
        EXPECT_EQ(response.status, 403u) << target << ' ' << body << ' ' << response.body;
    }
    TestClient client(server->port());
    EXPECT_EQ(client.request("DELETE", "/api/delete", R"({"model":"llama3:70b"})",
                             {{"Authorization", fmt::format("Bearer {}", admin_key)}})
                  .status,
              403u);
    EXPECT_TRUE(ollama.requests().empty());
    EXPECT_EQ(post("/api/copy", R"({"source":"qwen3:14b","destination":"qwen3:mine"})", admin_key).status, 200u);
    EXPECT_EQ(ollama.last_request().body, R"({"source":"qwen3:14b","destination":"qwen3:mine"})");
}

TEST_F(HttpHostileTest, ATransferEncodingNotEndingInChunkedIs400AndTheBodyIsNeverARequest) {
    start();
    const std::string smuggled = "GET /api/ps HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    for (const auto* coding : {"gzip", "chunked, identity", "identity"}) {
        TestClient client(server->port());
        client.send_raw(fmt::format("POST /api/show HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: {}\r\n\r\n{}",
                                    coding, smuggled));
        const auto response = client.read_response();
        EXPECT_EQ(response.status, 400u) << coding;
        EXPECT_TRUE(client.wait_closed(2s)) << coding;
    }
    TestClient folded(server->port());
    folded.send_raw("POST /api/show HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: gzip\r\n ,chunked\r\n\r\n" + smuggled);
    EXPECT_GE(folded.read_response().status, 400u);
    EXPECT_TRUE(ollama.requests().empty()) << "the body was taken for a request: " << ollama.last_request().target;
}

TEST_F(HttpHostileTest, AMalformedChunkedBodyIs400) {
    start();
    for (const auto* target : {"/api/chat", "/api/blobs/sha256:00"}) {  // read whole, and streamed
        TestClient client(server->port());
        client.send_raw(fmt::format("POST {} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    "zz\r\nnot a chunk\r\n0\r\n\r\n",
                                    target));
        const auto response = client.read_response();
        EXPECT_EQ(response.status, 400u) << target;
        EXPECT_NE(response.body.find("malformed request body"), std::string::npos) << response.body;
        EXPECT_TRUE(client.wait_closed(2s));
    }
    expect_still_serving();
}

TEST_F(HttpHostileTest, UiDirEntriesThatAreNotFilesAre404) {
    const auto dir = std::filesystem::temp_directory_path() / fmt::format("sluice-hostile-ui-{}", ::getpid());
    std::filesystem::create_directories(dir / "assets");
    std::ofstream(dir / "index.html") << "<title>dev</title>";
    ASSERT_EQ(::mkfifo((dir / "fifo").c_str(), 0600), 0);
    start_yaml(fmt::format("ui:\n  dir: {}\n", dir.string()));
    TestClient client(server->port());
    EXPECT_EQ(client.request("GET", "/_sluice/assets").status, 404u);   // a directory
    EXPECT_EQ(client.request("GET", "/_sluice/assets/").status, 404u);
    EXPECT_EQ(client.request("GET", "/_sluice/fifo").status, 404u);     // would block a read
    EXPECT_EQ(client.request("GET", "/_sluice/index.html").body, "<title>dev</title>");
    std::filesystem::remove_all(dir);
    expect_still_serving();
}

}  // namespace
}  // namespace sluice::test
