// config_test: sluice.yaml parsing, the shared value parsers, and the messages users see.
#include "sluice/config.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#ifndef SLUICE_SOURCE_DIR
#error "SLUICE_SOURCE_DIR must name the source tree, e.g. -DSLUICE_SOURCE_DIR=\"/path/to/sluice\""
#endif

namespace sluice {

// Readable failure output (found by ADL from gtest).
void PrintTo(const HostPort& value, std::ostream* out) { *out << "{" << value.host << ", " << value.port << "}"; }

void PrintTo(const UpstreamUrl& value, std::ostream* out) {
    *out << "{" << value.host << ", " << value.port << ", " << value.url << ", " << value.host_header << "}";
}

void PrintTo(const RewriteRule& rule, std::ostream* out) {
    *out << "{" << rule.match << " line " << rule.line << ", prefer " << rule.prefer.size() << ", alias " << rule.alias.size()
         << ", options";
    for (const OptionDefault& option : rule.options) *out << " " << option.name << "=" << (option.automatic ? "auto" : option.json);
    *out << ", force " << rule.force.size() << ", keep_alive " << rule.keep_alive << ", think " << static_cast<int>(rule.think)
         << " " << rule.think_level << " via " << static_cast<int>(rule.think_via) << "}";
}

void PrintTo(const RewriteConfig& rewrite, std::ostream* out) {
    *out << "{" << rewrite.gpu_memory << ", " << static_cast<int>(rewrite.kv_cache_type) << ", [";
    for (const RewriteRule& rule : rewrite.models) PrintTo(rule, out);
    *out << "]}";
}

void PrintTo(const Config& config, std::ostream* out) {
    const auto ms = [](std::chrono::milliseconds duration) { return std::to_string(duration.count()) + "ms"; };
    *out << "{listen ";
    PrintTo(config.listen, out);
    *out << ", upstreams [";
    for (const auto& backend : config.upstreams) {
        PrintTo(backend.url, out);
        *out << " " << backend.label() << " w" << backend.weight << " max" << backend.max_generations
             << (backend.manage ? " manage" : "") << "; ";
    }
    *out << "]";
    *out << ", threads " << config.threads << ", limits {" << config.limits.max_connections << ", "
         << config.limits.max_header_bytes << ", " << config.limits.max_body_bytes << ", "
         << config.limits.stream_buffer_bytes << "}, timeouts {" << ms(config.timeouts.client_header) << ", "
         << ms(config.timeouts.client_body) << ", " << ms(config.timeouts.client_send) << ", "
         << ms(config.timeouts.upstream_connect) << ", " << ms(config.timeouts.upstream_headers) << ", " << ms(config.timeouts.drain)
         << "}, upstream_pool {" << config.upstream_pool.max_idle << ", " << ms(config.upstream_pool.idle_timeout)
         << "}, log {" << config.log.level << ", " << config.log.access << "}, rewrite {" << config.rewrite.gpu_memory
         << ", " << static_cast<int>(config.rewrite.kv_cache_type) << ", " << config.rewrite.models.size() << " rules}}";
}

namespace {

using std::chrono::milliseconds;
using namespace std::chrono_literals;

constexpr std::size_t KiB = 1024;
constexpr std::size_t MiB = 1024 * KiB;
constexpr std::size_t GiB = 1024 * MiB;

// The message of the ConfigError `action` throws; a marker if it throws none.
std::string error_of(const std::function<void()>& action) {
    try {
        action();
    } catch (const ConfigError& error) {
        return error.what();
    }
    return "(no ConfigError thrown)";
}

std::string parse_error(std::string_view yaml) {
    return error_of([yaml] { (void)parse_config(yaml, "test.yaml"); });
}

// A gtest-safe test name from arbitrary input: "[::1]:80" -> "3_____1___80".
std::string case_name(std::size_t index, std::string_view text) {
    std::string name = std::to_string(index) + "_";
    for (const char c : text) {
        const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        name += alnum ? c : '_';
    }
    return name;
}

template <class Case>
std::string name_by_text(const testing::TestParamInfo<Case>& info) {
    return case_name(info.index, info.param.text);
}

template <class Case>
std::string name_by_name(const testing::TestParamInfo<Case>& info) {
    return std::string(info.param.name);
}

// Table rows print as their name or input, not as a dump of bytes.
template <class Case>
    requires requires(const Case& row) { row.name; } || requires(const Case& row) { row.text; }
void PrintTo(const Case& row, std::ostream* out) {
    if constexpr (requires { row.name; }) {
        *out << row.name;
    } else {
        *out << '"' << row.text << '"';
    }
}

// Both `expected ..., got "<text>"` and its optional hint, as every value parser words them.
std::string expected_message(std::string_view expected, std::string_view text, std::string_view hint = {}) {
    std::string message = "expected " + std::string(expected) + ", got \"" + std::string(text) + "\"";
    if (!hint.empty()) message += "; " + std::string(hint);
    return message;
}

// -------------------------------------------------------------------------------------------
// Defaults

TEST(ConfigDefaults, AreTheDocumentedValues) {
    const Config config;
    EXPECT_EQ(config.listen, (HostPort{"127.0.0.1", 8434}));
    ASSERT_EQ(config.upstreams.size(), 1u);
    EXPECT_EQ(config.upstream(), (UpstreamUrl{"127.0.0.1", 11434, "http://127.0.0.1:11434", "127.0.0.1:11434"}));
    EXPECT_EQ(config.upstreams[0].label(), "127.0.0.1:11434");
    EXPECT_EQ(config.upstreams[0].weight, 1u);
    EXPECT_EQ(config.upstreams[0].max_generations, 0u);
    EXPECT_EQ(config.managing_backend(), 0u);
    EXPECT_EQ(config.threads, 0u);
    EXPECT_EQ(config.limits.max_connections, 4096u);
    EXPECT_EQ(config.limits.max_header_bytes, 64 * KiB);
    EXPECT_EQ(config.limits.max_body_bytes, 64 * MiB);
    EXPECT_EQ(config.limits.stream_buffer_bytes, 64 * KiB);
    EXPECT_EQ(config.timeouts.client_header, 60s);
    EXPECT_EQ(config.timeouts.client_body, 60s);
    EXPECT_EQ(config.timeouts.client_send, 60s);
    EXPECT_EQ(config.timeouts.upstream_connect, 5s);
    EXPECT_EQ(config.timeouts.upstream_headers, 10min);
    EXPECT_EQ(config.timeouts.drain, 30s);
    EXPECT_EQ(config.upstream_pool.max_idle, 32u);
    EXPECT_EQ(config.upstream_pool.idle_timeout, 60s);
    EXPECT_EQ(config.log.level, "info");
    EXPECT_TRUE(config.log.access);
}

// The default's own upstream fields must be what parsing its url yields, or a config that
// spells the default out would differ from one that leaves it out.
TEST(ConfigDefaults, DefaultUpstreamIsWhatParsingItsUrlGives) {
    const Config config;
    EXPECT_EQ(parse_upstream_url(config.upstream().url), config.upstream());
}

class EmptyConfigText : public testing::TestWithParam<std::string_view> {};

TEST_P(EmptyConfigText, IsTheDefaultConfig) { EXPECT_EQ(parse_config(GetParam(), "test.yaml"), Config{}); }

INSTANTIATE_TEST_SUITE_P(Config, EmptyConfigText,
                         testing::Values("", "\n\n  \n", "# only a comment\n", "# one\n   # two\n\n# three",
                                         "---\n", "---\n# comment\n...\n", "~\n", "null\n",
                                         "limits:\ntimeouts: ~\nupstream_pool:\n  # all commented out\nlog: {}\n"));

// -------------------------------------------------------------------------------------------
// Every key

TEST(ParseConfig, ReadsTheQueue) {
    const Config config = parse_config("queue:\n  max_waiting: 0\n  max_wait: 30s\n", "test.yaml");
    EXPECT_EQ(config.queue.max_waiting, 0u);
    EXPECT_EQ(config.queue.max_wait, 30s);
    EXPECT_EQ(Config{}.queue.max_waiting, 64u);
    EXPECT_EQ(Config{}.queue.max_wait, 2min);
}

TEST(ParseConfig, ReadsTheRouting) {
    EXPECT_EQ(parse_config("routing:\n  sticky: 30m\n", "test.yaml").routing.sticky, 30min);
    EXPECT_EQ(parse_config("routing: {sticky: off}\n", "test.yaml").routing.sticky, 0ms);
    EXPECT_EQ(Config{}.routing.sticky, 0ms);  // off unless asked for
    EXPECT_THROW(parse_config("routing: {sticky: 0s}\n", "test.yaml"), ConfigError);
}

TEST(ParseConfig, ReadsAFleetOfBackends) {
    const Config config = parse_config(R"(
upstreams:
  - http://10.0.0.11:11434
  - url: http://10.0.0.12:11500
    name: gpu2
    weight: 2
    max_generations: 4
    labels: [4090, office]
    manage: true
)",
                                       "test.yaml");
    ASSERT_EQ(config.upstreams.size(), 2u);
    EXPECT_EQ(config.upstreams[0].url, parse_upstream_url("http://10.0.0.11:11434"));
    EXPECT_EQ(config.upstreams[0].label(), "10.0.0.11:11434");
    EXPECT_EQ(config.upstreams[0].weight, 1u);
    EXPECT_FALSE(config.upstreams[0].manage);
    EXPECT_EQ(config.upstreams[1].url, parse_upstream_url("http://10.0.0.12:11500"));
    EXPECT_EQ(config.upstreams[1].label(), "gpu2");
    EXPECT_EQ(config.upstreams[1].weight, 2u);
    EXPECT_EQ(config.upstreams[1].max_generations, 4u);
    EXPECT_EQ(config.upstreams[1].labels, (std::vector<std::string>{"4090", "office"}));
    EXPECT_EQ(config.managing_backend(), 1u);
    EXPECT_EQ(config.upstream(), config.upstreams[0].url);
    EXPECT_EQ(describe_upstreams(config), "2 ollamas: http://10.0.0.11:11434 (10.0.0.11:11434), http://10.0.0.12:11500 (gpu2)");
}

TEST(ParseConfig, ReadsEveryKey) {
    const Config config = parse_config(R"(
listen: "[::1]:9090"
upstream: http://gpu-box:11500/
threads: 8
limits:
  max_connections: 100
  max_header_bytes: 8KiB
  max_body_bytes: 1GiB
  stream_buffer_bytes: 16384
timeouts:
  client_header: 10s
  client_body: 15s
  client_send: 1m30s
  upstream_connect: 250ms
  upstream_headers: 1h
  drain: 45s
upstream_pool:
  max_idle: 0
  idle_timeout: 2m
log:
  level: debug
  access: false
)",
                                       "test.yaml");
    Config expected;
    expected.listen = {"::1", 9090};
    expected.upstreams = single_upstream({"gpu-box", 11500, "http://gpu-box:11500", "gpu-box:11500"});
    expected.threads = 8;
    expected.limits = {100, 8 * KiB, 1 * GiB, 16384};
    expected.timeouts = {10s, 15s, 90s, 250ms, 1h, 45s};
    expected.upstream_pool = {0, 2min};
    expected.log = {"debug", false};
    EXPECT_EQ(config, expected);
}

