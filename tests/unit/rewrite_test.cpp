// rewrite_test: rules applied to request bodies, per route, checked byte for byte.
#include "sluice/rewrite.hpp"

#include "json_properties.hpp"

#include "fixtures.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {
namespace {

// A table row's name as a gtest test name.
struct NameOf {
    template <class Case>
    std::string operator()(const testing::TestParamInfo<Case>& param) const {
        return std::string(param.param.name);
    }
};

using test::fixture;

// Rules as a user writes them: `rules` is the inside of a YAML flow list of rules, with
// gpu_memory 24GiB (an RTX 4090) and an f16 KV cache.
RewriteConfig rules(std::string_view rules) {
    return parse_config("rewrite: {gpu_memory: 24GiB, kv_cache_type: f16, models: [" + std::string(rules) + "]}", "test.yaml")
        .rewrite;
}

// What the catalog would know with tests/fixtures/tags.json installed, plus a model without
// the thinking capability.
ModelFacts installed() {
    ModelFacts facts;
    facts.known = true;
    const std::string show = fixture("show-qwen3-14b.json");
    facts.models.push_back(installed_model_from_show("qwen3:14b", 9'276'198'565, show));
    facts.models.push_back(installed_model_from_show("qwen3:14b-q8_0", 15'718'818'517, show));
    facts.models.push_back({"nomic-embed-text:latest", ModelShape{12, 12, 64, 64, 2048, 274'302'450}, false});
    facts.models.push_back({"llama3.2:3b", std::nullopt, false});
    return facts;
}

// The top-level members a change may touch on `route`: the rest must stay byte-identical.
std::vector<std::string> touchable(const RewriteResult& result) {
    std::vector<std::string> names;
    for (const std::string& change : result.changes) {
        const std::string key = change.substr(0, change.find('='));
        if (key == "think") {
            names.insert(names.end(), {"think", "messages", "prompt", "system", "raw", "reasoning_effort", "reasoning"});
        } else if (key == "model" || key == "keep_alive" || key == "max_tokens" || key == "temperature" || key == "top_p" ||
                   key == "seed" || key == "stop" || key == "frequency_penalty" || key == "presence_penalty") {
            names.push_back(key);
            names.push_back("options");  // an option of a native route
        } else {
            names.push_back("options");
        }
    }
    return names;
}

struct RewriteCase {
    std::string_view name;
    std::string_view rules;
    std::string_view path;
    std::string_view body;
    std::string_view expected;  // empty: forwarded unchanged
    std::vector<std::string> changes;
};

void PrintTo(const RewriteCase& row, std::ostream* out) { *out << row.name; }

class Rewrite : public testing::TestWithParam<RewriteCase> {};

TEST_P(Rewrite, GivesTheExpectedBodyAndChanges) {
    const RewriteCase& row = GetParam();
    const RewriteConfig config = rules(row.rules);
    const ModelFacts facts = installed();
    const RewriteResult result = rewrite_request(row.path, row.body, config, facts);
    std::string reasons;
    for (const std::string& reason : result.reasons) reasons += "\n  " + reason;

    if (row.expected.empty()) {
        EXPECT_FALSE(result.body) << *result.body << reasons;
    } else {
        ASSERT_TRUE(result.body) << reasons;
        EXPECT_EQ(*result.body, row.expected) << reasons;
    }
    EXPECT_EQ(result.changes, row.changes) << reasons;
    EXPECT_EQ(result.reasons.empty(), rewrite_route(row.path) == RewriteRoute::none) << reasons;
    if (!result.body) return;

    // Properties: valid JSON, nothing touched beyond what the changes name, and a second pass
    // over the output changes nothing (the rewrite is idempotent).
    EXPECT_TRUE(json_properties::is_json(*result.body));
    const auto changed = json_properties::changed_members(row.body, *result.body);
    ASSERT_TRUE(changed);
    EXPECT_TRUE(json_properties::only_changed(*changed, touchable(result))) << testing::PrintToString(*changed);
    const RewriteResult again = rewrite_request(row.path, *result.body, config, facts);
    EXPECT_FALSE(again.body) << *again.body;
}

constexpr std::string_view chat_hello = R"({"model":"qwen3:14b","messages":[{"role":"user","content":"Hello there"}],"stream":false})";
constexpr std::string_view chat_math = R"({"model":"qwen3:14b","messages":[{"role":"user","content":"What is 17 * 23?"}]})";

INSTANTIATE_TEST_SUITE_P(
    Models, Rewrite,
    testing::Values(
        RewriteCase{"PreferFirstInstalledVariant", R"({match: "qwen3:14b*", prefer: [-fp8, -q8_0]})", "/api/chat", chat_hello,
                    R"({"model":"qwen3:14b-q8_0","messages":[{"role":"user","content":"Hello there"}],"stream":false})",
                    {"model=qwen3:14b-q8_0"}},
        RewriteCase{"PreferNoneInstalled", R"({match: "qwen3:14b*", prefer: [-fp8]})", "/api/chat", chat_hello, "", {}},
        RewriteCase{"PreferAlreadyAVariant", R"({match: "qwen3:14b*", prefer: [-q8_0]})", "/api/chat",
                    R"({"model":"qwen3:14b-q8_0","messages":[]})", "", {}},
        RewriteCase{"PreferIgnoresCase", R"({match: "qwen3:14b*", prefer: [-Q8_0]})", "/api/generate",
                    R"({"model":"Qwen3:14B","prompt":"x"})", R"({"model":"qwen3:14b-q8_0","prompt":"x"})",
                    {"model=qwen3:14b-q8_0"}},
        RewriteCase{"AliasRenamesExactly", R"({match: "qwen3*", alias: {qwen3: "qwen3:14b-q8_0"}})", "/api/chat",
                    R"({"model":"qwen3","messages":[]})", R"({"model":"qwen3:14b-q8_0","messages":[]})",
                    {"model=qwen3:14b-q8_0"}},
        RewriteCase{"AliasLatestIsTheSameName", R"({match: "qwen3*", alias: {qwen3: "qwen3:14b-q8_0"}})", "/api/chat",
                    R"({"model":"qwen3:latest","messages":[]})", R"({"model":"qwen3:14b-q8_0","messages":[]})",
                    {"model=qwen3:14b-q8_0"}},
        RewriteCase{"AliasThenPrefer", R"({match: "qwen3*", alias: {qwen3: "qwen3:14b"}, prefer: [-fp8, -q8_0]})", "/api/chat",
                    R"({"model":"qwen3","messages":[]})", R"({"model":"qwen3:14b-q8_0","messages":[]})",
                    {"model=qwen3:14b-q8_0"}},
        RewriteCase{"AliasOtherTagUnchanged", R"({match: "qwen3*", alias: {qwen3: "qwen3:14b-q8_0"}})", "/api/chat",
                    R"({"model":"qwen3:8b","messages":[]})", "", {}},
        RewriteCase{"NoRuleMatches", R"({match: "llama*", keep_alive: 1m})", "/api/chat", chat_hello, "", {}},
        RewriteCase{"FirstMatchWins", R"({match: "qwen3:14b", keep_alive: 1m}, {match: "*", keep_alive: 2m})", "/api/chat",
                    R"({"model":"qwen3:14b"})", R"({"model":"qwen3:14b","keep_alive":"1m"})", {"keep_alive=1m"}},
        RewriteCase{"DuplicateModelTheLastIsRewritten", R"({match: "qwen3:14b*", prefer: [-q8_0]})", "/api/chat",
                    R"({"model":"other","Model":"qwen3:14b"})", R"({"model":"other","Model":"qwen3:14b-q8_0"})",
                    {"model=qwen3:14b-q8_0"}},
        RewriteCase{"QueryStringIgnored", R"({match: "qwen3:14b*", prefer: [-q8_0]})", "/api/chat?debug=1",
                    R"({"model":"qwen3:14b"})", R"({"model":"qwen3:14b-q8_0"})", {"model=qwen3:14b-q8_0"}},
        RewriteCase{"EverythingElseByteForByte", R"({match: "qwen3:14b*", prefer: [-q8_0], keep_alive: 30m})", "/api/chat",
                    "{ \"model\" : \"qwen3:14b\" ,\n \"messages\":[{\"role\":\"user\",\"content\":\"caf\\u00e9 \\ud83d\\ude00\"}],"
                    " \"n\":1.0E+2, \"x\":\"\\/\" , \"unknown\":{\"deep\":[null,true]}\n}",
                    "{ \"model\" : \"qwen3:14b-q8_0\" ,\n \"messages\":[{\"role\":\"user\",\"content\":\"caf\\u00e9 \\ud83d\\ude00\"}],"
                    " \"n\":1.0E+2, \"x\":\"\\/\" , \"unknown\":{\"deep\":[null,true]},\"keep_alive\":\"30m\"\n}",
                    {"model=qwen3:14b-q8_0", "keep_alive=30m"}}),
    NameOf{});

INSTANTIATE_TEST_SUITE_P(
    Options, Rewrite,
    testing::Values(
        RewriteCase{"CreatedWhereAbsent", R"({match: "*", options: {num_ctx: 8192, temperature: 0.7, stop: ["\n", "User:"]}})",
                    "/api/chat", chat_hello,
                    R"({"model":"qwen3:14b","messages":[{"role":"user","content":"Hello there"}],"stream":false,)"
                    R"("options":{"num_ctx":8192,"temperature":0.7,"stop":["\n","User:"]}})",
                    {"num_ctx=8192", "temperature=0.7", R"(stop=["\n","User:"])"}},
        RewriteCase{"ClientValuesWin", R"({match: "*", options: {num_ctx: 8192, temperature: 0.7}})", "/api/generate",
                    R"({"model":"qwen3:14b","prompt":"p","options":{"temperature":1.2}})",
                    R"({"model":"qwen3:14b","prompt":"p","options":{"temperature":1.2,"num_ctx":8192}})", {"num_ctx=8192"}},
        RewriteCase{"ForcedValueReplaces", R"({match: "*", options: {num_ctx: 8192}, force: [num_ctx]})", "/api/generate",
                    R"({"model":"qwen3:14b","options":{"num_ctx":2048,"seed":7},"prompt":"p"})",
                    R"({"model":"qwen3:14b","options":{"num_ctx":8192,"seed":7},"prompt":"p"})", {"num_ctx=8192"}},
        RewriteCase{"ForcedSameValueIsNoChange", R"({match: "*", options: {num_ctx: 8192}, force: num_ctx})", "/api/generate",
                    R"({"model":"qwen3:14b","options":{"num_ctx":8192}})", "", {}},
        RewriteCase{"NullOptionsReplaced", R"({match: "*", options: {num_thread: 8, use_mmap: no}})", "/api/chat",
                    R"({"model":"qwen3:14b","options":null,"messages":[]})",
                    R"({"model":"qwen3:14b","options":{"num_thread":8,"use_mmap":false},"messages":[]})",
                    {"num_thread=8", "use_mmap=false"}},
        RewriteCase{"NullOptionValueIsUnset", R"({match: "*", options: {num_ctx: 8192}})", "/api/chat",
                    R"({"model":"qwen3:14b","options":{ "num_ctx" : null }})",
                    R"({"model":"qwen3:14b","options":{ "num_ctx" : 8192 }})", {"num_ctx=8192"}},
        RewriteCase{"OptionsNotAnObjectLeftToOllama", R"({match: "*", options: {num_ctx: 8192}})", "/api/chat",
                    R"({"model":"qwen3:14b","options":"fast"})", "", {}},
        RewriteCase{"NumCtxAutoForTheRewrittenModel",
                    R"({match: "qwen3:14b*", prefer: [-q8_0], options: {num_ctx: auto}, force: [num_ctx]})", "/api/chat",
                    R"({"model":"qwen3:14b","options":{"num_ctx":131072},"messages":[]})",
                    R"({"model":"qwen3:14b-q8_0","options":{"num_ctx":40960},"messages":[]})",
                    {"model=qwen3:14b-q8_0", "num_ctx=40960"}},
        RewriteCase{"NumCtxAutoUnknownModelSendsNone", R"({match: "*", options: {num_ctx: auto}})", "/api/chat",
                    R"({"model":"mistral:7b","messages":[]})", "", {}},
        RewriteCase{"KeepAliveDefault", R"({match: "*", keep_alive: 30m})", "/api/generate",
                    R"({"model":"qwen3:14b","prompt":""})", R"({"model":"qwen3:14b","prompt":"","keep_alive":"30m"})",
                    {"keep_alive=30m"}},
        RewriteCase{"KeepAliveClientWins", R"({match: "*", keep_alive: 30m})", "/api/generate",
                    R"({"model":"qwen3:14b","keep_alive":"5m"})", "", {}},
        RewriteCase{"KeepAliveForcedNumber", R"({match: "*", keep_alive: -1, force: [keep_alive]})", "/api/generate",
                    R"({"model":"qwen3:14b","keep_alive":"5m","prompt":"x"})",
                    R"({"model":"qwen3:14b","keep_alive":-1,"prompt":"x"})", {"keep_alive=-1"}}),
    NameOf{});

INSTANTIATE_TEST_SUITE_P(
    Think, Rewrite,
    testing::Values(
        RewriteCase{"OnByField", R"({match: "*", think: on})", "/api/chat", chat_hello,
                    R"({"model":"qwen3:14b","messages":[{"role":"user","content":"Hello there"}],"stream":false,"think":true})",
                    {"think=on"}},
        RewriteCase{"OffByField", R"({match: "*", think: off})", "/api/generate", R"({"model":"qwen3:14b","prompt":"hi"})",
                    R"({"model":"qwen3:14b","prompt":"hi","think":false})", {"think=off"}},
        RewriteCase{"Level", R"({match: "*", think: on, think_level: high})", "/api/chat", chat_hello,
                    R"({"model":"qwen3:14b","messages":[{"role":"user","content":"Hello there"}],"stream":false,"think":"high"})",
                    {"think=high"}},
        RewriteCase{"ClientFieldWins", R"({match: "*", think: on})", "/api/chat",
                    R"({"model":"qwen3:14b","think":false,"messages":[{"role":"user","content":"x"}]})", "", {}},
        RewriteCase{"ForcedOverTheClient", R"({match: "*", think: on, force: [think]})", "/api/chat",
                    R"({"model":"qwen3:14b","think":false,"messages":[{"role":"user","content":"x"}]})",
                    R"({"model":"qwen3:14b","think":true,"messages":[{"role":"user","content":"x"}]})", {"think=on"}},
        RewriteCase{"AutoOnForMath", R"({match: "*", think: auto})", "/api/chat", chat_math,
                    R"({"model":"qwen3:14b","messages":[{"role":"user","content":"What is 17 * 23?"}],"think":true})",
                    {"think=on"}},
        RewriteCase{"AutoOffForConversation", R"({match: "*", think: auto})", "/api/chat", chat_hello,
                    R"({"model":"qwen3:14b","messages":[{"role":"user","content":"Hello there"}],"stream":false,"think":false})",
                    {"think=off"}},
        RewriteCase{"AutoReadsTheLastUserMessage", R"({match: "*", think: auto})", "/api/chat",
                    R"({"model":"qwen3:14b","messages":[{"role":"user","content":"Prove it"},{"role":"assistant","content":"ok"},)"
                    R"({"role":"user","content":"\u8c22\u8c22"}]})",
                    R"({"model":"qwen3:14b","messages":[{"role":"user","content":"Prove it"},{"role":"assistant","content":"ok"},)"
                    R"({"role":"user","content":"\u8c22\u8c22"}],"think":false})",
                    {"think=off"}},
        RewriteCase{"AutoReadsEscapedChinese", R"({match: "*", think: auto})", "/api/chat",
                    R"({"model":"qwen3:14b","messages":[{"role":"user","content":"\u8bc1\u660e\u52fe\u80a1\u5b9a\u7406"}]})",
                    R"({"model":"qwen3:14b","messages":[{"role":"user","content":"\u8bc1\u660e\u52fe\u80a1\u5b9a\u7406"}],"think":true})",
                    {"think=on"}},
        RewriteCase{"SwitchAppendsToTheLastUserMessage", R"({match: "*", think: off, think_via: switch})", "/api/chat",
                    R"({"model":"qwen3:14b","messages":[{"role":"user","content":"a"},{"role":"user","content":"Hello \"you\""},{"role":"assistant","content":"b"}]})",
                    R"({"model":"qwen3:14b","messages":[{"role":"user","content":"a"},{"role":"user","content":"Hello \"you\" /no_think"},{"role":"assistant","content":"b"}]})",
                    {"think=off"}},
        RewriteCase{"SwitchAppendsToThePrompt", R"({match: "*", think: auto, think_via: switch})", "/api/generate",
                    R"({"model":"qwen3:14b","prompt":"Prove it\n"})", R"({"model":"qwen3:14b","prompt":"Prove it\n /think"})",
                    {"think=on"}},
        RewriteCase{"ForcedSwitchOverTheUsers", R"({match: "*", think: on, think_via: switch, force: [think]})", "/api/chat",
                    R"({"model":"qwen3:14b","messages":[{"role":"user","content":"Hello /no_think"}]})",
                    R"({"model":"qwen3:14b","messages":[{"role":"user","content":"Hello /no_think /think"}]})", {"think=on"}},
        RewriteCase{"ForcedSwitchAlreadyThere", R"({match: "*", think: on, think_via: switch, force: [think]})", "/api/chat",
                    R"({"model":"qwen3:14b","messages":[{"role":"user","content":"Hello /think"}]})", "", {}},
        RewriteCase{"SwitchTheUserWroteWins", R"({match: "*", think: on, think_via: switch})", "/api/chat",
                    R"({"model":"qwen3:14b","messages":[{"role":"user","content":"Hello /no_think"}]})", "", {}},
        RewriteCase{"TemplateBuildsARawPrompt", R"({match: "*", think: on, think_via: template})", "/api/generate",
                    R"({"model":"qwen3:14b","system":"Be brief.","prompt":"Why is \"x\" 1?","stream":false})",
                    R"({"model":"qwen3:14b","prompt":"<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhy is \"x\" 1?)"
                    R"(<|im_end|>\n<|im_start|>assistant\n<think>\n","stream":false,"raw":true})",
                    {"think=on"}},
        RewriteCase{"TemplateOffPrefillsAnEmptyThinkBlock", R"({match: "*", think: off, think_via: template})", "/api/generate",
                    R"({"model":"qwen3:14b","prompt":"Hi","raw":false})",
                    R"({"model":"qwen3:14b","prompt":"<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n","raw":true})",
                    {"think=off"}},
        RewriteCase{"TemplateForcedDropsTheThinkField", R"({match: "*", think: on, think_via: template, force: [think]})",
                    "/api/generate", R"({"model":"qwen3:14b","think":false,"prompt":"Hi"})",
                    R"({"model":"qwen3:14b","prompt":"<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n","raw":true})",
                    {"think=on"}},
        RewriteCase{"TemplateOwnLayout",
                    R"({match: "*", think: off, think_via: template, template: {prompt: "U: {{prompt}}\nA: ", think_off: ""}})",
                    "/api/generate", R"({"model":"qwen3:14b","prompt":"2+2"})",
                    R"({"model":"qwen3:14b","prompt":"U: 2+2\nA: ","raw":true})", {"think=off"}},
        RewriteCase{"TemplateFallsBackToFieldOnChat", R"({match: "*", think: on, think_via: template})", "/api/chat", chat_hello,
                    R"({"model":"qwen3:14b","messages":[{"role":"user","content":"Hello there"}],"stream":false,"think":true})",
                    {"think=on"}},
        RewriteCase{"TemplateFallsBackWithImages", R"({match: "*", think: on, think_via: template})", "/api/generate",
                    R"({"model":"qwen3:14b","prompt":"what is this","images":["AAAA"]})",
                    R"({"model":"qwen3:14b","prompt":"what is this","images":["AAAA"],"think":true})", {"think=on"}},
        RewriteCase{"TemplateLeavesARawPrompt", R"({match: "*", think: on, think_via: template})", "/api/generate",
                    R"({"model":"qwen3:14b","prompt":"<|im_start|>user\nx","raw":true})", "", {}},
        RewriteCase{"ModelWithoutThinkingLeftAlone", R"({match: "*", think: on})", "/api/chat",
                    R"({"model":"llama3.2:3b","messages":[{"role":"user","content":"x"}]})", "", {}},
        RewriteCase{"LoadRequestGetsNoThink", R"({match: "*", think: on, keep_alive: 30m})", "/api/chat",
                    R"({"model":"qwen3:14b","messages":[]})", R"({"model":"qwen3:14b","messages":[],"keep_alive":"30m"})",
                    {"keep_alive=30m"}},
        RewriteCase{"EmptyPromptGetsNoThink", R"({match: "*", think: on})", "/api/generate",
                    R"({"model":"qwen3:14b","prompt":""})", "", {}}),
    NameOf{});

