// Unit tests of what sluice reads of a stored conversation: its facts, its Markdown, export files.
#include "sluice/conversation_document.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

namespace sluice {
namespace {

struct FactsCase {
    std::string_view document;
    std::string_view error;  // "" when it is accepted
};

TEST(ConversationDocument, OnlyAnObjectWithOneValidIdAndOneStringTitleIsAConversation) {
    const FactsCase cases[] = {
        {R"({"id":"a-b_9","title":"T","messages":[]})", ""},
        {R"({"id":"a"})", ""},
        {R"({"id":"a","title":"x","id2":"y"})", ""},
        {R"([])", "sluice: a conversation is a JSON object"},
        {R"("id")", "sluice: a conversation is a JSON object"},
        {R"({"title":"x"})", "sluice: a conversation needs an \"id\" of 1 to 64 letters, digits, '-' or '_'"},
        {R"({"id":""})", "sluice: a conversation needs an \"id\" of 1 to 64 letters, digits, '-' or '_'"},
        {R"({"id":"a/b"})", "sluice: a conversation needs an \"id\" of 1 to 64 letters, digits, '-' or '_'"},
        {R"({"id":7})", "sluice: a conversation needs an \"id\" of 1 to 64 letters, digits, '-' or '_'"},
        {R"({"id":"a","id":"b"})", "sluice: the conversation names \"id\" or \"title\" twice"},
        {R"({"id":"a","title":"x","title":"y"})", "sluice: the conversation names \"id\" or \"title\" twice"},
        {R"({"id":"a","title":null})", "sluice: a conversation's \"title\" is a string"},
        {R"({"id":"a"} x)", "sluice: the conversation is not valid JSON (The JSON document has an improper structure: missing or superfluous commas, braces, missing keys, etc.)"},
    };
    simdjson::dom::parser parser;
    for (const auto& [document, expected_error] : cases) {
        std::string error;
        const auto facts = read_conversation(document, parser, error);
        EXPECT_EQ(facts.has_value(), expected_error.empty()) << document;
        EXPECT_EQ(error, expected_error) << document;
    }
    EXPECT_TRUE(is_conversation_id(std::string(64, 'a')));
    EXPECT_FALSE(is_conversation_id(std::string(65, 'a')));
}

TEST(ConversationDocument, SearchTextIsEveryContentStringAtAnyDepth) {
    simdjson::dom::parser parser;
    std::string error;
    const auto facts = read_conversation(
        R"({"id":"c","title":"T","messages":[{"role":"user","content":"one"},)"
        R"({"role":"assistant","content":"two","versions":[{"content":"earlier"}],"thinking":"not searched"}]})",
        parser, error);
    ASSERT_TRUE(facts) << error;
    EXPECT_EQ(facts->id, "c");
    EXPECT_EQ(facts->title, "T");
    EXPECT_EQ(facts->text, "one\ntwo\nearlier\n");
}

TEST(ConversationDocument, MarkdownHasTheTitleSystemPromptRolesAndQuotedThinking) {
    simdjson::dom::parser parser;
    EXPECT_EQ(conversation_markdown(R"({"id":"c","system":"Be brief.","messages":[{"role":"user","content":"Why?"},)"
                                    R"({"role":"assistant","thinking":"hm\nok","content":"Because."}]})",
                                    parser),
              "# Untitled chat\n\n**System:** Be brief.\n\n## User\n\nWhy?\n\n## Assistant\n\n> **Thinking**\n>\n> hm\n> ok\n\nBecause.\n");
}

TEST(ConversationDocument, AnExportFileIsReadBackToTheSameBytes) {
    const std::string first = R"({"id":"a","title":"A"})";
    const std::string second = R"({ "id" : "b", "messages" : [ ] })";
    const auto file = export_file({{1, 2, first}, {3, 4, second}});
    EXPECT_EQ(file, R"({"sluice_conversations":1,"conversations":[{"created":1,"updated":2,"conversation":{"id":"a","title":"A"}},)"
                    R"({"created":3,"updated":4,"conversation":{ "id" : "b", "messages" : [ ] }}]})"
                    "\n");
    simdjson::dom::parser parser;
    std::string error;
    const auto entries = read_export_file(file, parser, error);
    ASSERT_TRUE(entries) << error;
    ASSERT_EQ(entries->size(), 2u);
    EXPECT_EQ((*entries)[1].exported.document, second);
    EXPECT_EQ((*entries)[1].exported.created, 3);
    EXPECT_EQ((*entries)[1].facts.id, "b");
    std::vector<ExportedConversation> again;
    for (const auto& entry : *entries) again.push_back(entry.exported);
    EXPECT_EQ(export_file(again), file);
}

TEST(ConversationDocument, AnExportFileWithAnythingWrongIsRefusedWhole) {
    const std::string_view wrong[] = {
        R"({"conversations":[]})",
        R"({"sluice_conversations":2,"conversations":[]})",
        R"({"sluice_conversations":1,"sluice_conversations":1,"conversations":[]})",
        R"({"sluice_conversations":1,"conversations":{}})",
        R"({"sluice_conversations":1,"conversations":[7]})",
        R"({"sluice_conversations":1,"conversations":[{"created":1,"updated":2}]})",
        R"({"sluice_conversations":1,"conversations":[{"created":"1","updated":2,"conversation":{"id":"a"}}]})",
        R"({"sluice_conversations":1,"conversations":[{"created":1,"updated":2,"conversation":{"id":"a"},"conversation":{"id":"b"}}]})",
        R"({"sluice_conversations":1,"conversations":[{"created":1,"updated":2,"conversation":{"id":"a b"}}]})",
        R"({"sluice_conversations":1,"conversations":[)",
    };
    simdjson::dom::parser parser;
    for (const auto text : wrong) {
        std::string error;
        EXPECT_FALSE(read_export_file(text, parser, error)) << text;
        EXPECT_TRUE(error.starts_with("sluice: ")) << error;
    }
    std::string error;
    EXPECT_TRUE(read_export_file(R"({"sluice_conversations":1,"conversations":[]})", parser, error)) << error;
}

}  // namespace
}  // namespace sluice
