// conversation_api: what each conversations request asks of the store, and its answer.
#include "sluice/conversation_api.hpp"

#include "sluice/ascii.hpp"
#include "sluice/json_error.hpp"
#include "sluice/request_target.hpp"
#include "sluice/router.hpp"

#include <SQLiteCpp/Exception.h>
#include <fmt/format.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <charconv>

namespace sluice {
namespace {

constexpr std::string_view conversations_name = "conversations";
constexpr std::size_t default_page = 50;
constexpr std::size_t max_page = 200;

PageApiAnswer error(unsigned status, std::string_view message) { return {status, json_error_body(message)}; }

bool is_read(std::string_view method) { return method == "GET" || method == "HEAD"; }

// A database failure as the user should read it; nothing stored before is lost (each write is
// one transaction, rolled back when it fails).
PageApiAnswer store_failure(const SQLite::Exception& failed) {
    switch (failed.getErrorCode()) {
    case SQLITE_FULL:
        return error(507, "sluice: the conversation store is full (store.max_bytes, or the disk): delete conversations "
                          "or make room; nothing stored was lost");
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return error(503, fmt::format("sluice: the conversation store cannot write now ({}); nothing stored was lost",
                                      failed.getErrorStr()));
    default:
        return error(500, fmt::format("sluice: the conversation store failed: {}", failed.what()));
    }
}

ConversationJob guarded(ConversationJob job) {
    return [job = std::move(job)](ConversationDb& db) -> PageApiAnswer {
        try {
            return job(db);
        } catch (const SQLite::Exception& failed) {
            return store_failure(failed);
        } catch (const std::exception& failed) {
            spdlog::error("conversation store: {}", failed.what());
            return error(500, fmt::format("sluice: the conversation store failed: {}", failed.what()));
        }
    };
}

void append_summaries(std::string& out, const std::vector<ConversationSummary>& summaries) {
    out += R"({"conversations":[)";
    for (const auto& summary : summaries) {
        if (out.back() != '[') out += ',';
        out += R"({"id":")";
        out += summary.id;  // checked: letters, digits, '-', '_'
        out += R"(","title":")";
        append_json_escaped(out, summary.title);
        fmt::format_to(std::back_inserter(out), R"(","created":{},"updated":{}}})", summary.created, summary.updated);
    }
    out += ']';
}

// "?limit=N": 1 to max_page; `error` set otherwise.
std::size_t page_limit(std::string_view target, std::string& error_message) {
    const auto text = query_parameter(target, "limit", error_message);
    if (!text) return default_page;
    std::size_t limit = 0;
    const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), limit);
    if (ec != std::errc{} || end != text->data() + text->size() || limit == 0 || limit > max_page) {
        error_message = fmt::format("sluice: limit is a number from 1 to {}", max_page);
    }
    return limit;
}

// "<updated>.<id>": where the previous page ended.
std::optional<ListCursor> read_cursor(std::string_view text) {
    const auto dot = text.find('.');
    if (dot == std::string_view::npos) return std::nullopt;
    ListCursor cursor{0, std::string(text.substr(dot + 1))};
    const auto [end, ec] = std::from_chars(text.data(), text.data() + dot, cursor.updated);
    if (ec != std::errc{} || end != text.data() + dot || !is_conversation_id(cursor.id)) return std::nullopt;
    return cursor;
}

std::variant<PageApiAnswer, ConversationJob> list(std::string_view target, std::string owner) {
    std::string message;
    const auto limit = page_limit(target, message);
    const auto words = query_parameter(target, "q", message);
    const auto before_text = query_parameter(target, "before", message);
    if (!message.empty()) return error(400, message);
    if (words && words->size() > 1024) return error(400, "sluice: the search is too long");
    std::optional<ListCursor> before;
    if (before_text) {
        before = read_cursor(*before_text);
        if (!before) return error(400, "sluice: before is the \"next\" of the previous page");
    }
    return guarded([owner = std::move(owner), limit, words, before](ConversationDb& db) {
        std::string body;
        if (words) {
            append_summaries(body, db.search(owner, *words, limit));
            body += R"(,"next":null})";
            return PageApiAnswer{200, std::move(body)};
        }
        // One more than asked for says whether there is a next page.
        auto page = db.list(owner, limit + 1, before);
        const bool more = page.size() > limit;
        if (more) page.pop_back();
        append_summaries(body, page);
        body += more ? fmt::format(R"(,"next":"{}.{}"}})", page.back().updated, page.back().id) : R"(,"next":null})";
        return PageApiAnswer{200, std::move(body)};
    });
}

