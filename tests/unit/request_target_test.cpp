// Unit tests: the one form of a request-target sluice routes, authorizes and forwards.
#include "sluice/request_target.hpp"

#include <gtest/gtest.h>

namespace sluice {
namespace {

std::string normalized(std::string_view raw) {
    auto result = normalize_target(raw);
    if (const auto* error = std::get_if<TargetError>(&result)) return "error: " + error->message;
    return std::get<std::string>(result);
}

TEST(RequestTarget, DecodesUnreservedCharactersAsOllamaWill) {
    EXPECT_EQ(normalized("/api/chat"), "/api/chat");
    EXPECT_EQ(normalized("/api/%70ull"), "/api/pull");
    EXPECT_EQ(normalized("/api/%64elete?x=%41"), "/api/delete?x=%41");  // the query is Ollama's business
    EXPECT_EQ(normalized("/%61%70%69/%74ags"), "/api/tags");
    EXPECT_EQ(normalized("/v1/models/qwen3%3a14b"), "/v1/models/qwen3%3A14b");  // reserved: stays encoded
    EXPECT_EQ(normalized("/api/x%C3%A9"), "/api/x%C3%A9");
    EXPECT_EQ(normalized("/"), "/");
}

TEST(RequestTarget, RefusesWhatCouldRouteDifferently) {
    for (const auto* raw : {"/api/blobs%2fsha256:00", "/api/blobs%2Fx", "/v1/../api/pull", "/v1/%2e%2e/api/pull",
                            "/api/./pull", "/api/%2E/pull", "/api/tags/..", "/api/%zzull", "/api/pull%", "/api/pull%7",
                            "http://127.0.0.1/api/pull", "HTTP://x/api/pull", "127.0.0.1:443", "*", "", "api/chat",
                            "/api/\x01pull", "/api/pull\x7f"}) {
        EXPECT_TRUE(normalized(raw).starts_with("error: sluice: ")) << raw << " -> " << normalized(raw);
    }
}

TEST(RequestTarget, KeepsDotsThatAreNotSegments) {
    EXPECT_EQ(normalized("/v1/models/llama3.2"), "/v1/models/llama3.2");
    EXPECT_EQ(normalized("/api/...x"), "/api/...x");
    EXPECT_EQ(normalized("/api/tags?x=/../"), "/api/tags?x=/../");
}

TEST(RequestTarget, PathAndDecoding) {
    EXPECT_EQ(target_path("/api/tags?x=1"), "/api/tags");
    EXPECT_EQ(target_path("/api/tags"), "/api/tags");
    EXPECT_EQ(percent_decode("qwen3%3A14b"), "qwen3:14b");
    EXPECT_EQ(percent_decode("100%"), "100%");
}

}  // namespace
}  // namespace sluice
