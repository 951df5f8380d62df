// conversation_db: the conversation store's SQLite file (through SQLiteCpp): schema and its
// migrations, and the queries. Blocking: used only on the store's own thread
// (conversation_store.hpp), never on an event loop. Every conversation belongs to an owner
// (a key's name, or "" without keys) and every query is scoped to one.
#pragma once

#include "sluice/conversation_document.hpp"

#include <SQLiteCpp/Database.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

struct ConversationSummary {
    std::string id;
    std::string title;
    std::int64_t created = 0;  // ms since the epoch
    std::int64_t updated = 0;
};

// Where a page of the list ends: the last summary's (updated, id), newest first.
struct ListCursor {
    std::int64_t updated = 0;
    std::string id;
};

struct StoredConversation {
    std::int64_t created = 0;
    std::int64_t updated = 0;
    std::string document;
};

class ConversationDb {
public:
    // Opens (creating) the file in WAL mode and migrates its schema to this sluice's version.
    // `max_bytes` > 0 caps the file's size (writes past it fail as a full disk would).
    // Throws SQLite::Exception, or std::runtime_error for a schema newer than this sluice.
    ConversationDb(const std::string& path, std::size_t max_bytes);

    static constexpr int schema_version = 1;

    // Creates or replaces; returns the stored times. `created`/`updated` nullopt: now.
    StoredConversation put(std::string_view owner, const ConversationFacts& facts, std::string_view document,
                           std::optional<std::int64_t> created = {}, std::optional<std::int64_t> updated = {});
    std::optional<StoredConversation> get(std::string_view owner, std::string_view id);
    bool remove(std::string_view owner, std::string_view id);
    // Newest first, at most `limit`, after `before` when given.
    std::vector<ConversationSummary> list(std::string_view owner, std::size_t limit, const std::optional<ListCursor>& before);
    // Full-text search (SQLite FTS5) over titles and message text: every word must occur (as a
    // word prefix, case-insensitively). Newest first.
    std::vector<ConversationSummary> search(std::string_view owner, std::string_view words, std::size_t limit);
    std::vector<StoredConversation> all(std::string_view owner);
    // Every entry stored, or none (one transaction).
    void import(std::string_view owner, const std::vector<ImportEntry>& entries);

private:
    void migrate();
    StoredConversation write(std::string_view owner, const ConversationFacts& facts, std::string_view document,
                             std::optional<std::int64_t> created, std::optional<std::int64_t> updated);

    SQLite::Database db_;
};

}  // namespace sluice
