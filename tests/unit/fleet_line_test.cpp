// The fleet's line without sockets: turns go in arrival order per model, and a turn that reaches
// a request that ended meanwhile goes on to the next one waiting, so no room stays unused.
#include "sluice/fleet.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <memory>
#include <string>
#include <vector>

namespace sluice {
namespace {

// One backend that runs one generation at a time.
std::unique_ptr<Fleet> one_slot_fleet() {
    auto config = parse_config("upstreams:\n  - {url: http://127.0.0.1:11434, max_generations: 1}\n", "fleet.yaml");
    return std::make_unique<Fleet>(std::make_shared<const Config>(config));
}

TEST(FleetLine, TurnsGoInArrivalOrderAndOneNotTakenGoesToTheNext) {
    const auto fleet = one_slot_fleet();
    boost::asio::io_context io;
    std::vector<std::string> turns;
    const auto waiter = [&](std::string name, bool takes) {
        return fleet->wait_turn("qwen3:14b", 8, io.get_executor(), [&turns, name, takes] {
            turns.push_back(name);
            return takes;
        });
    };
    auto running = fleet->lease(0);
    ASSERT_TRUE(fleet->route("qwen3:14b").full);
    EXPECT_NE(waiter("gone", false), 0u);  // its client left after its turn was on its way
    EXPECT_NE(waiter("next", true), 0u);
    EXPECT_NE(waiter("last", true), 0u);
    EXPECT_EQ(fleet->place_in_line(3), 3u);
    running.release();  // the generation ends: one turn
    io.run();
    EXPECT_EQ(turns, (std::vector<std::string>{"gone", "next"}));
    EXPECT_EQ(fleet->place_in_line(3), 1u);  // "last" still waits, now first
    EXPECT_TRUE(fleet->line_for("qwen3:14b"));
}

}  // namespace
}  // namespace sluice
