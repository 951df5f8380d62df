// json_edit: finds a request's members with simdjson on-demand and splices edits into its bytes.
#include "sluice/json_edit.hpp"

#include "sluice/ascii.hpp"
#include "sluice/json_error.hpp"

#include <simdjson.h>

#include <algorithm>
#include <cstdint>
#include <tuple>
#include <utility>

namespace sluice {
namespace {

// Above this, a body gets parsers of its own that are freed afterwards.
constexpr std::size_t retained_body_bytes = 1024 * 1024;

bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

// Go's encoding/json matches a member to a struct field with bytes.EqualFold: ASCII letters in
// either case, and the two non-ASCII letters whose simple case folding reaches ASCII: U+017F
// (long s) folds to 's' and U+212A (Kelvin sign) to 'k'. `field` is ASCII.
bool go_field_matches(std::string_view key, std::string_view field) {
    std::size_t k = 0;
    for (const char want : field) {
        if (k >= key.size()) return false;
        const char c = key[k];
        const char folded = ascii_lower(want);
        if (static_cast<unsigned char>(c) < 0x80) {
            if (ascii_lower(c) != folded) return false;
            ++k;
        } else if (folded == 's' && key.substr(k, 2) == "\xC5\xBF") {
            k += 2;
        } else if (folded == 'k' && key.substr(k, 3) == "\xE2\x84\xAA") {
            k += 3;
        } else {
            return false;
        }
    }
    return k == key.size();
}

namespace {

JsonKind kind_of(char first) {
    switch (first) {
        case '{': return JsonKind::object;
        case '[': return JsonKind::array;
        case '"': return JsonKind::string;
        case 't':
        case 'f': return JsonKind::boolean;
        case 'n': return JsonKind::null;
        default: return JsonKind::number;
    }
}

char closing_byte(JsonKind kind) {
    switch (kind) {
        case JsonKind::object: return '}';
        case JsonKind::array: return ']';
        case JsonKind::string: return '"';
        default: return 0;  // numbers and literals end in a digit or letter
    }
}

// Where the members of one object end. A member's value ends where the separator before the
// next key (or the object's '}') begins, whitespace aside. The scan only notes where values
// start; this finishes each span and checks it, so a span never leaves the body.
bool finish_members(std::string_view body, JsonObject& object) {
    const std::size_t close = object.whole.end - 1;  // the '}'
    for (std::size_t i = 0; i < object.members.size(); ++i) {
        JsonMember& member = object.members[i];
        std::size_t end = i + 1 < object.members.size() ? object.members[i + 1].begin : close;
        if (end > close || end <= member.value.begin) return false;
        while (end > member.value.begin && is_json_space(body[end - 1])) --end;
        if (i + 1 < object.members.size()) {  // step over the ',' and the space before it
            if (end == member.value.begin || body[end - 1] != ',') return false;
            --end;
            while (end > member.value.begin && is_json_space(body[end - 1])) --end;
        }
        if (end <= member.value.begin) return false;
        const char closing = closing_byte(member.kind);
        if (closing != 0 && body[end - 1] != closing) return false;
        member.value.end = end;
    }
    return true;
}

// The on-demand walk. Each function returns false on any simdjson error: the body is then
// "not something we edit" and goes upstream untouched.
class Scanner {
public:
    Scanner(std::string_view body, const char* base) : body_(body), base_(base) {}

    // Where a pointer into simdjson's copy of the body is in the body; npos if outside it.
    std::size_t offset(const char* at) const {
        if (at < base_ || at >= base_ + body_.size()) return std::string_view::npos;
        return static_cast<std::size_t>(at - base_);
    }

    // Reads one member's key and where its value starts; leaves the value to the caller.
    bool read_member(simdjson::ondemand::field& field, JsonMember& member) {
        const std::size_t begin = offset(field.key().raw());
        std::string_view name;
        if (begin == std::string_view::npos || begin == 0 || field.unescaped_key().get(name) != simdjson::SUCCESS) {
            return false;
        }
        member.name.assign(name);
        member.begin = begin - 1;  // the opening quote
        const std::string_view token = field.value().raw_json_token();
        const std::size_t value_begin = token.empty() ? std::string_view::npos : offset(token.data());
        if (value_begin == std::string_view::npos) return false;
        member.value = {value_begin, value_begin};
        member.kind = kind_of(token.front());
        return true;
    }

