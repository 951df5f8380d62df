// model_listing_fuzz: libFuzzer target for a model list from Ollama, as sluice filters it for a
// key limited to "qwen3:*" (the input's first byte picks Ollama's or OpenAI's form).
//
// Nothing is caught. For any list: a filtered one is valid JSON, and every entry of every list
// array in it names a model the key may use; nothing the key may not see gets through.
// Build, run and the long run: tests/fuzz/README.md.
#include "limited_key.hpp"

#include "sluice/access_control.hpp"
#include "sluice/model_listing.hpp"

#include <simdjson.h>

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const auto kind = data[0] % 2 ? sluice::ModelListing::openai : sluice::ModelListing::ollama;
    const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
    const auto may_use = [](std::string_view model) { return sluice::key_allows_model(sluice::fuzz::limited_key(), model); };
    const auto filtered = sluice::filter_model_listing(kind, body, may_use);
    if (!filtered) return 0;
    simdjson::dom::parser parser;
    simdjson::dom::object top;
    if (parser.parse(*filtered).get(top) != simdjson::SUCCESS) std::abort();
    const std::string_view list_name = kind == sluice::ModelListing::openai ? "data" : "models";
    for (const auto field : top) {
        if (field.key != list_name) continue;
        simdjson::dom::array list;
        if (field.value.get(list) != simdjson::SUCCESS) std::abort();
        for (const auto entry : list) {
            // The name the filter went by: "id", or "name" and else "model" (the first non-empty).
            std::string_view name;
            const auto named = [&](const char* member) {
                return entry[member].get(name) == simdjson::SUCCESS && !name.empty();
            };
            const bool found = kind == sluice::ModelListing::openai ? named("id") : named("name") || named("model");
            if (!found || !may_use(name)) std::abort();
        }
    }
    return 0;
}
