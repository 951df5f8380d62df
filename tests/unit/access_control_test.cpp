// Unit tests of access_control: key hashing and lookup, what a key may use, sessions, origins,
// and the decision a request gets.
#include "sluice/access_control.hpp"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

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
    const auto token = sessions.open(config.auth, config.auth.keys.front(), std::chrono::hours(1));
    const auto cookie = fmt::format("theme=dark; sluice_session={}", token);
    EXPECT_EQ(authorize(config.auth, sessions, "/api/tags", "", cookie).status, 0u);
    EXPECT_EQ(authorize(config.auth, sessions, "/api/tags", "", "sluice_session=forged").status, 401u);

    // A reload that gives "laptop" another key ends the session made with the old one.
    const auto rekeyed = one_key("sk-sluice-another-key-0123");
    EXPECT_EQ(authorize(rekeyed.auth, sessions, "/api/tags", "", cookie).status, 401u);

    const auto token2 = sessions.open(config.auth, config.auth.keys.front(), std::chrono::hours(1));
    sessions.close(token2);
    EXPECT_EQ(authorize(config.auth, sessions, "/api/tags", "", "sluice_session=" + token2).status, 401u);
    EXPECT_EQ(authorize(config.auth, sessions, "/api/tags", "", cookie).status, 0u);  // only that one ended

    const auto expired = sessions.open(config.auth, config.auth.keys.front(), std::chrono::milliseconds(0));
    EXPECT_EQ(authorize(config.auth, sessions, "/api/tags", "", "sluice_session=" + expired).status, 401u);
}

// Two instances (two BrowserSessions) behind one balancer.
Config two_keys_signed_with(std::string_view secret) {
    auto config = config_with_keys(fmt::format(
        "auth:\n  keys:\n    - name: laptop\n      hash: \"{}\"\n    - name: phone.of-ann@home\n      hash: \"{}\"\n",
        hash_api_key("sk-sluice-laptop-0123456789"), hash_api_key("sk-sluice-phone-0123456789")));
    config.auth.session_secret = secret;
    return config;
}

TEST(BrowserSessions, AnyInstanceWithTheSameSecretAcceptsASessionAndANewSecretEndsThemAll) {
    const auto config = two_keys_signed_with("a secret of at least thirty-two bytes, shared");
    BrowserSessions first;
    BrowserSessions second;
    const auto& phone = config.auth.keys[1];
    const auto token = first.open(config.auth, phone, std::chrono::hours(1));
    ASSERT_NE(second.find(config.auth, token), nullptr);
    EXPECT_EQ(second.find(config.auth, token)->name, "phone.of-ann@home");
    EXPECT_TRUE(token.ends_with(".phone.of-ann@home")) << token;

    const auto rotated = two_keys_signed_with("another secret of at least thirty-two bytes");
    EXPECT_EQ(first.find(rotated.auth, token), nullptr);
    EXPECT_EQ(second.find(rotated.auth, token), nullptr);

    // Without a configured secret each process signs with its own: sessions stay where made.
    auto unshared = config;
    unshared.auth.session_secret.clear();
    const auto own = first.open(unshared.auth, phone, std::chrono::hours(1));
    EXPECT_NE(first.find(unshared.auth, own), nullptr);
    EXPECT_EQ(second.find(unshared.auth, own), nullptr);

    // A logout is this instance's: the other accepts the token until it expires.
    first.close(token);
    EXPECT_EQ(first.find(config.auth, token), nullptr);
    EXPECT_NE(second.find(config.auth, token), nullptr);
}

