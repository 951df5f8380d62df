// Unit tests of model_listing: Ollama's model lists cut down to the models a key may use.
#include "fixtures.hpp"

#include "sluice/model_listing.hpp"

#include <gtest/gtest.h>

namespace sluice::test {
namespace {

const auto qwen_only = [](std::string_view model) { return model.starts_with("qwen3:"); };

TEST(ModelListing, TagsKeepOnlyTheAllowedEntriesAsOllamaWroteThem) {
    const auto body = fixture("tags.json");
    const auto filtered = filter_model_listing(ModelListing::ollama, body, qwen_only);
    ASSERT_TRUE(filtered);
    EXPECT_EQ(filtered->find("nomic-embed-text"), std::string::npos);
    EXPECT_NE(filtered->find(R"("name":"qwen3:14b")"), std::string::npos);
    EXPECT_NE(filtered->find(R"("name":"qwen3:14b-q8_0")"), std::string::npos);
    // Everything allowed: the body is unchanged, byte for byte.
    EXPECT_EQ(filter_model_listing(ModelListing::ollama, body, [](std::string_view) { return true; }), body);
}

TEST(ModelListing, NothingAllowedLeavesAnEmptyListAndTheRestOfTheBody) {
    EXPECT_EQ(filter_model_listing(ModelListing::ollama, R"({"models":[{"name":"a"},{"name":"b"}],"x":1})",
                                   [](std::string_view) { return false; }),
              R"({"models":[],"x":1})");
}

TEST(ModelListing, OpenAiModelsAreFilteredById) {
    const std::string body =
        R"({"object":"list","data":[{"id":"qwen3:14b","object":"model","created":1,"owned_by":"library"},)"
        R"( {"id":"llama3:8b","object":"model","created":2,"owned_by":"library"}]})";
    EXPECT_EQ(filter_model_listing(ModelListing::openai, body, qwen_only),
              R"({"object":"list","data":[{"id":"qwen3:14b","object":"model","created":1,"owned_by":"library"}]})");
}

TEST(ModelListing, RunningModelsFallBackToTheModelField) {
    EXPECT_EQ(filter_model_listing(ModelListing::ollama, R"({"models":[{"model":"qwen3:8b"},{"model":"llama3:8b"}]})", qwen_only),
              R"({"models":[{"model":"qwen3:8b"}]})");
}

TEST(ModelListing, HostileListingsLeakNothing) {
    // Every list of a duplicated member is filtered, whichever one a client reads.
    EXPECT_EQ(filter_model_listing(ModelListing::ollama, R"({"models":[{"name":"llama3"}],"models":[{"name":"qwen3:1b"},{"name":"x"}]})",
                                   qwen_only),
              R"({"models":[],"models":[{"name":"qwen3:1b"}]})");
    // Entries without a readable name are dropped; a name that is not a string is no name.
    EXPECT_EQ(filter_model_listing(ModelListing::ollama, R"({"models":[{"size":1},{"name":7},{"name":"qwen3:x"}]})",
                                   [](std::string_view) { return true; }),
              R"({"models":[{"name":"qwen3:x"}]})");
    // Not a listing: refused rather than passed on.
    for (const std::string_view body : {R"({"models":{"name":"llama3"}})", R"({"models":["llama3"]})", R"([])",
                                        R"({"models":[{"name":"llama3"}])", "", R"({"models":[]} trailing)"}) {
        EXPECT_FALSE(filter_model_listing(ModelListing::ollama, body, qwen_only)) << body;
    }
}

}  // namespace
}  // namespace sluice::test
