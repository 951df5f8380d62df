// doctor_gather: the doctor's facts, from Ollama's API and from systemd.
#include "sluice/doctor.hpp"

#include "sluice/json_edit.hpp"
#include "sluice/upstream_fetch.hpp"

#include <boost/asio/co_spawn.hpp>
#include <fmt/format.h>
#include <simdjson.h>

#include <array>
#include <cstdio>
#include <memory>

namespace sluice {

namespace asio = boost::asio;

namespace {

constexpr std::size_t max_cards = 64;  // /api/show is asked for at most this many installed models
constexpr FetchOptions fetch_options{.user_agent = "sluice-doctor", .response_timeout = std::chrono::seconds(10)};

simdjson::dom::array models_of(simdjson::dom::parser& parser, const std::string& json, std::string_view route) {
    simdjson::dom::array models;
    if (parser.parse(json).get_object()["models"].get_array().get(models) != simdjson::SUCCESS) {
        throw std::runtime_error(fmt::format("{} answered something other than {{\"models\": [...]}}", route));
    }
    return models;
}

std::uint64_t number(simdjson::dom::element element, std::string_view key) {
    std::uint64_t value = 0;
    return element[key].get_uint64().get(value) == simdjson::SUCCESS ? value : 0;
}

std::string text(simdjson::dom::element element, std::string_view key) {
    std::string_view value;
    return element[key].get_string().get(value) == simdjson::SUCCESS ? std::string(value) : std::string();
}

std::vector<DoctorModel> parse_installed(const std::string& json) {
    simdjson::dom::parser parser;
    std::vector<DoctorModel> installed;
    for (const auto model : models_of(parser, json, "/api/tags")) {
        DoctorModel entry{text(model, "name"), number(model, "size"), {}, {}};
        if (entry.name.empty()) continue;
        std::string_view quantization;
        if (model["details"]["quantization_level"].get_string().get(quantization) == simdjson::SUCCESS) {
            entry.quantization = quantization;
        }
        installed.push_back(std::move(entry));
    }
    return installed;
}

std::vector<LoadedModel> parse_loaded(const std::string& json) {
    simdjson::dom::parser parser;
    std::vector<LoadedModel> loaded;
    for (const auto model : models_of(parser, json, "/api/ps")) {
        LoadedModel entry{text(model, "name"), number(model, "size"), number(model, "size_vram"), number(model, "context_length")};
        if (!entry.name.empty()) loaded.push_back(std::move(entry));
    }
    return loaded;
}

}  // namespace

asio::awaitable<DoctorFacts> gather_doctor_facts(asio::io_context& io, const Config& config) {
    DoctorFacts facts;
    facts.ollama_url = config.upstream().url;
    try {
        simdjson::dom::parser parser;
        std::string_view version;
        const auto version_json = co_await fetch_from_upstream(io, config, "GET", "/api/version", {}, fetch_options);
        if (parser.parse(version_json)["version"].get_string().get(version) == simdjson::SUCCESS) facts.version = version;
        facts.installed = parse_installed(co_await fetch_from_upstream(io, config, "GET", "/api/tags", {}, fetch_options));
        facts.loaded = parse_loaded(co_await fetch_from_upstream(io, config, "GET", "/api/ps", {}, fetch_options));
    } catch (const std::exception& e) {
        facts.ollama_error = describe_fetch_error(e);
        co_return facts;
    }
    for (std::size_t i = 0; i < facts.installed.size() && i < max_cards; ++i) {
        auto& model = facts.installed[i];
        try {
            const auto card = co_await fetch_from_upstream(io, config, "POST", "/api/show",
                                                           "{\"model\":" + json_quote(model.name) + "}", fetch_options);
            model.shape = parse_model_shape(card, model.size);
        } catch (const std::exception&) {
            // A model whose card cannot be read is checked without its shape.
        }
    }
    co_return facts;
}

DoctorFacts gather_doctor_facts_here(const Config& config) {
    asio::io_context io;
    DoctorFacts facts;
    asio::co_spawn(io, gather_doctor_facts(io, config), [&](std::exception_ptr failed, DoctorFacts gathered) {
        facts = std::move(gathered);
        if (failed) facts = DoctorFacts{config.upstream().url, "sluice could not gather the facts", {}, {}, {}, {}};
    });
    io.run();
    if (facts.ollama_error.empty()) facts.environment = read_ollama_environment();
    return facts;
}

OllamaEnvironment read_ollama_environment() {
    OllamaEnvironment environment;
    const std::unique_ptr<FILE, int (*)(FILE*)> pipe(
        ::popen("systemctl show ollama.service --property=LoadState --property=Environment 2>/dev/null", "r"), ::pclose);
    if (!pipe) {
        environment.missing = "systemctl cannot be run";
        return environment;
    }
    std::string output;
    std::array<char, 4096> chunk{};
    while (const auto n = std::fread(chunk.data(), 1, chunk.size(), pipe.get())) {
        if (output.size() < (1u << 20)) output.append(chunk.data(), n);
    }
    if (output.find("LoadState=loaded") == std::string::npos) {
        environment.missing = "ollama.service is not a systemd unit on this machine";
        return environment;
    }
    environment.source = "systemctl show ollama.service";
    const auto at = output.find("Environment=");
    if (at == std::string::npos) return environment;
    std::string_view line(output);
    line = line.substr(at + 12);
    line = line.substr(0, line.find('\n'));
    // Assignments separated by spaces; systemd quotes one that holds a space ("A=b c").
    while (!line.empty()) {
        while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
        std::string assignment;
        bool quoted = false;
        while (!line.empty() && (quoted || line.front() != ' ')) {
            if (line.front() == '"') {
                quoted = !quoted;
            } else {
                assignment += line.front();
            }
            line.remove_prefix(1);
        }
        const auto equals = assignment.find('=');
        if (equals != std::string::npos && assignment.starts_with("OLLAMA_")) {
            environment.variables[assignment.substr(0, equals)] = assignment.substr(equals + 1);
        }
    }
    return environment;
}

}  // namespace sluice
