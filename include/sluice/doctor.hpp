// doctor: `sluice doctor` and /_sluice/api/doctor: the tuning steps users get wrong, checked
// against what Ollama shows. A model partly on the CPU (/api/ps: size_vram < size), a num_ctx
// whose KV cache does not fit beside the weights, a context far below what would fit, a
// preferred FP8/Q8 variant not installed, an f16 KV cache where q8_0 would hold twice the
// context, a quantized KV cache without flash attention, OLLAMA_NUM_PARALLEL splitting memory.
// Each finding carries its fix (a config line for sluice, an environment line for Ollama's
// unit). Gathering asks Ollama (and, for the CLI, systemd for Ollama's environment); diagnosing
// is pure.
#pragma once

#include "sluice/config.hpp"
#include "sluice/kv_budget.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sluice {

// One installed model (/api/tags) with its card (/api/show).
struct DoctorModel {
    std::string name;
    std::uint64_t size = 0;            // bytes of weights
    std::string quantization;          // details.quantization_level: "Q4_K_M"
    std::optional<ModelShape> shape;   // null when the card lacks layer or head counts
};

// One model in memory (/api/ps).
struct LoadedModel {
    std::string name;
    std::uint64_t size = 0;            // everything Ollama holds for it: weights, KV cache, graph
    std::uint64_t size_vram = 0;       // the part on the GPU
    std::uint64_t context_length = 0;  // the num_ctx it was loaded with; 0 when not reported
};

// Ollama's server settings (OLLAMA_* variables), when they can be read.
struct OllamaEnvironment {
    std::string source;   // where they were read ("systemctl show ollama.service"); empty: unknown
    std::string missing;  // when unknown, why
    std::map<std::string, std::string> variables;
};

struct DoctorFacts {
    std::string ollama_url;
    std::string ollama_error;  // why Ollama could not be asked; empty when it answered
    std::string version;       // /api/version
    std::vector<DoctorModel> installed;
    std::vector<LoadedModel> loaded;
    OllamaEnvironment environment;
};

enum class Severity {
    advice,  // worth changing: context or quality left on the table, or a check that could not run
    costly,  // costs tokens/s (or fails requests) now: `sluice doctor` exits non-zero
};

struct Finding {
    Severity severity = Severity::advice;
    std::string text;  // what is wrong, with the numbers
    std::string fix;   // the line to add or the command to run
    std::string model; // the model it is about, as Ollama names it; empty: the whole box
};

// What is wrong, most costly first; empty when nothing is.
std::vector<Finding> diagnose(const DoctorFacts& facts, const RewriteConfig& rewrite);

// Asks Ollama (config.upstream) for /api/version, /api/tags, /api/ps and each installed model's
// /api/show, bounded by timeouts.upstream_connect and upstream_headers per request. Never
// throws: a failure is facts.ollama_error. Leaves facts.environment empty.
boost::asio::awaitable<DoctorFacts> gather_doctor_facts(boost::asio::io_context& io, const Config& config);
// The same run to its end on an io_context of its own, then Ollama's environment read (the CLI).
DoctorFacts gather_doctor_facts_here(const Config& config);

// Ollama's environment from its systemd unit (`systemctl show ollama.service`), when that works
// (a local systemd service); otherwise empty, with no source.
OllamaEnvironment read_ollama_environment();

// The facts and findings as people read them (the CLI), and as the page reads them (JSON:
// {"ollama": ..., "findings": [{"severity", "text", "fix", "model"}]}, "model" only when one).
std::string doctor_report_text(const DoctorFacts& facts, const std::vector<Finding>& findings);
std::string doctor_report_json(const DoctorFacts& facts, const std::vector<Finding>& findings);

}  // namespace sluice
