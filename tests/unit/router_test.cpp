// Unit tests: which requests sluice reads whole (for the rewriter) and which it streams.
#include "sluice/router.hpp"

#include <gtest/gtest.h>

namespace sluice {
namespace {

struct RouteCase {
    std::string_view method;
    std::string_view target;
    BodyHandling body;
    bool generation;
};

void PrintTo(const RouteCase& c, std::ostream* out) { *out << c.method << ' ' << c.target; }

class RouteTable : public ::testing::TestWithParam<RouteCase> {};

TEST_P(RouteTable, DecidesBodyHandlingFromMethodAndPath) {
    const auto& c = GetParam();
    const auto route = route_request(c.method, c.target);
    EXPECT_EQ(route.handler, Handler::proxy);
    EXPECT_EQ(route.body, c.body) << c.method << ' ' << c.target;
    EXPECT_EQ(route.generation, c.generation) << c.method << ' ' << c.target;
}

INSTANTIATE_TEST_SUITE_P(
    Routes, RouteTable,
    ::testing::Values(RouteCase{"POST", "/api/chat", BodyHandling::read, true},
                      RouteCase{"POST", "/api/generate?x=1", BodyHandling::read, true},
                      RouteCase{"POST", "/v1/chat/completions", BodyHandling::read, true},
                      RouteCase{"POST", "/v1/completions", BodyHandling::read, true},
                      RouteCase{"POST", "/api/embed", BodyHandling::read, false},
                      RouteCase{"POST", "/api/embeddings", BodyHandling::read, false},
                      // Small JSON bodies that name models are read too, for keys limited to some models.
                      RouteCase{"POST", "/api/pull", BodyHandling::read, false},
                      RouteCase{"POST", "/api/create", BodyHandling::read, false},
                      RouteCase{"DELETE", "/api/delete", BodyHandling::read, false},
                      RouteCase{"POST", "/v1/embeddings", BodyHandling::read, false},
                      // Everything else streams: blobs are many GiB, and unknown routes are Ollama's.
                      RouteCase{"POST", "/api/blobs/sha256:00", BodyHandling::stream, false},
                      RouteCase{"GET", "/api/chat", BodyHandling::stream, false},
                      RouteCase{"POST", "/api/chat/", BodyHandling::stream, false},
                      RouteCase{"POST", "/v1/audio/transcriptions", BodyHandling::stream, false},
                      RouteCase{"HEAD", "/", BodyHandling::stream, false}));

TEST(OwnRoutes, TheWebSocketAndPageAssetsLiveUnderTheSluicePrefix) {
    EXPECT_EQ(route_request("GET", "/_sluice/ws").handler, Handler::websocket);
    EXPECT_EQ(route_request("GET", "/_sluice/ws?x=1").handler, Handler::websocket);
    EXPECT_EQ(route_request("GET", "/_sluice/assets/index.js").handler, Handler::ui_asset);
    EXPECT_EQ(route_request("GET", "/_sluice/api/me").handler, Handler::page_api);
    EXPECT_EQ(route_request("POST", "/_sluice/api/explain?model=x").handler, Handler::page_api);
    EXPECT_EQ(route_request("GET", "/_sluicex").handler, Handler::proxy);
}

TEST(OwnRoutes, RootIsThePageOnlyForBrowsers) {
    EXPECT_EQ(route_request("GET", "/", "text/html,application/xhtml+xml,*/*;q=0.8").handler, Handler::ui_asset);
    EXPECT_EQ(route_request("GET", "/?x", "text/html").handler, Handler::ui_asset);
    // Ollama clients probe `GET /` and `HEAD /` for "Ollama is running".
    EXPECT_EQ(route_request("GET", "/").handler, Handler::proxy);
    EXPECT_EQ(route_request("GET", "/", "*/*").handler, Handler::proxy);
    EXPECT_EQ(route_request("HEAD", "/", "text/html").handler, Handler::proxy);
    EXPECT_EQ(route_request("GET", "/api/tags", "text/html").handler, Handler::proxy);
}

TEST(OwnRoutes, TheFaviconAtTheRootIsThePages) {
    EXPECT_EQ(route_request("GET", "/favicon.ico").handler, Handler::ui_asset);
    EXPECT_EQ(route_request("HEAD", "/favicon.ico?v=2").handler, Handler::ui_asset);
    EXPECT_EQ(route_request("POST", "/favicon.ico").handler, Handler::proxy);
    EXPECT_EQ(route_request("GET", "/favicon.icox").handler, Handler::proxy);
}

TEST(OwnRoutes, TheMetricsPathIsSluicesForEveryMethod) {
    EXPECT_EQ(route_request("GET", "/metrics", {}, {}, "/metrics").handler, Handler::metrics);
    EXPECT_EQ(route_request("HEAD", "/metrics?x=1", {}, {}, "/metrics").handler, Handler::metrics);
    EXPECT_EQ(route_request("POST", "/metrics", {}, {}, "/metrics").handler, Handler::metrics);  // answered 405
    EXPECT_EQ(route_request("GET", "/metrics").handler, Handler::proxy);           // metrics off: Ollama's
    EXPECT_EQ(route_request("GET", "/metrics/x", {}, {}, "/metrics").handler, Handler::proxy);
    EXPECT_EQ(route_request("GET", "/prom", {}, {}, "/prom").handler, Handler::metrics);
}

TEST(OwnRoutes, HealthPathsAreSluicesForEveryMethod) {
    const HealthPaths health{"/healthz", "/ready"};
    EXPECT_EQ(route_request("GET", "/healthz", {}, health).handler, Handler::healthz);
    EXPECT_EQ(route_request("HEAD", "/healthz?verbose", {}, health).handler, Handler::healthz);
    EXPECT_EQ(route_request("POST", "/ready", {}, health).handler, Handler::readyz);  // answered 405, not forwarded
    EXPECT_EQ(route_request("GET", "/readyz", {}, health).handler, Handler::proxy);   // not the configured path
    EXPECT_EQ(route_request("GET", "/healthz/x", {}, health).handler, Handler::proxy);
    EXPECT_EQ(route_request("GET", "/healthz").handler, Handler::proxy);  // no health paths given
    EXPECT_EQ(route_request("POST", "/api/chat", {}, health).body, BodyHandling::read);
}

TEST(SameOrigin, OriginMustNameTheAddressedHost) {
    EXPECT_TRUE(is_same_origin("http://127.0.0.1:8434", "127.0.0.1:8434"));
    EXPECT_TRUE(is_same_origin("https://Box.lan", "box.lan"));
    EXPECT_FALSE(is_same_origin("http://evil.example", "127.0.0.1:8434"));
    EXPECT_FALSE(is_same_origin("http://127.0.0.1:8081", "127.0.0.1:8434"));
    EXPECT_FALSE(is_same_origin("http://x", ""));
}

}  // namespace
}  // namespace sluice
