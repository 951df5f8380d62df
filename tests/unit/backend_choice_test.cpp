// The order a request tries a fleet's backends in (backend_choice.hpp), and the mark that
// keeps a conversation's turns together (ollama_api's conversation_mark).
#include "sluice/backend_choice.hpp"
#include "sluice/ollama_api.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace sluice {
namespace {

std::vector<int> order_of(const std::vector<BackendState>& backends) {
    const auto order = rank_backends(backends);
    return {order.begin(), order.end()};
}

BackendState with(bool loaded, bool installed, unsigned active = 0) {
    BackendState state;
    state.loaded = loaded;
    state.installed = installed;
    state.active = active;
    return state;
}

TEST(BackendChoice, LoadedBeforeInstalledBeforeNeither) {
    EXPECT_EQ(order_of({with(false, false), with(false, true), with(true, true)}), (std::vector<int>{2, 1, 0}));
}

TEST(BackendChoice, AmongEqualsFewestActiveGenerationsThenConfigOrder) {
    EXPECT_EQ(order_of({with(true, true, 3), with(true, true, 1), with(true, true, 1)}), (std::vector<int>{1, 2, 0}));
}

TEST(BackendChoice, WeightScalesTheActiveGenerations) {
    auto heavy = with(true, true, 3);
    heavy.weight = 4;  // 0.75 per unit of weight
    EXPECT_EQ(order_of({with(true, true, 1), heavy}), (std::vector<int>{1, 0}));
}

TEST(BackendChoice, WhereTheConversationRanLastWinsUnlessItIsFullDownOrLacksTheModel) {
    auto warm = with(false, true, 5);  // installed only, and the busiest: still first
    warm.warm = true;
    EXPECT_EQ(order_of({with(true, true, 0), warm}), (std::vector<int>{1, 0}));
    auto full = warm;
    full.max_generations = 5;
    EXPECT_EQ(order_of({with(true, true, 0), full}), (std::vector<int>{0, 1}));
    auto down = warm;
    down.up = false;
    EXPECT_EQ(order_of({with(true, true, 0), down}), (std::vector<int>{0, 1}));
    auto gone = with(false, false);  // the model was deleted there
    gone.warm = true;
    EXPECT_EQ(order_of({gone, with(false, true, 2)}), (std::vector<int>{1, 0}));
}

TEST(BackendChoice, ADownBackendComesLastEvenWithTheModelLoaded) {
    auto down = with(true, true);
    down.up = false;
    EXPECT_EQ(order_of({down, with(false, false, 9)}), (std::vector<int>{1, 0}));
}

TEST(BackendChoice, AFullBackendYieldsToOneThatHasTheModelInstalled) {
    auto full = with(true, true, 4);
    full.max_generations = 4;
    EXPECT_EQ(order_of({full, with(false, true, 0), with(false, false, 0)}), (std::vector<int>{1, 0, 2}));
}

TEST(BackendChoice, ARequestWithoutAModelGoesToTheLeastBusy) {
    EXPECT_EQ(order_of({with(false, false, 2), with(false, false, 0)}), (std::vector<int>{1, 0}));
}

TEST(BackendChoice, EveryBackendAppearsOnce) {
    std::vector<BackendState> many(max_backends + 3);
    const auto order = rank_backends(many);
    EXPECT_EQ(order.size, max_backends);
    std::vector<bool> seen(max_backends);
    for (const auto index : order) {
        ASSERT_LT(index, max_backends);
        EXPECT_FALSE(seen[index]);
        seen[index] = true;
    }
}

std::uint64_t mark(std::string_view path, std::string_view body, std::string_view model = "qwen3:14b") {
    JsonWorkspace workspace;
    return conversation_mark(find_ollama_route(path), body, model, workspace);
}

TEST(ConversationMark, EveryTurnOfAConversationHasTheSameMarkAndOthersDiffer) {
    const auto first = mark("/api/chat", R"({"model":"qwen3:14b","messages":[{"role":"user","content":"plan a trip"}]})");
    const auto third = mark("/api/chat", R"({"model":"qwen3:14b","messages":[{"role":"system","content":"be brief"},)"
                                         R"({"role":"user","content":"plan a trip"},{"role":"assistant","content":"where?"},)"
                                         R"({"role":"user","content":"Rome"}]})");
    EXPECT_NE(first, 0u);
    EXPECT_EQ(first, third);
    EXPECT_EQ(first, mark("/v1/chat/completions", R"({"messages":[{"content":"plan a trip","role":"user"}]})"));
    EXPECT_NE(first, mark("/api/chat", R"({"messages":[{"role":"user","content":"plan a trip!"}]})"));
    EXPECT_NE(first, mark("/api/chat", R"({"messages":[{"role":"user","content":"plan a trip"}]})", "llama3.2"));
    // No chat, or no opening message in text: no mark (placed afresh each time).
    EXPECT_EQ(mark("/api/generate", R"({"prompt":"plan a trip"})"), 0u);
    EXPECT_EQ(mark("/api/chat", R"({"messages":[]})"), 0u);
    EXPECT_EQ(mark("/api/chat", R"({"messages":[{"role":"user","content":["parts"]}]})"), 0u);
    EXPECT_EQ(mark("/api/chat", R"({"messages":"plan a trip"})"), 0u);
    EXPECT_EQ(mark("/api/chat", "not json"), 0u);
    EXPECT_EQ(mark("/api/chat", R"({"messages":[{"role":"user","content":"a"}],"messages":[]})"), 0u);  // Go: the last
}

}  // namespace
}  // namespace sluice