TEST(BrowserSessions, ATokenChangedInAnyWayIsRefused) {
    const auto config = two_keys_signed_with("a secret of at least thirty-two bytes, shared");
    BrowserSessions sessions;
    const auto token = sessions.open(config.auth, config.auth.keys[0], std::chrono::hours(1));
    ASSERT_NE(sessions.find(config.auth, token), nullptr);
    // 1.<expiry>.<nonce>.<signature>.<name>
    const auto first_dot = token.find('.');
    const auto expiry_end = token.find('.', first_dot + 1);
    auto later = token;
    later[expiry_end - 1] = later[expiry_end - 1] == '9' ? '8' : '9';
    auto other_key = token.substr(0, token.rfind('.') + 1) + "phone.of-ann@home";
    auto flipped = token;
    flipped[expiry_end + 5] = flipped[expiry_end + 5] == 'a' ? 'b' : 'a';  // the nonce
    std::string signature_changed = token;
    signature_changed[token.rfind('.') - 1] = signature_changed[token.rfind('.') - 1] == '0' ? '1' : '0';
    for (const std::string& forged :
         {later, other_key, flipped, signature_changed, "2" + token.substr(1), token.substr(0, token.rfind('.') + 1),
          token.substr(0, token.rfind('.')), token + "x", token.substr(0, first_dot + 1) + "+" + token.substr(first_dot + 1),
          std::string(), std::string("1.2.3.4.laptop"), token + std::string(300, 'a'), std::string(".....")}) {
        EXPECT_EQ(sessions.find(config.auth, forged), nullptr) << forged;
    }
    EXPECT_NE(sessions.find(config.auth, token), nullptr);  // closing a forged one changed nothing
    for (const std::string& forged : {later, other_key, std::string("garbage")}) sessions.close(forged);
    EXPECT_NE(sessions.find(config.auth, token), nullptr);
}

TEST(BrowserSessions, LogoutsAreBoundedAndTheNewestAreKept) {
    const auto config = two_keys_signed_with("a secret of at least thirty-two bytes, shared");
    BrowserSessions sessions;
    std::vector<std::string> tokens;
    for (std::size_t i = 0; i < BrowserSessions::max_logouts + 10; ++i) {
        // Later logins expire later: the logouts nearest expiry are forgotten first.
        tokens.push_back(sessions.open(config.auth, config.auth.keys[0], std::chrono::hours(1) + std::chrono::seconds(i)));
        sessions.close(tokens.back());
    }
    for (std::size_t i = tokens.size() - 100; i < tokens.size(); ++i) {
        EXPECT_EQ(sessions.find(config.auth, tokens[i]), nullptr) << i;
    }
    EXPECT_NE(sessions.find(config.auth, tokens.front()), nullptr);  // forgotten: the bound held
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

TEST(AuthConfig, TheSessionSecretFileIsReadWithTheConfigAndChecked) {
    const auto dir = std::filesystem::temp_directory_path() / fmt::format("sluice-secret-{}", ::getpid());
    std::filesystem::create_directories(dir);
    const auto write = [&](std::string_view name, std::string_view content, std::filesystem::perms perms) {
        const auto path = dir / name;
        std::ofstream(path) << content;
        std::filesystem::permissions(path, perms);
        return path.string();
    };
    using std::filesystem::perms;
    const auto yaml = [](const std::string& path) { return fmt::format("auth:\n  session_secret_file: {}\n", path); };
    const auto good = write("good", "  c2x1aWNlLXNlc3Npb24tc2VjcmV0LWZvci10ZXN0cw==\n", perms::owner_read | perms::owner_write);
    const auto config = parse_config(yaml(good), "sluice.yaml");
    EXPECT_EQ(config.auth.session_secret, "c2x1aWNlLXNlc3Npb24tc2VjcmV0LWZvci10ZXN0cw==");  // whitespace around it dropped
    EXPECT_EQ(config.auth.session_secret_file, good);

    const auto error_of = [&](const std::string& path) {
        try {
            parse_config(yaml(path), "sluice.yaml");
        } catch (const ConfigError& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    const auto missing = (dir / "missing").string();
    EXPECT_EQ(error_of(missing), fmt::format("sluice.yaml:2: auth.session_secret_file: cannot read {0}: No such file or "
                                             "directory (head -c 32 /dev/urandom | base64 > {0}; chmod 600 {0})",
                                             missing));
    const auto shown = write("shown", "c2x1aWNlLXNlc3Npb24tc2VjcmV0LWZvci10ZXN0cw==", perms::owner_read | perms::others_read);
    EXPECT_EQ(error_of(shown), fmt::format("sluice.yaml:2: auth.session_secret_file: {0} is readable by every user; whoever "
                                           "reads it can sign in as any key: chmod 600 {0}",
                                           shown));
    const auto short_one = write("short", "password\n", perms::owner_read);
    EXPECT_NE(error_of(short_one).find(fmt::format("{} holds 8 bytes; a secret needs at least 32", short_one)), std::string::npos);
    std::filesystem::remove_all(dir);
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
