// rewrite: applies the first matching rule to a request body, as byte-slice edits.
#include "sluice/rewrite.hpp"

#include "sluice/ascii.hpp"
#include "sluice/json_error.hpp"
#include "sluice/thinking.hpp"

#include <simdjson.h>

#include <algorithm>

namespace sluice {
namespace {

bool is_openai(RewriteRoute route) { return route == RewriteRoute::openai_chat || route == RewriteRoute::openai_completions; }
bool is_embedding(RewriteRoute route) { return route == RewriteRoute::embed || route == RewriteRoute::embeddings; }
bool has_messages(RewriteRoute route) { return route == RewriteRoute::chat || route == RewriteRoute::openai_chat; }

// The client set it: present and not null (Go leaves a null field at its zero value).
bool is_set(const JsonMember* member) { return member != nullptr && member->kind != JsonKind::null; }

// How a JSON value reads in a change or a reason: a string without its quotes, and a long
// value (a client's stop list, say) cut short so one request cannot flood the log.
std::string shown(std::string_view json) {
    constexpr std::size_t longest = 80;
    std::string text = json.size() >= 2 && json.front() == '"' ? decode_json_string(json) : std::string(json);
    if (text.size() <= longest) return text;
    std::size_t cut = longest;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // whole UTF-8 characters
    return text.substr(0, cut) + "...";
}

// The field an Ollama option has in OpenAI's request shape (Ollama's openai.go maps these
// back to options); empty when it has none.
std::string_view openai_field(std::string_view option) {
    if (option == "num_predict") return "max_tokens";
    for (const std::string_view same : {"temperature", "top_p", "seed", "stop", "frequency_penalty", "presence_penalty"}) {
        if (option == same) return same;
    }
    return {};
}

// A JSON string's inside as written (escapes kept), to splice into another string.
std::string_view string_inside(std::string_view body, Span quoted) {
    return body.substr(quoted.begin + 1, quoted.size() - 2);
}

// `text` with `placeholder` replaced by already-escaped JSON string content; nullopt if the
// placeholder is missing.
std::optional<std::string> splice_escaped(std::string_view text, std::string_view placeholder, std::string_view escaped) {
    const auto at = text.find(placeholder);
    if (at == std::string_view::npos) return std::nullopt;
    std::string json;
    append_json_escaped(json, text.substr(0, at));
    json += escaped;
    append_json_escaped(json, text.substr(at + placeholder.size()));
    return json;
}

// One rule applied to one request: collects edits, changes and reasons.
class Rewrite {
public:
    Rewrite(RewriteRoute route, std::string_view body, const RequestJson& request, const RewriteRule& rule,
            const RewriteConfig& config, const ModelFacts& facts, RewriteResult& result)
        : route_(route), body_(body), request_(request), rule_(rule), config_(config), facts_(facts),
          result_(result), edits_(body) {}

    std::string model(const JsonMember& member, const std::string& requested);
    void options(const std::string& model);
    void keep_alive();
    void think(const std::string& model);
    void finish(JsonWorkspace& workspace);

private:
    enum class Outcome { kept, same, set };

    void note(std::string reason) { result_.reasons.push_back(std::move(reason)); }

    // Gives `key` of `object` the rule's `json` unless the client set it and `forced` is off.
    // `client` is the client's member of that name, if any.
    Outcome set_member(const JsonObject& object, const JsonMember* client, std::string_view key, const std::string& json,
                       bool forced);
    // set_member, then the change and the reason for it. `label` is the key as reported.
    void apply_default(const JsonObject& object, const JsonMember* client, std::string_view label, const std::string& json,
                       bool forced, std::string_view why = "rule default");
    std::optional<std::uint32_t> automatic_num_ctx(const std::string& model);
    bool think_by_template(bool on, const std::string& why, const JsonMember& prompt);
    void think_by_field(bool on, const std::string& why);
    void remove_all(std::string_view name);

    static std::string think_label(bool on, std::string_view level) {
        return on ? (level.empty() ? "on" : std::string(level)) : "off";
    }

