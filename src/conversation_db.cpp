// conversation_db: the conversation store's schema, migrations and queries.
#include "sluice/conversation_db.hpp"

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <fmt/format.h>

#include <array>
#include <chrono>
#include <stdexcept>

namespace sluice {
namespace {

// Each entry takes the schema from version i to i + 1; a released entry never changes (a
// change is a new entry), so every file, however old, reaches the same schema.
constexpr std::array<const char*, ConversationDb::schema_version> migrations{
    R"sql(
    CREATE TABLE conversations (
        rowid INTEGER PRIMARY KEY,
        owner TEXT NOT NULL,          -- the key's name; '' without keys
        id TEXT NOT NULL,             -- the page's id for it
        title TEXT NOT NULL,
        created INTEGER NOT NULL,     -- ms since the epoch
        updated INTEGER NOT NULL,
        document TEXT NOT NULL,       -- the page's JSON, verbatim
        UNIQUE (owner, id)
    );
    CREATE INDEX conversations_newest ON conversations (owner, updated DESC, id);
    -- Search: the title and every message's text, row for row with conversations.
    CREATE VIRTUAL TABLE conversation_text USING fts5 (title, body, tokenize = 'unicode61 remove_diacritics 2');
    )sql",
};

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

ConversationSummary summary_of(SQLite::Statement& row) {
    return {row.getColumn(0).getString(), row.getColumn(1).getString(), row.getColumn(2).getInt64(),
            row.getColumn(3).getInt64()};
}

// The user's words as an FTS5 query: each one quoted (so no word is read as FTS syntax) and a
// prefix, all required.
std::string fts_query(std::string_view words) {
    constexpr std::size_t max_words = 16;
    std::string query;
    std::size_t count = 0;
    while (!words.empty() && count < max_words) {
        const auto start = words.find_first_not_of(" \t\r\n");
        if (start == std::string_view::npos) break;
        words.remove_prefix(start);
        const auto end = std::min(words.find_first_of(" \t\r\n"), words.size());
        if (!query.empty()) query += ' ';
        query += '"';
        for (const char c : words.substr(0, end)) {
            if (c == '"') query += '"';
            query += c;
        }
        query += "\"*";
        words.remove_prefix(end);
        ++count;
    }
    return query;
}

}  // namespace

ConversationDb::ConversationDb(const std::string& path, std::size_t max_bytes)
    : db_(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE) {
    db_.setBusyTimeout(5000);  // another process with the file open (a backup) holds it briefly
    db_.exec("PRAGMA journal_mode = WAL");  // readers never wait for a writer; a crash loses no committed write
    db_.exec("PRAGMA synchronous = NORMAL");  // WAL's durable-enough: a power cut may lose the last writes, never the file
    if (max_bytes > 0) {
        const auto page_size = db_.execAndGet("PRAGMA page_size").getInt64();
        db_.exec(fmt::format("PRAGMA max_page_count = {}", std::max<std::int64_t>(1, static_cast<std::int64_t>(max_bytes) / page_size)));
    }
    migrate();
}

void ConversationDb::migrate() {
    const int version = db_.execAndGet("PRAGMA user_version").getInt();
    if (version > schema_version) {
        throw std::runtime_error(fmt::format(
            "{} was written by a newer sluice (schema {}; this one knows {}): run that sluice, or set another store.path",
            db_.getFilename(), version, schema_version));
    }
    for (int next = version; next < schema_version; ++next) {
        SQLite::Transaction transaction(db_);
        db_.exec(migrations[static_cast<std::size_t>(next)]);
        db_.exec(fmt::format("PRAGMA user_version = {}", next + 1));
        transaction.commit();
    }
}

StoredConversation ConversationDb::put(std::string_view owner, const ConversationFacts& facts, std::string_view document,
                                       std::optional<std::int64_t> created, std::optional<std::int64_t> updated) {
    SQLite::Transaction transaction(db_);
    auto stored = write(owner, facts, document, created, updated);
    transaction.commit();
    return stored;
}

