// Integration tests of `sluice doctor` (the real binary against the fake Ollama, Ollama's
// systemd environment read through a stand-in `systemctl` first on PATH) and of the page's
// /_sluice/api/doctor through a real socket.
#include "child_process.hpp"
#include "sluice_under_test.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fmt/format.h>
#include <simdjson.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace sluice::test {
namespace {

// qwen3:14b-q8_0 with 11.2 GiB of its 34.5 GiB in system memory, loaded with num_ctx 131072.
constexpr std::string_view offloaded_ps =
    R"({"models":[{"name":"qwen3:14b-q8_0","model":"qwen3:14b-q8_0","size":37000000000,"size_vram":25000000000,)"
    R"("context_length":131072,"details":{"quantization_level":"Q8_0"}}]})";

// gpu_memory 24GiB, a q8_0 KV cache, a qwen3:14b* rule preferring -q8_0 with num_ctx: auto.
const std::string config_path = SLUICE_FIXTURES_DIR "/doctor-tuned.yaml";

class DoctorTest : public SluiceUnderTest {
protected:
    DoctorTest() { std::filesystem::create_directories(dir_); }
    ~DoctorTest() override {
        if (saved_path_) ::setenv("PATH", saved_path_->c_str(), 1);
        std::filesystem::remove_all(dir_);
    }
    // A `systemctl` first on PATH that shows ollama.service with `environment` (systemd's
    // Environment= line); none at all when `unit_loaded` is false.
    void systemd_shows(std::string_view environment, bool unit_loaded = true) {
        const auto bin = dir_ / "bin";
        std::filesystem::create_directories(bin);
        std::ofstream(bin / "systemctl") << fmt::format("#!/bin/sh\necho 'LoadState={}'\necho 'Environment={}'\n",
                                                        unit_loaded ? "loaded" : "not-found", environment);
        std::filesystem::permissions(bin / "systemctl", std::filesystem::perms::owner_all);
        if (!saved_path_) saved_path_ = std::getenv("PATH");
        ::setenv("PATH", fmt::format("{}:{}", bin.string(), *saved_path_).c_str(), 1);
    }
    SluiceRun doctor(std::string_view more = {}) {
        return run_sluice_to_end(fmt::format("doctor -c '{}' --upstream {} {}", config_path, ollama.url(), more));
    }