TEST(ParseConfig, FlowStyleAndQuotedValuesReadTheSame) {
    const Config config = parse_config(
        "{listen: '0.0.0.0:0', allow_unauthenticated: true, threads: \"4\", limits: {max_header_bytes: '32 KiB'}, log: {access: off}}", "test.yaml");
    Config expected;
    expected.listen = {"0.0.0.0", 0};
    expected.allow_unauthenticated = true;
    expected.threads = 4;
    expected.limits.max_header_bytes = 32 * KiB;
    expected.log.access = false;
    EXPECT_EQ(config, expected);
}

TEST(ParseConfig, AnchorsAndAliasesAreResolved) {
    const Config config = parse_config(
        "timeouts:\n  client_header: &minute 1m\n  client_body: *minute\n  client_send: *minute\n", "test.yaml");
    EXPECT_EQ(config.timeouts.client_header, 1min);
    EXPECT_EQ(config.timeouts.client_body, 1min);
    EXPECT_EQ(config.timeouts.client_send, 1min);
}

struct BoolCase {
    std::string_view text;
    bool value;
};

class AccessFlag : public testing::TestWithParam<BoolCase> {};

TEST_P(AccessFlag, ReadsYamlBooleans) {
    const Config config = parse_config("log:\n  access: " + std::string(GetParam().text) + "\n", "test.yaml");
    EXPECT_EQ(config.log.access, GetParam().value);
}

INSTANTIATE_TEST_SUITE_P(Config, AccessFlag,
                         testing::Values(BoolCase{"true", true}, BoolCase{"True", true}, BoolCase{"yes", true},
                                         BoolCase{"on", true}, BoolCase{"false", false}, BoolCase{"FALSE", false},
                                         BoolCase{"no", false}, BoolCase{"off", false}),
                         name_by_text<BoolCase>);

// -------------------------------------------------------------------------------------------
// Durations

struct DurationCase {
    std::string_view text;
    milliseconds value;
};

class GoodDuration : public testing::TestWithParam<DurationCase> {};

TEST_P(GoodDuration, Parses) { EXPECT_EQ(parse_duration(GetParam().text), GetParam().value); }

INSTANTIATE_TEST_SUITE_P(
    Duration, GoodDuration,
    testing::Values(DurationCase{"250ms", 250ms}, DurationCase{"1500ms", 1500ms}, DurationCase{"30s", 30s},
                    DurationCase{"90s", 90s}, DurationCase{"10m", 10min}, DurationCase{"1h", 1h},
                    DurationCase{"1m30s", 90s}, DurationCase{"2h30m", 150min},
                    DurationCase{"1h2m3s4ms", 1h + 2min + 3s + 4ms}, DurationCase{"0s", 0ms},
                    DurationCase{"007s", 7s}, DurationCase{"2562047h", 2562047h}),
    name_by_text<DurationCase>);

struct BadCase {
    std::string_view text;
    std::string_view hint;  // what follows "expected ..., got "<text>"; " (empty: nothing)
};

class BadDuration : public testing::TestWithParam<BadCase> {};

TEST_P(BadDuration, IsRejectedWithTheAcceptedForms) {
    EXPECT_EQ(error_of([] { (void)parse_duration(GetParam().text); }),
              expected_message("a duration such as 30s or 10m", GetParam().text, GetParam().hint));
}

INSTANTIATE_TEST_SUITE_P(Duration, BadDuration,
                         testing::Values(BadCase{"", ""}, BadCase{"30", "add a unit, e.g. 30s"},
                                         BadCase{"0", "add a unit, e.g. 0s"}, BadCase{"abc", ""},
                                         BadCase{"30 s", ""}, BadCase{"30sec", ""}, BadCase{"30S", ""},
                                         BadCase{"1.5s", ""}, BadCase{"-5s", ""}, BadCase{"+5s", ""},
                                         BadCase{"s", ""}, BadCase{"m30", ""}, BadCase{"1d", ""},
                                         BadCase{"1m30", ""}, BadCase{"30s ", ""},
                                         BadCase{"2562048h", "that is longer than any timer can hold"},
                                         BadCase{"99999999999999999999ms", "that is longer than any timer can hold"}),
                         name_by_text<BadCase>);

// -------------------------------------------------------------------------------------------
// Sizes

struct SizeCase {
    std::string_view text;
    std::size_t value;
};

class GoodSize : public testing::TestWithParam<SizeCase> {};

TEST_P(GoodSize, Parses) { EXPECT_EQ(parse_size(GetParam().text), GetParam().value); }

INSTANTIATE_TEST_SUITE_P(Size, GoodSize,
                         testing::Values(SizeCase{"0", 0}, SizeCase{"65536", 65536}, SizeCase{"1B", 1},
                                         SizeCase{"512B", 512}, SizeCase{"64KiB", 64 * KiB},
                                         SizeCase{"64 KiB", 64 * KiB}, SizeCase{"16MiB", 16 * MiB},
                                         SizeCase{"1GiB", GiB}, SizeCase{"3GiB", 3 * GiB},
                                         SizeCase{"0KiB", 0}),
                         name_by_text<SizeCase>);

class BadSize : public testing::TestWithParam<BadCase> {};

// 24GB, as a card's memory is sold: the message says what to write.
#define UNITS_HINT(binary) "write " binary " (sizes count in KiB, MiB and GiB: 1GiB is 1024^3 bytes)"

TEST_P(BadSize, IsRejectedWithTheAcceptedForms) {
    EXPECT_EQ(error_of([] { (void)parse_size(GetParam().text); }),
              expected_message(
                  "a size such as 65536, 64KiB or 16MiB (a number of bytes, optionally followed by B, KiB, MiB or GiB)",
                  GetParam().text, GetParam().hint));
}

INSTANTIATE_TEST_SUITE_P(Size, BadSize,
                         testing::Values(BadCase{"", ""}, BadCase{"64KB", UNITS_HINT("64KiB")},
                                         BadCase{"64MB", UNITS_HINT("64MiB")}, BadCase{"24GB", UNITS_HINT("24GiB")},
                                         BadCase{"24gb", UNITS_HINT("24GiB")}, BadCase{"24 GB", UNITS_HINT("24GiB")},
                                         BadCase{"64kib", ""}, BadCase{"64K", UNITS_HINT("64KiB")},
                                         BadCase{"64k", UNITS_HINT("64KiB")}, BadCase{"GB", ""}, BadCase{"64TB", ""},
                                         BadCase{"1TiB", ""}, BadCase{"1.5MiB", ""}, BadCase{"-1", ""},
                                         BadCase{"MiB", ""}, BadCase{"64  KiB", ""}, BadCase{"0x10", ""},
                                         BadCase{"64KiB!", ""}, BadCase{"64 ", ""}, BadCase{"18446744073709551616", "that is too large"},
                                         BadCase{"17179869184GiB", "that is too large"}),
                         name_by_text<BadCase>);

// -------------------------------------------------------------------------------------------
// host:port (listen)

struct HostPortCase {
    std::string_view text;
    HostPort value;
};

class GoodHostPort : public testing::TestWithParam<HostPortCase> {};

TEST_P(GoodHostPort, Parses) { EXPECT_EQ(parse_host_port(GetParam().text), GetParam().value); }

