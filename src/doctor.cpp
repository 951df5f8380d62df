// doctor: what Ollama shows, checked against the tuning steps; each finding with its fix.
// (Gathering the facts, which is I/O, is in doctor_gather.cpp.)
#include "sluice/doctor.hpp"

#include "sluice/ascii.hpp"
#include "sluice/json_edit.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace sluice {

namespace {

// --- Ollama's environment -------------------------------------------------------------------

struct Settings {
    std::optional<KvCacheType> kv_cache;  // OLLAMA_KV_CACHE_TYPE
    std::optional<bool> flash_attention;  // OLLAMA_FLASH_ATTENTION
    int parallel = 0;                     // OLLAMA_NUM_PARALLEL; 0 = not set
};

Settings settings_of(const OllamaEnvironment& environment) {
    Settings settings;
    const auto& variables = environment.variables;
    if (const auto kv = variables.find("OLLAMA_KV_CACHE_TYPE"); kv != variables.end()) {
        const auto type = ascii_lowercase(kv->second);
        // Ollama reads an empty or unknown type as f16.
        settings.kv_cache = type == "q8_0" ? KvCacheType::q8_0 : type == "q4_0" ? KvCacheType::q4_0 : KvCacheType::f16;
    }
    if (const auto flash = variables.find("OLLAMA_FLASH_ATTENTION"); flash != variables.end()) {
        const auto value = ascii_lowercase(flash->second);
        settings.flash_attention = value == "1" || value == "true" || value == "yes" || value == "on";
    }
    if (const auto parallel = variables.find("OLLAMA_NUM_PARALLEL"); parallel != variables.end()) {
        settings.parallel = std::atoi(parallel->second.c_str());
    }
    return settings;
}

// --- diagnosing -----------------------------------------------------------------------------

const DoctorModel* find_installed(const DoctorFacts& facts, std::string_view name) {
    const auto normalized = normalize_model_name(name);
    const auto found = std::find_if(facts.installed.begin(), facts.installed.end(), [&](const DoctorModel& model) {
        return equals_ignoring_ascii_case(normalize_model_name(model.name), normalized);
    });
    return found == facts.installed.end() ? nullptr : &*found;
}

// The num_ctx whose KV cache fits beside `model` in gpu_memory; 0 when unknown or none.
std::uint32_t fitting_context(const DoctorModel* model, const RewriteConfig& rewrite, KvCacheType kv) {
    if (!model || !model->shape || rewrite.gpu_memory == 0) return 0;
    return choose_num_ctx(*model->shape, rewrite.gpu_memory, kv).num_ctx;
}

std::string context_fix(const DoctorModel* model, const RewriteConfig& rewrite, KvCacheType kv) {
    if (const auto fits = fitting_context(model, rewrite, kv); fits != 0) {
        return fmt::format("in sluice's config, a rewrite rule for {} with options: {{num_ctx: auto}} ({} tokens fit "
                           "beside its weights in gpu_memory {})",
                           model->name, fits, format_gib(rewrite.gpu_memory));
    }
    return "a smaller num_ctx or a smaller quantization; with rewrite.gpu_memory set, num_ctx: auto in a rewrite rule "
           "sizes the context to fit";
}

void check_offload(const DoctorFacts& facts, const RewriteConfig& rewrite, KvCacheType kv, std::vector<Finding>& findings) {
    for (const LoadedModel& loaded : facts.loaded) {
        if (loaded.size == 0 || loaded.size_vram >= loaded.size) continue;
        findings.push_back({Severity::costly,
                            fmt::format("{} has {} of its {} in system memory (num_ctx {}): those layers run on the CPU, "
                                        "at a fraction of the GPU's tokens/s",
                                        loaded.name, format_gib(loaded.size - loaded.size_vram), format_gib(loaded.size),
                                        loaded.context_length),
                            context_fix(find_installed(facts, loaded.name), rewrite, kv), loaded.name});
    }
}

// A rule's fixed num_ctx that cannot fit for a model it applies to.
void check_rule_contexts(const DoctorFacts& facts, const RewriteConfig& rewrite, KvCacheType kv,
                         std::vector<Finding>& findings) {
    if (rewrite.gpu_memory == 0) return;
    for (const RewriteRule& rule : rewrite.models) {
        const auto option = std::find_if(rule.options.begin(), rule.options.end(),
                                         [](const OptionDefault& o) { return o.name == "num_ctx" && !o.automatic; });
        if (option == rule.options.end()) continue;
        const std::uint64_t requested = std::strtoull(option->json.c_str(), nullptr, 10);
        for (const DoctorModel& model : facts.installed) {
            if (!model.shape || !model_pattern_matches(rule.match, model.name)) continue;
            // Past the model's own context length Ollama caps num_ctx itself: the capped one counts.
            const auto context = model.shape->context_length ? std::min<std::uint64_t>(requested, model.shape->context_length) : requested;
            if (model.size + kv_reserve_bytes + context * kv_bytes_per_token(*model.shape, kv) <= rewrite.gpu_memory) continue;
            const auto fits = fitting_context(&model, rewrite, kv);
            findings.push_back(
                {Severity::costly,
                 fmt::format("the rewrite rule at line {} sets num_ctx {} for {}: its KV cache ({} at {}) and weights ({}) "
                             "need more than gpu_memory {}, so Ollama puts layers on the CPU",
                             rule.line, requested, model.name, format_gib(context * kv_bytes_per_token(*model.shape, kv)),
                             kv_cache_type_name(kv), format_gib(model.size), format_gib(rewrite.gpu_memory)),
                 fits != 0 ? fmt::format("num_ctx: auto in that rule ({} tokens fit)", fits)
                           : fmt::format("{} does not fit in gpu_memory with any context: a smaller quantization", model.name),
                 model.name});
        }
    }
}

void check_small_contexts(const DoctorFacts& facts, const RewriteConfig& rewrite, KvCacheType kv,
                          std::vector<Finding>& findings) {
    for (const LoadedModel& loaded : facts.loaded) {
        if (loaded.context_length == 0 || loaded.size_vram < loaded.size) continue;
        const auto fits = fitting_context(find_installed(facts, loaded.name), rewrite, kv);
        if (fits < 2 * loaded.context_length) continue;
        findings.push_back({Severity::advice,
                            fmt::format("{} runs with a {}-token context where {} would fit in gpu_memory {}: longer "
                                        "chats lose their beginning without a word",
                                        loaded.name, loaded.context_length, fits, format_gib(rewrite.gpu_memory)),
                            fmt::format("in sluice's config, a rewrite rule for {} with options: {{num_ctx: auto}}", loaded.name),
                            loaded.name});
    }
}

// A rule prefers variants (-q8_0) of which none is installed for a model it applies to.
void check_preferred_variants(const DoctorFacts& facts, const RewriteConfig& rewrite, std::vector<Finding>& findings) {
    for (const RewriteRule& rule : rewrite.models) {
        if (rule.prefer.empty()) continue;
        for (const DoctorModel& model : facts.installed) {
            if (!model_pattern_matches(rule.match, model.name)) continue;
            const auto name = normalize_model_name(model.name);
            const bool is_variant = std::any_of(rule.prefer.begin(), rule.prefer.end(), [&](const std::string& suffix) {
                return name.size() > suffix.size() && equals_ignoring_ascii_case(name.substr(name.size() - suffix.size()), suffix);
            });
            const bool has_variant = std::any_of(rule.prefer.begin(), rule.prefer.end(), [&](const std::string& suffix) {
                return find_installed(facts, name + suffix) != nullptr;
            });
            if (is_variant || has_variant) continue;
            // Ollama's library has no -fp8 tags (GGUF has no FP8 type): suggest the first other.
            const auto pullable = std::find_if(rule.prefer.begin(), rule.prefer.end(), [](const std::string& suffix) {
                return ascii_lowercase(suffix).find("fp8") == std::string::npos;
            });
            std::string variants;
            for (const auto& suffix : rule.prefer) variants += (variants.empty() ? "" : ", ") + name + suffix;
            findings.push_back({Severity::advice,
                                fmt::format("none of the variants the rewrite rule at line {} prefers for {} is installed ({})",
                                            rule.line, name, variants),
                                pullable == rule.prefer.end() ? fmt::format("create one of {}", variants)
                                                              : fmt::format("ollama pull {}{}", name, *pullable),
                                model.name});
        }
    }
}

// The model the KV cache checks speak of: the first loaded one with a shape, else installed.
const DoctorModel* example_model(const DoctorFacts& facts) {
    for (const LoadedModel& loaded : facts.loaded) {
        if (const auto* model = find_installed(facts, loaded.name); model && model->shape) return model;
    }
    for (const DoctorModel& model : facts.installed) {
        if (model.shape) return &model;
    }
    return nullptr;
}

void check_environment(const DoctorFacts& facts, const RewriteConfig& rewrite, std::vector<Finding>& findings) {
    const auto& environment = facts.environment;
    if (environment.source.empty()) {
        findings.push_back({Severity::advice,
                            fmt::format("Ollama's environment cannot be read here{}: the KV cache, flash attention and "
                                        "OLLAMA_NUM_PARALLEL are not checked (num_ctx sizes assume a {} KV cache)",
                                        environment.missing.empty() ? "" : " (" + environment.missing + ")",
                                        kv_cache_type_name(rewrite.kv_cache_type)),
                            "run `sluice doctor` on the machine whose systemd runs ollama.service"});
        return;
    }
    const Settings settings = settings_of(environment);
    const KvCacheType kv = settings.kv_cache.value_or(KvCacheType::f16);
    const bool any_offload = std::any_of(facts.loaded.begin(), facts.loaded.end(),
                                         [](const LoadedModel& m) { return m.size_vram < m.size; });
    if (kv != KvCacheType::f16 && settings.flash_attention == false) {
        findings.push_back({Severity::costly,
                            fmt::format("OLLAMA_KV_CACHE_TYPE={} is ignored while OLLAMA_FLASH_ATTENTION is off: the KV "
                                        "cache is f16, twice the memory the contexts were sized for",
                                        kv_cache_type_name(kv)),
                            "Environment=OLLAMA_FLASH_ATTENTION=1 in ollama.service (systemctl edit ollama)"});
    }
    if (kv != rewrite.kv_cache_type) {
        const bool oversized = kv_bytes_per_token(ModelShape{1, 1, 32, 32, 0, 0}, kv) >
                               kv_bytes_per_token(ModelShape{1, 1, 32, 32, 0, 0}, rewrite.kv_cache_type);
        findings.push_back({oversized ? Severity::costly : Severity::advice,
                            fmt::format("Ollama's KV cache is {} but sluice sizes num_ctx: auto for {}: {}",
                                        kv_cache_type_name(kv), kv_cache_type_name(rewrite.kv_cache_type),
                                        oversized ? "the contexts it picks do not fit" : "it picks smaller contexts than fit"),
                            fmt::format("kv_cache_type: {} under rewrite: in sluice's config", kv_cache_type_name(kv))});
    }
    if (kv == KvCacheType::f16 && rewrite.gpu_memory != 0) {
        const DoctorModel* model = example_model(facts);
        const auto f16 = fitting_context(model, rewrite, KvCacheType::f16);
        const auto q8 = fitting_context(model, rewrite, KvCacheType::q8_0);
        if (model && q8 > f16) {
            findings.push_back({Severity::advice,
                                fmt::format("Ollama's KV cache is f16: at q8_0 (nearly lossless) {} would fit {} tokens of "
                                            "context in gpu_memory {} instead of {}",
                                            model->name, q8, format_gib(rewrite.gpu_memory), f16),
                                "Environment=OLLAMA_FLASH_ATTENTION=1 and Environment=OLLAMA_KV_CACHE_TYPE=q8_0 in "
                                "ollama.service (systemctl edit ollama), then kv_cache_type: q8_0 under rewrite: in "
                                "sluice's config"});
        }
    }
    if (settings.parallel > 1) {
        findings.push_back({any_offload ? Severity::costly : Severity::advice,
                            fmt::format("OLLAMA_NUM_PARALLEL={0}: Ollama gives each loaded model {0} times its num_ctx "
                                        "of KV cache, memory that one person's chats never use",
                                        settings.parallel),
                            "Environment=OLLAMA_NUM_PARALLEL=1 in ollama.service on a box that serves one person at a time"});
    }
}

std::string_view severity_name(Severity severity) { return severity == Severity::costly ? "costly" : "advice"; }

}  // namespace

