// kv_budget: the num_ctx whose KV cache fits beside a model's weights in a GPU memory budget.
//
// KV cache bytes per token = block_count x head_count_kv x (key_length + value_length) x bytes
// per element, where an element costs (ggml's block sizes, exact for head sizes that are
// multiples of 32, which all current models have):
//   f16   2 bytes
//   q8_0  34 bytes per block of 32 (32 one-byte values and an f16 scale) = 1.0625
//   q4_0  18 bytes per block of 32 (32 four-bit values and an f16 scale) = 0.5625
//
// num_ctx auto = the largest multiple of 2048 tokens whose KV cache fits in
//   gpu_memory - weights - reserve
// capped at the model's context_length (a context_length that fits whole is used as is, even
// when it is not a multiple of 2048). reserve is a fixed 1 GiB for what else Ollama puts on
// the GPU: the CUDA context (~0.3-0.5 GiB) and the compute graph (a few hundred MiB, growing
// with num_batch). When not even 2048 tokens fit, there is no num_ctx (0) and Ollama keeps its
// own default, which it lowers itself if memory runs out. It assumes one parallel slot
// (OLLAMA_NUM_PARALLEL=1, the default): with N slots Ollama allocates N x num_ctx.
//
// Worked example (tests/unit/kv_budget_test.cpp): Qwen3-14B has 40 layers, 8 KV heads and key
// and value length 128, so 2 x 40 x 8 x 128 x 2 = 163,840 bytes = 160 KiB per token at f16
// (85 KiB at q8_0, 45 KiB at q4_0). The 131072 tokens often suggested for a 24 GiB RTX 4090
// need 20 GiB of f16 KV cache, on top of 9.3 GB (q4_K_M) to 15.7 GB (q8_0) of weights: it does
// not fit. With gpu_memory 24GiB (and a model whose context_length is 131072):
//   q4_K_M weights (9.3e9 B):  f16 KV 92160 tokens (14.06 GiB),  q8_0 KV 131072 (cap; 10.6 GiB)
//   q8_0 weights  (15.7e9 B):  f16 KV 53248 tokens  (8.13 GiB),  q8_0 KV 102400 (8.30 GiB)
// Ollama's own qwen3:14b reports context_length 40960, so all four give 40960 for it.
#pragma once

#include "sluice/config.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice {

// What num_ctx auto needs to know about a model: /api/show's model_info and /api/tags' size.
struct ModelShape {
    std::uint32_t block_count = 0;     // <arch>.block_count (layers)
    std::uint32_t head_count_kv = 0;   // <arch>.attention.head_count_kv (largest, if per layer)
    std::uint32_t key_length = 0;      // <arch>.attention.key_length, else embedding_length / head_count
    std::uint32_t value_length = 0;    // <arch>.attention.value_length, else key_length
    std::uint64_t context_length = 0;  // <arch>.context_length; 0 = unknown (no cap)
    std::uint64_t weights_bytes = 0;   // the model's size as /api/tags reports it

    bool operator==(const ModelShape&) const = default;
};

constexpr std::uint64_t kv_reserve_bytes = 1024ull * 1024 * 1024;  // see above
constexpr std::uint32_t num_ctx_step = 2048;

std::uint64_t kv_bytes_per_token(const ModelShape& shape, KvCacheType type);

struct NumCtxChoice {
    std::uint32_t num_ctx = 0;  // 0: no num_ctx fits (or the shape is unusable): send none
    std::string reason;         // the arithmetic, for logs and `sluice explain`
};

NumCtxChoice choose_num_ctx(const ModelShape& shape, std::uint64_t gpu_memory_bytes, KvCacheType type,
                            std::uint64_t reserve_bytes = kv_reserve_bytes);

// The shape from an /api/show response body and the size /api/tags gave; nullopt when the
// body lacks the layer or head counts (model_info arrays are emptied without "verbose").
std::optional<ModelShape> parse_model_shape(std::string_view show_json, std::uint64_t weights_bytes);

std::string_view kv_cache_type_name(KvCacheType type);

// "24.0 GiB": bytes as the budget's messages show them.
std::string format_gib(std::uint64_t bytes);

}  // namespace sluice