std::variant<PageApiAnswer, ConversationJob> one(std::string_view method, std::string_view target, std::string_view rest,
                                                 std::string owner, std::string body) {
    const auto slash = rest.find('/');
    const std::string id(rest.substr(0, slash));
    const auto tail = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
    if (!is_conversation_id(id)) return error(400, "sluice: a conversation id is 1 to 64 letters, digits, '-' or '_'");
    const auto missing = [id] { return error(404, fmt::format("sluice: no conversation {}", id)); };
    if (tail == "/export") {
        if (!is_read(method)) return error(405, "sluice: an export takes GET");
        std::string message;
        const auto format = query_parameter(target, "format", message).value_or("json");
        if (!message.empty()) return error(400, message);
        if (format != "json" && format != "markdown") return error(400, "sluice: format is json or markdown");
        return guarded([owner = std::move(owner), id, format, missing](ConversationDb& db) {
            auto stored = db.get(owner, id);
            if (!stored) return missing();
            if (format == "json") {
                return PageApiAnswer{200, export_file({{stored->created, stored->updated, stored->document}}),
                                     "application/json; charset=utf-8", fmt::format("sluice-{}.json", id)};
            }
            simdjson::dom::parser parser;
            return PageApiAnswer{200, conversation_markdown(stored->document, parser), "text/markdown; charset=utf-8",
                                 fmt::format("sluice-{}.md", id)};
        });
    }
    if (!tail.empty()) return error(404, fmt::format("sluice: no such endpoint: {}", target_path(target)));
    if (is_read(method)) {
        return guarded([owner = std::move(owner), id, missing](ConversationDb& db) {
            auto stored = db.get(owner, id);
            return stored ? PageApiAnswer{200, std::move(stored->document)} : missing();
        });
    }
    if (method == "DELETE") {
        return guarded([owner = std::move(owner), id, missing](ConversationDb& db) {
            if (!db.remove(owner, id)) return missing();
            return PageApiAnswer{200, fmt::format(R"({{"deleted":"{}"}})", id)};
        });
    }
    if (method != "PUT") return error(405, "sluice: a conversation takes GET, PUT or DELETE");
    return guarded([owner = std::move(owner), id, body = std::move(body)](ConversationDb& db) {
        simdjson::dom::parser parser;
        std::string message;
        const auto facts = read_conversation(body, parser, message);
        if (!facts) return error(400, message);
        if (facts->id != id) return error(400, fmt::format("sluice: the conversation's id is {}, not {}", facts->id, id));
        const auto stored = db.put(owner, *facts, body);
        return PageApiAnswer{200, fmt::format(R"({{"id":"{}","created":{},"updated":{}}})", id, stored.created, stored.updated)};
    });
}

}  // namespace

bool is_conversation_api(std::string_view target) {
    const auto path = target_path(target);
    if (!path.starts_with(api_prefix)) return false;
    const auto name = path.substr(api_prefix.size());
    return name == conversations_name || name.starts_with("conversations/") || name == "export" || name == "import";
}

bool conversation_api_takes_body(std::string_view method) { return method == "PUT" || method == "POST"; }

std::variant<PageApiAnswer, ConversationJob> conversation_request(std::string_view method, std::string_view target,
                                                                   std::string owner, std::string body) {
    const auto name = target_path(target).substr(api_prefix.size());
    if (name == conversations_name) {
        if (!is_read(method)) return error(405, "sluice: the conversation list takes GET (PUT goes to conversations/<id>)");
        return list(target, std::move(owner));
    }
    if (name == "export") {
        if (!is_read(method)) return error(405, "sluice: /_sluice/api/export takes GET");
        return guarded([owner = std::move(owner)](ConversationDb& db) {
            const auto stored = db.all(owner);
            std::vector<ExportedConversation> entries;
            entries.reserve(stored.size());
            for (const auto& conversation : stored) entries.push_back({conversation.created, conversation.updated, conversation.document});
            return PageApiAnswer{200, export_file(entries), "application/json; charset=utf-8", "sluice-conversations.json"};
        });
    }
    if (name == "import") {
        if (method != "POST") return error(405, "sluice: /_sluice/api/import takes POST");
        return guarded([owner = std::move(owner), body = std::move(body)](ConversationDb& db) {
            simdjson::dom::parser parser;
            std::string message;
            const auto entries = read_export_file(body, parser, message);
            if (!entries) return error(400, message);
            db.import(owner, *entries);
            return PageApiAnswer{200, fmt::format(R"({{"imported":{}}})", entries->size())};
        });
    }
    return one(method, target, name.substr(conversations_name.size() + 1), std::move(owner), std::move(body));
}

}  // namespace sluice