INSTANTIATE_TEST_SUITE_P(
    HostPort, GoodHostPort,
    testing::Values(HostPortCase{"127.0.0.1:8434", {"127.0.0.1", 8434}},
                    HostPortCase{"0.0.0.0:0", {"0.0.0.0", 0}},
                    HostPortCase{"255.255.255.255:65535", {"255.255.255.255", 65535}},
                    HostPortCase{"localhost:80", {"localhost", 80}},
                    HostPortCase{"LocalHost:80", {"LocalHost", 80}},
                    HostPortCase{"my-host.lan:1", {"my-host.lan", 1}},
                    HostPortCase{"ollama_box:8434", {"ollama_box", 8434}},
                    HostPortCase{"[::1]:8434", {"::1", 8434}}, HostPortCase{"[::]:8434", {"::", 8434}},
                    HostPortCase{"[fe80::1:2]:1", {"fe80::1:2", 1}},
                    HostPortCase{"[2001:db8:0:0:0:0:0:1]:443", {"2001:db8:0:0:0:0:0:1", 443}},
                    HostPortCase{"[1:2:3:4:5:6:7::]:443", {"1:2:3:4:5:6:7::", 443}},
                    HostPortCase{"[::ffff:192.168.0.1]:65535", {"::ffff:192.168.0.1", 65535}},
                    HostPortCase{"[ABCD:ef01::]:9", {"ABCD:ef01::", 9}}),
    name_by_text<HostPortCase>);

class BadHostPort : public testing::TestWithParam<BadCase> {};

TEST_P(BadHostPort, IsRejectedWithTheReason) {
    EXPECT_EQ(error_of([] { (void)parse_host_port(GetParam().text); }),
              expected_message("host:port such as 127.0.0.1:8434 or [::1]:8434", GetParam().text, GetParam().hint));
}

INSTANTIATE_TEST_SUITE_P(
    HostPort, BadHostPort,
    testing::Values(
        BadCase{"", "the host is missing; use 0.0.0.0 or [::] to listen on every interface"},
        BadCase{":8434", "the host is missing; use 0.0.0.0 or [::] to listen on every interface"},
        BadCase{"127.0.0.1", "the port is missing"}, BadCase{"localhost", "the port is missing"},
        BadCase{"[::1]", "the port is missing"},
        BadCase{"::1:8434", "put an IPv6 address in brackets, e.g. [::1]:8434"},
        BadCase{"[::1:8434", "the closing ']' is missing"},
        BadCase{"[::1]8434", "only ':' and a port may follow ']'"},
        BadCase{"[127.0.0.1]:80", R"("127.0.0.1" is not an IPv6 address)"},
        BadCase{"[1::2::3]:80", R"("1::2::3" is not an IPv6 address)"},
        BadCase{"[12345::1]:80", R"("12345::1" is not an IPv6 address)"},
        BadCase{"[1:2:3:4:5:6:7]:80", R"("1:2:3:4:5:6:7" is not an IPv6 address)"},
        BadCase{"[1:2:3:4:5:6:7:8::]:80", R"("1:2:3:4:5:6:7:8::" is not an IPv6 address)"},
        BadCase{"[]:80", "the host is missing; use 0.0.0.0 or [::] to listen on every interface"},
        BadCase{"256.0.0.1:80", R"("256.0.0.1" is not an IPv4 address)"},
        BadCase{"1.2.3:80", R"("1.2.3" is not an IPv4 address)"},
        BadCase{"01.2.3.4:80", R"("01.2.3.4" is not an IPv4 address)"},
        BadCase{"-host:80", R"("-host" is not a host name or address)"},
        BadCase{"bad host:80", R"("bad host" is not a host name or address)"},
        BadCase{"a..b:80", R"("a..b" is not a host name or address)"},
        BadCase{"host:", "the port must be a number from 0 to 65535"},
        BadCase{"host:65536", "the port must be a number from 0 to 65535"},
        BadCase{"host:-1", "the port must be a number from 0 to 65535"},
        BadCase{"host:http", "the port must be a number from 0 to 65535"}),
    name_by_text<BadCase>);

// -------------------------------------------------------------------------------------------
// Upstream URL

struct UpstreamCase {
    std::string_view text;
    UpstreamUrl value;
};

class GoodUpstreamUrl : public testing::TestWithParam<UpstreamCase> {};

TEST_P(GoodUpstreamUrl, Parses) { EXPECT_EQ(parse_upstream_url(GetParam().text), GetParam().value); }

INSTANTIATE_TEST_SUITE_P(
    UpstreamUrl, GoodUpstreamUrl,
    testing::Values(
        UpstreamCase{"http://127.0.0.1:11434", {"127.0.0.1", 11434, "http://127.0.0.1:11434", "127.0.0.1:11434"}},
        UpstreamCase{"http://localhost", {"localhost", 11434, "http://localhost:11434", "localhost:11434"}},
        UpstreamCase{"http://localhost/", {"localhost", 11434, "http://localhost:11434", "localhost:11434"}},
        UpstreamCase{"HTTP://ollama:8000", {"ollama", 8000, "http://ollama:8000", "ollama:8000"}},
        UpstreamCase{"http://10.0.0.5:80/", {"10.0.0.5", 80, "http://10.0.0.5:80", "10.0.0.5:80"}},
        UpstreamCase{"http://[::1]", {"::1", 11434, "http://[::1]:11434", "[::1]:11434"}},
        UpstreamCase{"http://[fd00::2]:1234/", {"fd00::2", 1234, "http://[fd00::2]:1234", "[fd00::2]:1234"}}),
    name_by_text<UpstreamCase>);

class BadUpstreamUrl : public testing::TestWithParam<BadCase> {};

TEST_P(BadUpstreamUrl, IsRejectedWithTheReason) {
    EXPECT_EQ(error_of([] { (void)parse_upstream_url(GetParam().text); }),
              expected_message("http://host[:port] such as http://127.0.0.1:11434", GetParam().text, GetParam().hint));
}

INSTANTIATE_TEST_SUITE_P(
    UpstreamUrl, BadUpstreamUrl,
    testing::Values(
        BadCase{"https://127.0.0.1:11434",
                "TLS to Ollama is not supported; use http:// (Ollama itself serves plain HTTP)"},
        BadCase{"HTTPS://gpu-box", "TLS to Ollama is not supported; use http:// (Ollama itself serves plain HTTP)"},
        BadCase{"http://127.0.0.1:11434/api", R"(remove the path "/api"; sluice forwards each request's own path)"},
        BadCase{"http://localhost/ollama/", R"(remove the path "/ollama"; sluice forwards each request's own path)"},
        BadCase{"http://localhost//", R"(remove the path "/"; sluice forwards each request's own path)"},
        BadCase{"http://localhost?x=1", "remove the query or fragment"},
        BadCase{"http://localhost#top", "remove the query or fragment"},
        BadCase{"127.0.0.1:11434", "add the scheme: http://127.0.0.1:11434"}, BadCase{"", ""},
        BadCase{"ftp://localhost", "only http:// is supported"},
        BadCase{"http://", "the host is missing"}, BadCase{"http://:11434", "the host is missing"},
        BadCase{"http://localhost:0", "the port must be a number from 1 to 65535"},
        BadCase{"http://localhost:99999", "the port must be a number from 1 to 65535"},
        BadCase{"http://localhost:", "the port must be a number from 1 to 65535"},
        BadCase{"http://user:secret@localhost", "user names and passwords in the URL are not supported"},
        BadCase{"http://::1:11434", "put an IPv6 address in brackets, e.g. [::1]:8434"},
        BadCase{"http://[::1", "the closing ']' is missing"},
        BadCase{"http://999.1.1.1", R"("999.1.1.1" is not an IPv4 address)"}),
    name_by_text<BadCase>);

// -------------------------------------------------------------------------------------------
// Log level

class GoodLogLevel : public testing::TestWithParam<std::string_view> {};

TEST_P(GoodLogLevel, IsAccepted) {
    EXPECT_NO_THROW(validate_log_level(GetParam()));
    EXPECT_EQ(parse_config("log:\n  level: " + std::string(GetParam()), "test.yaml").log.level, GetParam());
}

INSTANTIATE_TEST_SUITE_P(LogLevel, GoodLogLevel,
                         testing::Values("trace", "debug", "info", "warn", "error", "critical", "off"));

class BadLogLevel : public testing::TestWithParam<std::string_view> {};

TEST_P(BadLogLevel, IsRejectedWithTheLevels) {
    EXPECT_EQ(error_of([] { validate_log_level(GetParam()); }),
              expected_message("one of trace, debug, info, warn, error, critical, off", GetParam()));
}

INSTANTIATE_TEST_SUITE_P(LogLevel, BadLogLevel, testing::Values("", "verbose", "warning", "INFO", "info "));

// -------------------------------------------------------------------------------------------
// What a user sees: source, line, dotted key, what was expected, what was there

struct ErrorCase {
    std::string_view name;
    std::string_view yaml;
    std::string_view message;
};

class ConfigErrorMessage : public testing::TestWithParam<ErrorCase> {};

