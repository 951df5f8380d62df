// fixtures: the real-shaped Ollama payloads in tests/fixtures, read by name.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sluice::test {

inline std::string fixture(std::string_view name) {
    const auto path = std::filesystem::path(SLUICE_FIXTURES_DIR) / name;
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read fixture " + path.string());
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace sluice::test