INSTANTIATE_TEST_SUITE_P(
    Routes, Rewrite,
    testing::Values(
        RewriteCase{"OpenAIChatMapsWhatHasAField",
                    R"({match: "*", options: {num_ctx: 8192, num_predict: 256, temperature: 0.6, top_k: 20}, keep_alive: 10m, think: off})",
                    "/v1/chat/completions", R"({"model":"qwen3:14b","messages":[{"role":"user","content":"hi"}]})",
                    R"({"model":"qwen3:14b","messages":[{"role":"user","content":"hi"}],"max_tokens":256,"temperature":0.6,)"
                    R"("reasoning_effort":"none"})",
                    {"max_tokens=256", "temperature=0.6", "think=off"}},
        RewriteCase{"OpenAIChatClientFieldsWin", R"({match: "*", options: {temperature: 0.6}, think: on})",
                    "/v1/chat/completions",
                    R"({"model":"qwen3:14b","temperature":0.2,"reasoning_effort":"low","messages":[{"role":"user","content":"hi"}]})",
                    "", {}},
        RewriteCase{"OpenAIChatThinkOn", R"({match: "*", think: on})", "/v1/chat/completions",
                    R"({"model":"qwen3:14b","messages":[{"role":"user","content":"hi"}],"max_tokens":null})",
                    R"({"model":"qwen3:14b","messages":[{"role":"user","content":"hi"}],"max_tokens":null,"reasoning_effort":"medium"})",
                    {"think=on"}},
        RewriteCase{"OpenAIChatForcedOverReasoning", R"({match: "*", think: off, force: [think]})", "/v1/chat/completions",
                    R"({"model":"qwen3:14b","reasoning":{"effort":"high"},"messages":[{"role":"user","content":"hi"}]})",
                    R"({"model":"qwen3:14b","reasoning":{"effort":"none"},"messages":[{"role":"user","content":"hi"}]})",
                    {"think=off"}},
        RewriteCase{"OpenAICompletionsSwitch", R"({match: "*", think: on, think_via: switch, options: {stop: END}})",
                    "/v1/completions", R"({"model":"qwen3:14b","prompt":"2+2="})",
                    R"({"model":"qwen3:14b","prompt":"2+2= /think","stop":["END"]})", {R"(stop=["END"])", "think=on"}},
        RewriteCase{"OpenAICompletionsHasNoThinkField", R"({match: "*", think: on})", "/v1/completions",
                    R"({"model":"qwen3:14b","prompt":"2+2="})", "", {}},
        RewriteCase{"EmbedGetsNumCtxAndKeepAliveNotThink", R"({match: "nomic*", options: {num_ctx: auto}, keep_alive: 1h, think: on})",
                    "/api/embed", R"({"model":"nomic-embed-text","input":["a","b"]})",
                    R"({"model":"nomic-embed-text","input":["a","b"],"options":{"num_ctx":2048},"keep_alive":"1h"})",
                    {"num_ctx=2048", "keep_alive=1h"}},
        RewriteCase{"LegacyEmbeddings", R"({match: "nomic*", options: {num_thread: 4}})", "/api/embeddings",
                    R"({"model":"nomic-embed-text:latest","prompt":"x"})",
                    R"({"model":"nomic-embed-text:latest","prompt":"x","options":{"num_thread":4}})", {"num_thread=4"}},
        RewriteCase{"OtherRoutesUntouched", R"({match: "*", keep_alive: 1h})", "/api/show", R"({"model":"qwen3:14b"})", "", {}},
        RewriteCase{"InvalidJsonUntouched", R"({match: "*", keep_alive: 1h})", "/api/chat", R"({"model":"qwen3:14b","x":tru})",
                    "", {}},
        RewriteCase{"InvalidNumberUntouched", R"({match: "*", keep_alive: 1h})", "/api/chat", R"({"model":"qwen3:14b","x":01})",
                    "", {}},
        RewriteCase{"NotAnObjectUntouched", R"({match: "*", keep_alive: 1h})", "/api/chat", R"([{"model":"qwen3:14b"}])", "", {}},
        RewriteCase{"ModelNotAStringUntouched", R"({match: "*", keep_alive: 1h})", "/api/chat", R"({"model":7})", "", {}},
        RewriteCase{"NoModelUntouched", R"({match: "*", keep_alive: 1h})", "/api/chat", R"({"messages":[]})", "", {}}),
    NameOf{});