// One run names every mistake in the file, in file order, each once: a section or rule with a
// refused value is not also reported as missing it, and the rest of the file is still read.
TEST(ConfigErrors, EveryMistakeInTheFileIsReportedInOneRun) {
    const auto message = parse_error("limts:\n  max_connections: 10\n"
                                     "timeouts:\n  client_header: abc\n  drain: 5\n"
                                     "rewrite:\n  models:\n    - match: \"qwen3 14b\"\n"
                                     "    - match: \"*\"\n      options: {num_cxt: 1}\n"
                                     "threads: 2\nthreads: 3\n");
    std::vector<std::string> lines;
    for (std::istringstream in(message); std::getline(in, lines.emplace_back());) {
    }
    lines.pop_back();
    const std::vector<std::string> starts{
        "test.yaml:1: unknown key 'limts': did you mean 'limits'?",
        R"(test.yaml:4: timeouts.client_header: expected a duration such as 30s or 10m, got "abc")",
        R"(test.yaml:5: timeouts.drain: expected a duration such as 30s or 10m, got "5"; add a unit, e.g. 5s)",
        R"(test.yaml:8: rewrite.models[0].match: expected a model pattern)",
        "test.yaml:10: rewrite.models[1].options.num_cxt: not an option Ollama knows (it would ignore it); did you "
        "mean 'num_ctx'?",
        "test.yaml:12: duplicate key 'threads' (first set on line 11)",
    };
    ASSERT_EQ(lines.size(), starts.size()) << message;
    for (std::size_t i = 0; i < starts.size(); ++i) EXPECT_TRUE(lines[i].starts_with(starts[i])) << lines[i];
}

TEST(ConfigErrors, PastTwentyTheRestAreCounted) {
    std::string yaml;
    for (int i = 0; i < 25; ++i) yaml += "key" + std::to_string(i) + ": 1\n";
    const auto message = parse_error(yaml);
    EXPECT_EQ(std::count(message.begin(), message.end(), '\n'), 20) << message;
    EXPECT_TRUE(message.ends_with("\n(5 more not shown: fix these first)")) << message;
}

TEST_P(ConfigErrorMessage, NamesSourceLineAndKey) { EXPECT_EQ(parse_error(GetParam().yaml), GetParam().message); }

INSTANTIATE_TEST_SUITE_P(
    Config, ConfigErrorMessage,
    testing::Values(
        ErrorCase{"UnknownTopLevelKey", "listen: 127.0.0.1:8434\nlimts:\n  max_connections: 10\n",
                  "test.yaml:2: unknown key 'limts': did you mean 'limits'? (known: listen, allow_unauthenticated, upstream, upstreams, threads, limits, timeouts, "
                  "upstream_pool, log, health, metrics, ui, rewrite, auth, cors, tls, store, queue, routing)"},
        ErrorCase{"UnknownNestedKey", "limits:\n  max_connections: 10\n  max_conections: 5\n",
                  "test.yaml:3: unknown key 'limits.max_conections': did you mean 'max_connections'? (known: max_connections, max_header_bytes, "
                  "max_body_bytes, stream_buffer_bytes)"},
        ErrorCase{"UnknownKeyAfterComments", "# sluice\n\n# settings\nlog:\n  # the level\n  levle: debug\n",
                  "test.yaml:6: unknown key 'log.levle': did you mean 'level'? (known: level, access)"},
        ErrorCase{"DuplicateKey", "threads: 2\nlog:\n  level: info\nthreads: 4\n",
                  "test.yaml:4: duplicate key 'threads' (first set on line 1)"},
        ErrorCase{"DuplicateNestedKey", "timeouts:\n  client_body: 1s\n  client_body: 2s\n",
                  "test.yaml:3: duplicate key 'timeouts.client_body' (first set on line 2)"},
        ErrorCase{"KeyIsNotAName", "? [a, b]\n: 1\n", "test.yaml:1: expected a key name, got a list"},
        ErrorCase{"BadDuration", "timeouts:\n  client_header: abc\n",
                  R"(test.yaml:2: timeouts.client_header: expected a duration such as 30s or 10m, got "abc")"},
        ErrorCase{"DurationWithoutUnit", "timeouts:\n\n  upstream_headers: 600\n",
                  "test.yaml:3: timeouts.upstream_headers: expected a duration such as 30s or 10m, got \"600\"; "
                  "add a unit, e.g. 600s"},
        ErrorCase{"ZeroTimeout", "upstream_pool:\n  idle_timeout: 0ms\n",
                  "test.yaml:2: upstream_pool.idle_timeout: expected a duration greater than zero, such as 30s, "
                  "got \"0ms\""},
        ErrorCase{"BadSize", "limits:\n  max_body_bytes: 64MB\n",
                  "test.yaml:2: limits.max_body_bytes: expected a size such as 65536, 64KiB or 16MiB (a number of "
                  "bytes, optionally followed by B, KiB, MiB or GiB), got \"64MB\"; write 64MiB (sizes count in KiB, "
                  "MiB and GiB: 1GiB is 1024^3 bytes)"},
        ErrorCase{"SizeBelowRange", "limits:\n  max_header_bytes: 512\n",
                  R"(test.yaml:2: limits.max_header_bytes: expected a size from 1KiB to 64KiB, got "512")"},
        ErrorCase{"SizeAboveRange", "limits:\n  stream_buffer_bytes: 32MiB\n",
                  R"(test.yaml:2: limits.stream_buffer_bytes: expected a size from 4KiB to 16MiB, got "32MiB")"},
        ErrorCase{"SizeBelowMinimum", "limits:\n  max_body_bytes: 1000\n",
                  R"(test.yaml:2: limits.max_body_bytes: expected a size of at least 1KiB, got "1000")"},
        ErrorCase{"ThreadsAboveRange", "threads: 257\n",
                  R"(test.yaml:1: threads: expected a whole number from 0 to 256, got "257")"},
        ErrorCase{"ThreadsNegative", "threads: -1\n",
                  R"(test.yaml:1: threads: expected a whole number from 0 to 256, got "-1")"},
        ErrorCase{"ZeroConnections", "limits:\n  max_connections: 0\n",
                  R"(test.yaml:2: limits.max_connections: expected a whole number of at least 1, got "0")"},
        ErrorCase{"NotANumber", "upstream_pool:\n  max_idle: many\n",
                  R"(test.yaml:2: upstream_pool.max_idle: expected a whole number, got "many")"},
        ErrorCase{"EmptyValue", "listen: 127.0.0.1:8434\nthreads:\nlog:\n  level: info\n",
                  R"(test.yaml:2: threads: expected a whole number from 0 to 256, got "")"},
        ErrorCase{"MappingWhereValueExpected", "threads:\n  count: 4\n",
                  "test.yaml:2: threads: expected a single value, got a mapping"},
        ErrorCase{"ListWhereValueExpected", "log:\n  level: [info, debug]\n",
                  "test.yaml:2: log.level: expected a single value, got a list"},
        ErrorCase{"ValueWhereMappingExpected", "limits: 5\n",
                  "test.yaml:1: limits: expected a mapping with the keys max_connections, max_header_bytes, "
                  "max_body_bytes, stream_buffer_bytes, got \"5\""},
        ErrorCase{"ListWhereMappingExpected", "log:\n  - level: info\n",
                  "test.yaml:2: log: expected a mapping with the keys level, access, got a list"},
        ErrorCase{"DocumentIsAList", "- listen\n- upstream\n",
                  "test.yaml:1: expected a mapping with the keys listen, allow_unauthenticated, upstream, upstreams, threads, limits, timeouts, "
                  "upstream_pool, log, health, metrics, ui, rewrite, auth, cors, tls, store, queue, routing, got a list"},
        ErrorCase{"DocumentIsAScalar", "# comment\nhello\n",
                  "test.yaml:2: expected a mapping with the keys listen, allow_unauthenticated, upstream, upstreams, threads, limits, timeouts, "
                  "upstream_pool, log, health, metrics, ui, rewrite, auth, cors, tls, store, queue, routing, got \"hello\""},
        // yaml-cpp reports a syntax error where it noticed it: here the line after the open '['.
        ErrorCase{"UnclosedFlowList", "listen: 127.0.0.1:8434\nlimits: [1\nlog:\n  level: info\n",
                  "test.yaml:3: invalid YAML: end of sequence flow not found: a '[' or '{' opened above is not closed\n"
                  "  3 | log:\n"
                  "    |    ^"},
        ErrorCase{"BadIndentation", "log:\n  level: info\n   access: true\n",
                  "test.yaml:3: invalid YAML: illegal map value: this line is indented deeper than the one above, whose "
                  "value is already set (keys of one mapping line up; a nested mapping goes under a key that ends with "
                  "':')\n"
                  "  3 |    access: true\n"
                  "    |          ^"},
        ErrorCase{"DedentedKey", "limits:\n  max_connections: 1\n max_header_bytes: 2KiB\n",
                  "test.yaml:3: invalid YAML: end of map not found: this line's indentation does not match the lines "
                  "above (the keys of one mapping, and the '- ' items of one list, line up)\n"
                  "  3 |  max_header_bytes: 2KiB\n"
                  "    |  ^"},
        ErrorCase{"TabIndentation", "log:\n\tlevel: info\n",
                  "test.yaml:2: invalid YAML: illegal map value: line 2 is indented with a tab; YAML indents with spaces "
                  "only\n"
                  "  2 |  level: info\n"
                  "    |       ^"},
        ErrorCase{"NoSpaceAfterColon", "listen:127.0.0.1:8434\nthreads: 2\n",
                  "test.yaml:2: invalid YAML: illegal map value: line 1 needs a space after its key's ':' (key: value)\n"
                  "  2 | threads: 2\n"
                  "    |        ^"},
        ErrorCase{"TwoKeysOnOneLine", "auth: keys:\n",
                  "test.yaml:1: invalid YAML: illegal map value: two keys on one line? a nested mapping goes on the "
                  "next lines, indented\n"
                  "  1 | auth: keys:\n"
                  "    |           ^"},
        ErrorCase{"MisindentedListItem", "rewrite:\n  models:\n    - match: a\n   - match: b\n",
                  "test.yaml:4: invalid YAML: end of map not found: this line's indentation does not match the "
                  "lines above (the keys of one mapping, and the '- ' items of one list, line up)\n"
                  "  4 |    - match: b\n"
                  "    |    ^"},
        ErrorCase{"UndefinedAlias", "threads: 1\nlog:\n  level: *level\n",
                  "test.yaml:3: invalid YAML: the referenced anchor is not defined\n"
                  "  3 |   level: *level\n"
                  "    |          ^"},
        // yaml-cpp's LoadAll never returns on this one (found by sluice_config_fuzz).
        ErrorCase{"LeadingComma", ",a\n", "test.yaml:1: expected one YAML document, found 16 or more; remove the extra '---'"},
        ErrorCase{"TwoDocuments", "threads: 1\n---\nthreads: 2\n",
                  "test.yaml:3: expected one YAML document, found 2; remove the extra '---'"},
        ErrorCase{"ListenWithoutPort", "listen: localhost\n",
                  "test.yaml:1: listen: expected host:port such as 127.0.0.1:8434 or [::1]:8434, got \"localhost\"; "
                  "the port is missing"},
        ErrorCase{"UpstreamTls", "\nupstream: https://gpu-box:11434\n",
                  "test.yaml:2: upstream: expected http://host[:port] such as http://127.0.0.1:11434, got "
                  "\"https://gpu-box:11434\"; TLS to Ollama is not supported; use http:// (Ollama itself serves "
                  "plain HTTP)"},
        ErrorCase{"UpstreamPath", "upstream: http://gpu-box:11434/api\n",
                  "test.yaml:1: upstream: expected http://host[:port] such as http://127.0.0.1:11434, got "
                  "\"http://gpu-box:11434/api\"; remove the path \"/api\"; sluice forwards each request's own path"},
        ErrorCase{"UpstreamAndUpstreams", "upstream: http://a:11434\nupstreams:\n  - http://b:11434\n",
                  "test.yaml:3: upstreams: upstream: (one Ollama) and upstreams: (several) are two ways to say the same; "
                  "keep one"},
        ErrorCase{"UpstreamsListedTwice", "upstreams:\n  - http://a:11434\n  - url: http://a:11434/\n",
                  "test.yaml:3: upstreams[1]: http://a:11434 is listed twice"},
        ErrorCase{"UpstreamsSameName", "upstreams:\n  - {url: http://a:11434, name: gpu}\n  - {url: http://b:11434, name: gpu}\n",
                  "test.yaml:3: upstreams[1]: two backends are named gpu"},
        ErrorCase{"UpstreamsTwoManagers", "upstreams:\n  - {url: http://a:11434, manage: true}\n  - {url: http://b:11434, manage: true}\n",
                  "test.yaml:3: upstreams[1]: only one backend may have 'manage: true'"},
        ErrorCase{"UpstreamsWithoutUrl", "upstreams:\n  - name: gpu1\n",
                  "test.yaml:2: upstreams[0]: a backend needs its url, e.g. 'url: http://10.0.0.11:11434'"},
        ErrorCase{"UpstreamsEmpty", "upstreams: []\n",
                  "test.yaml:1: upstreams: list at least one Ollama, e.g. '- http://127.0.0.1:11434'"},
        ErrorCase{"UpstreamsBadName", "upstreams:\n  - {url: http://a:11434, name: \"gpu 1\"}\n",
                  "test.yaml:2: upstreams[0].name: expected letters, digits, '-', '_' and '.' (at most 64), got \"gpu 1\""},
        ErrorCase{"UpstreamsZeroWeight", "upstreams:\n  - {url: http://a:11434, weight: 0}\n",
                  "test.yaml:2: upstreams[0].weight: expected a whole number from 1 to 1000, got \"0\""},
        ErrorCase{"BadLogLevel", "log:\n  level: verbose\n",
                  "test.yaml:2: log.level: expected one of trace, debug, info, warn, error, critical, off, got "
                  "\"verbose\""},
        ErrorCase{"BadBoolean", "log:\n  access: maybe\n",
                  R"(test.yaml:2: log.access: expected true or false, got "maybe")"},
        ErrorCase{"ControlCharacterIsEscaped", "log:\n  level: \"in\\tfo\"\n",
                  R"(test.yaml:2: log.level: expected one of trace, debug, info, warn, error, critical, off, got "in\x09fo")"},
        ErrorCase{"MultiLineValueReportsItsFirstLine", "timeouts:\n  client_send: >\n    30\n    seconds\n",
                  R"(test.yaml:2: timeouts.client_send: expected a duration such as 30s or 10m, got "30 seconds\x0a")"}),
    name_by_name<ErrorCase>);

