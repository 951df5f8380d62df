// Unit tests of access_control: key hashing and lookup, what a key may use, sessions, origins,
// and the decision a request gets.
#include "sluice/access_control.hpp"

#include <gtest/gtest.h>

#include <fmt/format.h>

namespace sluice {
namespace {

// A config with the keys `yaml` lists under auth.keys (hashes made here from `keys`).
Config config_with_keys(std::string_view yaml) { return parse_config(yaml, "sluice.yaml"); }

Config one_key(std::string_view key, std::string_view extra = {}) {
    return config_with_keys(fmt::format("auth:\n  keys:\n    - name: laptop\n      hash: \"{}\"\n{}", hash_api_key(key), extra));
}

TEST(ApiKeys, GeneratedKeysAreLongRandomAndHashWithAFreshSalt) {
    const auto a = generate_api_key();
    const auto b = generate_api_key();
    EXPECT_TRUE(a.starts_with("sk-sluice-"));
    EXPECT_EQ(a.size(), 10u + 64u);
    EXPECT_NE(a, b);
    const auto first = hash_api_key(a);
    const auto second = hash_api_key(a);
    EXPECT_TRUE(first.starts_with("sha256:"));
    EXPECT_EQ(first.size(), 7u + 32u + 1u + 64u);
    EXPECT_NE(first, second);  // salted: the same key never hashes the same twice
    EXPECT_EQ(first.find(a.substr(10)), std::string::npos);
}

TEST(ApiKeys, OnlyTheRightKeyIsFound) {
    const auto config = config_with_keys(fmt::format(
        "auth:\n  keys:\n    - name: laptop\n      hash: \"{}\"\n    - name: phone\n      hash: \"{}\"\n",
        hash_api_key("sk-sluice-laptop-0123456789"), hash_api_key("sk-sluice-phone-0123456789")));
    ASSERT_NE(find_api_key(config.auth, "sk-sluice-phone-0123456789"), nullptr);
    EXPECT_EQ(find_api_key(config.auth, "sk-sluice-phone-0123456789")->name, "phone");
    EXPECT_EQ(find_api_key(config.auth, "sk-sluice-laptop-0123456789")->name, "laptop");
    EXPECT_EQ(find_api_key(config.auth, "sk-sluice-phone-012345678"), nullptr);
    EXPECT_EQ(find_api_key(config.auth, "sk-sluice-phone-0123456789 "), nullptr);
    EXPECT_EQ(find_api_key(config.auth, ""), nullptr);
    EXPECT_EQ(find_api_key(config.auth, std::string(10'000, 'x')), nullptr);
}

TEST(ApiKeys, ChatRoutesAreAnAllowListOfInferenceAndListing) {
    const auto config = one_key("sk-sluice-0123456789abcdef", "      routes: chat\n");
    const ApiKey& key = config.auth.keys.front();
    for (const auto* path : {"/api/chat", "/api/generate", "/api/tags", "/api/show", "/api/ps", "/v1/chat/completions",
                             "/api/embed", "/", "/api/version", "/v1/embeddings", "/v1/models", "/v1/models/qwen3:14b"}) {
        EXPECT_TRUE(key_allows_route(key, path)) << path;
    }
    // Managing models, Ollama's account routes and whatever Ollama adds later are not chat.
    for (const auto* path : {"/api/pull", "/api/push", "/api/create", "/api/copy", "/api/delete", "/api/blobs",
                             "/api/blobs/sha256:abc", "/api/pulled", "/api/signout", "/api/me", "/api/user/keys/x",
                             "/api/chat/", "//api/chat", "/API/CHAT", "/api/experimental/web_search"}) {
        EXPECT_FALSE(key_allows_route(key, path)) << path;
    }
}

TEST(ApiKeys, ListedRoutesAndModels) {
    const auto config = one_key("sk-sluice-0123456789abcdef",
                                "      routes: [/api/chat, \"/v1/*\"]\n      models: [\"qwen3:*\", llama3.2]\n");
    const ApiKey& key = config.auth.keys.front();
    EXPECT_TRUE(key_allows_route(key, "/api/chat"));
    EXPECT_TRUE(key_allows_route(key, "/v1/models"));
    EXPECT_FALSE(key_allows_route(key, "/api/tags"));
    EXPECT_FALSE(key_allows_route(key, "/api/chat/x"));
    EXPECT_TRUE(key_allows_model(key, "qwen3:14b"));
    EXPECT_TRUE(key_allows_model(key, "QWEN3:8b"));
    EXPECT_TRUE(key_allows_model(key, "llama3.2"));
    EXPECT_TRUE(key_allows_model(key, "llama3.2:latest"));
    EXPECT_FALSE(key_allows_model(key, "llama3.2:1b"));
    EXPECT_FALSE(key_allows_model(key, "gemma3"));
    EXPECT_TRUE(key_allows_model(one_key("sk-sluice-0123456789abcdef").auth.keys.front(), "anything"));
}

struct ModelCase {
    std::string_view name;
    std::string_view path;
    std::string_view body;
    bool refused;
};

void PrintTo(const ModelCase& c, std::ostream* out) { *out << c.name; }

class ModelRefusal : public ::testing::TestWithParam<ModelCase> {};

// A key with `models: ["qwen3:*"]`: every model a request names, read as Ollama's Go decoder
// reads it, must match.
TEST_P(ModelRefusal, ReadsTheModelsAsOllamaDoes) {
    const auto config = one_key("sk-sluice-0123456789abcdef", "      models: [\"qwen3:*\"]\n");
    JsonWorkspace workspace;
    const auto& c = GetParam();
    const auto refusal = model_refusal(config.auth.keys.front(), c.path, c.body, workspace);
    EXPECT_EQ(refusal.has_value(), c.refused) << c.body << (refusal ? " -> " + *refusal : std::string());
}

INSTANTIATE_TEST_SUITE_P(
    Keys, ModelRefusal,
    ::testing::Values(
        ModelCase{"ChatAllowed", "/api/chat", R"({"model":"qwen3:14b","messages":[]})", false},
        ModelCase{"ChatEscapedName", "/api/chat", R"({"messages":[],"model":"qwen\u0033:14b"})", false},
        ModelCase{"ChatOtherModel", "/api/chat", R"({"model":"llama3:70b"})", true},
        ModelCase{"LastDuplicateWins", "/api/chat", R"({"model":"qwen3:14b","model":"llama3:70b"})", true},
        ModelCase{"CaseVariantWins", "/api/chat", R"({"model":"qwen3:14b","MODEL":"llama3:70b"})", true},
        ModelCase{"KelvinAndLongSFold", "/api/copy", R"({"source":"qwen3:14b","\u017Fource":"llama3:70b","destination":"qwen3:x"})", true},
        ModelCase{"ModelNotAString", "/api/chat", R"({"model":["llama3:70b"]})", true},
        ModelCase{"NoModel", "/api/chat", R"({"messages":[]})", true},
        ModelCase{"NotJson", "/api/generate", "not json", true},
        ModelCase{"CompressedBodyIsUnreadable", "/api/chat", "", true},
        ModelCase{"OpenAIEmbeddings", "/v1/embeddings", R"({"model":"llama3:70b","input":"x"})", true},
        ModelCase{"OpenAIResponses", "/v1/responses", R"({"model":"qwen3:14b","input":"x"})", false},
        ModelCase{"PullByModel", "/api/pull", R"({"model":"llama3:70b"})", true},
        ModelCase{"PullByOldName", "/api/pull", R"({"name":"llama3:70b"})", true},
        ModelCase{"PullModelBeatsName", "/api/pull", R"({"model":"qwen3:8b","name":"llama3:70b"})", false},
        ModelCase{"DeleteOtherModel", "/api/delete", R"({"model":"llama3:70b"})", true},
        ModelCase{"CopyOutOfTheList", "/api/copy", R"({"source":"qwen3:14b","destination":"mine:latest"})", true},
        ModelCase{"CopyFromOutside", "/api/copy", R"({"source":"llama3:70b","destination":"qwen3:stolen"})", true},
        ModelCase{"CopyInsideTheList", "/api/copy", R"({"source":"qwen3:14b","destination":"qwen3:mine"})", false},
        ModelCase{"CreateFromOutside", "/api/create", R"({"model":"qwen3:mine","from":"llama3:70b"})", true},
        ModelCase{"CreateInsideTheList", "/api/create", R"({"model":"qwen3:mine","from":"qwen3:14b"})", false},
        ModelCase{"ModelInThePath", "/v1/models/llama3:70b", "", true},
        ModelCase{"ModelInThePathEncoded", "/v1/models/qwen3%3A14b", "", false},
        ModelCase{"NoModelRoute", "/api/tags", "", false},
        ModelCase{"UnknownRouteNamesNoModel", "/api/me", "", false},
        ModelCase{"MultipartIsUnreadable", "/v1/audio/transcriptions", "--x", true}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Headers, BearerTokenAndCookieValue) {
    EXPECT_EQ(bearer_token("Bearer sk-1"), "sk-1");
    EXPECT_EQ(bearer_token("bearer  sk-1 "), "sk-1");
    EXPECT_EQ(bearer_token("Basic dXNlcg=="), "");
    EXPECT_EQ(bearer_token("Bearer "), "");
    EXPECT_EQ(bearer_token(""), "");
    EXPECT_EQ(cookie_value("a=1; sluice_session=abc; b=2", "sluice_session"), "abc");
    EXPECT_EQ(cookie_value("sluice_session=abc", "sluice_session"), "abc");
    EXPECT_EQ(cookie_value("xsluice_session=abc", "sluice_session"), "");
    EXPECT_EQ(cookie_value("a=1", "sluice_session"), "");
}

TEST(Origins, SameOriginOrListed) {
    CorsConfig cors;
    EXPECT_TRUE(origin_allowed(cors, "http://box.lan:8434", "box.lan:8434"));
    EXPECT_FALSE(origin_allowed(cors, "http://evil.example", "box.lan:8434"));
    cors.allowed_origins = {"http://192.168.1.20:3000"};
    EXPECT_TRUE(origin_allowed(cors, "http://192.168.1.20:3000", "box.lan:8434"));
    EXPECT_TRUE(origin_allowed(cors, "HTTP://192.168.1.20:3000/", "box.lan:8434"));
    EXPECT_FALSE(origin_allowed(cors, "http://192.168.1.20:3001", "box.lan:8434"));
    EXPECT_FALSE(origin_allowed(cors, "null", "box.lan:8434"));
}

TEST(LocalNames, OllamasRuleForALoopbackListener) {
    const LocalNames names{"gpu-box", {boost::asio::ip::make_address("203.0.113.7")}};
    for (const std::string_view host : {"", "localhost", "localhost:8434", "LocalHost.", "127.0.0.1:8434", "127.9.9.9",
                                        "[::1]:8434", "::1", "app.localhost", "gpu-box:8434", "GPU-BOX", "printer.local",
                                        "db.internal:80", "10.1.2.3", "172.16.0.1:80", "172.31.255.255", "192.168.1.20",
                                        "[fd00::1]:8434", "0.0.0.0:8434", "[::]", "203.0.113.7:8434",
                                        "[::ffff:127.0.0.1]:8434"}) {
        EXPECT_TRUE(names.contains(host)) << host;
    }
    for (const std::string_view host : {"evil.example", "evil.example:8434", "203.0.113.8", "172.32.0.1", "8.8.8.8:53",
                                        "[2001:db8::1]:8434", "localhost.evil.example", "gpu-box.evil", "192.169.0.1",
                                        "[::ffff:8.8.8.8]"}) {
        EXPECT_FALSE(names.contains(host)) << host;
    }
}

TEST(Authorize, NoKeysAllowsEverything) {
    BrowserSessions sessions;
    const Config config;
    const auto access = authorize(config.auth, sessions, "/api/pull", "", "");
    EXPECT_EQ(access.status, 0u);
    EXPECT_EQ(access.key, nullptr);
}

TEST(Authorize, MissingWrongForbiddenAndAllowed) {
    BrowserSessions sessions;
    const auto config = one_key("sk-sluice-0123456789abcdef", "      routes: chat\n");
    EXPECT_EQ(authorize(config.auth, sessions, "/api/chat", "", "").status, 401u);
    EXPECT_EQ(authorize(config.auth, sessions, "/api/chat", "Bearer sk-sluice-wrong-0123456", "").status, 401u);
    const auto forbidden = authorize(config.auth, sessions, "/api/pull", "Bearer sk-sluice-0123456789abcdef", "");
    EXPECT_EQ(forbidden.status, 403u);
    EXPECT_EQ(forbidden.message, R"(sluice: key "laptop" may not use /api/pull)");
    const auto allowed = authorize(config.auth, sessions, "/api/chat", "Bearer sk-sluice-0123456789abcdef", "");
    EXPECT_EQ(allowed.status, 0u);
    ASSERT_NE(allowed.key, nullptr);
    EXPECT_EQ(allowed.key->name, "laptop");
    // No message ever repeats what was presented.
    const auto wrong = authorize(config.auth, sessions, "/api/chat", "Bearer sk-sluice-secret-guess", "");
    EXPECT_EQ(wrong.message.find("secret-guess"), std::string::npos);
}

TEST(Authorize, SessionCookieLastsUntilLogoutOrItsKeyChanges) {
    BrowserSessions sessions;
    const auto config = one_key("sk-sluice-0123456789abcdef");
    const auto token = sessions.open(config.auth.keys.front(), std::chrono::hours(1));
    const auto cookie = fmt::format("theme=dark; sluice_session={}", token);
    EXPECT_EQ(authorize(config.auth, sessions, "/api/tags", "", cookie).status, 0u);
    EXPECT_EQ(authorize(config.auth, sessions, "/api/tags", "", "sluice_session=forged").status, 401u);

    // A reload that gives "laptop" another key ends the session made with the old one.
    const auto rekeyed = one_key("sk-sluice-another-key-0123");
    EXPECT_EQ(authorize(rekeyed.auth, sessions, "/api/tags", "", cookie).status, 401u);

    const auto token2 = sessions.open(config.auth.keys.front(), std::chrono::hours(1));
    sessions.close(token2);
    EXPECT_EQ(authorize(config.auth, sessions, "/api/tags", "", "sluice_session=" + token2).status, 401u);

    const auto expired = sessions.open(config.auth.keys.front(), std::chrono::milliseconds(0));
    EXPECT_EQ(authorize(config.auth, sessions, "/api/tags", "", "sluice_session=" + expired).status, 401u);
}

TEST(Authorize, OneKeysLoginsNeverEndAnotherKeysSessions) {
    BrowserSessions sessions;
    const auto config = config_with_keys(fmt::format(
        "auth:\n  keys:\n    - name: laptop\n      hash: \"{}\"\n    - name: phone\n      hash: \"{}\"\n",
        hash_api_key("sk-sluice-laptop-0123456789"), hash_api_key("sk-sluice-phone-0123456789")));
    const auto& laptop = config.auth.keys[0];
    const auto& phone = config.auth.keys[1];
    const auto phone_token = sessions.open(phone, std::chrono::hours(1));
    std::vector<std::string> laptop_tokens;
    for (std::size_t i = 0; i < BrowserSessions::max_sessions + 10; ++i) {
        // Later logins expire later: the order in which the key's own sessions go.
        laptop_tokens.push_back(sessions.open(laptop, std::chrono::hours(1) + std::chrono::milliseconds(i)));
    }
    const auto found = [&](const std::string& token) { return sessions.find(config.auth, token); };
    ASSERT_NE(found(phone_token), nullptr);
    EXPECT_EQ(found(phone_token)->name, "phone");
    const auto cap = BrowserSessions::max_sessions_per_key;
    for (std::size_t i = 0; i < laptop_tokens.size(); ++i) {
        EXPECT_EQ(found(laptop_tokens[i]) != nullptr, i >= laptop_tokens.size() - cap) << i;
    }
}

TEST(AuthConfig, MistakesNameTheLine) {
    const auto error_of = [](std::string_view yaml) {
        try {
            parse_config(yaml, "sluice.yaml");
        } catch (const ConfigError& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    EXPECT_EQ(error_of("auth:\n  keys:\n    - name: a\n      hash: sk-sluice-00\n"),
              "sluice.yaml:4: auth.keys[0].hash: expected a hash printed by `sluice hash-key` (sha256:<32 hex "
              "digits>:<64 hex digits>), got \"sk-sluice-00\"; this looks like the key itself: store its hash");
    EXPECT_EQ(error_of("auth:\n  keys:\n    - name: a\n"),
              "sluice.yaml:3: auth.keys[0]: a key needs hash: run `sluice hash-key` and paste the hash it prints");
    const auto hash = hash_api_key("sk-sluice-0123456789abcdef");
    EXPECT_NE(error_of(fmt::format("auth:\n  keys:\n    - name: a\n      hash: \"{}\"\n    - name: a\n      hash: \"{}\"\n",
                                   hash, hash_api_key("x")))
                  .find("sluice.yaml:5: auth.keys[1]: the key on line 3 has the same name"),
              std::string::npos);
    EXPECT_NE(error_of(fmt::format("auth:\n  keys:\n    - name: a\n      hash: \"{}\"\n      routes: admin\n", hash))
                  .find("expected all, chat, or a list of paths"),
              std::string::npos);
    EXPECT_NE(error_of("cors:\n  allowed_origins: [\"*\"]\n").find("any origin is not allowed"), std::string::npos);
    EXPECT_NE(error_of("cors:\n  allowed_origins: [\"http://x/app\"]\n").find("no path"), std::string::npos);
}

TEST(AuthConfig, KeysLetSluiceFaceTheNetwork) {
    EXPECT_THROW(parse_config("listen: 0.0.0.0:8434\n", "sluice.yaml"), ConfigError);
    const auto config = parse_config(
        fmt::format("listen: 0.0.0.0:8434\nauth:\n  keys:\n    - name: a\n      hash: \"{}\"\n", hash_api_key("sk-sluice-0123456789")),
        "sluice.yaml");
    EXPECT_TRUE(may_face_the_network(config));
    EXPECT_EQ(config.auth.session_ttl, std::chrono::hours(12));
}

}  // namespace
}  // namespace sluice