TEST(RewriteRequest, WithoutRulesNothingIsEvenParsed) {
    const RewriteResult result = rewrite_request("/api/chat", "not json at all", RewriteConfig{}, installed());
    EXPECT_FALSE(result.body);
    EXPECT_TRUE(result.changes.empty());
    EXPECT_TRUE(result.reasons.empty());
}

TEST(RewriteRequest, PreferWaitsForTheCatalog) {
    ModelFacts unknown;
    const RewriteResult result = rewrite_request("/api/chat", R"({"model":"qwen3:14b"})",
                                                 rules(R"({match: "*", prefer: [-q8_0]})"), unknown);
    EXPECT_FALSE(result.body);
    EXPECT_NE(std::find_if(result.reasons.begin(), result.reasons.end(),
                           [](const std::string& r) { return r.find("not known yet") != std::string::npos; }),
              result.reasons.end());
}

// num_ctx is a function of the rule and the model only: whatever else a request carries,
// the same model gets the same value, so Ollama never reloads it because of sluice.
TEST(RewriteRequest, NumCtxAutoIsOneValuePerModel) {
    const RewriteConfig config = rules(R"({match: "qwen3*", options: {num_ctx: auto}, force: [num_ctx]})");
    ModelFacts facts = installed();
    for (InstalledModel& model : facts.models) {
        if (model.shape) model.shape->context_length = 131072;  // the YaRN-extended card
    }
    for (const auto& [model, expected] : {std::pair{"qwen3:14b", 92160}, std::pair{"qwen3:14b-q8_0", 53248}}) {
        for (const std::string& body : {
                 R"({"model":")" + std::string(model) + R"(","messages":[]})",
                 R"({"model":")" + std::string(model) + R"(","options":{"num_ctx":4096,"temperature":1},"messages":[{"role":"user","content":"a long story"}]})",
                 R"({"options":null,"model":")" + std::string(model) + R"(","prompt":"x"})"}) {
            for (const std::string_view path : {"/api/chat", "/api/generate", "/api/embed"}) {
                const RewriteResult result = rewrite_request(path, body, config, facts);
                EXPECT_NE(std::find(result.changes.begin(), result.changes.end(), "num_ctx=" + std::to_string(expected)),
                          result.changes.end())
                    << model << " " << path << " " << body;
            }
        }
    }
}

