// kv_budget: num_ctx auto, from a model's shape and the GPU memory budget.
#include "sluice/kv_budget.hpp"

#include <simdjson.h>

#include <algorithm>
#include <cstdio>

namespace sluice {
namespace {

// Bytes per block of 32 elements (ggml's q8_0 and q4_0 blocks carry an f16 scale each).
std::uint64_t block_bytes(KvCacheType type) {
    switch (type) {
        case KvCacheType::f16: return 64;
        case KvCacheType::q8_0: return 34;
        case KvCacheType::q4_0: return 18;
    }
    return 64;
}

std::string kib(std::uint64_t bytes) {
    char text[32];
    std::snprintf(text, sizeof text, "%.0f KiB", static_cast<double>(bytes) / 1024.0);
    return text;
}

std::optional<std::uint64_t> read_count(simdjson::dom::object info, const std::string& key) {
    simdjson::dom::element element;
    if (info.at_key(key).get(element) != simdjson::SUCCESS) return std::nullopt;
    std::uint64_t value = 0;
    if (element.get_uint64().get(value) == simdjson::SUCCESS) return value;
    // Models with per-layer head counts (sliding-window layers) give an array: size the cache
    // for the largest, which over- rather than under-estimates.
    simdjson::dom::array values;
    if (element.get_array().get(values) != simdjson::SUCCESS) return std::nullopt;
    std::optional<std::uint64_t> largest;
    for (simdjson::dom::element item : values) {
        if (item.get_uint64().get(value) == simdjson::SUCCESS) largest = std::max(largest.value_or(0), value);
    }
    return largest;
}

}  // namespace

std::string format_gib(std::uint64_t bytes) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f GiB", static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0));
    return text;
}

std::string_view kv_cache_type_name(KvCacheType type) {
    switch (type) {
        case KvCacheType::f16: return "f16";
        case KvCacheType::q8_0: return "q8_0";
        case KvCacheType::q4_0: return "q4_0";
    }
    return "f16";
}

std::uint64_t kv_bytes_per_token(const ModelShape& shape, KvCacheType type) {
    const std::uint64_t elements = std::uint64_t{shape.block_count} * shape.head_count_kv *
                                   (std::uint64_t{shape.key_length} + shape.value_length);
    return (elements * block_bytes(type) + 31) / 32;
}

NumCtxChoice choose_num_ctx(const ModelShape& shape, std::uint64_t gpu_memory_bytes, KvCacheType type,
                            std::uint64_t reserve_bytes) {
    const std::uint64_t per_token = kv_bytes_per_token(shape, type);
    if (per_token == 0) return {0, "the model's layer or head counts are unknown"};
    const std::string cache = "KV cache " + kib(per_token) + "/token (" + std::string(kv_cache_type_name(type)) + ")";
    const std::uint64_t taken = shape.weights_bytes + reserve_bytes;
    if (taken >= gpu_memory_bytes) {
        return {0, "the weights (" + format_gib(shape.weights_bytes) + ") and the " + format_gib(reserve_bytes) +
                       " reserve fill gpu_memory " + format_gib(gpu_memory_bytes) + " already; no KV cache fits"};
    }
    const std::uint64_t room = gpu_memory_bytes - taken;
    const std::uint64_t tokens = room / per_token;
    const std::string arithmetic = cache + "; gpu_memory " + format_gib(gpu_memory_bytes) + " - weights " +
                                   format_gib(shape.weights_bytes) + " - reserve " + format_gib(reserve_bytes) + " leaves " +
                                   format_gib(room) + ", room for " + std::to_string(tokens) + " tokens";
    if (shape.context_length != 0 && shape.context_length <= tokens) {
        return {static_cast<std::uint32_t>(shape.context_length),
                arithmetic + "; capped at the model's context length " + std::to_string(shape.context_length)};
    }
    const std::uint64_t steps = tokens / num_ctx_step * num_ctx_step;
    if (steps == 0) return {0, arithmetic + ": not even " + std::to_string(num_ctx_step) + " fit"};
    return {static_cast<std::uint32_t>(std::min<std::uint64_t>(steps, UINT32_MAX / num_ctx_step * num_ctx_step)),
            arithmetic + " -> " + std::to_string(steps) + " (a multiple of " + std::to_string(num_ctx_step) + ")"};
}

std::optional<ModelShape> parse_model_shape(std::string_view show_json, std::uint64_t weights_bytes) {
    simdjson::dom::parser parser;
    simdjson::dom::element document;
    simdjson::dom::object info;
    std::string_view architecture;
    if (parser.parse(show_json.data(), show_json.size()).get(document) != simdjson::SUCCESS ||
        document["model_info"].get_object().get(info) != simdjson::SUCCESS ||
        info["general.architecture"].get_string().get(architecture) != simdjson::SUCCESS) {
        return std::nullopt;
    }
    const std::string prefix = std::string(architecture) + ".";
    const auto count = [&](std::string_view key) { return read_count(info, prefix + std::string(key)); };

    const auto blocks = count("block_count");
    const auto heads = count("attention.head_count");
    const auto kv_heads = count("attention.head_count_kv").has_value() ? count("attention.head_count_kv") : heads;
    auto key_length = count("attention.key_length");
    if (!key_length) {
        const auto embedding = count("embedding_length");
        if (embedding && heads && *heads != 0) key_length = *embedding / *heads;
    }
    const auto value_length = count("attention.value_length").has_value() ? count("attention.value_length") : key_length;
    const auto fits = [](const std::optional<std::uint64_t>& value) { return value && *value != 0 && *value <= UINT32_MAX; };
    if (!fits(blocks) || !fits(kv_heads) || !fits(key_length) || !fits(value_length)) return std::nullopt;

    ModelShape shape;
    shape.block_count = static_cast<std::uint32_t>(*blocks);
    shape.head_count_kv = static_cast<std::uint32_t>(*kv_heads);
    shape.key_length = static_cast<std::uint32_t>(*key_length);
    shape.value_length = static_cast<std::uint32_t>(*value_length);
    shape.context_length = count("context_length").value_or(0);
    shape.weights_bytes = weights_bytes;
    return shape;
}

}  // namespace sluice
