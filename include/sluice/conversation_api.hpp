// conversation_api: the page's conversations under /_sluice/api/, each request turned into a
// job for the conversation store's thread (conversation_store.hpp) that returns the answer.
//
//   GET    conversations[?limit=N&before=CURSOR]  {"conversations":[{id,title,created,updated}...],"next":CURSOR|null}
//   GET    conversations?q=words[&limit=N]        the same, found by full-text search ("next" null)
//   GET    conversations/ID                       the document, byte for byte as it was put
//   PUT    conversations/ID                       create or replace (rename: put the new title) -> {id,created,updated}
//   DELETE conversations/ID                       {"deleted": ID}, or 404
//   GET    conversations/ID/export?format=json|markdown   one conversation, as a file
//   GET    export                                 every conversation of the key, as an export file
//   POST   import                                 an export file's conversations, all or none -> {"imported": N}
//
// Every request is scoped to its owner: a key never reaches another key's conversations.
#pragma once

#include "sluice/conversation_db.hpp"
#include "sluice/page_api.hpp"

#include <functional>
#include <string>
#include <string_view>
#include <variant>

namespace sluice {

// Whether `target` (normalized) is one of the endpoints above.
bool is_conversation_api(std::string_view target);
// Whether the request carries a body to read first (PUT and POST).
bool conversation_api_takes_body(std::string_view method);

// Runs on the store's thread; never throws (a database error becomes its answer: 507 for a full
// store, 503 for a read-only or unavailable one).
using ConversationJob = std::function<PageApiAnswer(ConversationDb&)>;

// The answer at once (a request that is wrong before the store is asked), or the job that answers.
// `owner` is the key's name ("" without keys).
std::variant<PageApiAnswer, ConversationJob> conversation_request(std::string_view method, std::string_view target,
                                                                   std::string owner, std::string body);

}  // namespace sluice