    RewriteRoute route_;
    std::string_view body_;
    const RequestJson& request_;
    const RewriteRule& rule_;
    const RewriteConfig& config_;
    const ModelFacts& facts_;
    RewriteResult& result_;
    JsonEdits edits_;
};

std::string Rewrite::model(const JsonMember& member, const std::string& requested) {
    std::string target = requested;
    const std::string normalized = normalize_model_name(requested);
    // An alias renames; prefer then picks the best installed variant of whatever is asked for.
    const auto alias = std::find_if(rule_.alias.begin(), rule_.alias.end(), [&](const auto& entry) {
        return equals_ignoring_ascii_case(normalize_model_name(entry.first), normalized);
    });
    if (alias != rule_.alias.end()) {
        target = alias->second;
        const bool missing = facts_.known && facts_.find(target) == nullptr && rule_.prefer.empty();
        note("alias: \"" + requested + "\" -> \"" + target + "\"" + (missing ? " (not installed: Ollama will say so)" : ""));
    }
    if (!rule_.prefer.empty()) {
        const std::string base = normalize_model_name(target);
        const auto already = std::find_if(rule_.prefer.begin(), rule_.prefer.end(), [&](const std::string& suffix) {
            return base.size() > suffix.size() &&
                   equals_ignoring_ascii_case(std::string_view(base).substr(base.size() - suffix.size()), suffix);
        });
        if (already != rule_.prefer.end()) {
            note("prefer: \"" + target + "\" already is a preferred variant (" + *already + ")");
        } else if (!facts_.known) {
            note("prefer: the installed models are not known yet; model \"" + target + "\" unchanged");
        } else {
            std::vector<std::string> tried;
            const InstalledModel* found = nullptr;
            for (const std::string& suffix : rule_.prefer) {
                found = facts_.find(base + suffix);
                if (found != nullptr) break;
                tried.push_back(base + suffix);
            }
            if (found != nullptr) {
                note("prefer: using the installed variant \"" + found->name + "\"" +
                     (tried.empty() ? "" : " (" + join(tried, ", ") + " not installed)"));
                target = found->name;
            } else {
                note("prefer: none of " + join(tried, ", ") + " is installed; model \"" + target + "\" kept");
            }
        }
    }
    if (target != requested) {
        edits_.replace(member.value, json_quote(target));
        result_.changes.push_back("model=" + target);
    }
    return target;
}

Rewrite::Outcome Rewrite::set_member(const JsonObject& object, const JsonMember* client, std::string_view key,
                                     const std::string& json, bool forced) {
    if (is_set(client)) {
        if (client->value.in(body_) == json) return Outcome::same;
        if (!forced) return Outcome::kept;
    }
    if (client != nullptr) {
        edits_.replace(client->value, json);  // the client's value, or its null
    } else {
        edits_.add_member(object, key, json);
    }
    return Outcome::set;
}

void Rewrite::apply_default(const JsonObject& object, const JsonMember* client, std::string_view label,
                            const std::string& json, bool forced, std::string_view why) {
    const std::string change = std::string(label) + "=" + shown(json);
    switch (set_member(object, client, label, json, forced)) {
        case Outcome::kept:
            note(std::string(label) + ": the client's " + shown(client->value.in(body_)) + " kept (the rule's " +
                 shown(json) + " is a default, not forced)");
            return;
        case Outcome::same: return;
        case Outcome::set:
            result_.changes.push_back(change);
            note(change + ": " + (is_set(client) ? "forced over the client's " + shown(client->value.in(body_)) : std::string(why)));
            return;
    }
}

std::optional<std::uint32_t> Rewrite::automatic_num_ctx(const std::string& model) {
    if (config_.gpu_memory == 0) {
        note("num_ctx auto: rewrite.gpu_memory is not set; num_ctx left to Ollama");
        return std::nullopt;
    }
    const InstalledModel* installed = facts_.find(model);
    if (installed == nullptr || !installed->shape) {
        note("num_ctx auto: the shape of \"" + model + "\" is not known (no /api/show facts yet); num_ctx left to Ollama");
        return std::nullopt;
    }
    const NumCtxChoice choice = choose_num_ctx(*installed->shape, config_.gpu_memory, config_.kv_cache_type);
    if (choice.num_ctx == 0) {
        note("num_ctx auto for \"" + model + "\": " + choice.reason + "; num_ctx left to Ollama");
        return std::nullopt;
    }
    note("num_ctx auto for \"" + model + "\": " + choice.reason);
    return choice.num_ctx;
}

void Rewrite::options(const std::string& model) {
    if (rule_.options.empty()) return;
    if (is_openai(route_)) {
        std::vector<std::string> skipped;
        for (const OptionDefault& option : rule_.options) {
            const std::string_view field = openai_field(option.name);
            if (field.empty()) {
                skipped.push_back(option.name);
                continue;
            }
            apply_default(request_.top, request_.top.find_field(field), field, option.json, rule_.forces(option.name),
                          field == option.name ? "rule default" : "rule default for " + option.name);
        }
        if (!skipped.empty()) {
            const bool num_ctx = std::find(skipped.begin(), skipped.end(), "num_ctx") != skipped.end();
            note("options " + join(skipped, ", ") + ": no such field on " + std::string(route_path(route_)) +
                 "; skipped (" + (num_ctx ? "num_ctx can be set in a Modelfile or with OLLAMA_CONTEXT_LENGTH" : "a Modelfile can set them") + ")");
        }
        return;
    }

    const JsonMember* member = request_.top.find_field("options");
    if (is_set(member) && member->kind != JsonKind::object) {
        note("options is not an object; option defaults skipped (Ollama will answer the request)");
        return;
    }
    const JsonObject* object = request_.options ? &*request_.options : nullptr;
    std::string created;  // the members of an "options" object the client did not send
    for (const OptionDefault& option : rule_.options) {
        const bool forced = rule_.forces(option.name);
        const JsonMember* client = object ? object->find_key(option.name) : nullptr;
        if (is_set(client) && !forced) {
            note(option.name + ": the client's " + shown(client->value.in(body_)) + " kept (the rule's " +
                 (option.automatic ? std::string("auto") : shown(option.json)) + " is a default, not forced)");
            continue;
        }
        std::string json = option.json;
        if (option.automatic) {
            const auto num_ctx = automatic_num_ctx(model);
            if (!num_ctx) continue;
            json = std::to_string(*num_ctx);
        }
        if (object) {
            apply_default(*object, client, option.name, json, forced);
        } else {
            if (!created.empty()) created += ',';
            created += json_quote(option.name) + ":" + json;
            result_.changes.push_back(option.name + "=" + shown(json));
            note(option.name + "=" + shown(json) + ": rule default");
        }
    }
    if (created.empty()) return;
    if (member != nullptr) {
        edits_.replace(member->value, "{" + created + "}");  // "options": null
    } else {
        edits_.add_member(request_.top, "options", "{" + created + "}");
    }
}

void Rewrite::keep_alive() {
    if (rule_.keep_alive.empty()) return;
    if (is_openai(route_)) {
        note("keep_alive: no such field on " + std::string(route_path(route_)) +
             "; skipped (OLLAMA_KEEP_ALIVE sets it on the server)");
        return;
    }
    apply_default(request_.top, request_.top.find_field("keep_alive"), "keep_alive", rule_.keep_alive,
                  rule_.forces("keep_alive"));
}

void Rewrite::remove_all(std::string_view name) {
    for (const JsonMember& member : request_.top.members) {
        if (go_field_matches(member.name, name)) edits_.remove_member(request_.top, member);
    }
}

void Rewrite::think(const std::string& model) {
    if (rule_.think == ThinkMode::passthrough || is_embedding(route_)) return;
    if (const InstalledModel* installed = facts_.find(model); installed && installed->thinking == false) {
        note("think: \"" + model + "\" has no thinking capability; left alone (Ollama refuses think there)");
        return;
    }
    const bool forced = rule_.forces("think");

    // The text the user wrote this turn: the last user message, or the prompt.
    const JsonMember* prompt = nullptr;
    std::optional<Span> text_span;
    if (has_messages(route_)) {
        if (!request_.last_user_message) {
            note("think: no user message (a load request?); left alone");
            return;
        }
        if (request_.last_user_message->content_kind == JsonKind::string) text_span = request_.last_user_message->content;
    } else {
        prompt = request_.top.find_field("prompt");
        if (prompt == nullptr || prompt->kind != JsonKind::string || prompt->value.size() <= 2) {
            note("think: no prompt text (empty: a load request?, or not a string); left alone");
            return;
        }
        text_span = prompt->value;
    }
    const std::string text = text_span ? decode_json_string(text_span->in(body_)) : std::string();

    // What the client chose itself wins, unless the rule forces think.
    std::string client_choice;
    if (route_ == RewriteRoute::openai_chat) {
        if (is_set(request_.top.find_field("reasoning_effort")) || is_set(request_.top.find_field("reasoning"))) {
            client_choice = "reasoning_effort";
        }
    } else if (!is_openai(route_) && is_set(request_.top.find_field("think"))) {
        client_choice = "think " + shown(request_.top.find_field("think")->value.in(body_));
    }
    if (const JsonMember* raw = request_.top.find_field("raw"); route_ == RewriteRoute::generate && raw && raw->value.in(body_) == "true") {
        client_choice = "a raw prompt";
    }
    const std::optional<bool> written_switch = soft_switch(text);
    if (client_choice.empty() && written_switch) client_choice = "a /think or /no_think in the text";
    if (!client_choice.empty() && !forced) {
        note("think: the client chose (" + client_choice + "); left alone");
        return;
    }

    bool on = rule_.think == ThinkMode::on;
    std::string why = "rule";
    if (rule_.think == ThinkMode::automatic) {
        if (!text_span) {
            note("think auto: the last user message is not plain text; left alone");
            return;
        }
        const ThinkingVerdict verdict = assess_thinking(text);
        on = verdict.think;
        why = "auto, " + verdict.why;
    }

    ThinkVia via = rule_.think_via;
    if (via == ThinkVia::raw_template && route_ != RewriteRoute::generate) {
        note("think_via: template works on /api/generate only; using the think field on " + std::string(route_path(route_)));
        via = ThinkVia::field;
    }
    if (via == ThinkVia::raw_template) {
        if (think_by_template(on, why, *prompt)) return;
        via = ThinkVia::field;
    }
    if (via == ThinkVia::soft_switch) {
        if (!text_span) {
            note("think_via: switch: the last user message is not a string; left alone");
            return;
        }
        if (written_switch == on) {
            note("think: the text ends on the same soft switch already; left alone");
            return;
        }
        const std::string_view word = on ? " /think" : " /no_think";
        edits_.append_to_string(*text_span, word);
        result_.changes.push_back("think=" + think_label(on, {}));
        note("think=" + think_label(on, {}) + ": " + why + " (switch: \"" + std::string(word.substr(1)) + "\" appended to the " +
             (has_messages(route_) ? "last user message)" : "prompt)"));
        return;
    }
    think_by_field(on, why);
}

void Rewrite::think_by_field(bool on, const std::string& why) {
    if (route_ == RewriteRoute::openai_completions) {
        note("think: /v1/completions has no thinking field; left alone (think_via: switch works there)");
        return;
    }
    if (route_ == RewriteRoute::openai_chat) {
        std::string effort = on ? (rule_.think_level.empty() ? "medium" : rule_.think_level) : "none";
        if (effort == "max") {
            note("think_level max has no reasoning_effort; using high");
            effort = "high";
        }
        // Ollama reads reasoning.effort before reasoning_effort: set the one it will read.
        const JsonMember* reasoning = request_.top.find_field("reasoning");
        const bool nested = is_set(reasoning);
        const std::string json = nested ? "{\"effort\":" + json_quote(effort) + "}" : json_quote(effort);
        const JsonMember* client = nested ? reasoning : request_.top.find_field("reasoning_effort");
        if (set_member(request_.top, client, nested ? "reasoning" : "reasoning_effort", json, true) == Outcome::set) {
            const std::string label = "think=" + think_label(on, rule_.think_level.empty() ? "" : effort);
            result_.changes.push_back(label);
            note(label + ": " + why + " (" + (nested ? "reasoning.effort" : "reasoning_effort") + " \"" + effort + "\")");
        }
        return;
    }
    const std::string json = on ? (rule_.think_level.empty() ? "true" : json_quote(rule_.think_level)) : "false";
    const JsonMember* client = request_.top.find_field("think");
    if (set_member(request_.top, client, "think", json, true) == Outcome::set) {
        result_.changes.push_back("think=" + think_label(on, rule_.think_level));
        note("think=" + think_label(on, rule_.think_level) + ": " + why + " (field \"think\": " + json + ")" +
             (is_set(client) ? "; forced over the client's " + std::string(client->value.in(body_)) : ""));
    }
}

bool Rewrite::think_by_template(bool on, const std::string& why, const JsonMember& prompt) {
    if (const JsonMember* raw = request_.top.find_field("raw"); raw && raw->value.in(body_) == "true") {
        note("think_via: template: the prompt is raw already (the client's own template); left alone");
        return true;
    }
    for (const std::string_view own : {"template", "context", "images", "suffix"}) {
        if (is_set(request_.top.find_field(own))) {
            note("think_via: template: the request carries its own " + std::string(own) + "; using the think field");
            return false;
        }
    }
    const JsonMember* system = request_.top.find_field("system");
    if (is_set(system) && system->kind != JsonKind::string) {
        note("think_via: template: system is not a string; using the think field");
        return false;
    }
    const ThinkTemplate& layout = rule_.think_template;
    std::string json = "\"";
    if (is_set(system) && system->value.size() > 2) {
        const auto part = splice_escaped(layout.system, "{{system}}", string_inside(body_, system->value));
        if (!part) {
            note("think_via: template: the template's system part lacks {{system}}; using the think field");
            return false;
        }
        json += *part;
    }
    const auto part = splice_escaped(layout.prompt, "{{prompt}}", string_inside(body_, prompt.value));
    if (!part) {
        note("think_via: template: the template's prompt part lacks {{prompt}}; using the think field");
        return false;
    }
    json += *part;
    append_json_escaped(json, on ? layout.think_on : layout.think_off);
    json += '"';

    edits_.replace(prompt.value, json);
    remove_all("system");  // raw with system, template or context is a 400
    remove_all("think");   // the template decides; a think field would expect Ollama's own template
    const JsonMember* raw = request_.top.find_field("raw");
    if (raw != nullptr) {
        edits_.replace(raw->value, "true");
    } else {
        edits_.add_member(request_.top, "raw", "true");
    }
    result_.changes.push_back("think=" + think_label(on, {}));
    note("think=" + think_label(on, {}) + ": " + why + " (template: raw prompt with the assistant turn prefilled " +
         (on ? "with <think>)" : "with an empty think block)"));
    return true;
}

void Rewrite::finish(JsonWorkspace& workspace) {
    if (edits_.empty()) return;
    const auto forward_unchanged = [&](std::string why) {
        result_.changes.clear();
        note(std::move(why));
    };
    // The scan skips the insides of values it does not need; before sending an edited body,
    // make sure the original was valid JSON, or Ollama's error would be about our edit.
    if (!is_valid_json(body_, workspace)) {
        forward_unchanged("the body is not valid JSON: forwarded unchanged (Ollama will answer it)");
        return;
    }
    auto edited = edits_.apply();
    if (!edited) {
        forward_unchanged("internal error: overlapping edits; forwarded unchanged");
        return;
    }
    if (*edited == body_) {
        result_.changes.clear();
        return;
    }
    result_.body = std::move(edited);
}

}  // namespace

const InstalledModel* ModelFacts::find(std::string_view name) const {
    const std::string wanted = normalize_model_name(name);
    for (const InstalledModel& model : models) {
        if (equals_ignoring_ascii_case(normalize_model_name(model.name), wanted)) return &model;
    }
    return nullptr;
}

InstalledModel installed_model_from_show(std::string name, std::uint64_t size, std::string_view show_json) {
    InstalledModel model{std::move(name), parse_model_shape(show_json, size), std::nullopt};
    simdjson::dom::parser parser;
    simdjson::dom::element document;
    simdjson::dom::array capabilities;
    if (parser.parse(show_json.data(), show_json.size()).get(document) == simdjson::SUCCESS &&
        document["capabilities"].get_array().get(capabilities) == simdjson::SUCCESS) {
        model.thinking = false;
        for (simdjson::dom::element capability : capabilities) {
            std::string_view text;
            if (capability.get_string().get(text) == simdjson::SUCCESS && text == "thinking") model.thinking = true;
        }
    }
    return model;
}

std::string RewriteResult::header_value() const {
    std::string value = join(changes, "; ");
    for (char& c : value) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte >= 0x7F) c = '?';
    }
    return value;
}

