// Integration tests of access control through real sockets: API keys (401/403), a chat-only key,
// a key limited to some models, a key's requests a minute and streams at once (429), the browser page's login cookie (HTTP and WebSocket), CORS owned
// by sluice (preflight, foreign origins refused, Origin never forwarded), and a key changed by a
// reload while a stream runs.
#include "sluice_under_test.hpp"
#include "ws_client.hpp"

#include "sluice/access_control.hpp"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <string>
#include <thread>

namespace sluice::test {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view laptop_key = "sk-sluice-laptop-0123456789abcdef";
constexpr std::string_view phone_key = "sk-sluice-phone-0123456789abcdef";
constexpr std::string_view chat = R"({"model":"qwen3:14b","messages":[{"role":"user","content":"Hi"}]})";

class AccessTest : public SluiceUnderTest {
protected:
    // Two keys: laptop may do anything, phone may chat with qwen3 models; then `extra`.
    static std::string keys(std::string_view extra = {}) {
        return fmt::format(R"(
auth:
  keys:
    - name: laptop
      hash: "{}"
    - name: phone
      hash: "{}"
      routes: chat
      models: ["qwen3:*"]
{})",
                           hash_api_key(laptop_key), hash_api_key(phone_key), extra);
    }
    void start(std::string_view extra = {}) { start_yaml(keys(extra)); }
    static Headers bearer(std::string_view key) { return {{"Authorization", fmt::format("Bearer {}", key)}}; }
    std::string origin() const { return fmt::format("http://127.0.0.1:{}", server->port()); }
};

TEST_F(AccessTest, MissingOrWrongKeyIs401AndNothingReachesOllama) {
    start();
    const auto missing = request("GET", "/api/tags");
    EXPECT_EQ(missing.status, 401u);
    EXPECT_EQ(missing.header("WWW-Authenticate"), R"(Bearer realm="sluice")");
    EXPECT_EQ(missing.body, R"({"error":"sluice: an API key is required: send it as 'Authorization: Bearer <key>'"})");
    const auto wrong = request("POST", "/api/chat", chat, bearer("sk-sluice-not-a-key-at-all"));
    EXPECT_EQ(wrong.status, 401u);
    EXPECT_EQ(wrong.body, R"({"error":"sluice: invalid API key"})");
    EXPECT_EQ(request("GET", "/", {}, {}).status, 401u);  // "Ollama is running" is Ollama's too
    const auto requests = ollama.requests();
    EXPECT_TRUE(std::none_of(requests.begin(), requests.end(), [](const RecordedRequest& r) {
        return r.target == "/api/chat" || r.target == "/";
    }));
}

TEST_F(AccessTest, RightKeyIsServedAndNotForwarded) {
    start();
    const auto response = request("POST", "/api/chat", chat, {{"Authorization", fmt::format("Bearer {}", laptop_key)},
                                                              {"Cookie", "theme=dark"}});
    EXPECT_EQ(response.status, 200u);
    EXPECT_NE(response.body.find(R"("done":true)"), std::string::npos);
    EXPECT_FALSE(ollama.last_request().has_header("Authorization"));
    EXPECT_FALSE(ollama.last_request().has_header("Cookie"));
    // As OpenAI's SDKs send it.
    const auto openai = request("POST", "/v1/chat/completions",
                                R"({"model":"qwen3:14b","messages":[{"role":"user","content":"Hi"}]})", bearer(laptop_key));
    EXPECT_EQ(openai.status, 200u);
    // sluice's own endpoints stay public: probes carry no keys.
    EXPECT_EQ(request("GET", "/healthz").status, 200u);
}

TEST_F(AccessTest, ChatOnlyKeyGets403OnModelManagement) {
    start();
    const auto pull = request("POST", "/api/pull", R"({"model":"qwen3:14b"})", bearer(phone_key));
    EXPECT_EQ(pull.status, 403u);
    EXPECT_EQ(pull.body, R"({"error":"sluice: key \"phone\" may not use /api/pull"})");
    EXPECT_EQ(request("DELETE", "/api/delete", R"({"model":"qwen3:14b"})", bearer(phone_key)).status, 403u);
    EXPECT_EQ(request("GET", "/api/tags", {}, bearer(phone_key)).status, 200u);
    EXPECT_EQ(request("POST", "/api/pull", R"({"model":"qwen3:14b","stream":false})", bearer(laptop_key)).status, 200u);
}

TEST_F(AccessTest, KeyLimitedToSomeModelsGets403ForOthers) {
    start();
    EXPECT_EQ(request("POST", "/api/chat", chat, bearer(phone_key)).status, 200u);
    const auto other = request("POST", "/api/generate", R"({"model":"llama3.2","prompt":"Hi"})", bearer(phone_key));
    EXPECT_EQ(other.status, 403u);
    EXPECT_EQ(other.body, R"({"error":"sluice: key \"phone\" may not use model \"llama3.2\""})");
    EXPECT_EQ(request("POST", "/api/generate", R"({"model":"llama3.2","prompt":"Hi"})", bearer(laptop_key)).status, 200u);
}