    std::filesystem::path dir_ = std::filesystem::temp_directory_path() / fmt::format("sluice-doctor-{}", ::getpid());
    std::optional<std::string> saved_path_;
};

TEST_F(DoctorTest, AModelPartlyOnTheCpuAndFlashAttentionOffAreCostlyAndExitOne) {
    auto knobs = ollama.knobs();
    knobs.ps_json = offloaded_ps;
    ollama.set_knobs(knobs);
    systemd_shows(R"(OLLAMA_KV_CACHE_TYPE=q8_0 OLLAMA_FLASH_ATTENTION=0 "OLLAMA_ORIGINS=a b" HOME=/usr/share/ollama)");
    const auto run = doctor();
    EXPECT_EQ(run.status, 1) << run.output;
    EXPECT_NE(run.output.find("ollama 0.12.6 at " + ollama.url() + ": 3 installed, 1 loaded\n"), std::string::npos) << run.output;
    EXPECT_NE(run.output.find("systemctl show ollama.service: OLLAMA_FLASH_ATTENTION=0 OLLAMA_KV_CACHE_TYPE=q8_0 "
                              "OLLAMA_ORIGINS=a b\n"),
              std::string::npos)
        << run.output;
    EXPECT_NE(run.output.find("COSTLY: qwen3:14b-q8_0 has 11.2 GiB of its 34.5 GiB in system memory (num_ctx 131072)"),
              std::string::npos)
        << run.output;
    EXPECT_NE(run.output.find("COSTLY: OLLAMA_KV_CACHE_TYPE=q8_0 is ignored while OLLAMA_FLASH_ATTENTION is off"),
              std::string::npos)
        << run.output;
    EXPECT_NE(run.output.find("  fix: Environment=OLLAMA_FLASH_ATTENTION=1 in ollama.service (systemctl edit ollama)\n"),
              std::string::npos)
        << run.output;
    EXPECT_TRUE(run.output.ends_with("something above costs tokens/s\n")) << run.output;
}

TEST_F(DoctorTest, AWellTunedBoxExitsZeroAndJsonSaysTheSame) {
    auto knobs = ollama.knobs();
    knobs.ps_json = R"({"models":[{"name":"qwen3:14b-q8_0","size":17000000000,"size_vram":17000000000,"context_length":40960}]})";
    ollama.set_knobs(knobs);
    systemd_shows("OLLAMA_KV_CACHE_TYPE=q8_0 OLLAMA_FLASH_ATTENTION=1");
    const auto run = doctor();
    EXPECT_EQ(run.status, 0) << run.output;
    EXPECT_TRUE(run.output.ends_with("nothing found that costs tokens/s\n")) << run.output;
    EXPECT_EQ(run.output.find("advice:"), std::string::npos) << run.output;

    const auto json = doctor("--json");
    EXPECT_EQ(json.status, 0) << json.output;
    simdjson::dom::parser parser;
    simdjson::dom::element document;
    ASSERT_EQ(parser.parse(json.output).get(document), simdjson::SUCCESS) << json.output;
    EXPECT_EQ(document["findings"].get_array().size(), 0u) << json.output;
    EXPECT_EQ(std::string_view(document["ollama"]["version"].get_string().value()), "0.12.6");
}

TEST_F(DoctorTest, WithoutOllamasUnitTheEnvironmentChecksAreSkippedAndSaidSo) {
    systemd_shows("", false);
    const auto run = doctor();
    EXPECT_EQ(run.status, 0) << run.output;  // fixtures/ps.json: all on the GPU
    EXPECT_NE(run.output.find("advice: Ollama's environment cannot be read here (ollama.service is not a systemd unit on "
                              "this machine)"),
              std::string::npos)
        << run.output;
}

TEST_F(DoctorTest, AnOllamaThatCannotBeReachedExitsOne) {
    const auto run = run_sluice_to_end(
        fmt::format("doctor -c '{}' --upstream http://127.0.0.1:1", config_path));
    EXPECT_EQ(run.status, 1) << run.output;
    EXPECT_NE(run.output.find("COSTLY: cannot ask Ollama at http://127.0.0.1:1: Connection refused"), std::string::npos)
        << run.output;
}

TEST_F(DoctorTest, ThePageGetsTheFindingsAsJson) {
    auto knobs = ollama.knobs();
    knobs.ps_json = offloaded_ps;
    ollama.set_knobs(knobs);
    start(load_config_file(config_path));
    const auto response = request("GET", "/_sluice/api/doctor");
    EXPECT_EQ(response.status, 200u) << response.body;
    simdjson::dom::parser parser;
    simdjson::dom::element document;
    ASSERT_EQ(parser.parse(response.body).get(document), simdjson::SUCCESS) << response.body;
    simdjson::dom::array findings;
    ASSERT_EQ(document["findings"].get(findings), simdjson::SUCCESS);
    ASSERT_GE(findings.size(), 2u) << response.body;
    EXPECT_EQ(std::string_view(findings.at(0)["severity"].get_string().value()), "costly");
    EXPECT_TRUE(std::string_view(findings.at(0)["text"].get_string().value()).starts_with("qwen3:14b-q8_0 has 11.2 GiB"))
        << response.body;
    EXPECT_EQ(std::string_view(findings.at(0)["model"].get_string().value()), "qwen3:14b-q8_0") << response.body;
    EXPECT_NE(response.body.find("Ollama's environment cannot be read here (sluice's server does not read it)"),
              std::string::npos)
        << response.body;
    EXPECT_EQ(request("POST", "/_sluice/api/doctor", "{}").status, 405u);
}

}  // namespace
}  // namespace sluice::test