TEST(ConfigErrorText, LongValuesAreShortened) {
    const std::string error = parse_error("log:\n  level: " + std::string(200, 'x') + "\n");
    EXPECT_EQ(error, "test.yaml:2: log.level: expected one of trace, debug, info, warn, error, critical, off, got \"" +
                         std::string(80, 'x') + "\"...");
}

// -------------------------------------------------------------------------------------------
// Files

// A file under the test's temporary directory, removed afterwards.
class TemporaryFile {
public:
    TemporaryFile(std::string_view name, std::string_view content)
        : path_(std::filesystem::path(testing::TempDir()) / name) {
        std::ofstream(path_, std::ios::binary) << content;
    }
    ~TemporaryFile() { std::filesystem::remove(path_); }
    TemporaryFile(const TemporaryFile&) = delete;
    TemporaryFile& operator=(const TemporaryFile&) = delete;
    std::string path() const { return path_.string(); }

private:
    std::filesystem::path path_;
};

const std::string shipped_config = std::string(SLUICE_SOURCE_DIR) + "/config/sluice.yaml";

TEST(LoadConfigFile, MissingFileSaysWhichAndWhy) {
    EXPECT_EQ(error_of([] { (void)load_config_file("/nonexistent/sluice.yaml"); }),
              "cannot read config file /nonexistent/sluice.yaml: No such file or directory");
}

TEST(LoadConfigFile, DirectoryIsNotAFile) {
    const std::string directory = testing::TempDir();
    EXPECT_EQ(error_of([&] { (void)load_config_file(directory); }),
              "cannot read config file " + directory + ": Is a directory");
}

TEST(LoadConfigFile, ErrorsNameThePath) {
    const TemporaryFile file("sluice-config-test-bad.yaml", "threads: 4\ntimeouts:\n  client_send: soon\n");
    EXPECT_EQ(error_of([&] { (void)load_config_file(file.path()); }),
              file.path() + R"(:3: timeouts.client_send: expected a duration such as 30s or 10m, got "soon")");
}

TEST(LoadConfigFile, ReadsAFile) {
    const TemporaryFile file("sluice-config-test-good.yaml", "listen: 0.0.0.0:0\nallow_unauthenticated: yes\nlog:\n  level: warn\n");
    const Config config = load_config_file(file.path());
    EXPECT_EQ(config.listen, (HostPort{"0.0.0.0", 0}));
    EXPECT_EQ(config.log.level, "warn");
}

TEST(LoadConfigFile, ShippedConfigIsExactlyTheDefaults) { EXPECT_EQ(load_config_file(shipped_config), Config{}); }

// The shipped file documents every key, so each must appear in it, set (to its default).
TEST(LoadConfigFile, ShippedConfigListsEveryKey) {
    std::ifstream in(shipped_config);
    ASSERT_TRUE(in) << shipped_config;
    std::stringstream text;
    text << in.rdbuf();
    for (const std::string_view line :
         {"\nlisten: ", "\nallow_unauthenticated: ", "\nupstream: ", "\nthreads: ", "\nlimits:\n", "\n  max_connections: ",
          "\n  max_header_bytes: ", "\n  max_body_bytes: ", "\n  stream_buffer_bytes: ", "\ntimeouts:\n",
          "\n  client_header: ", "\n  client_body: ", "\n  client_send: ", "\n  upstream_connect: ",
          "\n  upstream_headers: ", "\n  drain: ", "\nupstream_pool:\n", "\n  max_idle: ", "\n  idle_timeout: ", "\nlog:\n",
          "\n  level: ", "\n  access: ", "\nhealth:\n", "\n  healthz: ", "\n  readyz: ", "\n  ready_within: ",
          "\nmetrics:\n", "\n  path: ",
          "\nrewrite:\n", "\n  gpu_memory: ", "\n  kv_cache_type: ", "\n  models: ",
          "\n  #   - match: ", "\n  #     prefer: ", "\n  #     alias: ", "\n  #     options:", "\n  #     force: ",
          "\n  #     keep_alive: ", "\n  #     think: ", "\n  #     think_level: ", "\n  #     think_via: ",
          "\n  #     # template:"}) {
        EXPECT_NE(text.str().find(line), std::string::npos) << "missing: " << line.substr(1);
    }
}

