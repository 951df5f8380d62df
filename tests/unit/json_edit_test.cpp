// json_edit_test: locating members with simdjson and splicing edits into the original bytes.
#include "sluice/json_edit.hpp"

#include "json_properties.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <ostream>
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

// -------------------------------------------------------------------------------------------
// Scanning

struct ScanCase {
    std::string_view name;
    std::string_view body;
    std::vector<std::pair<std::string, std::string>> members;  // name, value as written
};

void PrintTo(const ScanCase& row, std::ostream* out) { *out << row.name; }

class ScanTopLevel : public testing::TestWithParam<ScanCase> {};

TEST_P(ScanTopLevel, FindsEveryMemberAndItsExactValueBytes) {
    JsonWorkspace workspace;
    const auto request = scan_request_json(GetParam().body, workspace);
    ASSERT_TRUE(request);
    std::vector<std::pair<std::string, std::string>> found;
    for (const JsonMember& member : request->top.members) {
        EXPECT_EQ(GetParam().body[member.begin], '"') << member.name;
        found.emplace_back(member.name, std::string(member.value.in(GetParam().body)));
    }
    EXPECT_EQ(found, GetParam().members);
    EXPECT_EQ(GetParam().body[request->top.whole.begin], '{');
    EXPECT_EQ(GetParam().body[request->top.whole.end - 1], '}');
}

INSTANTIATE_TEST_SUITE_P(
    JsonEdit, ScanTopLevel,
    testing::Values(
        ScanCase{"Empty", "{}", {}},
        ScanCase{"EmptyWithSpace", " \n{ \t}\r\n", {}},
        ScanCase{"Compact", R"({"model":"qwen3:14b","stream":false})", {{"model", "\"qwen3:14b\""}, {"stream", "false"}}},
        ScanCase{"Spacious", "{\n  \"model\" :  \"m\" ,\n  \"n\": -1.50e+3 \n}\n",
                 {{"model", "\"m\""}, {"n", "-1.50e+3"}}},
        ScanCase{"EveryKind", R"({"o":{"a":[1,{"b":null}]},"a":[ ],"s":"x\"y","n":0,"t":true,"f":false,"z":null})",
                 {{"o", R"({"a":[1,{"b":null}]})"}, {"a", "[ ]"}, {"s", R"("x\"y")"}, {"n", "0"}, {"t", "true"},
                  {"f", "false"}, {"z", "null"}}},
        ScanCase{"EscapedKeyIsUnescaped", R"({"mo\u0064el":"m","a\"b":1})", {{"model", "\"m\""}, {"a\"b", "1"}}},
        ScanCase{"DuplicatesKept", R"({"model":"a","model":"b"})", {{"model", "\"a\""}, {"model", "\"b\""}}},
        ScanCase{"StringsWithBracesAndCommas", R"({"p":"}, {\"x\": [","q":"]"})", {{"p", R"("}, {\"x\": [")"}, {"q", R"("]")"}}},
        ScanCase{"Unicode", "{\"prompt\":\"证明 √2 \\ud83d\\ude00\",\"k\":1}", {{"prompt", "\"证明 √2 \\ud83d\\ude00\""}, {"k", "1"}}}),
    NameOf{});

TEST(JsonEditScan, FieldsMatchCaseInsensitivelyAndTheLastWinsLikeGo) {
    JsonWorkspace workspace;
    const std::string body = R"({"model":"a","MODEL":"b","options":{"num_ctx":1,"NUM_CTX":2,"num_ctx":3}})";
    const auto request = scan_request_json(body, workspace);
    ASSERT_TRUE(request);
    ASSERT_TRUE(request->top.find_field("Model"));
    EXPECT_EQ(request->top.find_field("Model")->value.in(body), "\"b\"");
    EXPECT_EQ(request->top.find_key("model")->value.in(body), "\"a\"");
    EXPECT_EQ(request->top.find_key("Model"), nullptr);
    ASSERT_TRUE(request->options);
    EXPECT_EQ(request->options->find_key("num_ctx")->value.in(body), "3");
    EXPECT_EQ(request->options->find_key("NUM_CTX")->value.in(body), "2");
    EXPECT_EQ(request->options->whole.in(body), R"({"num_ctx":1,"NUM_CTX":2,"num_ctx":3})");
}

