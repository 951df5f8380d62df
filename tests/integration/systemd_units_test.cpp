// The systemd units in config/ checked by systemd's own tools: `systemd-analyze verify` finds no
// problem in either, and `systemd-analyze security` rates the service's exposure 2.0 or lower.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

namespace sluice::test {
namespace {

namespace fs = std::filesystem;

constexpr const char* systemd_analyze = "/usr/bin/systemd-analyze";

struct CommandResult {
    int status = -1;
    std::string output;  // stdout and stderr together
};

CommandResult run(const std::string& command) {
    CommandResult result;
    FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
    if (pipe == nullptr) return result;
    std::array<char, 4096> buffer;
    while (const auto size = std::fread(buffer.data(), 1, buffer.size(), pipe)) result.output.append(buffer.data(), size);
    const int status = ::pclose(pipe);
    result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

// The shipped units in a temporary directory, ExecStart= pointing at the binary just built, so
// verify checks a program that exists rather than /usr/bin/sluice.
class SystemdUnits : public ::testing::Test {
protected:
    void SetUp() override {
        if (!fs::exists(systemd_analyze)) GTEST_SKIP() << systemd_analyze << " not found (Debian package systemd)";
        directory = fs::temp_directory_path() / fmt::format("sluice-units-{}", ::getpid());
        fs::create_directories(directory);
        const fs::path config = fs::path(SLUICE_SOURCE_DIR) / "config";
        std::ifstream in(config / "sluice.service");
        std::stringstream text;
        text << in.rdbuf();
        const auto service = text.str();
        ASSERT_NE(service.find("ExecStart=/usr/bin/sluice "), std::string::npos);
        std::ofstream(directory / "sluice.service")
            << std::regex_replace(service, std::regex("ExecStart=/usr/bin/sluice "), fmt::format("ExecStart={} ", SLUICE_BINARY));
        fs::copy_file(config / "sluice.socket", directory / "sluice.socket");
    }
    void TearDown() override {
        if (!directory.empty()) fs::remove_all(directory);
    }

    fs::path directory;
};

TEST_F(SystemdUnits, VerifyFindsNothing) {
    // verify reports most problems (an unknown key, a bad value) as warnings with status 0,
    // so its output must be empty too. --man=no: Documentation='s man page is not installed here
    // (the install tests check the page and that Documentation= names it).
    const auto result = run(fmt::format("cd '{}' && {} verify --man=no ./sluice.service ./sluice.socket", directory.string(),
                                        systemd_analyze));
    EXPECT_EQ(result.status, 0) << result.output;
    EXPECT_EQ(result.output, "");
}

TEST_F(SystemdUnits, ServiceExposureIsOkOrBetter) {
    const auto result = run(fmt::format("cd '{}' && {} security --offline=yes --no-pager ./sluice.service",
                                        directory.string(), systemd_analyze));
    std::smatch match;
    ASSERT_TRUE(std::regex_search(result.output, match, std::regex(R"(Overall exposure level for sluice\.service: ([0-9.]+))")))
        << result.output;
    const double exposure = std::stod(match[1]);
    EXPECT_LE(exposure, 2.0) << result.output;
    std::printf("systemd-analyze security: sluice.service exposure %.1f\n", exposure);
}

}  // namespace
}  // namespace sluice::test