std::vector<Finding> diagnose(const DoctorFacts& facts, const RewriteConfig& rewrite) {
    std::vector<Finding> findings;
    if (!facts.ollama_error.empty()) {
        findings.push_back({Severity::costly, fmt::format("cannot ask Ollama at {}: {}", facts.ollama_url, facts.ollama_error),
                            "start Ollama (systemctl start ollama), or point upstream: in sluice's config at it"});
        return findings;
    }
    const KvCacheType kv = settings_of(facts.environment).kv_cache.value_or(
        facts.environment.source.empty() ? rewrite.kv_cache_type : KvCacheType::f16);
    check_offload(facts, rewrite, kv, findings);
    check_rule_contexts(facts, rewrite, kv, findings);
    check_small_contexts(facts, rewrite, kv, findings);
    check_preferred_variants(facts, rewrite, findings);
    check_environment(facts, rewrite, findings);
    std::stable_partition(findings.begin(), findings.end(), [](const Finding& f) { return f.severity == Severity::costly; });
    return findings;
}

std::string doctor_report_text(const DoctorFacts& facts, const std::vector<Finding>& findings) {
    std::string report;
    if (facts.ollama_error.empty()) {
        report += fmt::format("ollama {} at {}: {} installed, {} loaded\n", facts.version, facts.ollama_url,
                              facts.installed.size(), facts.loaded.size());
        for (const LoadedModel& loaded : facts.loaded) {
            report += fmt::format("  {}: num_ctx {}, {} ({} on the GPU)\n", loaded.name, loaded.context_length,
                                  format_gib(loaded.size), format_gib(loaded.size_vram));
        }
    }
    if (!facts.environment.source.empty()) {
        report += fmt::format("{}:", facts.environment.source);
        for (const auto& [name, value] : facts.environment.variables) report += fmt::format(" {}={}", name, value);
        report += facts.environment.variables.empty() ? " no OLLAMA_ variables\n" : "\n";
    }
    for (const Finding& finding : findings) {
        report += fmt::format("{}: {}\n  fix: {}\n", finding.severity == Severity::costly ? "COSTLY" : "advice",
                              finding.text, finding.fix);
    }
    const bool costly = std::any_of(findings.begin(), findings.end(), [](const Finding& f) { return f.severity == Severity::costly; });
    report += costly ? "something above costs tokens/s\n" : "nothing found that costs tokens/s\n";
    return report;
}

std::string doctor_report_json(const DoctorFacts& facts, const std::vector<Finding>& findings) {
    std::string json = fmt::format(R"({{"ollama":{{"url":{},"version":{},"error":{},"installed":{},"loaded":[)",
                                   json_quote(facts.ollama_url), json_quote(facts.version), json_quote(facts.ollama_error),
                                   facts.installed.size());
    for (std::size_t i = 0; i < facts.loaded.size(); ++i) {
        const auto& loaded = facts.loaded[i];
        json += fmt::format(R"({}{{"name":{},"size":{},"size_vram":{},"context_length":{}}})", i ? "," : "",
                            json_quote(loaded.name), loaded.size, loaded.size_vram, loaded.context_length);
    }
    json += R"(]},"findings":[)";
    for (std::size_t i = 0; i < findings.size(); ++i) {
        const Finding& finding = findings[i];
        json += fmt::format(R"({}{{"severity":"{}","text":{},"fix":{}{}}})", i ? "," : "", severity_name(finding.severity),
                            json_quote(finding.text), json_quote(finding.fix),
                            finding.model.empty() ? "" : R"(,"model":)" + json_quote(finding.model));
    }
    json += "]}";
    return json;
}

}  // namespace sluice