struct OptionsCase {
    std::string_view name;
    std::string_view body;
    bool found;
    std::vector<std::string> names;
};

void PrintTo(const OptionsCase& row, std::ostream* out) { *out << row.name; }

class ScanOptions : public testing::TestWithParam<OptionsCase> {};

TEST_P(ScanOptions, ReadsTheLastOptionsObject) {
    JsonWorkspace workspace;
    const auto request = scan_request_json(GetParam().body, workspace);
    ASSERT_TRUE(request);
    ASSERT_EQ(request->options.has_value(), GetParam().found);
    if (!request->options) return;
    std::vector<std::string> names;
    for (const JsonMember& member : request->options->members) names.push_back(member.name);
    EXPECT_EQ(names, GetParam().names);
    EXPECT_EQ(GetParam().body[request->options->whole.begin], '{');
    EXPECT_EQ(GetParam().body[request->options->whole.end - 1], '}');
}

INSTANTIATE_TEST_SUITE_P(
    JsonEdit, ScanOptions,
    testing::Values(OptionsCase{"Absent", R"({"model":"m"})", false, {}},
                    OptionsCase{"Null", R"({"options":null})", false, {}},
                    OptionsCase{"NotAnObject", R"({"options":[1]})", false, {}},
                    OptionsCase{"Empty", R"({"options":{ }})", true, {}},
                    OptionsCase{"Members", R"({"options":{"num_ctx":8192,"stop":["a","}"]},"x":1})", true, {"num_ctx", "stop"}},
                    OptionsCase{"LastWins", R"({"options":{"a":1},"Options":{"b":2}})", true, {"b"}},
                    OptionsCase{"LastIsNull", R"({"options":{"a":1},"options":null})", false, {}}),
    NameOf{});

struct MessagesCase {
    std::string_view name;
    std::string_view body;
    bool found;
    JsonKind kind;
    std::string_view content;  // as written, when a string
};

void PrintTo(const MessagesCase& row, std::ostream* out) { *out << row.name; }

class ScanMessages : public testing::TestWithParam<MessagesCase> {};

TEST_P(ScanMessages, FindsTheLastUserMessage) {
    JsonWorkspace workspace;
    const auto request = scan_request_json(GetParam().body, workspace);
    ASSERT_TRUE(request);
    ASSERT_EQ(request->last_user_message.has_value(), GetParam().found);
    if (!request->last_user_message) return;
    EXPECT_EQ(request->last_user_message->content_kind, GetParam().kind);
    if (GetParam().kind == JsonKind::string) {
        EXPECT_EQ(request->last_user_message->content.in(GetParam().body), GetParam().content);
    }
}

INSTANTIATE_TEST_SUITE_P(
    JsonEdit, ScanMessages,
    testing::Values(
        MessagesCase{"NoMessages", R"({"model":"m"})", false, JsonKind::null, ""},
        MessagesCase{"EmptyList", R"({"messages":[]})", false, JsonKind::null, ""},
        MessagesCase{"OneUser", R"({"messages":[{"role":"user","content":"hi"}]})", true, JsonKind::string, "\"hi\""},
        MessagesCase{"LastOfSeveral",
                     R"({"messages":[{"role":"system","content":"s"},{"role":"user","content":"one"},)"
                     R"({"role":"assistant","content":"a"},{"role":"user","content":"two \"2\""},{"role":"tool","content":"t"}]})",
                     true, JsonKind::string, R"("two \"2\"")"},
        MessagesCase{"ContentBeforeRole", R"({"messages":[{"content":"c" , "role":"user"}]})", true, JsonKind::string, "\"c\""},
        MessagesCase{"CaseInsensitiveKeys", R"({"messages":[{"Role":"user","CONTENT":"c"}]})", true, JsonKind::string, "\"c\""},
        MessagesCase{"RoleIsCaseSensitive", R"({"messages":[{"role":"User","content":"c"}]})", false, JsonKind::null, ""},
        MessagesCase{"PartsContent", R"({"messages":[{"role":"user","content":[{"type":"text","text":"x"}]}]})", true,
                     JsonKind::array, ""},
        MessagesCase{"NoContent", R"({"messages":[{"role":"user","images":["AAAA"]}]})", true, JsonKind::null, ""},
        MessagesCase{"NotObjects", R"({"messages":["user",1,null,{"role":"user","content":"x"}]})", true, JsonKind::string, "\"x\""},
        MessagesCase{"LaterMessagesKeyWins", R"({"messages":[{"role":"user","content":"x"}],"messages":[]})", false, JsonKind::null, ""}),
    NameOf{});