// The phone key (models: qwen3:*) never sees nomic-embed-text in a list; the laptop key gets
// Ollama's bytes unchanged, as Ollama framed them.
TEST_F(AccessTest, ModelListsShowAKeyOnlyTheModelsItMayUse) {
    start();
    for (const std::string_view path : {"/api/tags", "/v1/models"}) {
        const auto all = request("GET", path, {}, bearer(laptop_key));
        ASSERT_EQ(all.status, 200u) << path;
        EXPECT_NE(all.body.find("nomic-embed-text"), std::string::npos) << path;
        const auto mine = request("GET", path, {}, bearer(phone_key));
        ASSERT_EQ(mine.status, 200u) << path;
        EXPECT_EQ(mine.body.find("nomic-embed-text"), std::string::npos) << path << ": " << mine.body;
        EXPECT_NE(mine.body.find("qwen3:14b-q8_0"), std::string::npos) << path;
        EXPECT_EQ(mine.header("Content-Length"), std::to_string(mine.body.size())) << path;
    }
    // Spelled with a percent-encoding, it is still the list (and filtered); an encoded '/' is refused.
    const auto encoded = request("GET", "/api/%74ags", {}, bearer(phone_key));
    EXPECT_EQ(encoded.status, 200u);
    EXPECT_EQ(encoded.body.find("nomic-embed-text"), std::string::npos) << encoded.body;
    EXPECT_EQ(request("GET", "/api%2Ftags", {}, bearer(phone_key)).status, 400u);
    auto compressed_please = bearer(phone_key);
    compressed_please.emplace_back("Accept-Encoding", "gzip");
    const auto running = request("GET", "/api/ps", {}, compressed_please);
    EXPECT_EQ(running.body, request("GET", "/api/ps", {}, bearer(laptop_key)).body);  // only qwen3 runs: byte for byte
    EXPECT_FALSE(ollama.last_request().has_header("Accept-Encoding"));  // a list sluice reads comes in plain JSON
}

// The page asks sluice what its key may do and what the rewriter will run for a model.
TEST_F(AccessTest, ThePageLearnsWhatItsKeyMayDoAndWhatWillRun) {
    start(R"(
rewrite:
  models:
    - {match: "qwen3:14b*", prefer: [-q8_0]}
)");
    const auto me = request("GET", "/_sluice/api/me", {}, bearer(phone_key));
    EXPECT_EQ(me.status, 200u);
    EXPECT_EQ(me.header("Content-Type"), "application/json; charset=utf-8");
    EXPECT_EQ(me.body, R"({"key":"phone","routes":{"/api/chat":true,"/api/tags":true,"/api/ps":true,)"
                       R"("/api/show":true,"/api/pull":false,"/api/delete":false},"doctor":false,"store":false})");
    EXPECT_EQ(request("GET", "/_sluice/api/me").status, 401u);
    // The catalog's first answer is awaited, as a proxied request awaits it.
    const auto plan = request("GET", "/_sluice/api/explain?model=qwen3%3A14b", {}, bearer(phone_key));
    EXPECT_EQ(plan.status, 200u);
    EXPECT_TRUE(plan.body.starts_with(R"({"model":"qwen3:14b-q8_0","changes":["model=qwen3:14b-q8_0"],)")) << plan.body;
    const auto refused = request("GET", "/_sluice/api/explain?model=nomic-embed-text", {}, bearer(phone_key));
    EXPECT_EQ(refused.status, 403u);
    EXPECT_EQ(refused.body, R"({"error":"sluice: key \"phone\" may not use model \"nomic-embed-text\""})");
    EXPECT_EQ(request("POST", "/_sluice/api/me", "{}", bearer(laptop_key)).status, 405u);
    EXPECT_EQ(request("GET", "/_sluice/api/none", {}, bearer(laptop_key)).status, 404u);
}

