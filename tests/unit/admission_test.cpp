// Unit tests of admission: one table of request heads and the decision each gets, step by step
// in design.md's order (draining, framing, target, host, route, origin, preflight, key).
#include "sluice/admission.hpp"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <initializer_list>
#include <utility>

namespace sluice {
namespace {

namespace http = boost::beast::http;

constexpr std::string_view laptop_key = "sk-sluice-laptop-0123456789abcdef";  // routes: all
constexpr std::string_view phone_key = "sk-sluice-phone-0123456789abcdef";    // routes: chat

const Config& config() {
    static const Config loaded = parse_config(fmt::format(R"(
health: {{healthz: /healthz, readyz: /readyz}}
metrics: {{path: /metrics}}
cors: {{allowed_origins: ["https://app.example"]}}
auth:
  keys:
    - {{name: laptop, hash: "{}"}}
    - {{name: phone, hash: "{}", routes: chat}}
)", hash_api_key(laptop_key), hash_api_key(phone_key)), "sluice.yaml");
    return loaded;
}

RequestHeader head(std::string_view method, std::string_view target,
                   std::initializer_list<std::pair<std::string_view, std::string_view>> fields, unsigned version = 11) {
    RequestHeader request;
    request.method_string(method);
    request.target(target);
    request.version(version);
    for (const auto& [name, value] : fields) request.insert(name, value);
    return request;
}

std::string bearer(std::string_view key) { return fmt::format("Bearer {}", key); }

struct Expect {
    unsigned status;   // 0: admitted; 204: a preflight; else refused with it
    Handler handler;
    std::string_view key;  // the key's name, admitted or refused
    bool close;        // a refusal that ends the connection
};
Expect admitted(Handler handler = Handler::proxy, std::string_view key = {}) { return {0, handler, key, false}; }
Expect admitted(std::string_view key) { return {0, Handler::proxy, key, false}; }
Expect refused(unsigned status, std::string_view key = {}) { return {status, Handler::proxy, key, false}; }
Expect closes(unsigned status) { return {status, Handler::proxy, {}, true}; }
Expect preflight() { return {204, Handler::proxy, {}, false}; }

void check(const char* what, RequestHeader request, Expect expect, const LocalNames* local_names = nullptr) {
    SCOPED_TRACE(what);
    BrowserSessions sessions;
    const auto admission = admit(request, {config(), sessions, local_names});
    if (expect.status == 204) {
        EXPECT_TRUE(std::holds_alternative<Preflight>(admission));
        return;
    }
    if (expect.status != 0) {
        const auto* refused = std::get_if<Refused>(&admission);
        ASSERT_NE(refused, nullptr);
        EXPECT_EQ(refused->status, expect.status) << refused->message;
        EXPECT_TRUE(refused->message.starts_with("sluice: ")) << refused->message;
        EXPECT_EQ(refused->close, expect.close) << refused->message;
        EXPECT_EQ(refused->key ? refused->key->name : "", expect.key);
        return;
    }
    const auto* admitted = std::get_if<Admitted>(&admission);
    ASSERT_NE(admitted, nullptr) << (std::holds_alternative<Refused>(admission) ? std::get<Refused>(admission).message : "");
    EXPECT_EQ(admitted->route.handler, expect.handler);
    EXPECT_EQ(admitted->key ? admitted->key->name : "", expect.key);
}

TEST(Admission, EachStepRefusesWhatItShouldAndLetsTheRestThrough) {
    const auto laptop = bearer(laptop_key);
    const auto phone = bearer(phone_key);
    // framing: one Host, a body framed so that sluice and Ollama agree where it ends
    check("no Host on HTTP/1.1", head("GET", "/api/tags", {{"Authorization", laptop}}), closes(400));
    check("no Host on HTTP/1.0 is fine", head("GET", "/api/tags", {{"Authorization", laptop}}, 10), admitted("laptop"));
    check("two Hosts", head("GET", "/api/tags", {{"Host", "a"}, {"Host", "b"}, {"Authorization", laptop}}),
          closes(400));
    check("Transfer-Encoding not ending in chunked",
          head("POST", "/api/chat", {{"Host", "localhost"}, {"Transfer-Encoding", "chunked, gzip"}}), closes(400));
    check("chunked twice", head("POST", "/api/chat", {{"Host", "localhost"}, {"Transfer-Encoding", "chunked"},
                                                     {"Transfer-Encoding", "chunked"}}),
          closes(400));
    check("chunked on HTTP/1.0", head("POST", "/api/chat", {{"Host", "localhost"}, {"Transfer-Encoding", "chunked"}}, 10),
          closes(400));
    // target: origin-form only, decoded as Ollama decodes it, before any check reads it
    check("absolute form", head("POST", "http://127.0.0.1/api/pull", {{"Host", "localhost"}, {"Authorization", phone}}),
          closes(400));
    check("CONNECT", head("CONNECT", "ollama:11434", {{"Host", "localhost"}}), closes(405));
    check("an encoded slash", head("GET", "/api/blobs%2fsha256", {{"Host", "localhost"}, {"Authorization", laptop}}),
          closes(400));
    check("an encoded route name meets the route's rule",
          head("POST", "/api/%70ull", {{"Host", "localhost"}, {"Authorization", phone}}), refused(403, "phone"));
    // origin: a page of another site is refused, an allowed one may ask first (preflight)
    check("a foreign page", head("POST", "/api/chat", {{"Host", "localhost"}, {"Origin", "https://evil.example"}}),
          refused(403));
    check("a foreign page's preflight",
          head("OPTIONS", "/api/chat", {{"Host", "localhost"}, {"Origin", "https://evil.example"},
                                        {"Access-Control-Request-Method", "POST"}}),
          refused(403));
    check("an allowed page's preflight, no key needed",
          head("OPTIONS", "/api/chat", {{"Host", "localhost"}, {"Origin", "https://app.example"},
                                        {"Access-Control-Request-Method", "POST"}}),
          preflight());
    check("the page's own origin", head("POST", "/api/chat", {{"Host", "gpu-box.lan:8434"}, {"Origin", "http://gpu-box.lan:8434"},
                                                             {"Authorization", phone}}),
          admitted("phone"));
    // key: the page, its login and the probes are public; the rest needs a key for the route
    check("no key", head("POST", "/api/chat", {{"Host", "localhost"}}), refused(401));
    check("a wrong key", head("POST", "/api/chat", {{"Host", "localhost"}, {"Authorization", bearer("sk-sluice-guess")}}),
          refused(401));
    check("an ended session", head("POST", "/api/chat", {{"Host", "localhost"}, {"Cookie", "sluice_session=gone"}}), refused(401));
    check("a chat key pulling", head("POST", "/api/pull", {{"Host", "localhost"}, {"Authorization", phone}}),
          refused(403, "phone"));
    check("a chat key chatting", head("POST", "/api/chat", {{"Host", "localhost"}, {"Authorization", phone}}),
          admitted("phone"));
    check("a chat key on the WebSocket",
          head("GET", "/_sluice/ws", {{"Host", "localhost"}, {"Authorization", phone}}), admitted(Handler::websocket, "phone"));
    check("a chat key scraping metrics", head("GET", "/metrics", {{"Host", "localhost"}, {"Authorization", phone}}),
          refused(403, "phone"));
    check("an all-routes key scraping metrics", head("GET", "/metrics", {{"Host", "localhost"}, {"Authorization", laptop}}),
          admitted(Handler::metrics, "laptop"));
    check("a chat key asking what it may do", head("GET", "/_sluice/api/me", {{"Host", "localhost"}, {"Authorization", phone}}),
          admitted(Handler::page_api, "phone"));
    check("sluice's own API without a key", head("GET", "/_sluice/api/me", {{"Host", "localhost"}}), refused(401));
    check("the page", head("GET", "/", {{"Host", "localhost"}, {"Accept", "text/html"}}), admitted(Handler::ui_asset));
    check("the login", head("POST", "/_sluice/login", {{"Host", "localhost"}}), admitted(Handler::login));
    check("a probe", head("GET", "/healthz", {{"Host", "localhost"}}), admitted(Handler::healthz));
}

TEST(Admission, OnLoopbackOnlyThisMachinesNamesAreAnswered) {
    const LocalNames names{"gpu-box", {}};
    check("localhost", head("GET", "/healthz", {{"Host", "localhost:8434"}}), admitted(Handler::healthz), &names);
    check("the host name", head("GET", "/healthz", {{"Host", "gpu-box"}}), admitted(Handler::healthz), &names);
    check("a rebound name", head("GET", "/healthz", {{"Host", "evil.example"}}), closes(403), &names);
    check("listening on the LAN, any name", head("GET", "/healthz", {{"Host", "evil.example"}}),
          admitted(Handler::healthz));
}

TEST(Admission, ADrainRefusesBeforeAnythingElseIsRead) {
    BrowserSessions sessions;
    auto request = head("GET", "/api/%zz", {});  // would be refused by every later step too
    const auto admission = admit(request, {config(), sessions, nullptr, true});
    const auto* refused = std::get_if<Refused>(&admission);
    ASSERT_NE(refused, nullptr);
    EXPECT_EQ(refused->status, 503u);
    EXPECT_TRUE(refused->close);
    EXPECT_EQ(refused->message, "sluice: shutting down");
}

TEST(Admission, TheTargetIsNormalizedOnceForEveryLaterStepAndForOllama) {
    BrowserSessions sessions;
    auto request = head("GET", "/api/%74ags?x=%41", {{"Host", "localhost"}, {"Authorization", bearer(phone_key)}});
    const auto admission = admit(request, {config(), sessions});
    ASSERT_TRUE(std::holds_alternative<Admitted>(admission));
    EXPECT_EQ(request.target(), "/api/tags?x=%41");
}

TEST(Admission, TheBrowserSessionIsWhatTheCookieNames) {
    BrowserSessions sessions;
    const auto token = sessions.open(config().auth, *key_named(config().auth, "laptop"), std::chrono::minutes(5));
    const auto cookie = "sluice_session=" + token;
    auto request = head("GET", "/_sluice/ws", {{"Host", "localhost"}, {"Cookie", cookie}});
    const auto admission = admit(request, {config(), sessions});
    const auto* admitted = std::get_if<Admitted>(&admission);
    ASSERT_NE(admitted, nullptr);
    EXPECT_EQ(admitted->key->name, "laptop");
    EXPECT_EQ(admitted->session, token);
}

}  // namespace
}  // namespace sluice
