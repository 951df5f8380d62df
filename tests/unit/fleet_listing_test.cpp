// A fleet's merged lists of models and its version (fleet_listing.hpp).
#include "sluice/fleet_listing.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace sluice {
namespace {

TEST(FleetListing, EntriesAreMergedByNameFirstSeenFirstWithTheirBackends) {
    const std::vector<BackendAnswer> answers{
        {"gpu1", R"({"models":[{"name":"qwen3:14b","size":9},{"name":"llama3.2:latest","size":2}]})"},
        {"gpu2", R"({"models":[{"name":"llama3.2:latest","size":3},{"name":"gemma3:27b"}]})"},
    };
    EXPECT_EQ(merge_model_listings(ModelListing::ollama, answers),
              R"({"models":[{"name":"qwen3:14b","size":9,"sluice_backends":["gpu1"]},)"
              R"({"name":"llama3.2:latest","size":2,"sluice_backends":["gpu1","gpu2"]},)"
              R"({"name":"gemma3:27b","sluice_backends":["gpu2"]}]})");
}

TEST(FleetListing, OpenAiListsMergeByIdAndKeepTheirShape) {
    const std::vector<BackendAnswer> answers{
        {"a", R"({"object":"list","data":[{"id":"qwen3:14b","object":"model","owned_by":"library"}]})"},
        {"b", R"({"object":"list","data":[{"id":"qwen3:14b","object":"model","owned_by":"library"}]})"},
    };
    EXPECT_EQ(merge_model_listings(ModelListing::openai, answers),
              R"({"object":"list","data":[{"id":"qwen3:14b","object":"model","owned_by":"library","sluice_backends":["a","b"]}]})");
}

TEST(FleetListing, ABackendsOwnClaimOfWhereAModelIsIsDropped) {
    const std::vector<BackendAnswer> answers{{"gpu1", R"({"models":[{"name":"m","sluice_backends":["elsewhere"]}]})"}};
    EXPECT_EQ(merge_model_listings(ModelListing::ollama, answers), R"({"models":[{"name":"m","sluice_backends":["gpu1"]}]})");
}

TEST(FleetListing, BackendsWithoutAnAnswerOrWithoutAListAreLeftOut) {
    const std::vector<BackendAnswer> answers{
        {"down", ""}, {"odd", R"({"error":"boom"})"}, {"up", R"({"models":[{"name":"m"},{"size":1},7]})"}};
    EXPECT_EQ(merge_model_listings(ModelListing::ollama, answers), R"({"models":[{"name":"m","sluice_backends":["up"]}]})");
    const std::vector<BackendAnswer> none{{"down", ""}, {"odd", "not json"}};
    EXPECT_EQ(merge_model_listings(ModelListing::ollama, none), std::nullopt);
}

TEST(FleetListing, TheVersionIsTheLowestNumerically) {
    const std::vector<BackendAnswer> answers{
        {"a", R"({"version":"0.12.10"})"}, {"b", R"({"version":"0.12.9"})"}, {"c", ""}, {"d", R"({"version":"0.13.0-rc1"})"}};
    EXPECT_EQ(merge_versions(answers), R"({"version":"0.12.9"})");
    EXPECT_EQ(merge_versions(std::vector<BackendAnswer>{{"a", ""}}), std::nullopt);
}

}  // namespace
}  // namespace sluice
