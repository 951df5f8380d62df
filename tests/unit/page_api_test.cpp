// page_api_test: what the page learns from /_sluice/api/: the key's routes and the rewriter's plan.
#include "sluice/page_api.hpp"

#include "sluice/access_control.hpp"

#include "fixtures.hpp"

#include <gtest/gtest.h>

#include <fmt/format.h>

namespace sluice {
namespace {

const Config& config() {
    static const Config loaded = parse_config(fmt::format(R"(
rewrite:
  gpu_memory: 24GiB
  kv_cache_type: f16
  models:
    - {{match: "qwen3:14b*", prefer: [-fp8, -q8_0], options: {{num_ctx: auto}}}}
auth:
  keys:
    - {{name: laptop, hash: "{}"}}
    - {{name: phone, hash: "{}", routes: chat, models: ["qwen3*"]}}
)", hash_api_key("sk-sluice-laptop"), hash_api_key("sk-sluice-phone")), "sluice.yaml");
    return loaded;
}

ModelFacts installed() {
    ModelFacts facts;
    facts.known = true;
    const std::string show = test::fixture("show-qwen3-14b.json");
    facts.models.push_back(installed_model_from_show("qwen3:14b", 9'276'198'565, show));
    facts.models.push_back(installed_model_from_show("qwen3:14b-q8_0", 15'718'818'517, show));
    return facts;
}

PageApiAnswer ask(std::string_view target, const ApiKey* key = nullptr, std::string_view method = "GET") {
    return answer_page_api(method, target, config(), key, installed());
}

TEST(PageApi, MeSaysWhichOfThePagesRoutesTheKeyMayUse) {
    const auto* phone = key_named(config().auth, "phone");
    ASSERT_NE(phone, nullptr);
    const auto answer = ask("/_sluice/api/me", phone);
    EXPECT_EQ(answer.status, 200u);
    EXPECT_EQ(answer.body, R"({"key":"phone","routes":{"/api/chat":true,"/api/tags":true,"/api/ps":true,)"
                           R"("/api/show":true,"/api/pull":false,"/api/delete":false},"doctor":false,"store":true})");
    const auto open = ask("/_sluice/api/me");  // authentication off: everything
    EXPECT_EQ(open.body, R"({"key":null,"routes":{"/api/chat":true,"/api/tags":true,"/api/ps":true,)"
                         R"("/api/show":true,"/api/pull":true,"/api/delete":true},"doctor":true,"store":true})");
}

TEST(PageApi, ExplainNamesTheModelThatWillRunAndTheSettingsItGets) {
    const auto answer = ask("/_sluice/api/explain?model=qwen3%3A14b");
    EXPECT_EQ(answer.status, 200u) << answer.body;
    EXPECT_TRUE(answer.body.starts_with(R"({"model":"qwen3:14b-q8_0","changes":["model=qwen3:14b-q8_0","num_ctx=)"))
        << answer.body;
    EXPECT_NE(answer.body.find(R"("reasons":[")"), std::string::npos) << answer.body;
    // The chat's own num_ctx is kept: a rule's options are defaults, so only the model changes.
    const auto own = ask("/_sluice/api/explain?model=qwen3%3A14b&options=%7B%22num_ctx%22%3A4096%7D");
    EXPECT_TRUE(own.body.starts_with(R"({"model":"qwen3:14b-q8_0","changes":["model=qwen3:14b-q8_0"],)")) << own.body;
    const auto untouched = ask("/_sluice/api/explain?model=llama3.2:3b");
    EXPECT_EQ(untouched.body, R"({"model":"llama3.2:3b","changes":[],"reasons":["no rule matches model \"llama3.2:3b\""]})");
}

TEST(PageApi, HostileQueriesGetAClearError) {
    const auto* phone = key_named(config().auth, "phone");
    const auto error_of = [](const PageApiAnswer& answer) { return std::pair{answer.status, answer.body}; };
    EXPECT_EQ(error_of(ask("/_sluice/api/explain")),
              std::pair(400u, std::string(R"({"error":"sluice: /_sluice/api/explain needs ?model=<name>"})")));
    EXPECT_EQ(ask("/_sluice/api/explain?model=").status, 400u);
    EXPECT_EQ(ask("/_sluice/api/explain?model=a&model=b").body,
              R"({"error":"sluice: query parameter 'model' given twice"})");
    EXPECT_EQ(ask("/_sluice/api/explain?model=%FF%FE").body, R"({"error":"sluice: the model name is not UTF-8"})");
    EXPECT_EQ(ask("/_sluice/api/explain?model=a%0Ab").status, 400u);
    EXPECT_EQ(ask("/_sluice/api/explain?model=" + std::string(2000, 'a')).status, 400u);
    const std::string options_error = R"({"error":"sluice: options is a JSON object of at most 4096 bytes"})";
    EXPECT_EQ(ask("/_sluice/api/explain?model=a&options=%5B1%5D").body, options_error);
    EXPECT_EQ(ask("/_sluice/api/explain?model=a&options=%7B%22a%22").body, options_error);
    EXPECT_EQ(ask("/_sluice/api/explain?model=a&options=%7B%22a%22:1%7D%7D").body, options_error);
    EXPECT_EQ(ask("/_sluice/api/explain?model=a&options=%7B%22a%22:%22" + std::string(5000, 'x') + "%22%7D").body, options_error);
    EXPECT_EQ(error_of(ask("/_sluice/api/explain?model=llama3.2", phone)),
              std::pair(403u, std::string(R"({"error":"sluice: key \"phone\" may not use model \"llama3.2\""})")));
    EXPECT_EQ(ask("/_sluice/api/explain?model=qwen3:14b", phone).status, 200u);
    EXPECT_EQ(ask("/_sluice/api/nothing").status, 404u);
    EXPECT_EQ(ask("/_sluice/api/").status, 404u);
    EXPECT_EQ(ask("/_sluice/api/me", nullptr, "POST").status, 405u);
    // A quoted model name comes back as valid JSON.
    EXPECT_TRUE(ask(R"(/_sluice/api/explain?model=a%22b%5C)").body.starts_with(R"({"model":"a\"b\\","changes":[],)"));
}

TEST(PageApi, TheDoctorIsForKeysThatMayUseEverything) {
    const auto* phone = key_named(config().auth, "phone");
    const auto* laptop = key_named(config().auth, "laptop");
    EXPECT_FALSE(page_api_wants_doctor("GET", "/_sluice/api/doctor", phone));
    EXPECT_FALSE(page_api_wants_doctor("POST", "/_sluice/api/doctor", laptop));
    EXPECT_FALSE(page_api_wants_doctor("GET", "/_sluice/api/me", laptop));
    ASSERT_TRUE(page_api_wants_doctor("GET", "/_sluice/api/doctor?x", laptop));
    EXPECT_EQ(ask("/_sluice/api/doctor", phone).body, R"({"error":"sluice: key \"phone\" may not see the doctor's findings"})");
    DoctorFacts facts;
    facts.ollama_url = "http://127.0.0.1:11434";
    facts.ollama_error = "Connection refused";
    const auto answer = answer_page_api("GET", "/_sluice/api/doctor", config(), laptop, installed(), &facts);
    EXPECT_EQ(answer.status, 200u);
    EXPECT_NE(answer.body.find(R"("findings":[{"severity":"costly","text":"cannot ask Ollama at http://127.0.0.1:11434: )"
                               R"(Connection refused")"),
              std::string::npos)
        << answer.body;
}

}  // namespace
}  // namespace sluice