class NotAnObject : public testing::TestWithParam<std::string_view> {};

TEST_P(NotAnObject, IsNotScanned) {
    JsonWorkspace workspace;
    EXPECT_FALSE(scan_request_json(GetParam(), workspace));
}

INSTANTIATE_TEST_SUITE_P(JsonEdit, NotAnObject,
                         testing::Values("", "   ", "[]", "[{\"model\":\"m\"}]", "42", "\"s\"", "null", "true", "{",
                                         "}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{\"a\" 1}", "{'a':1}",
                                         "{\"model\":\"m\"} x"));

struct ValidityCase {
    std::string_view text;
    bool valid;
};

void PrintTo(const ValidityCase& row, std::ostream* out) { *out << '"' << row.text << '"'; }

class Validity : public testing::TestWithParam<ValidityCase> {};

TEST_P(Validity, IsDecidedByAFullParse) {
    JsonWorkspace workspace;
    EXPECT_EQ(is_valid_json(GetParam().text, workspace), GetParam().valid);
}

INSTANTIATE_TEST_SUITE_P(JsonEdit, Validity,
                         testing::Values(ValidityCase{"{}", true}, ValidityCase{" {\"a\":[1,2.5e3,\"x\"]} \n", true},
                                         ValidityCase{"{\"a\":01}", false}, ValidityCase{"{\"a\":tru}", false},
                                         ValidityCase{"{\"a\":\"\\x\"}", false}, ValidityCase{"{\"a\":1} {}", false},
                                         ValidityCase{"{\"a\":\"\x01\"}", false}, ValidityCase{"{\"a\":\"\xff\"}", false},
                                         ValidityCase{"{\"a\":[1,]}", false}, ValidityCase{"", false}));

struct DecodeCase {
    std::string_view quoted;
    std::string_view text;
};

void PrintTo(const DecodeCase& row, std::ostream* out) { *out << row.quoted; }

class DecodeString : public testing::TestWithParam<DecodeCase> {};

TEST_P(DecodeString, UnescapesLikeJson) { EXPECT_EQ(decode_json_string(GetParam().quoted), GetParam().text); }

INSTANTIATE_TEST_SUITE_P(JsonEdit, DecodeString,
                         testing::Values(DecodeCase{R"("plain")", "plain"}, DecodeCase{R"("")", ""},
                                         DecodeCase{R"("a\"b\\c\/d")", "a\"b\\c/d"},
                                         DecodeCase{R"("\n\t\r\b\f")", "\n\t\r\b\f"},
                                         DecodeCase{R"("\u8bc1\u660e")", "证明"},
                                         DecodeCase{R"("\ud83d\ude00")", "\xF0\x9F\x98\x80"},
                                         DecodeCase{R"("\ud83d!")", "\xEF\xBF\xBD!"},
                                         DecodeCase{R"("\ude00")", "\xEF\xBF\xBD"},
                                         DecodeCase{R"("\u12")", "\\u12"}, DecodeCase{R"("end\")", "end\\"},
                                         DecodeCase{"\"直接\"", "直接"}));

// -------------------------------------------------------------------------------------------
// Editing

