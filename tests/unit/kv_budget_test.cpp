// kv_budget_test: KV cache bytes per token and num_ctx auto, with the Qwen3-14B on RTX 4090 example.
#include "sluice/kv_budget.hpp"

#include "fixtures.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <ostream>
#include <sstream>
#include <string>

namespace sluice {
namespace {

// A table row's name as a gtest test name.
struct NameOf {
    template <class Case>
    std::string operator()(const testing::TestParamInfo<Case>& param) const {
        return std::string(param.param.name);
    }
};

constexpr std::uint64_t GiB = 1024ull * 1024 * 1024;
constexpr std::uint64_t q4_k_m_weights = 9'300'000'000;  // qwen3:14b, as `ollama list` shows it: 9.3 GB
constexpr std::uint64_t q8_0_weights = 15'700'000'000;   // qwen3:14b-q8_0: 15.7 GB
constexpr std::uint64_t rtx_4090 = 24 * GiB;

// Qwen3-14B: 40 layers, 8 KV heads, head size 128 (tests/fixtures/show-qwen3-14b.json).
ModelShape qwen3_14b(std::uint64_t weights, std::uint64_t context_length) {
    return ModelShape{40, 8, 128, 128, context_length, weights};
}

using test::fixture;

TEST(KvBytesPerToken, Qwen3_14bIs160KiBAtF16) {
    const ModelShape shape = qwen3_14b(q4_k_m_weights, 40960);
    EXPECT_EQ(kv_bytes_per_token(shape, KvCacheType::f16), 163'840u);  // 2 x 40 x 8 x 128 x 2
    EXPECT_EQ(kv_bytes_per_token(shape, KvCacheType::q8_0), 87'040u);  // 85 KiB: 34 bytes per 32
    EXPECT_EQ(kv_bytes_per_token(shape, KvCacheType::q4_0), 46'080u);  // 45 KiB: 18 bytes per 32
}

TEST(KvBytesPerToken, TheOftenSuggested131072TokensNeed20GiBAtF16) {
    EXPECT_EQ(131072 * kv_bytes_per_token(qwen3_14b(q4_k_m_weights, 131072), KvCacheType::f16), 20 * GiB);
}

struct BudgetCase {
    std::string_view name;
    ModelShape shape;
    std::uint64_t gpu_memory;
    KvCacheType type;
    std::uint32_t num_ctx;
};

void PrintTo(const BudgetCase& row, std::ostream* out) { *out << row.name; }

class ChooseNumCtx : public testing::TestWithParam<BudgetCase> {};

TEST_P(ChooseNumCtx, IsTheLargestMultipleOf2048ThatFits) {
    const BudgetCase& row = GetParam();
    const NumCtxChoice choice = choose_num_ctx(row.shape, row.gpu_memory, row.type);
    EXPECT_EQ(choice.num_ctx, row.num_ctx) << choice.reason;
    EXPECT_FALSE(choice.reason.empty());
    if (choice.num_ctx == 0) return;
    // It fits, and (unless capped) one more step would not.
    const std::uint64_t per_token = kv_bytes_per_token(row.shape, row.type);
    const std::uint64_t room = row.gpu_memory - row.shape.weights_bytes - kv_reserve_bytes;
    EXPECT_LE(choice.num_ctx * per_token, room);
    if (choice.num_ctx != row.shape.context_length) {
        EXPECT_EQ(choice.num_ctx % num_ctx_step, 0u);
        EXPECT_GT((choice.num_ctx + num_ctx_step) * per_token, room);
    }
}

INSTANTIATE_TEST_SUITE_P(
    KvBudget, ChooseNumCtx,
    testing::Values(
        // A Qwen3-14B that reports 131072 tokens of context (YaRN), on a 24 GiB RTX 4090.
        BudgetCase{"Q4KMWeightsF16Cache", qwen3_14b(q4_k_m_weights, 131072), rtx_4090, KvCacheType::f16, 92160},
        BudgetCase{"Q4KMWeightsQ8Cache", qwen3_14b(q4_k_m_weights, 131072), rtx_4090, KvCacheType::q8_0, 131072},
        BudgetCase{"Q8Weights16Cache", qwen3_14b(q8_0_weights, 131072), rtx_4090, KvCacheType::f16, 53248},
        BudgetCase{"Q8WeightsQ8Cache", qwen3_14b(q8_0_weights, 131072), rtx_4090, KvCacheType::q8_0, 102400},
        BudgetCase{"Q8WeightsQ4Cache", qwen3_14b(q8_0_weights, 131072), rtx_4090, KvCacheType::q4_0, 131072},
        // Ollama's qwen3:14b says 40960: every variant is capped there on a 4090.
        BudgetCase{"LibraryQ4KMCapped", qwen3_14b(q4_k_m_weights, 40960), rtx_4090, KvCacheType::f16, 40960},
        BudgetCase{"LibraryQ8Capped", qwen3_14b(q8_0_weights, 40960), rtx_4090, KvCacheType::f16, 40960},
        // Smaller cards: 16 GiB still holds q4_K_M's whole context but only 2048 tokens beside
        // q8_0 weights; 12 GiB holds 14336 tokens beside q4_K_M and cannot hold q8_0 weights.
        BudgetCase{"SixteenGiBQ4KM", qwen3_14b(q4_k_m_weights, 40960), 16 * GiB, KvCacheType::f16, 40960},
        BudgetCase{"SixteenGiBQ8", qwen3_14b(q8_0_weights, 40960), 16 * GiB, KvCacheType::f16, 2048},
        BudgetCase{"TwelveGiBQ4KM", qwen3_14b(q4_k_m_weights, 40960), 12 * GiB, KvCacheType::f16, 14336},
        BudgetCase{"TwelveGiBQ8", qwen3_14b(q8_0_weights, 40960), 12 * GiB, KvCacheType::f16, 0},
        // Just below and at room for 2048 tokens.
        BudgetCase{"Below2048", qwen3_14b(q4_k_m_weights, 40960), q4_k_m_weights + kv_reserve_bytes + 2047 * 163840,
                   KvCacheType::f16, 0},
        BudgetCase{"Exactly2048", qwen3_14b(q4_k_m_weights, 40960), q4_k_m_weights + kv_reserve_bytes + 2048 * 163840,
                   KvCacheType::f16, 2048},
        // A context length that fits whole is used even when it is not a multiple of 2048.
        BudgetCase{"SmallContextUsedWhole", ModelShape{12, 12, 64, 64, 512, 274'302'450}, 8 * GiB, KvCacheType::f16, 512},
        BudgetCase{"UnknownContextIsNotCapped", qwen3_14b(q4_k_m_weights, 0), rtx_4090, KvCacheType::f16, 92160},
        BudgetCase{"UnknownShape", ModelShape{0, 0, 0, 0, 40960, q4_k_m_weights}, rtx_4090, KvCacheType::f16, 0}),
    NameOf{});

TEST(ChooseNumCtx, ReasonsShowTheArithmetic) {
    const NumCtxChoice fits = choose_num_ctx(qwen3_14b(q4_k_m_weights, 131072), rtx_4090, KvCacheType::f16);
    EXPECT_EQ(fits.reason,
              "KV cache 160 KiB/token (f16); gpu_memory 24.0 GiB - weights 8.7 GiB - reserve 1.0 GiB leaves 14.3 GiB, "
              "room for 93970 tokens -> 92160 (a multiple of 2048)");
    const NumCtxChoice capped = choose_num_ctx(qwen3_14b(q4_k_m_weights, 40960), rtx_4090, KvCacheType::f16);
    EXPECT_NE(capped.reason.find("capped at the model's context length 40960"), std::string::npos) << capped.reason;
    const NumCtxChoice none = choose_num_ctx(qwen3_14b(q8_0_weights, 40960), 12 * GiB, KvCacheType::f16);
    EXPECT_NE(none.reason.find("no KV cache fits"), std::string::npos) << none.reason;
}

TEST(ParseModelShape, ReadsTheQwen3Fixture) {
    const auto shape = parse_model_shape(fixture("show-qwen3-14b.json"), 9'276'198'565);
    ASSERT_TRUE(shape);
    EXPECT_EQ(*shape, (ModelShape{40, 8, 128, 128, 40960, 9'276'198'565}));
}

struct ShapeCase {
    std::string_view name;
    std::string_view show;
    std::optional<ModelShape> shape;
};

void PrintTo(const ShapeCase& row, std::ostream* out) { *out << row.name; }

class ParseShape : public testing::TestWithParam<ShapeCase> {};

TEST_P(ParseShape, FallsBackWhereModelInfoIsSilent) { EXPECT_EQ(parse_model_shape(GetParam().show, 1000), GetParam().shape); }

INSTANTIATE_TEST_SUITE_P(
    KvBudget, ParseShape,
    testing::Values(
        ShapeCase{"KeyLengthFromEmbedding",
                  R"({"model_info":{"general.architecture":"llama","llama.block_count":32,"llama.attention.head_count":32,)"
                  R"("llama.attention.head_count_kv":8,"llama.embedding_length":4096,"llama.context_length":131072}})",
                  ModelShape{32, 8, 128, 128, 131072, 1000}},
        ShapeCase{"KvHeadsFromHeads",
                  R"({"model_info":{"general.architecture":"bert","bert.block_count":12,"bert.attention.head_count":12,)"
                  R"("bert.embedding_length":768}})",
                  ModelShape{12, 12, 64, 64, 0, 1000}},
        ShapeCase{"PerLayerKvHeadsTakeTheLargest",
                  R"({"model_info":{"general.architecture":"x","x.block_count":4,"x.attention.head_count_kv":[2,8,2,8],)"
                  R"("x.attention.key_length":256,"x.attention.value_length":128}})",
                  ModelShape{4, 8, 256, 128, 0, 1000}},
        ShapeCase{"TruncatedArrayIsUnknown",
                  R"({"model_info":{"general.architecture":"x","x.block_count":4,"x.attention.head_count_kv":[],)"
                  R"("x.attention.key_length":256}})",
                  std::nullopt},
        ShapeCase{"NoBlockCount", R"({"model_info":{"general.architecture":"x","x.attention.head_count":4}})", std::nullopt},
        ShapeCase{"NoArchitecture", R"({"model_info":{"x.block_count":4}})", std::nullopt},
        ShapeCase{"NotJson", "{model_info", std::nullopt}),
    NameOf{});

}  // namespace
}  // namespace sluice