// -------------------------------------------------------------------------------------------
// Safe by default: no network exposure without authentication unless the user says so

TEST(Exposure, LoopbackHostsAreLocal) {
    for (const std::string_view host : {"127.0.0.1", "127.1.2.3", "::1", "localhost"}) EXPECT_TRUE(is_loopback_host(host)) << host;
    for (const std::string_view host : {"0.0.0.0", "::", "192.168.1.5", "gpu-box", "127.0.0", "128.0.0.1", "::2"}) {
        EXPECT_FALSE(is_loopback_host(host)) << host;
    }
}

TEST(Exposure, NonLoopbackListenIsRefusedWithoutAllowUnauthenticated) {
    EXPECT_EQ(parse_error("log:\n  level: info\nlisten: 0.0.0.0:8434\n"),
              "test.yaml:3: listen: refusing to listen on 0.0.0.0:8434 without authentication: every device that can "
              "reach it could use Ollama through sluice. Add an API key (run `sluice hash-key` and put the hash under "
              "auth.keys in the config file), or, if the network is trusted, set 'allow_unauthenticated: true'");
    EXPECT_NE(parse_error("listen: \"[::]:8434\"\nallow_unauthenticated: false\n").find("refusing to listen on [::]:8434"),
              std::string::npos);
    // Written after listen or before it, the opt-in counts.
    EXPECT_TRUE(parse_config("listen: 0.0.0.0:8434\nallow_unauthenticated: true\n", "test.yaml").allow_unauthenticated);
    EXPECT_EQ(parse_config("allow_unauthenticated: true\nlisten: 192.168.1.5:80\n", "test.yaml").listen.host, "192.168.1.5");
    EXPECT_FALSE(parse_config("listen: localhost:8434\n", "test.yaml").allow_unauthenticated);
}

// -------------------------------------------------------------------------------------------
// health

TEST(HealthConfig, DefaultsAndEveryKey) {
    EXPECT_EQ(Config{}.health, (HealthConfig{"/healthz", "/readyz", 30s}));
    const Config config = parse_config("health:\n  healthz: /live\n  readyz: /sluice/ready\n  ready_within: 1m\n", "test.yaml");
    EXPECT_EQ(config.health, (HealthConfig{"/live", "/sluice/ready", 60s}));
}

struct BadHealthCase {
    std::string_view yaml;
    std::string_view message;
};

class BadHealthConfig : public testing::TestWithParam<BadHealthCase> {};

TEST_P(BadHealthConfig, IsRejectedWithTheReason) { EXPECT_EQ(parse_error(GetParam().yaml), GetParam().message); }

INSTANTIATE_TEST_SUITE_P(
    Health, BadHealthConfig,
    testing::Values(
        BadHealthCase{"health:\n  healthz: healthz\n",
                      "test.yaml:2: health.healthz: expected a path such as /healthz, got \"healthz\"; start it with '/'"},
        BadHealthCase{"health:\n  readyz: /api/ready\n",
                      "test.yaml:2: health.readyz: expected a path such as /healthz, got \"/api/ready\"; paths under "
                      "/api/ belong to Ollama's API"},
        BadHealthCase{"health:\n  healthz: /v1/health\n",
                      "test.yaml:2: health.healthz: expected a path such as /healthz, got \"/v1/health\"; paths under "
                      "/v1/ belong to Ollama's API"},
        BadHealthCase{"health:\n  healthz: /_sluice/health\n",
                      "test.yaml:2: health.healthz: expected a path such as /healthz, got \"/_sluice/health\"; paths "
                      "under /_sluice/ belong to the browser page"},
        BadHealthCase{"health:\n  healthz: /\n",
                      "test.yaml:2: health.healthz: expected a path such as /healthz, got \"/\"; / is Ollama's "
                      "(\"Ollama is running\") and the browser page's"},
        BadHealthCase{"health:\n  healthz: /h?x=1\n",
                      "test.yaml:2: health.healthz: expected a path such as /healthz, got \"/h?x=1\"; no query, "
                      "fragment or spaces"},
        BadHealthCase{"health:\n  healthz: /same\n  readyz: /same\n",
                      "test.yaml:3: health.readyz: health.readyz and health.healthz must be different paths"},
        BadHealthCase{"health:\n  ready_within: 0s\n",
                      "test.yaml:2: health.ready_within: expected a duration greater than zero, such as 30s, got \"0s\""}));


// -------------------------------------------------------------------------------------------
// metrics

TEST(MetricsConfig, DefaultsAndOff) {
    EXPECT_EQ(Config{}.metrics.path, "/metrics");
    EXPECT_EQ(parse_config("metrics:\n  path: /sluice-metrics\n", "test.yaml").metrics.path, "/sluice-metrics");
    EXPECT_EQ(parse_config("metrics:\n  path: \"\"\n", "test.yaml").metrics.path, "");  // off
    EXPECT_EQ(parse_config("metrics:\n  path:\n", "test.yaml").metrics.path, "");
}

TEST(MetricsConfig, PathIsCheckedLikeTheHealthPaths) {
    EXPECT_EQ(parse_error("metrics:\n  path: /api/metrics\n"),
              "test.yaml:2: metrics.path: expected a path such as /healthz, got \"/api/metrics\"; paths under /api/ "
              "belong to Ollama's API");
    EXPECT_EQ(parse_error("metrics:\n  path: metrics\n"),
              "test.yaml:2: metrics.path: expected a path such as /healthz, got \"metrics\"; start it with '/'");
    EXPECT_EQ(parse_error("metrics:\n  path: /_sluice/metrics\n"),
              "test.yaml:2: metrics.path: expected a path such as /healthz, got \"/_sluice/metrics\"; paths under "
              "/_sluice/ belong to the browser page");
    EXPECT_EQ(parse_error("metrics:\n  path: /readyz\n"),
              "test.yaml:2: metrics: metrics.path must differ from health.healthz and health.readyz");
    EXPECT_EQ(parse_error("metrics:\n  path: /live\nhealth:\n  healthz: /live\n"),
              "test.yaml:2: metrics: metrics.path must differ from health.healthz and health.readyz");
    EXPECT_EQ(parse_error("metrics:\n  paths: /m\n"), "test.yaml:2: unknown key 'metrics.paths': did you mean 'path'? (known: path)");
}

// -------------------------------------------------------------------------------------------
// rewrite

TEST(RewriteConfig, DefaultIsNoRules) {
    const Config config;
    EXPECT_EQ(config.rewrite.gpu_memory, 0u);
    EXPECT_EQ(config.rewrite.kv_cache_type, KvCacheType::f16);
    EXPECT_TRUE(config.rewrite.models.empty());
}

TEST(RewriteConfig, ReadsEveryKey) {
    const Config config = parse_config(R"(
rewrite:
  gpu_memory: 24GiB
  kv_cache_type: q8_0
  models:
    - match: "qwen3:14b*"
      prefer: ["-fp8", "-q8_0"]
      options:
        num_ctx: auto
        num_thread: 8
        temperature: 0.6
        stop: ["<|im_end|>", "\n"]
      force: [num_ctx, keep_alive]
      keep_alive: 30m
      think: auto
      think_level: high
      think_via: field
    - match: qwen3
      alias: {qwen3: "qwen3:14b-q8_0", "qwen3:latest": qwen3:8b}
      think: off
      think_via: template
      template:
        prompt: "U: {{prompt}}\nA: "
        think_off: ""
    - match: "*"
)",
                                       "test.yaml");
    RewriteConfig expected;
    expected.gpu_memory = 24 * GiB;
    expected.kv_cache_type = KvCacheType::q8_0;
    RewriteRule qwen;
    qwen.match = "qwen3:14b*";
    qwen.line = 6;
    qwen.prefer = {"-fp8", "-q8_0"};
    qwen.options = {{"num_ctx", "", true}, {"num_thread", "8", false}, {"temperature", "0.6", false},
                    {"stop", R"(["<|im_end|>","\n"])", false}};
    qwen.force = {"num_ctx", "keep_alive"};
    qwen.keep_alive = "\"30m\"";
    qwen.think = ThinkMode::automatic;
    qwen.think_level = "high";
    qwen.think_via = ThinkVia::field;
    RewriteRule alias;
    alias.match = "qwen3";
    alias.line = 18;
    alias.alias = {{"qwen3", "qwen3:14b-q8_0"}, {"qwen3:latest", "qwen3:8b"}};
    alias.think = ThinkMode::off;
    alias.think_via = ThinkVia::raw_template;
    alias.think_template.prompt = "U: {{prompt}}\nA: ";
    alias.think_template.think_off = "";
    RewriteRule any;
    any.match = "*";
    any.line = 25;
    expected.models = {qwen, alias, any};
    EXPECT_EQ(config.rewrite, expected);
    EXPECT_TRUE(config.rewrite.models[0].forces("num_ctx"));
    EXPECT_FALSE(config.rewrite.models[0].forces("num_thread"));
}

struct OptionCase {
    std::string_view name;
    std::string_view yaml;  // the option's value as written after "<key>: "
    std::string_view key;
    std::string_view json;
};

class OptionValue : public testing::TestWithParam<OptionCase> {};

