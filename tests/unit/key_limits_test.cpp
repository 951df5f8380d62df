// key_limits_test: a key's requests a minute (a minute's worth at once, then one per interval,
// with the wait said) and its streams at once (held, refused, given back), and the config lines.
#include "sluice/key_limits.hpp"

#include <gtest/gtest.h>

namespace sluice {
namespace {

using namespace std::chrono_literals;

ApiKey key(std::string name, unsigned per_minute, unsigned streams) {
    ApiKey made;
    made.name = std::move(name);
    made.requests_per_minute = per_minute;
    made.max_streams = streams;
    return made;
}

TEST(KeyLimits, AMinutesWorthAtOnceThenOnePerInterval) {
    KeyLimits limits;
    const auto phone = key("phone", 6, 0);  // one every 10 s
    const auto start = KeyLimits::Clock::now();
    for (int i = 0; i < 6; ++i) EXPECT_EQ(limits.admit(phone, false, start).status, 0u) << i;
    const auto refused = limits.admit(phone, false, start);
    EXPECT_EQ(refused.status, 429u);
    EXPECT_EQ(refused.retry_after, 10u);
    EXPECT_EQ(refused.message, R"(sluice: key "phone" may start 6 requests a minute; retry in 10 s)");
    EXPECT_EQ(limits.admit(phone, false, start + 4s).retry_after, 6u);  // a refusal costs nothing
    EXPECT_EQ(limits.admit(phone, false, start + 10s).status, 0u);
    EXPECT_EQ(limits.admit(phone, false, start + 10s).status, 429u);
    EXPECT_EQ(limits.admit(phone, false, start + 60s + 10s).status, 0u);  // a quiet minute: a burst again
    for (int i = 0; i < 5; ++i) EXPECT_EQ(limits.admit(phone, false, start + 70s).status, 0u) << i;
    EXPECT_EQ(limits.admit(phone, false, start + 70s).status, 429u);

    // Another key, and a key without limits, are not touched.
    const auto laptop = key("laptop", 6, 0);
    EXPECT_EQ(limits.admit(laptop, false, start + 70s).status, 0u);
    const auto desk = key("desk", 0, 0);
    for (int i = 0; i < 1000; ++i) ASSERT_EQ(limits.admit(desk, true, start).status, 0u);
}

TEST(KeyLimits, StreamsAreHeldUntilTheirGenerationEnds) {
    KeyLimits limits;
    const auto phone = key("phone", 0, 2);
    auto first = limits.admit(phone, true);
    auto second = limits.admit(phone, true);
    ASSERT_EQ(first.status, 0u);
    ASSERT_EQ(second.status, 0u);
    const auto refused = limits.admit(phone, true);
    EXPECT_EQ(refused.status, 429u);
    EXPECT_EQ(refused.retry_after, 1u);
    EXPECT_EQ(refused.message, R"(sluice: key "phone" runs 2 generations at once, its max_streams; retry when one ends)");
    EXPECT_EQ(limits.admit(phone, false).status, 0u);  // a list or a show is not a stream

    auto moved = std::move(first.stream);  // moving a stream does not give it back
    EXPECT_EQ(limits.admit(phone, true).status, 429u);
    moved.release();
    moved.release();  // once only
    auto third = limits.admit(phone, true);
    EXPECT_EQ(third.status, 0u);
    EXPECT_EQ(limits.admit(phone, true).status, 429u);
    { const auto ending = std::move(second); }  // destroyed: given back
    EXPECT_EQ(limits.admit(phone, true).status, 0u);
}

TEST(KeyLimits, TheConfigSetsThemPerKey) {
    const auto config = parse_config(R"(
auth:
  keys:
    - name: phone
      hash: "sha256:00112233445566778899aabbccddeeff:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
      requests_per_minute: 30
      max_streams: 2
)",
                                     "sluice.yaml");
    EXPECT_EQ(config.auth.keys.front().requests_per_minute, 30u);
    EXPECT_EQ(config.auth.keys.front().max_streams, 2u);
    try {
        parse_config(R"(
auth:
  keys:
    - name: phone
      hash: "sha256:00112233445566778899aabbccddeeff:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
      requests_per_minute: -1
)",
                     "sluice.yaml");
        ADD_FAILURE() << "a negative rate was taken";
    } catch (const ConfigError& error) {
        EXPECT_NE(std::string(error.what()).find("sluice.yaml:6: auth.keys[0].requests_per_minute"), std::string::npos)
            << error.what();
    }
}

}  // namespace
}  // namespace sluice
