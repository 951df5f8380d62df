// thinking: the `think: auto` heuristic (the rules are listed in thinking.hpp).
#include "sluice/thinking.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>

namespace sluice {
namespace {

using std::string_view;
constexpr auto npos = string_view::npos;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_identifier_char(char c) { return is_letter(c) || is_digit(c) || c == '_'; }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_ascii_punct_or_space(char c) { return !is_identifier_char(c) && static_cast<unsigned char>(c) < 0x80; }

std::string ascii_lower(string_view text) {
    std::string lower(text);
    for (char& c : lower) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return lower;
}

// `needle` at `at` with no letter or digit touching it on either side (non-ASCII bytes count
// as boundaries, so "用Python写" holds the word "python").
bool is_word_at(string_view text, std::size_t at, string_view needle) {
    const bool before = at == 0 || !is_identifier_char(text[at - 1]);
    const std::size_t end = at + needle.size();
    const bool after = end >= text.size() || !is_identifier_char(text[end]);
    return before && after;
}

std::optional<std::size_t> find_word(string_view text, string_view word) {
    for (std::size_t at = text.find(word); at != npos; at = text.find(word, at + 1)) {
        if (is_word_at(text, at, word)) return at;
    }
    return std::nullopt;
}

// 0. The user's own soft switch: the last one in the text decides.
std::optional<bool> last_soft_switch(string_view text) {
    std::optional<bool> decision;
    std::size_t decided_at = 0;
    for (const auto& [word, think] : {std::pair{string_view("/think"), true}, std::pair{string_view("/no_think"), false}}) {
        for (std::size_t at = text.find(word); at != npos; at = text.find(word, at + 1)) {
            const bool before = at == 0 || is_space(text[at - 1]);
            const std::size_t end = at + word.size();
            const bool after = end == text.size() || is_ascii_punct_or_space(text[end]);
            if (before && after && (!decision || at > decided_at)) {
                decision = think;
                decided_at = at;
            }
        }
    }
    return decision;
}

// 2. LaTeX.
bool has_latex(string_view text) {
    constexpr std::array<string_view, 26> commands{
        "\\frac", "\\dfrac", "\\sqrt", "\\int", "\\iint", "\\oint", "\\sum", "\\prod", "\\lim", "\\cdot",
        "\\times", "\\div", "\\pi", "\\alpha", "\\beta", "\\theta", "\\lambda", "\\sigma", "\\leq", "\\geq",
        "\\neq", "\\infty", "\\partial", "\\mathbb", "\\binom", "\\vec"};
    for (const string_view command : commands) {
        for (std::size_t at = text.find(command); at != npos; at = text.find(command, at + 1)) {
            const std::size_t end = at + command.size();
            if (end == text.size() || !is_letter(text[end])) return true;  // "\pi" but not "\pictures"
        }
    }
    if (text.find("\\begin{") != npos) return true;
    if (const auto open = text.find("\\("); open != npos && text.find("\\)", open + 2) != npos) return true;
    if (const auto open = text.find("\\["); open != npos && text.find("\\]", open + 2) != npos) return true;

    // $...$ and $$...$$ whose inside looks like math, not like two prices.
    std::size_t at = text.find('$');
    while (at != npos) {
        std::size_t inside = at + 1;
        if (inside < text.size() && text[inside] == '$') ++inside;
        const std::size_t close = text.find('$', inside);
        if (close == npos) break;
        const string_view math = text.substr(inside, close - inside);
        const bool tight = !math.empty() && !is_space(math.front()) && !is_space(math.back()) &&
                           (is_identifier_char(math.back()) || string_view(")}]|!'").find(math.back()) != npos);
        if (tight && math.size() <= 400 && math.find_first_of("=+-*/^_\\<>") != npos) return true;
        at = text.find('$', close + 1);
        if (close + 1 < text.size() && text[close + 1] == '$') at = text.find('$', close + 2);
    }
    return false;
}

// The end of a number starting at `at` (digits, with '.' or ',' between digits).
std::size_t number_end(string_view text, std::size_t at) {
    while (at < text.size()) {
        if (is_digit(text[at])) {
            ++at;
        } else if ((text[at] == '.' || text[at] == ',') && at + 1 < text.size() && is_digit(text[at + 1])) {
            ++at;
        } else {
            break;
        }
    }
    return at;
}

std::size_t skip_spaces(string_view text, std::size_t at) {
    while (at < text.size() && text[at] == ' ') ++at;
    return at;
}

bool starts_number(string_view text, std::size_t at) {
    if (at < text.size() && text[at] == '(') ++at;
    return at < text.size() && is_digit(text[at]);
}

// 3. Arithmetic: number, operator, number.
bool has_arithmetic(string_view text, string_view lower) {
    // Operators that join two numbers wherever they stand, ASCII and full-width / math signs.
    constexpr std::array<string_view, 17> always{
        "**", "+", "*", "=", "<", ">", "%", "^", "\xC3\x97" /* × */, "\xC3\xB7" /* ÷ */, "\xEF\xBC\x8B" /* ＋ */,
        "\xEF\xBC\x8D" /* － */, "\xEF\xBC\x9D" /* ＝ */, "\xE2\x88\x92" /* − */, "\xE2\x8B\x85" /* ⋅ */,
        "\xEF\xBC\x8A" /* ＊ */, "\xEF\xBC\x8F" /* ／ */};
    constexpr std::array<string_view, 9> words{"plus", "minus", "times", "divided by", "multiplied by",
                                               "mod", "modulo", "to the power of", "raised to"};
    constexpr std::array<string_view, 7> chinese{"加上", "加", "减去", "减", "乘以", "乘", "除以"};

    for (std::size_t at = 0; at < text.size(); ++at) {
        // x^2, 2^10: a power of a name or number
        if (text[at] == '^' && at > 0 && is_identifier_char(text[at - 1]) && at + 1 < text.size() &&
            (is_digit(text[at + 1]) || is_letter(text[at + 1]) || text[at + 1] == '{')) {
            return true;
        }
        if (!is_digit(text[at]) || (at > 0 && (is_identifier_char(text[at - 1]) || text[at - 1] == '.'))) continue;
        const std::size_t end = number_end(text, at);
        const std::size_t op = skip_spaces(text, end);
        const bool space_before = op > end;
        for (const string_view sign : always) {
            if (text.substr(op, sign.size()) == sign && starts_number(text, skip_spaces(text, op + sign.size()))) return true;
        }
        for (const string_view sign : chinese) {
            if (text.substr(op, sign.size()) == sign && starts_number(text, skip_spaces(text, op + sign.size()))) return true;
        }
        if (space_before) {
            for (const string_view word : words) {
                if (lower.substr(op, word.size()) == word && op + word.size() < text.size() && text[op + word.size()] == ' ' &&
                    starts_number(text, skip_spaces(text, op + word.size()))) {
                    return true;
                }
            }
        }
        // "12 - 7", "144 / 12": spaced, and the expression ends or goes on after the number.
        if (space_before && op < text.size() && (text[op] == '-' || text[op] == '/') && op + 1 < text.size() &&
            text[op + 1] == ' ') {
            const std::size_t right = skip_spaces(text, op + 1);
            if (starts_number(text, right)) {
                const std::size_t after = skip_spaces(text, number_end(text, right + (text[right] == '(' ? 1 : 0)));
                if (after >= text.size() || string_view("?=+-*/)^.!\n").find(text[after]) != npos) return true;
            }
        }
        at = end - 1;
    }
    return false;
}

// 4. Code-like text; returns what it saw.
std::optional<string_view> code_evidence(string_view text, string_view lower) {
    constexpr std::array<string_view, 14> marks{
        "#include", "std::", "console.log", "printf(", "println!", "System.out.", "fmt.Print", "=>", "==", "!=",
        "&&", "||", "+=", "#!/"};
    for (const string_view mark : marks) {
        if (text.find(mark) != npos) return mark;
    }
    if (text.find(") {") != npos || text.find("){") != npos) return ") {";
    for (std::size_t at = text.find("->"); at != npos; at = text.find("->", at + 1)) {
        if (at > 0 && is_identifier_char(text[at - 1]) && at + 2 < text.size() && is_identifier_char(text[at + 2])) return "->";
    }
    if (text.find("SELECT ") != npos && text.find(" FROM ") != npos) return "SQL";
    // def f(, fn main(, func (s *S) x(, function go(
    for (const string_view keyword : {string_view("def "), string_view("fn "), string_view("func "), string_view("function ")}) {
        for (std::size_t at = lower.find(keyword); at != npos; at = lower.find(keyword, at + 1)) {
            if (at > 0 && is_identifier_char(text[at - 1])) continue;
            std::size_t name = at + keyword.size();
            while (name < text.size() && (is_identifier_char(text[name]) || text[name] == ' ' || text[name] == '*')) ++name;
            if (name < text.size() && text[name] == '(' && name > at + keyword.size()) return "a function header";
        }
    }
    // A line ending in ';' in a text with braces.
    if (text.find_first_of("{}") != npos) {
        for (std::size_t at = text.find(';'); at != npos; at = text.find(';', at + 1)) {
            const std::size_t next = at + 1;
            if (next == text.size() || text[next] == '\n' || (text[next] == ' ' && text.find_first_not_of(' ', next) == npos) ||
                text[next] == '\r') {
                return "';' and braces";
            }
        }
    }
    // Calls on dotted or snake_case names (obj.method(, read_file(), and snake_case names.
    for (std::size_t at = 0; at < text.size(); ++at) {
        if (!is_identifier_char(text[at]) || (at > 0 && (is_identifier_char(text[at - 1]) || text[at - 1] == '.'))) continue;
        std::size_t end = at;
        bool underscore = false, dot = false;
        while (end < text.size() && (is_identifier_char(text[end]) || (text[end] == '.' && end + 1 < text.size() &&
                                                                        is_identifier_char(text[end + 1])))) {
            if (text[end] == '_' && end > at && end + 1 < text.size() && is_identifier_char(text[end + 1]) && text[end + 1] != '_') {
                underscore = true;
            }
            if (text[end] == '.') dot = true;
            ++end;
        }
        const string_view name = text.substr(at, end - at);
        if (underscore && name.front() != '_' && name.back() != '_') return "a snake_case name";
        if (dot && end < text.size() && text[end] == '(' && is_identifier_char(name.back())) return "a method call";
        if (dot) {  // a source file name
            constexpr std::array<string_view, 22> extensions{
                "py", "js", "ts", "tsx", "jsx", "cpp", "cc", "c", "h", "hpp", "rs", "go", "java", "kt", "rb", "php",
                "sh", "sql", "cs", "swift", "lua", "ipynb"};
            const string_view extension = name.substr(name.rfind('.') + 1);
            const std::string lower_extension = ascii_lower(extension);
            if (name.rfind('.') > 0 && std::find(extensions.begin(), extensions.end(), lower_extension) != extensions.end()) {
                return "a source file name";
            }
        }
        at = end;
    }
    // Error output.
    if (text.find("Traceback (most recent call last)") != npos) return "a traceback";
    for (const string_view phrase : {string_view("segmentation fault"), string_view("stack trace"),
                                     string_view("undefined reference"), string_view("core dumped")}) {
        if (lower.find(phrase) != npos) return phrase;
    }
    for (const string_view suffix : {string_view("Error:"), string_view("Exception")}) {
        for (std::size_t at = text.find(suffix); at != npos; at = text.find(suffix, at + 1)) {
            // TypeError:, NullPointerException: CamelCase run right before the suffix
            if (at > 0 && is_letter(text[at - 1])) return suffix;
        }
    }
    return std::nullopt;
}

// 5. Words and phrases.
std::optional<string_view> keyword(string_view text, string_view lower) {
    constexpr std::array<string_view, 70> words{
        "prove", "proves", "proving", "proof", "proofs", "solve", "solves", "solving", "debug", "debugging",
        "debugger", "derive", "derivation", "derivative", "derivatives", "calculate", "calculating", "calculation",
        "compute", "computing", "optimize", "optimise", "optimizing", "optimising", "optimization", "optimisation",
        "integral", "integrals", "integrate", "equation", "equations", "theorem", "lemma", "algorithm",
        "algorithms", "complexity", "refactor", "refactoring", "implement", "implementing", "implementation",
        "compile", "compiler", "compiling", "compilation", "regex", "regexp", "bug", "bugs", "buggy",
        "programming", "python", "javascript", "typescript", "sql", "math", "maths", "mathematics", "algebra",
        "calculus", "geometry", "probability", "matrices", "eigenvalue", "eigenvalues", "polynomial", "puzzle",
        "riddle", "coding", "c++"};
    for (const string_view word : words) {
        if (word == "c++") {
            if (const auto at = lower.find("c++"); at != npos && (at == 0 || !is_identifier_char(lower[at - 1]))) return word;
            continue;
        }
        if (find_word(lower, word)) return word;
    }
    // "code", but not a dress code or a zip code.
    for (std::size_t at = lower.find("code"); at != npos; at = lower.find("code", at + 1)) {
        if (!is_word_at(lower, at, "code")) continue;
        constexpr std::array<string_view, 8> other_codes{"dress ", "zip ", "postal ", "area ",
                                                         "country ", "promo ", "discount ", "morse "};
        const string_view before = lower.substr(0, at);
        const bool other_code = std::any_of(other_codes.begin(), other_codes.end(),
                                            [&](string_view prefix) { return before.ends_with(prefix); });
        if (!other_code) return "code";
    }
    // "function", but not "the function of the liver".
    for (std::size_t at = lower.find("function"); at != npos; at = lower.find("function", at + 1)) {
        if (is_word_at(lower, at, "function") && !lower.substr(at + 8).starts_with(" of ")) return "function";
    }
    constexpr std::array<string_view, 7> phrases{"why does", "why doesn't", "why doesnt", "why is my", "why isn't my",
                                                 "why won't", "step by step"};
    for (const string_view phrase : phrases) {
        if (find_word(lower, phrase)) return phrase;
    }
    constexpr std::array<string_view, 24> chinese{
        "证明", "计算", "代码", "求解", "推导", "调试", "算法", "方程", "函数", "编程", "报错", "积分",
        "导数", "微分", "概率", "数学", "编译", "复杂度", "矩阵", "几何", "优化", "这道题", "解题", "源码"};
    for (const string_view word : chinese) {
        if (text.find(word) != npos) return word;
    }
    return std::nullopt;
}

}  // namespace

std::optional<bool> soft_switch(std::string_view text) { return last_soft_switch(text); }

ThinkingVerdict assess_thinking(std::string_view text) {
    if (const auto decision = last_soft_switch(text)) {
        return {*decision, *decision ? "the user's /think" : "the user's /no_think"};
    }
    if (text.find("```") != npos || text.find("~~~") != npos) return {true, "a code fence"};
    if (has_latex(text)) return {true, "LaTeX math"};
    const std::string lower = ascii_lower(text);
    if (has_arithmetic(text, lower)) return {true, "arithmetic"};
    if (const auto evidence = code_evidence(text, lower)) return {true, "code-like text (" + std::string(*evidence) + ")"};
    if (const auto word = keyword(text, lower)) return {true, "the word \"" + std::string(*word) + "\""};
    return {false, "conversation"};
}

}  // namespace sluice
