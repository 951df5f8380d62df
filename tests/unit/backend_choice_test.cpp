// The order a request tries a fleet's backends in (backend_choice.hpp).
#include "sluice/backend_choice.hpp"

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

}  // namespace
}  // namespace sluice
