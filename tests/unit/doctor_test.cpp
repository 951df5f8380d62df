// doctor_test: each tuning mistake `sluice doctor` knows, shown as Ollama would show it, and the
// finding and fix it gets; and a well-tuned box that gets none.
#include "sluice/doctor.hpp"

#include "fixtures.hpp"

#include <gtest/gtest.h>

#include <simdjson.h>

#include <algorithm>

namespace sluice {
namespace {

constexpr std::uint64_t q4_size = 9'276'198'565;   // qwen3:14b, tests/fixtures/tags.json
constexpr std::uint64_t q8_size = 15'718'818'517;  // qwen3:14b-q8_0

RewriteConfig rules(std::string_view yaml) { return parse_config(yaml, "sluice.yaml").rewrite; }

DoctorModel qwen3(std::string name, std::uint64_t size, std::string quantization) {
    return {std::move(name), size, std::move(quantization), parse_model_shape(test::fixture("show-qwen3-14b.json"), size)};
}

// Ollama with qwen3:14b (and its q8_0) installed, read through systemd with a tuned environment.
DoctorFacts tuned() {
    DoctorFacts facts;
    facts.ollama_url = "http://127.0.0.1:11434";
    facts.version = "0.12.6";
    facts.installed = {qwen3("qwen3:14b", q4_size, "Q4_K_M"), qwen3("qwen3:14b-q8_0", q8_size, "Q8_0")};
    facts.loaded = {{"qwen3:14b-q8_0", 19'730'214'912, 19'730'214'912, 40960}};
    facts.environment = {"systemctl show ollama.service", {}, {{"OLLAMA_FLASH_ATTENTION", "1"}, {"OLLAMA_KV_CACHE_TYPE", "q8_0"}}};
    return facts;
}

// gpu_memory 24GiB, a q8_0 KV cache, and a qwen3:14b* rule preferring -q8_0 with num_ctx: auto.
const std::string tuned_config = test::fixture("doctor-tuned.yaml");

std::string all(const std::vector<Finding>& findings) {
    std::string text;
    for (const auto& f : findings) text += (f.severity == Severity::costly ? "COSTLY " : "advice ") + f.text + " | fix: " + f.fix + "\n";
    return text;
}

bool costly(const std::vector<Finding>& findings) {
    return std::any_of(findings.begin(), findings.end(), [](const Finding& f) { return f.severity == Severity::costly; });
}

TEST(Doctor, AWellTunedBoxHasNothingToFix) {
    const auto findings = diagnose(tuned(), rules(tuned_config));
    EXPECT_TRUE(findings.empty()) << all(findings);
}

TEST(Doctor, LayersOnTheCpuCostTokensAndTheFixSizesTheContext) {
    auto facts = tuned();
    facts.loaded = {{"qwen3:14b-q8_0", 37'000'000'000, 25'000'000'000, 131072}};
    const auto findings = diagnose(facts, rules(tuned_config));
    ASSERT_FALSE(findings.empty());
    EXPECT_EQ(findings[0].severity, Severity::costly);
    EXPECT_EQ(findings[0].text, "qwen3:14b-q8_0 has 11.2 GiB of its 34.5 GiB in system memory (num_ctx 131072): those "
                                "layers run on the CPU, at a fraction of the GPU's tokens/s");
    EXPECT_EQ(findings[0].fix, "in sluice's config, a rewrite rule for qwen3:14b-q8_0 with options: {num_ctx: auto} "
                               "(40960 tokens fit beside its weights in gpu_memory 24.0 GiB)");
    EXPECT_EQ(findings[0].model, "qwen3:14b-q8_0");  // the page shows it in that model's card
}

TEST(Doctor, ARuleWhoseNumCtxCannotFitIsCostly) {
    auto facts = tuned();
    facts.environment.variables = {{"OLLAMA_FLASH_ATTENTION", "1"}};  // f16 KV cache
    // Qwen3-14B with a 128k context (YaRN), as users configure it.
    for (auto& model : facts.installed) model.shape->context_length = 131072;
    const auto findings = diagnose(facts, rules(R"(
rewrite:
  gpu_memory: 24GiB
  models:
    - match: "qwen3:14b*"
      options: {num_ctx: 131072}
)"));
    ASSERT_GE(findings.size(), 2u) << all(findings);
    EXPECT_TRUE(costly(findings));
    EXPECT_EQ(findings[0].text, "the rewrite rule at line 5 sets num_ctx 131072 for qwen3:14b: its KV cache (20.0 GiB at "
                                "f16) and weights (8.6 GiB) need more than gpu_memory 24.0 GiB, so Ollama puts layers on the CPU");
    EXPECT_EQ(findings[0].fix, "num_ctx: auto in that rule (92160 tokens fit)");
    EXPECT_NE(findings[1].text.find("for qwen3:14b-q8_0"), std::string::npos) << all(findings);
    // And the f16 cache: q8_0 would hold the whole 131072 beside the Q8 weights? No: 102400.
    EXPECT_NE(all(findings).find("at q8_0 (nearly lossless) qwen3:14b-q8_0 would fit 102400 tokens of context in gpu_memory "
                                 "24.0 GiB instead of 53248"),
              std::string::npos)
        << all(findings);
}

TEST(Doctor, AContextFarBelowWhatFitsIsAdvice) {
    auto facts = tuned();
    facts.loaded[0].context_length = 4096;
    facts.loaded[0].size = facts.loaded[0].size_vram = 17'000'000'000;
    const auto findings = diagnose(facts, rules(tuned_config));
    ASSERT_EQ(findings.size(), 1u) << all(findings);
    EXPECT_EQ(findings[0].severity, Severity::advice);
    EXPECT_EQ(findings[0].text, "qwen3:14b-q8_0 runs with a 4096-token context where 40960 would fit in gpu_memory 24.0 "
                                "GiB: longer chats lose their beginning without a word");
}

TEST(Doctor, APreferredVariantNotInstalledSaysWhatToPull) {
    auto facts = tuned();
    facts.installed.pop_back();  // only qwen3:14b (Q4_K_M)
    facts.loaded.clear();
    const auto findings = diagnose(facts, rules(tuned_config));
    ASSERT_EQ(findings.size(), 1u) << all(findings);
    EXPECT_EQ(findings[0].text, "none of the variants the rewrite rule at line 5 prefers for qwen3:14b is installed "
                                "(qwen3:14b-fp8, qwen3:14b-q8_0)");
    EXPECT_EQ(findings[0].fix, "ollama pull qwen3:14b-q8_0");  // the library has no -fp8 tags
    EXPECT_EQ(findings[0].model, "qwen3:14b");
}

TEST(Doctor, OllamasEnvironmentIsChecked) {
    auto facts = tuned();
    facts.environment.variables = {{"OLLAMA_FLASH_ATTENTION", "0"}, {"OLLAMA_KV_CACHE_TYPE", "q8_0"}, {"OLLAMA_NUM_PARALLEL", "4"}};
    const auto findings = diagnose(facts, rules(tuned_config));
    ASSERT_EQ(findings.size(), 2u) << all(findings);
    EXPECT_EQ(findings[0].severity, Severity::costly);
    EXPECT_TRUE(findings[0].text.starts_with("OLLAMA_KV_CACHE_TYPE=q8_0 is ignored while OLLAMA_FLASH_ATTENTION is off"));
    EXPECT_EQ(findings[1].severity, Severity::advice);  // nothing is on the CPU yet
    EXPECT_TRUE(findings[1].text.starts_with("OLLAMA_NUM_PARALLEL=4: ")) << all(findings);
    EXPECT_EQ(findings[1].fix, "Environment=OLLAMA_NUM_PARALLEL=1 in ollama.service on a box that serves one person at a time");
    EXPECT_EQ(findings[1].model, "");  // Ollama's settings are the whole box's

    // sluice sizing contexts for q8_0 while Ollama keeps f16: those contexts do not fit.
    facts.environment.variables = {{"OLLAMA_FLASH_ATTENTION", "1"}};
    const auto mismatch = diagnose(facts, rules(tuned_config));
    ASSERT_FALSE(mismatch.empty());
    EXPECT_EQ(mismatch[0].severity, Severity::costly);
    EXPECT_EQ(mismatch[0].text, "Ollama's KV cache is f16 but sluice sizes num_ctx: auto for q8_0: the contexts it picks do not fit");
    EXPECT_EQ(mismatch[0].fix, "kv_cache_type: f16 under rewrite: in sluice's config");
}

TEST(Doctor, AnUnreadableEnvironmentIsSaidAndTheConfigsKvTypeAssumed) {
    auto facts = tuned();
    facts.environment = {{}, "ollama.service is not a systemd unit on this machine", {}};
    const auto findings = diagnose(facts, rules(tuned_config));
    ASSERT_EQ(findings.size(), 1u) << all(findings);
    EXPECT_EQ(findings[0].severity, Severity::advice);
    EXPECT_EQ(findings[0].text, "Ollama's environment cannot be read here (ollama.service is not a systemd unit on this "
                                "machine): the KV cache, flash attention and OLLAMA_NUM_PARALLEL are not checked (num_ctx "
                                "sizes assume a q8_0 KV cache)");
}

TEST(Doctor, AnOllamaThatCannotBeAskedIsOneCostlyFinding) {
    DoctorFacts facts;
    facts.ollama_url = "http://127.0.0.1:11434";
    facts.ollama_error = "Connection refused";
    const auto findings = diagnose(facts, rules(tuned_config));
    ASSERT_EQ(findings.size(), 1u);
    EXPECT_EQ(findings[0].severity, Severity::costly);
    EXPECT_EQ(findings[0].text, "cannot ask Ollama at http://127.0.0.1:11434: Connection refused");
    const auto report = doctor_report_text(facts, findings);
    EXPECT_NE(report.find("something above costs tokens/s"), std::string::npos) << report;
}

TEST(Doctor, TheJsonReportIsValidWhateverTheNames) {
    auto facts = tuned();
    facts.loaded[0].name = "we\"ird\\name\x01";
    facts.loaded[0].size_vram = 1;
    const auto json = doctor_report_json(facts, diagnose(facts, rules(tuned_config)));
    simdjson::dom::parser parser;
    simdjson::dom::element document;
    ASSERT_EQ(parser.parse(json).get(document), simdjson::SUCCESS) << json;
    simdjson::dom::array findings;
    ASSERT_EQ(document["findings"].get(findings), simdjson::SUCCESS);
    EXPECT_EQ(std::string_view(findings.at(0)["severity"].get_string().value()), "costly");
    EXPECT_EQ(document["ollama"]["loaded"].get_array().size(), 1u);
}

}  // namespace
}  // namespace sluice
