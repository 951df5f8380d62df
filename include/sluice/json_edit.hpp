// json_edit: locate parts of a JSON request body with simdjson, then edit it by byte slices.
//
// The rewriter never re-serializes a body: the output is the original bytes with a few spans
// replaced, removed or inserted, so every member it did not touch (unknown fields, key order,
// whitespace, number spelling, string escapes) reaches Ollama byte for byte.
//
// Go's encoding/json decides what Ollama sees, so lookups follow it: of duplicate members the
// last wins, and a request's own keys (struct fields) match ASCII case-insensitively while map
// keys (inside "options") match exactly.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

// Bytes [begin, end) of the original body.
struct Span {
    std::size_t begin = 0;
    std::size_t end = 0;

    std::size_t size() const { return end - begin; }
    std::string_view in(std::string_view text) const { return text.substr(begin, end - begin); }
    bool operator==(const Span&) const = default;
};

enum class JsonKind : unsigned char { object, array, string, number, boolean, null };

struct JsonMember {
    std::string name;       // the key, unescaped
    std::size_t begin = 0;  // the key's opening quote
    Span value;             // the value as written, no surrounding whitespace
    JsonKind kind = JsonKind::null;

    Span whole() const { return {begin, value.end}; }  // "key": value
};

// Whether Go's decoder fills the struct field `field` (ASCII) from a member named `key`
// (unescaped): bytes.EqualFold, so ASCII case is ignored and U+017F matches 's', U+212A 'k'.
bool go_field_matches(std::string_view key, std::string_view field);

// An object's members in document order, duplicates kept.
struct JsonObject {
    Span whole;  // from '{' through '}'
    std::vector<JsonMember> members;

    // The member Ollama reads for `name`: the last one, matching as described above.
    const JsonMember* find_field(std::string_view name) const;  // as go_field_matches (struct field)
    const JsonMember* find_key(std::string_view name) const;    // exact (map key)
};

// An element of "messages" whose role is "user".
struct UserMessage {
    Span content;                     // the content value when it is a string, quotes included
    JsonKind content_kind = JsonKind::null;  // null also when there is no content member
};

// The parts of a request body the rewriter looks at.
struct RequestJson {
    JsonObject top;
    std::optional<JsonObject> options;            // the "options" member, when it is an object
    std::optional<UserMessage> last_user_message;  // from "messages", when it is an array with a user turn
    std::optional<UserMessage> first_user_message;  // the conversation's opening turn, likewise
};

// The simdjson parsers and padded copy a scan needs, kept between calls so a busy event loop
// does not allocate them per request. Bodies above 1 MiB get temporary ones instead, so one
// huge request does not pin its memory. Not thread-safe: one per event loop.
class JsonWorkspace {
public:
    JsonWorkspace();
    ~JsonWorkspace();
    JsonWorkspace(JsonWorkspace&&) noexcept;
    JsonWorkspace& operator=(JsonWorkspace&&) noexcept;

    struct Parsers;
    Parsers& parsers_for(std::size_t body_size, std::unique_ptr<Parsers>& temporary);

private:
    std::unique_ptr<Parsers> parsers_;
};

// Locates the top-level members, "options" and the last user message. nullopt when the body
// is not a JSON object (or simdjson meets an error on the way); the scan does not check every
// byte of values it skips: call is_valid_json before sending an edited body.
std::optional<RequestJson> scan_request_json(std::string_view body, JsonWorkspace& workspace);

// The whole text is one valid JSON document (RFC 8259, UTF-8), nothing after it but whitespace.
bool is_valid_json(std::string_view text, JsonWorkspace& workspace);

// The text of a JSON string given with its quotes; lenient (a bad escape is kept as written),
// for reading a prompt, never for deciding validity.
std::string decode_json_string(std::string_view quoted);

// `text` as a JSON string with quotes.
std::string json_quote(std::string_view text);

// Edits against one original body, applied at once. Spans come from a scan of that body.
class JsonEdits {
public:
    explicit JsonEdits(std::string_view original) : original_(original) {}

    // Replaces `span` (usually a value) with JSON text.
    void replace(Span span, std::string json);
    // Appends `text` (plain text; escaped here) at the end of the string value `quoted`.
    void append_to_string(Span quoted, std::string_view text);
    // Adds "key":json after the last member of `object` that stays; several calls add in order.
    void add_member(const JsonObject& object, std::string_view key, std::string_view json);
    // Removes `member` of `object` with one comma next to it.
    void remove_member(const JsonObject& object, const JsonMember& member);

    bool empty() const { return edits_.empty() && objects_.empty(); }

    // The edited body; nullopt if two edits overlap (a bug in the caller, never a crash).
    std::optional<std::string> apply() const;

private:
    struct Edit {
        Span span;
        std::string text;
    };
    struct ObjectChange {
        Span whole;
        std::vector<Span> members;  // each member's whole()
        std::vector<bool> removed;
        std::string added;  // "k":v,"k2":v2
    };
    ObjectChange& change_of(const JsonObject& object);

    std::string_view original_;
    std::vector<Edit> edits_;
    std::vector<ObjectChange> objects_;
};

}  // namespace sluice