TEST(RewriteRequest, ReasonsNameTheRuleAndTheArithmetic) {
    const RewriteConfig config = parse_config(
        "rewrite:\n  gpu_memory: 24GiB\n  models:\n    - match: \"qwen3:14b*\"\n      prefer: [\"-fp8\", \"-q8_0\"]\n"
        "      options: {num_ctx: auto}\n", "test.yaml").rewrite;
    const RewriteResult result = rewrite_request("/api/chat", R"({"model":"qwen3:14b","messages":[]})", config, installed());
    EXPECT_EQ(result.rule_line, 4);
    EXPECT_EQ(result.header_value(), "model=qwen3:14b-q8_0; num_ctx=40960");
    const std::vector<std::string> expected{
        "rule \"qwen3:14b*\" (line 4) matches model \"qwen3:14b\" on /api/chat",
        "prefer: using the installed variant \"qwen3:14b-q8_0\" (qwen3:14b-fp8 not installed)",
        "num_ctx auto for \"qwen3:14b-q8_0\": KV cache 160 KiB/token (f16); gpu_memory 24.0 GiB - weights 14.6 GiB - reserve "
        "1.0 GiB leaves 8.4 GiB, room for 54792 tokens; capped at the model's context length 40960",
        "num_ctx=40960: rule default"};
    EXPECT_EQ(result.reasons, expected);
}

