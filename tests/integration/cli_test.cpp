// Integration tests of the command line with the real binary: exit statuses as --help documents
// them, and `sluice help` as another way to ask for --help.
#include "child_process.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <cstdlib>
#include <unistd.h>

namespace sluice::test {
namespace {

TEST(CommandLine, AMissingConfigFileIsAConfigErrorExitingTwo) {
    for (const std::string arguments : {"--config /nonexistent/sluice.yaml", "--config /nonexistent/sluice.yaml --check-config",
                                        "explain -c /nonexistent/sluice.yaml < /dev/null"}) {
        const auto run = run_sluice_to_end(arguments);
        EXPECT_EQ(run.status, 2) << arguments << "\n" << run.output;
        EXPECT_NE(run.output.find("sluice: config error: cannot read config file /nonexistent/sluice.yaml: "
                                  "No such file or directory"),
                  std::string::npos)
            << arguments << "\n" << run.output;
    }
}

TEST(CommandLine, AMisspelledOptionInTheConfigExitsTwoNamingLineAndTheNameMeant) {
    const auto path = std::filesystem::temp_directory_path() / ("sluice-cli-" + std::to_string(::getpid()) + ".yaml");
    std::ofstream(path) << "rewrite:\n  models:\n    - match: \"*\"\n      options:\n        temprature: 0.6\n";
    const auto run = run_sluice_to_end("--config '" + path.string() + "' --check-config");
    std::filesystem::remove(path);
    EXPECT_EQ(run.status, 2) << run.output;
    EXPECT_NE(run.output.find(path.string() + ":5: rewrite.models[0].options.temprature: "), std::string::npos) << run.output;
    EXPECT_NE(run.output.find("did you mean 'temperature'?"), std::string::npos) << run.output;
}

// What a container sets: the environment stands for the flags not given, and a flag still wins.
TEST(CommandLine, TheEnvironmentGivesConfigListenAndUpstreamAsAContainerDoes) {
    const auto path = std::filesystem::temp_directory_path() / ("sluice-cli-env-" + std::to_string(::getpid()) + ".yaml");
    std::ofstream(path) << "listen: 127.0.0.1:6060\n";
    ::setenv("SLUICE_CONFIG", path.c_str(), 1);
    EXPECT_EQ(run_sluice_to_end("--check-config").output, "config OK: listen 127.0.0.1:6060, upstream http://127.0.0.1:11434\n");
    ::setenv("SLUICE_LISTEN", "127.0.0.1:9090", 1);
    ::setenv("SLUICE_UPSTREAM", "http://10.0.0.2:11434", 1);
    EXPECT_EQ(run_sluice_to_end("--check-config").output, "config OK: listen 127.0.0.1:9090, upstream http://10.0.0.2:11434\n");
    EXPECT_EQ(run_sluice_to_end("--listen 127.0.0.1:7070 --check-config").output,
              "config OK: listen 127.0.0.1:7070, upstream http://10.0.0.2:11434\n");
    for (const char* name : {"SLUICE_CONFIG", "SLUICE_LISTEN", "SLUICE_UPSTREAM"}) ::unsetenv(name);
    std::filesystem::remove(path);
}

TEST(CommandLine, HelpSubcommandPrintsWhatHelpFlagPrints) {
    const auto flag = run_sluice_to_end("--help");
    ASSERT_EQ(flag.status, 0) << flag.output;
    ASSERT_NE(flag.output.find("Usage: sluice [OPTIONS] [SUBCOMMAND]"), std::string::npos) << flag.output;
    const auto command = run_sluice_to_end("help");
    EXPECT_EQ(command.status, 0) << command.output;
    EXPECT_EQ(command.output, flag.output);

    for (const std::string subcommand : {"explain", "hash-key", "bench", "doctor"}) {
        const auto sub_flag = run_sluice_to_end(subcommand + " --help");
        ASSERT_EQ(sub_flag.status, 0) << sub_flag.output;
        ASSERT_NE(sub_flag.output.find("Usage: sluice " + subcommand), std::string::npos) << sub_flag.output;
        const auto sub_command = run_sluice_to_end("help " + subcommand);
        EXPECT_EQ(sub_command.status, 0) << sub_command.output;
        EXPECT_EQ(sub_command.output, sub_flag.output);
    }
}

}  // namespace
}  // namespace sluice::test