    // The members of an object value (exact names; used for "options").
    bool read_object(simdjson::ondemand::value value, JsonObject& object) {
        simdjson::ondemand::object fields;
        if (value.get_object().get(fields) != simdjson::SUCCESS) return false;
        for (auto field_result : fields) {
            simdjson::ondemand::field field;
            if (std::move(field_result).get(field) != simdjson::SUCCESS) return false;
            JsonMember member;
            if (!read_member(field, member)) return false;
            object.members.push_back(std::move(member));
        }
        return true;
    }

    // The last element of "messages" whose role is "user", and its content's span.
    bool read_messages(simdjson::ondemand::value value, std::optional<UserMessage>& first_user,
                       std::optional<UserMessage>& last_user) {
        first_user.reset();
        last_user.reset();
        simdjson::ondemand::array messages;
        if (value.get_array().get(messages) != simdjson::SUCCESS) return false;
        for (auto element_result : messages) {
            simdjson::ondemand::value element;
            if (std::move(element_result).get(element) != simdjson::SUCCESS) return false;
            const std::string_view token = element.raw_json_token();
            if (token.empty() || token.front() != '{') continue;  // not a message; Ollama will say so
            simdjson::ondemand::object message;
            if (element.get_object().get(message) != simdjson::SUCCESS) return false;
            bool user = false;
            UserMessage found;
            for (auto field_result : message) {
                simdjson::ondemand::field field;
                std::string_view key;
                if (std::move(field_result).get(field) != simdjson::SUCCESS || field.unescaped_key().get(key) != simdjson::SUCCESS) {
                    return false;
                }
                if (go_field_matches(key, "role")) {
                    std::string_view role;
                    user = field.value().get_string().get(role) == simdjson::SUCCESS && role == "user";
                } else if (go_field_matches(key, "content")) {
                    if (!read_scalar(field.value(), found.content, found.content_kind)) return false;
                }
            }
            if (user && !first_user) first_user = found;
            if (user) last_user = found;
        }
        return true;
    }

    // A value's span when it is a string (kind records what it is either way).
    bool read_scalar(simdjson::ondemand::value& value, Span& span, JsonKind& kind) {
        std::string_view token = value.raw_json_token();
        const std::size_t begin = token.empty() ? std::string_view::npos : offset(token.data());
        if (begin == std::string_view::npos) return false;
        kind = kind_of(token.front());
        span = {};
        if (kind != JsonKind::string) return true;
        // A string token runs to the next structural character: trailing space aside, it ends
        // in its closing quote.
        while (!token.empty() && is_json_space(token.back())) token.remove_suffix(1);
        if (token.size() < 2 || token.back() != '"' || begin + token.size() > body_.size()) return false;
        span = {begin, begin + token.size()};
        return true;
    }

private:
    std::string_view body_;
    const char* base_;
};

}  // namespace

struct JsonWorkspace::Parsers {
    simdjson::ondemand::parser ondemand;
    simdjson::dom::parser dom;
    std::string padded;