TEST(RewriteResult, HeaderValueIsPrintableAscii) {
    RewriteResult result;
    result.changes = {"model=a\r\nX-Evil: 1", "think=off", "stop=[\"é\"]"};
    EXPECT_EQ(result.header_value(), "model=a??X-Evil: 1; think=off; stop=[\"??\"]");
}

struct RouteCase {
    std::string_view path;
    RewriteRoute route;
};

void PrintTo(const RouteCase& row, std::ostream* out) { *out << row.path; }

class Routes : public testing::TestWithParam<RouteCase> {};

TEST_P(Routes, AreRecognisedByPath) { EXPECT_EQ(rewrite_route(GetParam().path), GetParam().route); }

INSTANTIATE_TEST_SUITE_P(Rewrite, Routes,
                         testing::Values(RouteCase{"/api/chat", RewriteRoute::chat},
                                         RouteCase{"/api/generate?x=1", RewriteRoute::generate},
                                         RouteCase{"/v1/chat/completions", RewriteRoute::openai_chat},
                                         RouteCase{"/v1/completions", RewriteRoute::openai_completions},
                                         RouteCase{"/api/embed", RewriteRoute::embed},
                                         RouteCase{"/api/embeddings", RewriteRoute::embeddings},
                                         RouteCase{"/api/chat/", RewriteRoute::none}, RouteCase{"/v1/embeddings", RewriteRoute::none},
                                         RouteCase{"/api/show", RewriteRoute::none}, RouteCase{"", RewriteRoute::none}));