struct EditCase {
    std::string_view name;
    std::string_view body;
    std::function<void(const RequestJson&, JsonEdits&)> edit;
    std::string_view expected;
};

void PrintTo(const EditCase& row, std::ostream* out) { *out << row.name; }

const JsonMember& member(const JsonObject& object, std::string_view name) { return *object.find_key(name); }

class Edit : public testing::TestWithParam<EditCase> {};

TEST_P(Edit, SplicesIntoTheOriginalBytes) {
    JsonWorkspace workspace;
    const auto request = scan_request_json(GetParam().body, workspace);
    ASSERT_TRUE(request);
    JsonEdits edits(GetParam().body);
    GetParam().edit(*request, edits);
    const auto edited = edits.apply();
    ASSERT_TRUE(edited);
    EXPECT_EQ(*edited, GetParam().expected);
    EXPECT_TRUE(json_properties::is_json(*edited)) << *edited;
}

const auto add_a = [](const RequestJson& r, JsonEdits& e) { e.add_member(r.top, "a", "1"); };
const auto remove = [](std::vector<std::string_view> names) {
    return [names](const RequestJson& r, JsonEdits& e) {
        for (const auto name : names) e.remove_member(r.top, member(r.top, name));
    };
};

INSTANTIATE_TEST_SUITE_P(
    JsonEdit, Edit,
    testing::Values(
        EditCase{"AddToEmpty", "{}", add_a, R"({"a":1})"},
        EditCase{"AddToEmptyWithSpace", "{ \n}", add_a, "{\"a\":1 \n}"},
        EditCase{"AddAfterLastMember", R"({"x":true})", add_a, R"({"x":true,"a":1})"},
        EditCase{"AddKeepsSpacing", "{ \"x\" : true }", add_a, "{ \"x\" : true,\"a\":1 }"},
        EditCase{"AddAfterNestedObject", R"({"x":{"y":[1,{}]}})", add_a, R"({"x":{"y":[1,{}]},"a":1})"},
        EditCase{"AddSeveralInOrder", R"({"x":1})",
                 [](const RequestJson& r, JsonEdits& e) {
                     e.add_member(r.top, "a", "1");
                     e.add_member(r.top, "b\"", "\"two\"");
                 },
                 R"({"x":1,"a":1,"b\"":"two"})"},
        EditCase{"RemoveMiddle", R"({"x":1,"y":2,"z":3})", remove({"y"}), R"({"x":1,"z":3})"},
        EditCase{"RemoveFirst", R"({"x":1, "y":2,"z":3})", remove({"x"}), R"({"y":2,"z":3})"},
        EditCase{"RemoveLast", R"({"x":1,"y":2 , "z":3 })", remove({"z"}), R"({"x":1,"y":2 })"},
        EditCase{"RemoveTwoAtTheEnd", R"({"x":1,"y":2,"z":3})", remove({"y", "z"}), R"({"x":1})"},
        EditCase{"RemoveFirstAndLast", R"({"x":1,"y":2,"z":3})", remove({"x", "z"}), R"({"y":2})"},
        EditCase{"RemoveAll", "{ \"x\":1,\"y\":2,\"z\":3 }", remove({"x", "y", "z"}), "{  }"},
        EditCase{"RemoveOnly", R"({"only":[1,2]})", remove({"only"}), "{}"},
        EditCase{"RemoveKeepsLayout", "{\n  \"x\": 1,\n  \"y\": 2\n}", remove({"y"}), "{\n  \"x\": 1\n}"},
        EditCase{"RemoveLastThenAdd", R"({"x":1,"y":2,"z":3})",
                 [](const RequestJson& r, JsonEdits& e) {
                     e.remove_member(r.top, member(r.top, "z"));
                     e.add_member(r.top, "a", "1");
                 },
                 R"({"x":1,"y":2,"a":1})"},
        EditCase{"RemoveAllThenAdd", R"({"x":1,"y":2})",
                 [](const RequestJson& r, JsonEdits& e) {
                     e.add_member(r.top, "a", "1");
                     e.remove_member(r.top, member(r.top, "x"));
                     e.remove_member(r.top, member(r.top, "y"));
                 },
                 R"({"a":1})"},
        EditCase{"ReplaceValue", R"({"model":"a","stream":false})",
                 [](const RequestJson& r, JsonEdits& e) { e.replace(member(r.top, "model").value, "\"b:c\""); },
                 R"({"model":"b:c","stream":false})"},
        EditCase{"ReplaceAndRemoveOthers", R"({"prompt":"p","system":"s","raw":false})",
                 [](const RequestJson& r, JsonEdits& e) {
                     e.replace(member(r.top, "prompt").value, "\"q\"");
                     e.remove_member(r.top, member(r.top, "system"));
                     e.replace(member(r.top, "raw").value, "true");
                 },
                 R"({"prompt":"q","raw":true})"},
        EditCase{"AppendToString", R"({"p":"hi","q":1})",
                 [](const RequestJson& r, JsonEdits& e) { e.append_to_string(member(r.top, "p").value, " /think"); },
                 R"({"p":"hi /think","q":1})"},
        EditCase{"AppendEscapes", R"({"p":"a\n"})",
                 [](const RequestJson& r, JsonEdits& e) { e.append_to_string(member(r.top, "p").value, "\"q\"\n\\\t\x01"); },
                 R"({"p":"a\n\"q\"\n\\\t\u0001"})"},
        EditCase{"AppendToEmptyString", R"({"p":""})",
                 [](const RequestJson& r, JsonEdits& e) { e.append_to_string(member(r.top, "p").value, "证明"); },
                 R"({"p":"证明"})"},
        EditCase{"AddToOptionsAndTop", R"({"options":{},"m":1})",
                 [](const RequestJson& r, JsonEdits& e) {
                     e.add_member(*r.options, "num_ctx", "8192");
                     e.add_member(r.top, "keep_alive", "\"5m\"");
                 },
                 R"({"options":{"num_ctx":8192},"m":1,"keep_alive":"5m"})"},
        EditCase{"OptionsLastMember", R"({"m":1,"options":{"seed":1}})",
                 [](const RequestJson& r, JsonEdits& e) {
                     e.replace(r.options->find_key("seed")->value, "2");
                     e.add_member(*r.options, "num_ctx", "8192");
                     e.add_member(r.top, "think", "false");
                 },
                 R"({"m":1,"options":{"seed":2,"num_ctx":8192},"think":false})"}),
    NameOf{});