TEST_F(AccessTest, BrowserLoginSetsAStrictHttpOnlyCookieThatWorksUntilLogout) {
    start();
    EXPECT_EQ(request("POST", "/_sluice/login", {}, bearer("sk-sluice-wrong-0123456789")).status, 401u);
    const auto login = request("POST", "/_sluice/login", {}, bearer(phone_key));
    ASSERT_EQ(login.status, 200u) << login.body;
    EXPECT_EQ(login.body, R"({"key":"phone"})");
    const auto set_cookie = login.header("Set-Cookie");
    EXPECT_TRUE(set_cookie.starts_with("sluice_session=")) << set_cookie;
    EXPECT_NE(set_cookie.find("; HttpOnly"), std::string::npos) << set_cookie;
    EXPECT_NE(set_cookie.find("; SameSite=Strict"), std::string::npos) << set_cookie;
    EXPECT_NE(set_cookie.find("; Max-Age=43200"), std::string::npos) << set_cookie;
    const auto cookie = set_cookie.substr(0, set_cookie.find(';'));
    EXPECT_EQ(cookie.find(phone_key), std::string::npos);

    EXPECT_EQ(request("GET", "/api/tags", {}, {{"Cookie", cookie}}).status, 200u);
    EXPECT_EQ(request("POST", "/api/pull", R"({"model":"x"})", {{"Cookie", cookie}}).status, 403u);  // still "chat"

    // The WebSocket upgrade checks the cookie too.
    const auto upgrade = [&](const Headers& extra) {
        TestClient client(server->port());
        Headers headers{{"Upgrade", "websocket"}, {"Connection", "Upgrade"}, {"Sec-WebSocket-Version", "13"},
                        {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}, {"Origin", origin()}};
        headers.insert(headers.end(), extra.begin(), extra.end());
        client.send_raw(fmt::format("GET /_sluice/ws HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n", server->port()));
        for (const auto& [name, value] : headers) client.send_raw(fmt::format("{}: {}\r\n", name, value));
        client.send_raw("\r\n");
        return client.read_header().status;
    };
    EXPECT_EQ(upgrade({}), 401u);
    EXPECT_EQ(upgrade({{"Cookie", cookie}}), 101u);

    const auto logout = request("POST", "/_sluice/logout", {}, {{"Cookie", cookie}});
    EXPECT_EQ(logout.status, 200u);
    EXPECT_NE(logout.header("Set-Cookie").find("Max-Age=0"), std::string::npos);
    EXPECT_EQ(request("GET", "/api/tags", {}, {{"Cookie", cookie}}).status, 401u);
}

TEST_F(AccessTest, SameOriginPagePostIsServedWithoutForwardingOrigin) {
    start();
    auto headers = bearer(laptop_key);
    headers.emplace_back("Origin", origin());
    const auto response = request("POST", "/api/chat", chat, headers);
    EXPECT_EQ(response.status, 200u);
    EXPECT_FALSE(ollama.last_request().has_header("Origin"));
    EXPECT_EQ(response.header("Access-Control-Allow-Origin"), "");  // same-origin needs none
}