TEST_P(OptionValue, BecomesTheJsonOllamaExpects) {
    const Config config = parse_config("rewrite:\n  models:\n    - match: '*'\n      options:\n        " +
                                           std::string(GetParam().key) + ": " + std::string(GetParam().yaml) + "\n",
                                       "test.yaml");
    ASSERT_EQ(config.rewrite.models.size(), 1u);
    ASSERT_EQ(config.rewrite.models[0].options.size(), 1u);
    EXPECT_EQ(config.rewrite.models[0].options[0].json, GetParam().json);
}

INSTANTIATE_TEST_SUITE_P(
    Rewrite, OptionValue,
    testing::Values(OptionCase{"NumCtx", "8192", "num_ctx", "8192"}, OptionCase{"NumCtxQuoted", "'8192'", "num_ctx", "8192"},
                    OptionCase{"Temperature", "0.7", "temperature", "0.7"},
                    OptionCase{"TemperatureWhole", "1", "temperature", "1"},
                    OptionCase{"TemperatureExponent", "1e-3", "temperature", "1e-3"},
                    OptionCase{"NegativeInteger", "-1", "num_predict", "-1"}, OptionCase{"Seed", "42", "seed", "42"},
                    OptionCase{"BoolYes", "yes", "use_mmap", "true"}, OptionCase{"BoolFalse", "False", "use_mmap", "false"},
                    OptionCase{"StopList", "[\"\\n\", '###', \"say \\\"hi\\\"\"]", "stop", R"(["\n","###","say \"hi\""])"},
                    OptionCase{"StopSingle", "END", "stop", R"(["END"])"},
                    OptionCase{"StopBlockList", "\n          - a\n          - b", "stop", R"(["a","b"])"},
                    OptionCase{"DraftNumPredict", "4", "draft_num_predict", "4"}),
    name_by_name<OptionCase>);

struct KeepAliveCase {
    std::string_view text;
    std::string_view json;
};

class KeepAlive : public testing::TestWithParam<KeepAliveCase> {};

TEST_P(KeepAlive, IsADurationStringOrSeconds) {
    const Config config = parse_config(
        "rewrite:\n  models:\n    - match: '*'\n      keep_alive: " + std::string(GetParam().text) + "\n", "test.yaml");
    EXPECT_EQ(config.rewrite.models[0].keep_alive, GetParam().json);
}

INSTANTIATE_TEST_SUITE_P(Rewrite, KeepAlive,
                         testing::Values(KeepAliveCase{"30m", "\"30m\""}, KeepAliveCase{"24h", "\"24h\""},
                                         KeepAliveCase{"1h30m", "\"1h30m\""}, KeepAliveCase{"1.5h", "\"1.5h\""},
                                         KeepAliveCase{"500ms", "\"500ms\""}, KeepAliveCase{"-1m", "\"-1m\""},
                                         KeepAliveCase{"-1", "-1"}, KeepAliveCase{"0", "0"}, KeepAliveCase{"300", "300"},
                                         KeepAliveCase{"'300'", "300"}, KeepAliveCase{"2.5", "2.5"}),
                         name_by_text<KeepAliveCase>);

INSTANTIATE_TEST_SUITE_P(
    Rewrite, ConfigErrorMessage,
    testing::Values(
        ErrorCase{"UnknownRewriteKey", "rewrite:\n  gpu_mem: 24GiB\n",
                  "test.yaml:2: unknown key 'rewrite.gpu_mem' (known: gpu_memory, kv_cache_type, models)"},
        ErrorCase{"BadGpuMemory", "rewrite:\n  gpu_memory: 24GB\n",
                  "test.yaml:2: rewrite.gpu_memory: expected a size such as 65536, 64KiB or 16MiB (a number of bytes, "
                  "optionally followed by B, KiB, MiB or GiB), got \"24GB\"; write 24GiB (sizes count in KiB, MiB and "
                  "GiB: 1GiB is 1024^3 bytes)"},
        ErrorCase{"BadKvCacheType", "rewrite:\n  kv_cache_type: q4_K_M\n",
                  R"(test.yaml:2: rewrite.kv_cache_type: expected one of f16, q8_0, q4_0, got "q4_K_M")"},
        ErrorCase{"ModelsNotAList", "rewrite:\n  models:\n    match: '*'\n",
                  "test.yaml:3: rewrite.models: expected a list of rules, each starting with '- match: <pattern>', got a "
                  "mapping"},
        ErrorCase{"UnknownRuleKey", "rewrite:\n  models:\n    - match: '*'\n      prefered: [-q8_0]\n",
                  "test.yaml:4: unknown key 'rewrite.models[0].prefered': did you mean 'prefer'? (known: match, prefer, alias, options, force, "
                  "keep_alive, think, think_level, think_via, template)"},
        ErrorCase{"RuleWithoutMatch", "rewrite:\n  models:\n    - match: a\n    - prefer: [-q8_0]\n",
                  "test.yaml:4: rewrite.models[1]: a rule needs match: a model pattern such as \"qwen3:14b*\", or \"*\" "
                  "for every model"},
        ErrorCase{"EmptyRule", "rewrite:\n  models:\n    -\n",
                  "test.yaml:3: rewrite.models[0]: a rule needs match: a model pattern such as \"qwen3:14b*\", or \"*\" "
                  "for every model"},
        ErrorCase{"PatternWithSpace", "rewrite:\n  models:\n    - match: 'qwen3 14b'\n",
                  "test.yaml:3: rewrite.models[0].match: expected a model pattern such as \"qwen3:14b*\" or \"*\" (no "
                  "spaces), got \"qwen3 14b\""},
        ErrorCase{"SameMatchTwice", "rewrite:\n  models:\n    - match: qwen3\n    - match: 'qwen3:latest'\n",
                  "test.yaml:4: rewrite.models[1]: this rule never applies: the rule on line 3 has the same match "
                  "\"qwen3\" and the first match wins"},
        ErrorCase{"PreferWithATag", "rewrite:\n  models:\n    - match: '*'\n      prefer: [':q8_0']\n",
                  "test.yaml:4: rewrite.models[0].prefer[0]: expected a tag suffix such as -q8_0, got \":q8_0\"; a suffix "
                  "is appended to the requested tag; use alias for renames"},
        ErrorCase{"AliasNeverUsed", "rewrite:\n  models:\n    - match: 'qwen3:*'\n      alias:\n        llama3: qwen3:8b\n",
                  "test.yaml:5: rewrite.models[0].alias.llama3: alias \"llama3\" is never used: this rule's match "
                  "\"qwen3:*\" does not cover it"},
        ErrorCase{"DuplicateOption", "rewrite:\n  models:\n    - match: '*'\n      options:\n        num_ctx: 1\n        num_ctx: 2\n",
                  "test.yaml:6: duplicate key 'rewrite.models[0].options.num_ctx' (first set on line 5)"},
        ErrorCase{"NumCtxWord", "rewrite:\n  models:\n    - match: '*'\n      options: {num_ctx: lots}\n",
                  R"(test.yaml:4: rewrite.models[0].options.num_ctx: expected auto or a whole number of tokens such as 8192, got "lots")"},
        ErrorCase{"NumCtxZero", "rewrite:\n  models:\n    - match: '*'\n      options:\n        num_ctx: 0\n",
                  R"(test.yaml:5: rewrite.models[0].options.num_ctx: expected auto or a whole number of tokens such as 8192, got "0")"},
        ErrorCase{"NumCtxAutoWithoutGpuMemory",
                  "rewrite:\n  models:\n    - match: a\n    - match: b\n      options:\n        num_ctx: auto\n",
                  "test.yaml:6: rewrite.models[1].options.num_ctx: auto needs rewrite.gpu_memory, the GPU memory Ollama "
                  "may use (e.g. 24GiB), to size the KV cache"},
        ErrorCase{"TemperatureWord", "rewrite:\n  models:\n    - match: '*'\n      options:\n        temperature: hot\n",
                  R"(test.yaml:5: rewrite.models[0].options.temperature: expected a number such as 0.7, got "hot")"},
        ErrorCase{"TemperatureNotJson", "rewrite:\n  models:\n    - match: '*'\n      options:\n        temperature: .7\n",
                  R"(test.yaml:5: rewrite.models[0].options.temperature: expected a number such as 0.7, got ".7")"},
        ErrorCase{"ThreadsFraction", "rewrite:\n  models:\n    - match: '*'\n      options:\n        num_thread: 8.5\n",
                  R"(test.yaml:5: rewrite.models[0].options.num_thread: expected a whole number, got "8.5")"},
        ErrorCase{"MmapMaybe", "rewrite:\n  models:\n    - match: '*'\n      options:\n        use_mmap: maybe\n",
                  R"(test.yaml:5: rewrite.models[0].options.use_mmap: expected true or false, got "maybe")"},
        ErrorCase{"StopMapping", "rewrite:\n  models:\n    - match: '*'\n      options:\n        stop: {a: 1}\n",
                  "test.yaml:5: rewrite.models[0].options.stop: expected a string or a list of strings, got a mapping"},
        ErrorCase{"MisspelledOption", "rewrite:\n  models:\n    - match: '*'\n      options:\n        num_ctx: 8192\n"
                  "        temprature: 0.6\n",
                  "test.yaml:6: rewrite.models[0].options.temprature: not an option Ollama knows (it would ignore it); "
                  "did you mean 'temperature'? Ollama's options: num_ctx, num_predict, num_keep, seed, temperature, "
                  "top_k, top_p, min_p, typical_p, repeat_last_n, repeat_penalty, presence_penalty, frequency_penalty, "
                  "stop, num_batch, num_gpu, main_gpu, num_thread, use_mmap, draft_num_predict"},
        ErrorCase{"UnknownOptionFarFromAny", "rewrite:\n  models:\n    - match: '*'\n      options: {knob: 1}\n",
                  "test.yaml:4: rewrite.models[0].options.knob: not an option Ollama knows (it would ignore it). "
                  "Ollama's options: num_ctx, num_predict, num_keep, seed, temperature, top_k, top_p, min_p, typical_p, "
                  "repeat_last_n, repeat_penalty, presence_penalty, frequency_penalty, stop, num_batch, num_gpu, "
                  "main_gpu, num_thread, use_mmap, draft_num_predict"},
        ErrorCase{"RemovedOption", "rewrite:\n  models:\n    - match: '*'\n      options:\n        mirostat: 2\n",
                  "test.yaml:5: rewrite.models[0].options.mirostat: not an option Ollama knows (it would ignore it). "
                  "Ollama's options: num_ctx, num_predict, num_keep, seed, temperature, top_k, top_p, min_p, typical_p, "
                  "repeat_last_n, repeat_penalty, presence_penalty, frequency_penalty, stop, num_batch, num_gpu, "
                  "main_gpu, num_thread, use_mmap, draft_num_predict"},
        ErrorCase{"ForceWhatIsNotSet", "rewrite:\n  models:\n    - match: '*'\n      options: {num_ctx: 8192}\n"
                  "      force:\n        - num_ctx\n        - num_thread\n",
                  "test.yaml:7: rewrite.models[0].force[1]: 'num_thread' is not set by this rule; force names keys of its "
                  "options (or keep_alive, think) whose value must win over the client's"},
        ErrorCase{"ForceKeepAliveWithoutOne", "rewrite:\n  models:\n    - match: '*'\n      force: keep_alive\n",
                  "test.yaml:4: rewrite.models[0].force: 'keep_alive' is not set by this rule; force names keys of its "
                  "options (or keep_alive, think) whose value must win over the client's"},
        ErrorCase{"KeepAliveWords", "rewrite:\n  models:\n    - match: '*'\n      keep_alive: 30 minutes\n",
                  "test.yaml:4: rewrite.models[0].keep_alive: expected a duration such as 30m or 24h, or a number of "
                  "seconds, got \"30 minutes\"; negative keeps the model loaded, 0 unloads it after each request"},
        ErrorCase{"KeepAliveDays", "rewrite:\n  models:\n    - match: '*'\n      keep_alive: 1d\n",
                  "test.yaml:4: rewrite.models[0].keep_alive: expected a duration such as 30m or 24h, or a number of "
                  "seconds, got \"1d\"; negative keeps the model loaded, 0 unloads it after each request"},
        ErrorCase{"ThinkBoolean", "rewrite:\n  models:\n    - match: '*'\n      think: true\n",
                  R"(test.yaml:4: rewrite.models[0].think: expected one of on, off, auto, passthrough, got "true")"},
        ErrorCase{"ThinkVia", "rewrite:\n  models:\n    - match: '*'\n      think_via: prompt\n",
                  R"(test.yaml:4: rewrite.models[0].think_via: expected one of field, switch, template, got "prompt")"},
        ErrorCase{"ThinkLevelBad", "rewrite:\n  models:\n    - match: '*'\n      think: on\n      think_level: extreme\n",
                  R"(test.yaml:5: rewrite.models[0].think_level: expected one of low, medium, high, max, got "extreme")"},
        ErrorCase{"ThinkLevelWithoutThink", "rewrite:\n  models:\n    - match: '*'\n      think_level: high\n",
                  "test.yaml:4: rewrite.models[0].think_level: think_level needs think: on or auto"},
        ErrorCase{"ThinkLevelWithSwitch",
                  "rewrite:\n  models:\n    - match: '*'\n      think: on\n      think_via: switch\n      think_level: low\n",
                  "test.yaml:6: rewrite.models[0].think_level: think_level needs think_via: field (a /think soft switch "
                  "has no levels)"},
        ErrorCase{"TemplateWithoutTemplateMode",
                  "rewrite:\n  models:\n    - match: '*'\n      think: on\n      template:\n        think_on: x\n",
                  "test.yaml:6: rewrite.models[0].template: template is only used with think_via: template"},
        ErrorCase{"TemplateWithoutPrompt",
                  "rewrite:\n  models:\n    - match: '*'\n      think_via: template\n      template:\n        prompt: 'hi'\n",
                  R"(test.yaml:6: rewrite.models[0].template.prompt: expected text with {{prompt}} once, got "hi")"},
        ErrorCase{"TemplateUnknownKey",
                  "rewrite:\n  models:\n    - match: '*'\n      think_via: template\n      template:\n        user: x\n",
                  "test.yaml:6: unknown key 'rewrite.models[0].template.user' (known: system, prompt, think_on, "
                  "think_off)"}),
    name_by_name<ErrorCase>);

// The example rules in the shipped file, uncommented, are a valid configuration.
TEST(LoadConfigFile, ShippedRewriteExampleIsValid) {
    std::ifstream in(shipped_config);
    ASSERT_TRUE(in) << shipped_config;
    std::string line;
    std::string yaml = "rewrite:\n  gpu_memory: 24GiB\n  models:\n";
    bool in_example = false;
    while (std::getline(in, line)) {
        if (line == "  # models:") {
            in_example = true;
        } else if (in_example && line.starts_with("  #   ")) {
            yaml += line.substr(0, 2) + line.substr(4) + "\n";  // drop "# "
        } else if (in_example) {
            break;
        }
    }
    const Config config = parse_config(yaml, "example.yaml");
    ASSERT_EQ(config.rewrite.models.size(), 2u) << yaml;
    EXPECT_EQ(config.rewrite.models[0].match, "qwen3:14b*");
    EXPECT_EQ(config.rewrite.models[0].think, ThinkMode::automatic);
    EXPECT_EQ(config.rewrite.models[1].options.size(), 1u);
}

// --- store -------------------------------------------------------------------------------------

TEST(StoreConfig, OnByDefaultOffByAWordOrAFileAndACap) {
    EXPECT_TRUE(Config{}.store.enabled);
    EXPECT_TRUE(Config{}.store.path.empty());
    EXPECT_FALSE(parse_config("store: off\n", "s.yaml").store.enabled);
    const auto store = parse_config("store:\n  path: /srv/chats.db\n  max_bytes: 2GiB\n", "s.yaml").store;
    EXPECT_TRUE(store.enabled);
    EXPECT_EQ(store.path, "/srv/chats.db");
    EXPECT_EQ(store.max_bytes, 2ull << 30);
    const auto error_of = [](std::string_view yaml) {
        try {
            parse_config(yaml, "s.yaml");
        } catch (const ConfigError& error) {
            return std::string(error.what());
        }
        return std::string("accepted");
    };
    EXPECT_NE(error_of("store: maybe\n").find("expected off, or a mapping"), std::string::npos) << error_of("store: maybe\n");
    EXPECT_NE(error_of("store:\n  path: /srv/\n").find("name the file"), std::string::npos);
    EXPECT_NE(error_of("store:\n  max_bytes: 1KiB\n").find("store.max_bytes"), std::string::npos);
    EXPECT_NE(error_of("store:\n  paht: /x.db\n").find("path"), std::string::npos);
}

// --- reload ------------------------------------------------------------------------------------

TEST(Reload, RestartOnlyKeysAreNamedAndKeptAtTheirRunningValues) {
    const Config running = parse_config("listen: 127.0.0.1:8434\nupstream: http://127.0.0.1:11434\n", "a.yaml");
    const Config next = parse_config(
        "listen: 127.0.0.1:9090\nupstream: http://127.0.0.1:11435\nthreads: 3\n"
        "upstream_pool: {max_idle: 4}\ntimeouts: {client_header: 5s}\nlog: {level: debug}\nstore: off\n",
        "b.yaml");
    EXPECT_EQ(restart_only_changes(running, next),
              (std::vector<std::string>{"listen", "upstream", "threads", "upstream_pool", "store"}));
    const Config applied = with_restart_only_keys_of(running, next);
    EXPECT_EQ(applied.listen, running.listen);
    EXPECT_EQ(applied.upstreams, running.upstreams);
    EXPECT_EQ(applied.threads, running.threads);
    EXPECT_EQ(applied.upstream_pool, running.upstream_pool);
    EXPECT_EQ(applied.store, running.store);
    EXPECT_EQ(applied.timeouts.client_header, std::chrono::seconds(5));  // the rest is the new file's
    EXPECT_EQ(applied.log.level, "debug");
}

TEST(Reload, NoRestartOnlyChangeWhenOnlyReloadableKeysDiffer) {
    const Config running;
    Config next;
    next.limits.max_body_bytes = 1024;
    next.rewrite.gpu_memory = 1;
    EXPECT_TRUE(restart_only_changes(running, next).empty());
    EXPECT_EQ(with_restart_only_keys_of(running, next), next);
}

}  // namespace
}  // namespace sluice