TEST(JsonEdits, NoEditsIsEmptyAndGivesTheSameBytes) {
    const std::string body = R"({"a" : 1})";
    JsonEdits edits(body);
    EXPECT_TRUE(edits.empty());
    EXPECT_EQ(edits.apply(), body);
}

TEST(JsonEdits, OverlappingEditsAreRefusedNotApplied) {
    const std::string body = R"({"a":"x"})";
    JsonWorkspace workspace;
    const auto request = scan_request_json(body, workspace);
    ASSERT_TRUE(request);
    JsonEdits edits(body);
    edits.replace(request->top.members[0].value, "1");
    edits.replace(request->top.members[0].whole(), "\"b\":2");
    EXPECT_FALSE(edits.apply());
}

TEST(JsonEditScan, LargeBodiesUseTemporaryParsersAndStillWork) {
    std::string body = R"({"model":"m","messages":[)";
    for (int i = 0; i < 30000; ++i) body += R"({"role":"user","content":"message number )" + std::to_string(i) + "\"},";
    body += R"({"role":"user","content":"last"}]})";
    ASSERT_GT(body.size(), 1024u * 1024u);
    JsonWorkspace workspace;
    const auto request = scan_request_json(body, workspace);
    ASSERT_TRUE(request);
    ASSERT_TRUE(request->last_user_message);
    EXPECT_EQ(request->last_user_message->content.in(body), "\"last\"");
    EXPECT_TRUE(is_valid_json(body, workspace));
}

}  // namespace
}  // namespace sluice
