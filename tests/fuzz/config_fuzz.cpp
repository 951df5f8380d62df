// config_fuzz: libFuzzer target for the config loader (parse_config, what load_config_file and
// a reload run on the file's text).
//
// For any text the loader returns a Config or throws ConfigError: any other exception (yaml-cpp's,
// the standard library's) escapes here and libFuzzer reports it, as it would abort sluice at start
// or on SIGHUP. A config that loads must compare equal to itself loaded again, and a reload from it
// to itself must need no restart.
// Build, run and the long run: tests/fuzz/README.md.
#include "sluice/config.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    sluice::Config config;
    try {
        config = sluice::parse_config(text, "fuzz.yaml");
    } catch (const sluice::ConfigError&) {
        return 0;
    }
    if (!(sluice::parse_config(text, "fuzz.yaml") == config)) std::abort();
    if (!sluice::restart_only_changes(config, config).empty()) std::abort();
    return 0;
}