TEST_F(AccessTest, ForeignOriginIsRefusedBySluiceItself) {
    start();
    auto headers = bearer(laptop_key);
    headers.emplace_back("Origin", "http://evil.example");
    const auto response = request("POST", "/api/chat", chat, headers);
    EXPECT_EQ(response.status, 403u);
    EXPECT_EQ(response.body, R"x({"error":"sluice: requests from origin http://evil.example are refused (cors.allowed_origins)"})x");
    const auto preflight = request("OPTIONS", "/api/chat", {}, {{"Origin", "http://evil.example"},
                                                                {"Access-Control-Request-Method", "POST"}});
    EXPECT_EQ(preflight.status, 403u);
    EXPECT_EQ(preflight.header("Access-Control-Allow-Origin"), "");
    EXPECT_TRUE(ollama.requests().empty());
}

TEST_F(AccessTest, AllowedOriginGetsPreflightAndCorsHeaders) {
    start("cors:\n  allowed_origins: [\"http://192.168.1.20:3000\"]\n");
    const auto preflight = request("OPTIONS", "/api/chat", {}, {{"Origin", "http://192.168.1.20:3000"},
                                                                {"Access-Control-Request-Method", "POST"},
                                                                {"Access-Control-Request-Headers", "authorization, content-type"}});
    EXPECT_EQ(preflight.status, 204u);
    EXPECT_EQ(preflight.header("Access-Control-Allow-Origin"), "http://192.168.1.20:3000");
    EXPECT_EQ(preflight.header("Access-Control-Allow-Headers"), "authorization, content-type");
    EXPECT_NE(preflight.header("Access-Control-Allow-Methods").find("POST"), std::string::npos);
    EXPECT_TRUE(ollama.requests().empty() || ollama.last_request().method != "OPTIONS");  // never forwarded

    auto headers = bearer(laptop_key);
    headers.emplace_back("Origin", "http://192.168.1.20:3000");
    const auto response = request("POST", "/api/chat", chat, headers);
    EXPECT_EQ(response.status, 200u);
    EXPECT_EQ(response.header("Access-Control-Allow-Origin"), "http://192.168.1.20:3000");
    EXPECT_FALSE(ollama.last_request().has_header("Origin"));
    // sluice's own answers carry it too, so the page can read why it was refused.
    const auto refused = request("GET", "/api/tags", {}, {{"Origin", "http://192.168.1.20:3000"}});
    EXPECT_EQ(refused.status, 401u);
    EXPECT_EQ(refused.header("Access-Control-Allow-Origin"), "http://192.168.1.20:3000");
}

TEST_F(AccessTest, ReloadChangesKeysWhileAStreamInFlightCompletes) {
    ollama.set_knobs({.token_interval = 20ms, .tokens = 30});
    start();
    TestClient streaming(server->port());
    streaming.send_raw(fmt::format("POST /api/chat HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\nContent-Length: {}\r\n\r\n{}",
                                   laptop_key, chat.size(), chat));
    ASSERT_EQ(streaming.read_header().status, 200u);

    // The new file drops "laptop" and keeps "phone".
    server->reload(local(parse_config(fmt::format("auth:\n  keys:\n    - name: phone\n      hash: \"{}\"\n", hash_api_key(phone_key)),
                                      "sluice.yaml")));
    EXPECT_EQ(request("GET", "/api/tags", {}, bearer(laptop_key)).status, 401u);
    EXPECT_EQ(request("POST", "/api/pull", R"({"model":"x","stream":false})", bearer(phone_key)).status, 200u);  // routes: all now

    std::string body;
    for (std::string piece; !(piece = streaming.read_body_piece()).empty();) body += piece;
    EXPECT_EQ(std::count(body.begin(), body.end(), '\n'), 31) << body;
}

TEST_F(AccessTest, AKeyPastItsRateOrItsStreamsGets429WithRetryAfterOverHttpAndInThePage) {
    ollama.set_knobs({.token_interval = 30ms, .tokens = 20});
    start_yaml(fmt::format(R"(
auth:
  keys:
    - name: laptop
      hash: "{}"
      requests_per_minute: 2
    - name: phone
      hash: "{}"
      max_streams: 1
)",
                           hash_api_key(laptop_key), hash_api_key(phone_key)));
    EXPECT_EQ(request("GET", "/api/tags", {}, bearer(laptop_key)).status, 200u);
    EXPECT_EQ(request("GET", "/api/version", {}, bearer(laptop_key)).status, 200u);
    const auto chats_before = ollama.requests().size();
    const auto limited = request("POST", "/api/chat", chat, bearer(laptop_key));
    EXPECT_EQ(limited.status, 429u);
    EXPECT_EQ(limited.header("Retry-After"), "30");  // two a minute: the next one in 30 s
    EXPECT_EQ(limited.body, R"({"error":"sluice: key \"laptop\" may start 2 requests a minute; retry in 30 s"})");
    EXPECT_EQ(ollama.requests().size(), chats_before);  // nothing went to Ollama
    EXPECT_EQ(request("GET", "/api/tags", {}, bearer(phone_key)).status, 200u);  // another key's own

    // phone's one stream, held by a streaming chat: a second chat, over HTTP or from the page, waits.
    TestClient streaming(server->port());
    streaming.send_raw(fmt::format("POST /api/chat HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\nContent-Length: {}\r\n\r\n{}",
                                   phone_key, chat.size(), chat));
    ASSERT_EQ(streaming.read_header().status, 200u);
    const auto busy = request("POST", "/api/chat", chat, bearer(phone_key));
    EXPECT_EQ(busy.status, 429u);
    EXPECT_EQ(busy.header("Retry-After"), "1");
    EXPECT_EQ(busy.body, R"({"error":"sluice: key \"phone\" runs 1 generations at once, its max_streams; retry when one ends"})");
    EXPECT_EQ(request("GET", "/api/tags", {}, bearer(phone_key)).status, 200u);  // a list is no stream
    WsClient page(server->port(), {}, bearer(phone_key));
    ASSERT_TRUE(page.open());
    page.chat("p1");
    EXPECT_EQ(page.read_until_end_of("p1").back().error,
              R"(sluice: key "phone" runs 1 generations at once, its max_streams; retry when one ends)");

    // The stream ends and gives its place back, once sluice has closed the exchange (just after
    // the client's last byte): then a chat runs, over HTTP and from the page.
    for (std::string piece; !(piece = streaming.read_body_piece()).empty();) {}
    const auto soon = [](auto runs) {
        for (const auto deadline = Clock::now() + 2s; Clock::now() < deadline; std::this_thread::sleep_for(5ms)) {
            if (runs()) return true;
        }
        return false;
    };
    EXPECT_TRUE(soon([&] { return request("POST", "/api/chat", chat, bearer(phone_key)).status == 200u; }));
    int chats = 1;
    EXPECT_TRUE(soon([&] {
        const auto id = fmt::format("p{}", ++chats);
        page.chat(id);
        return page.read_until_end_of(id).back().done;
    }));
}

}  // namespace
}  // namespace sluice::test
