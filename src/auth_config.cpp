// auth_config: reads the `auth:` (API keys and their hashes, routes, models) and `cors:` sections.
#include "config_reader.hpp"

#include "sluice/ascii.hpp"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>

namespace sluice {
using namespace config_reader;

namespace {

// "sha256:<salt>:<digest>" as `sluice hash-key` prints it.
void parse_key_hash(std::string_view text, ApiKey& key) {
    constexpr std::string_view expected = "a hash printed by `sluice hash-key` (sha256:<32 hex digits>:<64 hex digits>)";
    const auto hex_into = [&](std::string_view hex, auto& bytes) {
        if (hex.size() != bytes.size() * 2 || !std::all_of(hex.begin(), hex.end(), is_hex_digit)) {
            fail_expected(expected, text);
        }
        const auto value = [](char c) { return is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10; };
        for (std::size_t i = 0; i < bytes.size(); ++i) {
            bytes[i] = static_cast<unsigned char>(value(hex[2 * i]) << 4 | value(hex[2 * i + 1]));
        }
    };
    if (!text.starts_with("sha256:")) {
        fail_expected(expected, text, text.starts_with("sk-") ? "this looks like the key itself: store its hash" : "");
    }
    const auto rest = text.substr(7);
    const auto colon = rest.find(':');
    if (colon == std::string_view::npos) fail_expected(expected, text);
    hex_into(rest.substr(0, colon), key.salt);
    hex_into(rest.substr(colon + 1), key.digest);
}

std::string key_name(std::string_view text) {
    if (text.empty() || text.size() > 64 || !std::all_of(text.begin(), text.end(), [](char c) {
            return is_letter(c) || is_digit(c) || c == '-' || c == '_' || c == '.' || c == '@';
        })) {
        fail_expected("a name of letters, digits, - _ . @ (at most 64)", text);
    }
    return std::string(text);
}

std::string route_pattern(std::string_view text) {
    constexpr std::string_view expected = "a path such as /api/chat, or a prefix ending in * such as /v1/*";
    if (!text.starts_with('/')) fail_expected(expected, text, "start it with '/'");
    const auto star = text.find('*');
    if (star != std::string_view::npos && star != text.size() - 1) fail_expected(expected, text, "* only at the end");
    if (text.find_first_of("?# \t") != std::string_view::npos) fail_expected(expected, text, "no query or spaces");
    return std::string(text);
}

void read_key(const ConfigValue& value, ApiKey& key) {
    key.line = value.line();
    bool has_hash = false;
    read_mapping(value, {
        setting("name", key.name, key_name),
        {"hash", [&](const ConfigValue& v) { v.parse([&](std::string_view text) { parse_key_hash(text, key); return 0; }); has_hash = true; }},
        {"routes", [&](const ConfigValue& v) {
             if (v.node().IsScalar()) {
                 const auto preset = v.node().Scalar();
                 if (preset == "all") { key.routes = KeyRoutes::all; return; }
                 if (preset == "chat") { key.routes = KeyRoutes::chat; return; }
                 if (!preset.starts_with('/')) {
                     v.fail("expected all, chat, or a list of paths such as [/api/chat, /api/tags], got " + quote(preset));
                 }
             }
             key.routes = KeyRoutes::listed;
             for_each_item(v, "all, chat, or a list of paths such as [/api/chat, /api/tags]", true,
                           [&](const ConfigValue& item) { key.route_patterns.push_back(item.parse(route_pattern)); });
         }},
        {"models", [&](const ConfigValue& v) {
             for_each_item(v, "a list of model patterns such as [\"qwen3:*\"]", true,
                           [&](const ConfigValue& item) { key.models.push_back(item.parse(model_pattern)); });
         }},
        setting("requests_per_minute", key.requests_per_minute, whole_number<unsigned>(0, 1'000'000)),
        setting("max_streams", key.max_streams, whole_number<unsigned>(0, 100'000)),
    });
    if (key.name.empty()) value.fail("a key needs name: who holds it (logged instead of the key)");
    if (!has_hash) value.fail("a key needs hash: run `sluice hash-key` and paste the hash it prints");
}

// An Origin as browsers send it: scheme://host[:port], compared lowercase.
std::string origin(std::string_view text) {
    constexpr std::string_view expected = "an origin such as http://192.168.1.20:3000";
    const auto scheme_end = text.find("://");
    if (scheme_end == std::string_view::npos || scheme_end == 0 || text.size() == scheme_end + 3) {
        fail_expected(expected, text, text == "*" ? "any origin is not allowed; list each one" : "");
    }
    auto rest = text.substr(scheme_end + 3);
    if (rest.ends_with('/')) rest.remove_suffix(1);
    if (rest.find_first_of("/?# \t*") != std::string_view::npos) fail_expected(expected, text, "no path, query or wildcard");
    return ascii_lowercase(std::string(text.substr(0, scheme_end + 3)) + std::string(rest));
}

// The secret in `path`: at least 32 bytes once whitespace around it is dropped, in a file that
// not every user may read.
std::string read_session_secret(const ConfigValue& value, const std::string& path) {
    constexpr std::size_t min_bytes = 32;
    constexpr std::size_t max_bytes = 4096;
    const std::string make_one = fmt::format("(head -c 32 /dev/urandom | base64 > {0}; chmod 600 {0})", path);
    std::ifstream file(path, std::ios::binary);
    if (!file) value.fail(fmt::format("cannot read {}: {} {}", path, std::strerror(errno), make_one));
    struct stat status {};
    if (::stat(path.c_str(), &status) == 0 && (status.st_mode & S_IROTH)) {
        value.fail(fmt::format("{} is readable by every user; whoever reads it can sign in as any key: chmod 600 {}", path, path));
    }
    std::string text(max_bytes + 1, '\0');
    file.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<std::size_t>(file.gcount()));
    if (text.size() > max_bytes) value.fail(fmt::format("{} is over 4 KiB: not a secret made for this", path));
    const auto secret = trim_ascii_whitespace(text);
    if (secret.size() < min_bytes) {
        value.fail(fmt::format("{} holds {} bytes; a secret needs at least {} {}", path, secret.size(), min_bytes, make_one));
    }
    return std::string(secret);
}

}  // namespace

void config_reader::read_auth(const ConfigValue& value, AuthConfig& auth) {
    read_mapping(value, {
        {"keys", [&](const ConfigValue& keys) {
             for_each_item(keys, "a list of keys, each starting with '- name: <who>'", false, [&](const ConfigValue& item) {
                 ApiKey key;
                 read_key(item, key);
                 for (const ApiKey& earlier : auth.keys) {
                     if (earlier.name == key.name) {
                         item.fail("the key on line " + std::to_string(earlier.line) + " has the same name \"" + key.name + "\"");
                     }
                     if (earlier.salt == key.salt && earlier.digest == key.digest) {
                         item.fail("the key on line " + std::to_string(earlier.line) + " has the same hash");
                     }
                 }
                 auth.keys.push_back(std::move(key));
             });
         }},
        setting("session_ttl", auth.session_ttl, positive_duration),
        {"session_secret_file", [&](const ConfigValue& v) {
             auth.session_secret_file = v.parse([](std::string_view text) { return std::string(text); });
             auth.session_secret = read_session_secret(v, auth.session_secret_file);
         }},
    });
}

void config_reader::read_cors(const ConfigValue& value, CorsConfig& cors) {
    read_mapping(value, {
        {"allowed_origins", [&](const ConfigValue& v) {
             for_each_item(v, "a list of origins such as [\"http://192.168.1.20:3000\"]", true,
                           [&](const ConfigValue& item) { cors.allowed_origins.push_back(item.parse(origin)); });
         }},
    });
}

}  // namespace sluice
