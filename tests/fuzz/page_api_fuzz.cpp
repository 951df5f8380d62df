// page_api_fuzz: libFuzzer target for a request target to sluice's own API for the page, as the
// admission step hands it over (normalized), asked by a key limited to "qwen3:*" with a prefer
// rule in force.
//
// Nothing is caught. For any target: the answer is 200, 400, 403, 404 or 405, its body is valid
// JSON, an error is {"error": "sluice: ..."}, and a plan (200 from explain) is only ever given
// about a model the key may use. Build, run and the long run: tests/fuzz/README.md.
#include "limited_key.hpp"

#include "sluice/access_control.hpp"
#include "sluice/page_api.hpp"
#include "sluice/request_target.hpp"

#include <simdjson.h>

#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <variant>

namespace {

const sluice::Config& config() {
    static const sluice::Config loaded =
        sluice::parse_config("rewrite: {models: [{match: \"qwen3*\", prefer: [-q8_0], options: {num_ctx: 8192}}]}\n", "fuzz.yaml");
    return loaded;
}

const sluice::ModelFacts& facts() {
    static const sluice::ModelFacts known = [] {
        sluice::ModelFacts f;
        f.known = true;
        f.models.push_back({"qwen3:14b", std::nullopt, true});
        f.models.push_back({"qwen3:14b-q8_0", std::nullopt, true});
        return f;
    }();
    return known;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view raw(reinterpret_cast<const char*>(data), size);
    auto normalized = sluice::normalize_target(raw);
    if (std::holds_alternative<sluice::TargetError>(normalized)) return 0;  // admission answers 400 first
    const auto& target = std::get<std::string>(normalized);
    const auto* key = &sluice::fuzz::limited_key();
    sluice::DoctorFacts doctor;
    doctor.ollama_error = "Connection refused";
    const auto answer = sluice::answer_page_api("GET", target, config(), key, facts(),
                                                sluice::page_api_wants_doctor("GET", target, key) ? &doctor : nullptr);
    simdjson::dom::parser parser;
    simdjson::dom::object body;
    if (parser.parse(answer.body).get(body) != simdjson::SUCCESS) std::abort();
    std::string_view text;
    switch (answer.status) {
    case 200:
        if (sluice::target_path(target) == "/_sluice/api/explain") {
            // The plan names the model asked about, or the variant the rule prefers for it: one
            // the key may use either way.
            if (body["model"].get(text) != simdjson::SUCCESS || !sluice::key_allows_model(sluice::fuzz::limited_key(), text)) {
                std::abort();
            }
        }
        break;
    case 400:
    case 403:
    case 404:
    case 405:
        if (body["error"].get(text) != simdjson::SUCCESS || !text.starts_with("sluice: ")) std::abort();
        break;
    default:
        std::abort();
    }
    return 0;
}