RewriteResult rewrite_request(std::string_view path, std::string_view body, const RewriteConfig& config,
                              const ModelFacts& facts, JsonWorkspace& workspace) {
    RewriteResult result;
    const RewriteRoute route = rewrite_route(path);
    if (route == RewriteRoute::none || config.models.empty()) return result;

    const auto request = scan_request_json(body, workspace);
    if (!request) {
        result.reasons.emplace_back("the body is not a JSON object: forwarded unchanged");
        return result;
    }
    const JsonMember* model = request->top.find_field("model");
    if (model == nullptr || model->kind != JsonKind::string) {
        result.reasons.emplace_back("the body names no model: forwarded unchanged");
        return result;
    }
    const std::string requested = decode_json_string(model->value.in(body));
    result.model = requested;
    const auto rule = std::find_if(config.models.begin(), config.models.end(),
                                   [&](const RewriteRule& candidate) { return model_pattern_matches(candidate.match, requested); });
    if (rule == config.models.end()) {
        result.reasons.push_back("no rule matches model \"" + requested + "\"");
        return result;
    }
    result.rule_line = rule->line;
    result.reasons.push_back("rule \"" + rule->match + "\" (line " + std::to_string(rule->line) + ") matches model \"" +
                             requested + "\" on " + std::string(route_path(route)));

    Rewrite rewrite(route, body, *request, *rule, config, facts, result);
    const std::string target = rewrite.model(*model, requested);
    rewrite.options(target);
    rewrite.keep_alive();
    rewrite.think(target);
    rewrite.finish(workspace);
    return result;
}

RewriteResult rewrite_request(std::string_view path, std::string_view body, const RewriteConfig& config,
                              const ModelFacts& facts) {
    JsonWorkspace workspace;
    return rewrite_request(path, body, config, facts, workspace);
}

}  // namespace sluice
