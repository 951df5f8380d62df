// conversation_document: what sluice reads of the conversations the page stores. The page owns
// the document's shape (messages, versions, parameters); sluice stores its bytes verbatim and
// reads only what it needs: the id, the title, the text to search, a Markdown rendering, and the
// export file that carries documents between stores. Pure: no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace simdjson::dom {
class parser;
}

namespace sluice {

// A conversation id as the page makes them (and a URL may carry): [A-Za-z0-9_-]{1,64}.
bool is_conversation_id(std::string_view id);

struct ConversationFacts {
    std::string id;
    std::string title;  // "" when the document has none
    std::string text;   // every "content" string in it, one per line: what search looks at
};

// The facts of `document`, which must be one JSON object with a valid "id" and, when present, a
// string "title", neither repeated (so sluice and the page never read different values).
// nullopt with `error` set otherwise.
std::optional<ConversationFacts> read_conversation(std::string_view document, simdjson::dom::parser& parser,
                                                   std::string& error);

// A readable copy: the title, the system prompt, then each message under its role, with a
// reply's thinking quoted. `document` has passed read_conversation.
std::string conversation_markdown(std::string_view document, simdjson::dom::parser& parser);

// One conversation in an export file, with the store's times (ms since the epoch).
struct ExportedConversation {
    std::int64_t created = 0;
    std::int64_t updated = 0;
    std::string_view document;  // verbatim, a view into the text it came from
};

// {"sluice_conversations":1,"conversations":[{"created":..,"updated":..,"conversation":DOC},...]}:
// export and import speak this, so an export imported elsewhere and exported again is the same bytes.
std::string export_file(const std::vector<ExportedConversation>& conversations);
struct ImportEntry {
    ExportedConversation exported;
    ConversationFacts facts;  // of exported.document
};
// The entries of an export file, each document checked by read_conversation; nullopt with
// `error` set when anything in it is wrong (an import is all or nothing).
std::optional<std::vector<ImportEntry>> read_export_file(std::string_view text, simdjson::dom::parser& parser,
                                                                  std::string& error);

}  // namespace sluice