TEST(ModelFacts, FindsNamesAsClientsWriteThem) {
    const ModelFacts facts = installed();
    ASSERT_TRUE(facts.find("nomic-embed-text"));
    EXPECT_EQ(facts.find("nomic-embed-text")->name, "nomic-embed-text:latest");
    EXPECT_TRUE(facts.find("QWEN3:14B"));
    EXPECT_TRUE(facts.find("registry.ollama.ai/library/qwen3:14b"));
    EXPECT_FALSE(facts.find("qwen3"));
    EXPECT_FALSE(facts.find("qwen3:14b-fp8"));
}

TEST(ModelFacts, FromShowReadsShapeAndThinking) {
    const InstalledModel model = installed_model_from_show("qwen3:14b", 9'276'198'565, fixture("show-qwen3-14b.json"));
    EXPECT_EQ(model.name, "qwen3:14b");
    EXPECT_EQ(model.shape, (ModelShape{40, 8, 128, 128, 40960, 9'276'198'565}));
    EXPECT_EQ(model.thinking, true);
    EXPECT_EQ(installed_model_from_show("x", 1, R"({"capabilities":["completion"]})").thinking, false);
    EXPECT_EQ(installed_model_from_show("x", 1, R"({"model_info":{}})").thinking, std::nullopt);
}

TEST(ModelPattern, MatchesLikeOllamaNames) {
    EXPECT_TRUE(model_pattern_matches("qwen3:14b*", "qwen3:14b"));
    EXPECT_TRUE(model_pattern_matches("qwen3:14b*", "qwen3:14b-q8_0"));
    EXPECT_FALSE(model_pattern_matches("qwen3:14b*", "qwen3:8b"));
    EXPECT_TRUE(model_pattern_matches("qwen3", "qwen3"));
    EXPECT_TRUE(model_pattern_matches("qwen3", "qwen3:latest"));
    EXPECT_FALSE(model_pattern_matches("qwen3", "qwen3:8b"));
    EXPECT_TRUE(model_pattern_matches("qwen3*", "qwen3"));
    EXPECT_TRUE(model_pattern_matches("*", "hf.co/user/repo:Q4_K_M"));
    EXPECT_TRUE(model_pattern_matches("qwen?:*b", "QWEN3:14B"));
    EXPECT_FALSE(model_pattern_matches("qwen?:*b", "qwen3:14b-q8_0"));
    EXPECT_TRUE(model_pattern_matches("*:*-q8_0", "library/qwen3:14b-q8_0"));
    EXPECT_FALSE(model_pattern_matches("a*a*a*a*a*b", std::string(200, 'a')));
}

}  // namespace
}  // namespace sluice