StoredConversation ConversationDb::write(std::string_view owner, const ConversationFacts& facts, std::string_view document,
                                         std::optional<std::int64_t> created, std::optional<std::int64_t> updated) {
    const auto now = now_ms();
    StoredConversation stored{created.value_or(now), updated.value_or(now), {}};
    SQLite::Statement existing(db_, "SELECT rowid, created FROM conversations WHERE owner = ? AND id = ?");
    existing.bind(1, std::string(owner));
    existing.bind(2, facts.id);
    std::int64_t rowid = 0;
    if (existing.executeStep()) {
        rowid = existing.getColumn(0).getInt64();
        if (!created) stored.created = existing.getColumn(1).getInt64();
        SQLite::Statement update(db_, "UPDATE conversations SET title = ?, created = ?, updated = ?, document = ? WHERE rowid = ?");
        update.bind(1, facts.title);
        update.bind(2, stored.created);
        update.bind(3, stored.updated);
        update.bind(4, std::string(document));
        update.bind(5, rowid);
        update.exec();
        SQLite::Statement unindex(db_, "DELETE FROM conversation_text WHERE rowid = ?");
        unindex.bind(1, rowid);
        unindex.exec();
    } else {
        SQLite::Statement insert(db_, "INSERT INTO conversations (owner, id, title, created, updated, document) VALUES (?, ?, ?, ?, ?, ?)");
        insert.bind(1, std::string(owner));
        insert.bind(2, facts.id);
        insert.bind(3, facts.title);
        insert.bind(4, stored.created);
        insert.bind(5, stored.updated);
        insert.bind(6, std::string(document));
        insert.exec();
        rowid = db_.getLastInsertRowid();
    }
    SQLite::Statement index(db_, "INSERT INTO conversation_text (rowid, title, body) VALUES (?, ?, ?)");
    index.bind(1, rowid);
    index.bind(2, facts.title);
    index.bind(3, facts.text);
    index.exec();
    return stored;
}

std::optional<StoredConversation> ConversationDb::get(std::string_view owner, std::string_view id) {
    SQLite::Statement query(db_, "SELECT created, updated, document FROM conversations WHERE owner = ? AND id = ?");
    query.bind(1, std::string(owner));
    query.bind(2, std::string(id));
    if (!query.executeStep()) return std::nullopt;
    return StoredConversation{query.getColumn(0).getInt64(), query.getColumn(1).getInt64(), query.getColumn(2).getString()};
}

bool ConversationDb::remove(std::string_view owner, std::string_view id) {
    SQLite::Transaction transaction(db_);
    SQLite::Statement find(db_, "SELECT rowid FROM conversations WHERE owner = ? AND id = ?");
    find.bind(1, std::string(owner));
    find.bind(2, std::string(id));
    if (!find.executeStep()) return false;
    const auto rowid = find.getColumn(0).getInt64();
    for (const char* sql : {"DELETE FROM conversations WHERE rowid = ?", "DELETE FROM conversation_text WHERE rowid = ?"}) {
        SQLite::Statement remove(db_, sql);
        remove.bind(1, rowid);
        remove.exec();
    }
    transaction.commit();
    return true;
}

std::vector<ConversationSummary> ConversationDb::list(std::string_view owner, std::size_t limit,
                                                      const std::optional<ListCursor>& before) {
    SQLite::Statement query(db_, before ? "SELECT id, title, created, updated FROM conversations WHERE owner = ?1 "
                                          "AND (updated < ?2 OR (updated = ?2 AND id > ?3)) ORDER BY updated DESC, id LIMIT ?4"
                                        : "SELECT id, title, created, updated FROM conversations WHERE owner = ?1 "
                                          "ORDER BY updated DESC, id LIMIT ?4");
    query.bind(1, std::string(owner));
    if (before) {
        query.bind(2, before->updated);
        query.bind(3, before->id);
    }
    query.bind(4, static_cast<std::int64_t>(limit));
    std::vector<ConversationSummary> page;
    while (query.executeStep()) page.push_back(summary_of(query));
    return page;
}

std::vector<ConversationSummary> ConversationDb::search(std::string_view owner, std::string_view words, std::size_t limit) {
    const auto match = fts_query(words);
    if (match.empty()) return {};
    SQLite::Statement query(db_, "SELECT c.id, c.title, c.created, c.updated FROM conversation_text t "
                                 "JOIN conversations c ON c.rowid = t.rowid "
                                 "WHERE conversation_text MATCH ? AND c.owner = ? ORDER BY c.updated DESC, c.id LIMIT ?");
    query.bind(1, match);
    query.bind(2, std::string(owner));
    query.bind(3, static_cast<std::int64_t>(limit));
    std::vector<ConversationSummary> found;
    while (query.executeStep()) found.push_back(summary_of(query));
    return found;
}

std::vector<StoredConversation> ConversationDb::all(std::string_view owner) {
    SQLite::Statement query(db_, "SELECT created, updated, document FROM conversations WHERE owner = ? ORDER BY updated DESC, id");
    query.bind(1, std::string(owner));
    std::vector<StoredConversation> conversations;
    while (query.executeStep()) {
        conversations.push_back({query.getColumn(0).getInt64(), query.getColumn(1).getInt64(), query.getColumn(2).getString()});
    }
    return conversations;
}

void ConversationDb::import(std::string_view owner, const std::vector<ImportEntry>& entries) {
    SQLite::Transaction transaction(db_);
    for (const auto& entry : entries) {
        write(owner, entry.facts, entry.exported.document, entry.exported.created, entry.exported.updated);
    }
    transaction.commit();
}

}  // namespace sluice