    // The body followed by the zero bytes simdjson may read past the end.
    const char* load(std::string_view body) {
        padded.assign(body.data(), body.size());
        padded.append(simdjson::SIMDJSON_PADDING, '\0');
        return padded.data();
    }
};

JsonWorkspace::JsonWorkspace() : parsers_(std::make_unique<Parsers>()) {}
JsonWorkspace::~JsonWorkspace() = default;
JsonWorkspace::JsonWorkspace(JsonWorkspace&&) noexcept = default;
JsonWorkspace& JsonWorkspace::operator=(JsonWorkspace&&) noexcept = default;

JsonWorkspace::Parsers& JsonWorkspace::parsers_for(std::size_t body_size, std::unique_ptr<Parsers>& temporary) {
    if (body_size <= retained_body_bytes) {
        if (!parsers_) parsers_ = std::make_unique<Parsers>();  // after a move
        return *parsers_;
    }
    temporary = std::make_unique<Parsers>();
    return *temporary;
}

const JsonMember* JsonObject::find_field(std::string_view name) const {
    for (auto member = members.rbegin(); member != members.rend(); ++member) {
        if (go_field_matches(member->name, name)) return &*member;
    }
    return nullptr;
}

const JsonMember* JsonObject::find_key(std::string_view name) const {
    for (auto member = members.rbegin(); member != members.rend(); ++member) {
        if (member->name == name) return &*member;
    }
    return nullptr;
}

std::optional<RequestJson> scan_request_json(std::string_view body, JsonWorkspace& workspace) {
    const auto first = std::find_if_not(body.begin(), body.end(), is_json_space);
    const auto last = std::find_if_not(body.rbegin(), body.rend(), is_json_space);
    if (first == body.end() || *first != '{' || *last != '}') return std::nullopt;

    std::unique_ptr<JsonWorkspace::Parsers> temporary;
    JsonWorkspace::Parsers& parsers = workspace.parsers_for(body.size(), temporary);
    const char* base = parsers.load(body);
    Scanner scanner(body, base);

    simdjson::ondemand::document document;
    simdjson::ondemand::object object;
    if (parsers.ondemand.iterate(base, body.size(), parsers.padded.size()).get(document) != simdjson::SUCCESS ||
        document.get_object().get(object) != simdjson::SUCCESS) {
        return std::nullopt;
    }

    RequestJson request;
    request.top.whole = {static_cast<std::size_t>(first - body.begin()), body.size() - static_cast<std::size_t>(last - body.rbegin())};
    std::size_t options_index = std::string_view::npos;  // of the member whose object `options` holds
    for (auto field_result : object) {
        simdjson::ondemand::field field;
        if (std::move(field_result).get(field) != simdjson::SUCCESS) return std::nullopt;
        JsonMember member;
        if (!scanner.read_member(field, member)) return std::nullopt;
        // Go keeps the last of duplicate members, so a later "options" or "messages" replaces
        // what an earlier one said.
        if (go_field_matches(member.name, "options")) {
            request.options.reset();
            options_index = std::string_view::npos;
            if (member.kind == JsonKind::object) {
                JsonObject options;
                if (!scanner.read_object(field.value(), options)) return std::nullopt;
                request.options = std::move(options);
                options_index = request.top.members.size();
            }
        } else if (go_field_matches(member.name, "messages")) {
            request.first_user_message.reset();
            request.last_user_message.reset();
            if (member.kind == JsonKind::array &&
                !scanner.read_messages(field.value(), request.first_user_message, request.last_user_message)) {
                return std::nullopt;
            }
        }
        request.top.members.push_back(std::move(member));
    }
    if (!finish_members(body, request.top)) return std::nullopt;
    if (request.options) {
        if (options_index >= request.top.members.size()) return std::nullopt;
        request.options->whole = request.top.members[options_index].value;
        if (!finish_members(body, *request.options)) return std::nullopt;
    }
    return request;
}

bool is_valid_json(std::string_view text, JsonWorkspace& workspace) {
    std::unique_ptr<JsonWorkspace::Parsers> temporary;
    JsonWorkspace::Parsers& parsers = workspace.parsers_for(text.size(), temporary);
    const char* base = parsers.load(text);
    simdjson::dom::element element;
    return parsers.dom.parse(base, text.size(), false).get(element) == simdjson::SUCCESS;
}

std::string decode_json_string(std::string_view quoted) {
    if (quoted.size() >= 2 && quoted.front() == '"' && quoted.back() == '"') quoted = quoted.substr(1, quoted.size() - 2);
    std::string text;
    text.reserve(quoted.size());
    const auto hex4 = [&](std::size_t at) -> std::optional<std::uint32_t> {
        if (at + 4 > quoted.size()) return std::nullopt;
        std::uint32_t value = 0;
        for (std::size_t i = at; i < at + 4; ++i) {
            const char c = quoted[i];
            const int digit = c >= '0' && c <= '9' ? c - '0' : ascii_lower(c) >= 'a' && ascii_lower(c) <= 'f' ? ascii_lower(c) - 'a' + 10 : -1;
            if (digit < 0) return std::nullopt;
            value = value * 16 + static_cast<std::uint32_t>(digit);
        }
        return value;
    };
    const auto append_utf8 = [&](std::uint32_t code) {
        if (code < 0x80) {
            text += static_cast<char>(code);
        } else if (code < 0x800) {
            text += static_cast<char>(0xC0 | (code >> 6));
            text += static_cast<char>(0x80 | (code & 0x3F));
        } else if (code < 0x10000) {
            text += static_cast<char>(0xE0 | (code >> 12));
            text += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
            text += static_cast<char>(0x80 | (code & 0x3F));
        } else {
            text += static_cast<char>(0xF0 | (code >> 18));
            text += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
            text += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
            text += static_cast<char>(0x80 | (code & 0x3F));
        }
    };
    for (std::size_t at = 0; at < quoted.size(); ++at) {
        const char c = quoted[at];
        if (c != '\\' || at + 1 == quoted.size()) {
            text += c;
            continue;
        }
        const char escape = quoted[++at];
        switch (escape) {
            case 'n': text += '\n'; break;
            case 't': text += '\t'; break;
            case 'r': text += '\r'; break;
            case 'b': text += '\b'; break;
            case 'f': text += '\f'; break;
            case 'u': {
                const auto unit = hex4(at + 1);
                if (!unit) {
                    text += "\\u";
                    break;
                }
                at += 4;
                std::uint32_t code = *unit;
                if (code >= 0xD800 && code < 0xDC00) {  // a surrogate pair, if the low half follows
                    const auto low = at + 2 < quoted.size() && quoted[at + 1] == '\\' && quoted[at + 2] == 'u'
                                         ? hex4(at + 3) : std::nullopt;
                    if (low && *low >= 0xDC00 && *low < 0xE000) {
                        code = 0x10000 + ((code - 0xD800) << 10) + (*low - 0xDC00);
                        at += 6;
                    } else {
                        code = 0xFFFD;
                    }
                } else if (code >= 0xDC00 && code < 0xE000) {
                    code = 0xFFFD;
                }
                append_utf8(code);
                break;
            }
            default: text += escape; break;  // \" \\ \/ and anything else as the character itself
        }
    }
    return text;
}

std::string json_quote(std::string_view text) {
    std::string json = "\"";
    append_json_escaped(json, text);
    json += '"';
    return json;
}

void JsonEdits::replace(Span span, std::string json) { edits_.push_back({span, std::move(json)}); }

void JsonEdits::append_to_string(Span quoted, std::string_view text) {
    std::string escaped;
    append_json_escaped(escaped, text);
    const std::size_t before_quote = quoted.end - 1;
    edits_.push_back({{before_quote, before_quote}, std::move(escaped)});
}

JsonEdits::ObjectChange& JsonEdits::change_of(const JsonObject& object) {
    for (ObjectChange& change : objects_) {
        if (change.whole == object.whole) return change;
    }
    ObjectChange change{object.whole, {}, std::vector<bool>(object.members.size(), false), {}};
    for (const JsonMember& member : object.members) change.members.push_back(member.whole());
    objects_.push_back(std::move(change));
    return objects_.back();
}

void JsonEdits::add_member(const JsonObject& object, std::string_view key, std::string_view json) {
    ObjectChange& change = change_of(object);
    if (!change.added.empty()) change.added += ',';
    change.added += json_quote(key);
    change.added += ':';
    change.added += json;
}

void JsonEdits::remove_member(const JsonObject& object, const JsonMember& member) {
    ObjectChange& change = change_of(object);
    for (std::size_t i = 0; i < change.members.size(); ++i) {
        if (change.members[i] == member.whole()) change.removed[i] = true;
    }
}

std::optional<std::string> JsonEdits::apply() const {
    std::vector<Edit> edits = edits_;
    for (const ObjectChange& change : objects_) {
        const std::size_t count = change.members.size();
        // Members removed at the end take the comma before them; others the comma after them.
        std::size_t kept_end = count;  // one past the last member that stays
        while (kept_end > 0 && change.removed[kept_end - 1]) --kept_end;
        for (std::size_t i = 0; i < kept_end; ++i) {
            if (change.removed[i]) edits.push_back({{change.members[i].begin, change.members[i + 1].begin}, {}});
        }
        if (kept_end < count) {
            const std::size_t from = kept_end > 0 ? change.members[kept_end - 1].end : change.members[0].begin;
            edits.push_back({{from, change.members[count - 1].end}, {}});
        }
        if (!change.added.empty()) {
            const std::size_t at = kept_end > 0 ? change.members[kept_end - 1].end : change.whole.begin + 1;
            edits.push_back({{at, at}, (kept_end > 0 ? "," : "") + change.added});
        }
    }
    // Insertions at a position go before a replacement that starts there; order of equal
    // spans is the order they were made in.
    std::stable_sort(edits.begin(), edits.end(), [](const Edit& a, const Edit& b) {
        return std::tie(a.span.begin, a.span.end) < std::tie(b.span.begin, b.span.end);
    });

    std::string out;
    std::size_t grown = 0;
    for (const Edit& edit : edits) grown += edit.text.size();
    out.reserve(original_.size() + grown);
    std::size_t at = 0;
    for (const Edit& edit : edits) {
        if (edit.span.begin < at || edit.span.end < edit.span.begin || edit.span.end > original_.size()) {
            return std::nullopt;
        }
        out.append(original_.substr(at, edit.span.begin - at));
        out += edit.text;
        at = edit.span.end;
    }
    out.append(original_.substr(at));
    return out;
}

}  // namespace sluice
