// thinking: the `think: auto` heuristic (the rules are listed in thinking.hpp).
#include "sluice/thinking.hpp"

#include "sluice/ascii.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>
#include <utility>

namespace sluice {
namespace {

using std::string_view;
constexpr auto npos = string_view::npos;

bool is_identifier_char(char c) { return is_letter(c) || is_digit(c) || c == '_'; }
bool is_ascii_punct_or_space(char c) { return !is_identifier_char(c) && static_cast<unsigned char>(c) < 0x80; }

// A word list sorted at compile time, looked up by binary search.
template <std::size_t N>
constexpr std::array<string_view, N> sorted(std::array<string_view, N> words) {
    std::sort(words.begin(), words.end());
    return words;
}

template <std::size_t N>
bool listed(const std::array<string_view, N>& words, string_view word) {
    return std::binary_search(words.begin(), words.end(), word);
}

// `needle` at `at` with no letter or digit touching it on either side (non-ASCII bytes count
// as boundaries, so "用Python写" holds the word "python").
bool is_word_at(string_view text, std::size_t at, string_view needle) {
    const bool before = at == 0 || !is_identifier_char(text[at - 1]);
    const std::size_t end = at + needle.size();
    const bool after = end >= text.size() || !is_identifier_char(text[end]);
    return before && after;
}

std::optional<std::size_t> find_word(string_view text, string_view word, std::size_t from = 0) {
    for (std::size_t at = text.find(word, from); at != npos; at = text.find(word, at + 1)) {
        if (is_word_at(text, at, word)) return at;
    }
    return std::nullopt;
}

template <std::size_t N>
std::optional<string_view> first_phrase(string_view lower, const std::array<string_view, N>& phrases) {
    for (const string_view phrase : phrases) {
        if (find_word(lower, phrase)) return phrase;
    }
    return std::nullopt;
}

template <std::size_t N>
std::optional<string_view> first_substring(string_view text, const std::array<string_view, N>& needles) {
    for (const string_view needle : needles) {
        if (text.find(needle) != npos) return needle;
    }
    return std::nullopt;
}

bool has_non_ascii(string_view text) {
    return std::any_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

// The ASCII words of a lower-cased text, one at a time: runs of letters, digits and '_'.
class Words {
public:
    explicit Words(string_view lower, std::size_t from = 0) : text_(lower), at_(from) {}

    std::optional<std::pair<std::size_t, string_view>> next() {
        while (at_ < text_.size() && !is_identifier_char(text_[at_])) ++at_;
        if (at_ >= text_.size()) return std::nullopt;
        const std::size_t start = at_;
        while (at_ < text_.size() && is_identifier_char(text_[at_])) ++at_;
        return std::pair{start, text_.substr(start, at_ - start)};
    }

private:
    string_view text_;
    std::size_t at_;
};

// 0. The user's own soft switch: the last one in the text decides.
std::optional<bool> last_soft_switch(string_view text) {
    std::optional<bool> decision;
    std::size_t decided_at = 0;
    for (const auto& [word, think] : {std::pair{string_view("/think"), true}, std::pair{string_view("/no_think"), false}}) {
        for (std::size_t at = text.find(word); at != npos; at = text.find(word, at + 1)) {
            const bool before = at == 0 || is_ascii_space(text[at - 1]);
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

// 2. Text to translate, summarize or rewrite: the request names the work, the text it carries is
// not judged. Returns the word that asked for the work; blanks the carried text in both copies.
std::optional<string_view> text_work(std::string& text, std::string& lower) {
    constexpr std::array<string_view, 22> english{
        "translate", "translated", "translating", "translation", "how do you say", "how do i say", "how to say",
        "how would you say", "summarize", "summarise", "summary of", "tl;dr", "tldr", "proofread", "rewrite",
        "rephrase", "paraphrase", "reword", "polish", "fix the grammar", "correct the grammar", "check the grammar"};
    constexpr std::array<string_view, 14> chinese{"翻译", "译成", "译为", "英译中", "中译英", "英译汉", "汉译英",
                                                  "怎么说", "润色", "改写", "校对", "总结", "概括", "摘要"};
    constexpr std::array<string_view, 20> languages{
        "english", "french", "german", "spanish", "italian", "portuguese", "japanese", "chinese", "korean", "russian",
        "arabic", "dutch", "hindi", "thai", "vietnamese", "turkish", "polish", "swedish", "greek", "mandarin"};

    std::optional<string_view> cue;
    std::size_t cue_at = 0;
    for (const string_view word : english) {
        if (const auto at = find_word(lower, word)) {
            cue = word;
            cue_at = *at;
            break;
        }
    }
    if (!cue && has_non_ascii(lower)) {
        for (const string_view word : chinese) {
            if (const auto at = lower.find(word); at != npos) {
                cue = word;
                cue_at = at;
                break;
            }
        }
    }
    if (!cue) {  // "English to French please: ..."
        for (const string_view from : languages) {
            for (auto at = find_word(lower, from); at && !cue; at = find_word(lower, from, *at + 1)) {
                Words after(lower, *at + from.size());
                const auto to = after.next();
                const auto into = after.next();
                if (to && (to->second == "to" || to->second == "into") && into &&
                    std::find(languages.begin(), languages.end(), into->second) != languages.end()) {
                    cue = from;
                    cue_at = *at;
                }
            }
            if (cue) break;
        }
    }
    if (!cue) return std::nullopt;

    const auto blank = [&](std::size_t from, std::size_t to) {
        for (std::size_t at = from; at < to && at < text.size(); ++at) text[at] = lower[at] = ' ';
    };
    // Quoted spans: "..." “...” 「...」 『...』 ‘...’, and '...' opened at the start of a word.
    constexpr std::array<std::pair<string_view, string_view>, 5> quotes{
        std::pair{string_view("\""), string_view("\"")}, std::pair{string_view("\xE2\x80\x9C"), string_view("\xE2\x80\x9D")},
        std::pair{string_view("\xE3\x80\x8C"), string_view("\xE3\x80\x8D")},
        std::pair{string_view("\xE3\x80\x8E"), string_view("\xE3\x80\x8F")},
        std::pair{string_view("\xE2\x80\x98"), string_view("\xE2\x80\x99")}};
    for (const auto& [open, close] : quotes) {
        for (std::size_t at = lower.find(open); at != npos; at = lower.find(open, at + 1)) {
            const std::size_t end = lower.find(close, at + open.size());
            if (end == npos) break;
            blank(at + open.size(), end);
            at = end;
        }
    }
    for (std::size_t at = lower.find('\''); at != npos; at = lower.find('\'', at + 1)) {
        if (at > 0 && lower[at - 1] != ' ' && lower[at - 1] != ':') continue;
        std::size_t end = lower.find('\'', at + 1);
        while (end != npos && end + 1 < lower.size() && is_letter(lower[end + 1])) end = lower.find('\'', end + 1);
        if (end == npos) break;
        blank(at + 1, end);
        at = end;
    }
    // Everything after the first colon that follows the request.
    std::size_t colon = lower.find(':', cue_at);
    const std::size_t wide = lower.find("\xEF\xBC\x9A", cue_at);  // ：
    if (wide != npos && (colon == npos || wide < colon)) colon = wide + 2;
    if (colon != npos) blank(colon + 1, lower.size());
    return cue;
}

// 3. A request to write prose (a poem, an email, a story): the topic does not matter. Returns the
// kind of prose.
std::optional<string_view> prose_request(string_view lower) {
    static constexpr auto prose = sorted(std::array<string_view, 56>{
        "poem", "poems", "poetry", "haiku", "limerick", "sonnet", "verse", "song", "lyrics", "rap", "story", "stories",
        "tale", "fable", "essay", "article", "blog", "intro", "introduction", "post", "tweet", "caption", "email",
        "emails", "mail", "letter", "note", "message", "speech", "toast", "eulogy", "bio", "description", "paragraph",
        "slogan", "tagline", "headline", "title", "joke", "jokes", "invitation", "announcement", "apology", "resume",
        "cv", "ad", "advert", "newsletter", "dialogue", "scene", "novel", "chapter", "card", "wishes", "reply",
        "obituary"});
    static constexpr auto ends = sorted(std::array<string_view, 18>{
        "about", "for", "that", "which", "to", "in", "on", "of", "with", "where", "who", "using", "from", "and", "so",
        "telling", "saying", "explaining"});
    for (const string_view verb : {string_view("write"), string_view("draft"), string_view("compose"), string_view("come up with")}) {
        for (auto at = find_word(lower, verb); at; at = find_word(lower, verb, *at + 1)) {
            Words after(lower, *at + verb.size());
            for (int count = 0; count < 6; ++count) {
                const auto word = after.next();
                if (!word || listed(ends, word->second)) break;
                if (!listed(prose, word->second)) continue;
                // The head of the object, not a modifier ("a post request", "a story generator").
                const std::size_t end = word->first + word->second.size();
                Words peek(lower, end);
                const auto following = peek.next();
                const bool head = !following || lower.find_first_not_of(' ', end) != following->first ||
                                  listed(ends, following->second) || following->second.ends_with("ing");
                if (head) return word->second;
            }
        }
    }
    if (!has_non_ascii(lower)) return std::nullopt;
    // 写 + a measure word for prose, or a kind of prose before the clause ends.
    constexpr std::array<string_view, 30> chinese{
        "一首", "首诗", "篇", "封", "诗", "文章", "作文", "文案", "段子", "故事", "邮件", "朋友圈", "致辞", "演讲",
        "发言稿", "总结", "周报", "日报", "日记", "小说", "歌词", "祝福", "口号", "广告", "简历", "自我介绍", "评语",
        "笑话", "贺卡", "情书"};
    constexpr std::array<string_view, 10> clause_ends{"，", "。", "？", "！", "；", "：", ",", "?", "!", "\n"};
    for (std::size_t at = lower.find("写"); at != npos; at = lower.find("写", at + 1)) {
        std::size_t end = std::min(lower.size(), at + 90);
        for (const string_view stop : clause_ends) end = std::min(end, lower.find(stop, at));
        const string_view clause = lower.substr(at + 3, end > at + 3 ? end - at - 3 : 0);
        if (const auto kind = first_substring(clause, chinese)) return *kind;
    }
    return std::nullopt;
}

// 4. LaTeX.
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
        const bool tight = !math.empty() && !is_ascii_space(math.front()) && !is_ascii_space(math.back()) &&
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

bool is_number_start(string_view text, std::size_t at) {
    return is_digit(text[at]) && (at == 0 || !(is_identifier_char(text[at - 1]) || text[at - 1] == '.'));
}

// How many numbers the text holds, up to `limit`: a date, a time or a range (2024-05-01, 10:30,
// 9-11, 7/8) counts once.
int count_numbers(string_view text, int limit) {
    int count = 0;
    for (std::size_t at = 0; at < text.size() && count < limit; ++at) {
        if (!is_number_start(text, at)) continue;
        std::size_t end = number_end(text, at);
        while (end + 1 < text.size() && (text[end] == '-' || text[end] == '/' || text[end] == ':') && is_digit(text[end + 1])) {
            end = number_end(text, end + 1);
        }
        ++count;
        at = end;
    }
    return count;
}

// 5. Arithmetic: number, operator, number.
bool has_arithmetic(string_view text, string_view lower) {
    // Operators that join two numbers wherever they stand, ASCII and full-width / math signs.
    constexpr std::array<string_view, 17> always{
        "**", "+", "*", "=", "<", ">", "%", "^", "\xC3\x97" /* × */, "\xC3\xB7" /* ÷ */, "\xEF\xBC\x8B" /* ＋ */,
        "\xEF\xBC\x8D" /* － */, "\xEF\xBC\x9D" /* ＝ */, "\xE2\x88\x92" /* − */, "\xE2\x8B\x85" /* ⋅ */,
        "\xEF\xBC\x8A" /* ＊ */, "\xEF\xBC\x8F" /* ／ */};
    constexpr std::array<string_view, 14> words{"plus", "minus", "times", "divided by", "multiplied by", "mod",
                                                "modulo", "to the power of", "raised to", "x", "% of", "percent of",
                                                "% off", "percent off"};
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
        // "250 divided by 8", "38 x 47", "15% of 80", "25% off 40"
        for (const string_view word : words) {
            const bool percent = word.front() == '%';
            if ((space_before || percent) && lower.substr(op, word.size()) == word && op + word.size() < text.size() &&
                text[op + word.size()] == ' ' && starts_number(text, skip_spaces(text, op + word.size()))) {
                return true;
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

// 6. Code-like text; returns what it saw.
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
    // Names: calls on dotted or snake_case names (obj.method(, read_file()), a call with nothing
    // between the name and '(' (range(len(a)), sum(xs), not "friend(s)"), snake_case names,
    // source file names, CamelCase error names (KeyError, NullPointerException).
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
        if (!dot && end + 1 < text.size() && text[end] == '(' && is_letter(name.front()) && name.size() >= 2) {
            const std::size_t close = text.find(')', end + 1);
            const string_view inside = close == npos ? string_view() : text.substr(end + 1, close - end - 1);
            if (close != npos && close - end <= 80 && inside != "s" && inside != "es" && inside.find(' ') == npos &&
                !inside.empty() && is_identifier_char(inside.front())) {
                return "a call";
            }
        }
        if (dot) {  // a source file name
            constexpr std::array<string_view, 22> extensions{
                "py", "js", "ts", "tsx", "jsx", "cpp", "cc", "c", "h", "hpp", "rs", "go", "java", "kt", "rb", "php",
                "sh", "sql", "cs", "swift", "lua", "ipynb"};
            const string_view extension = name.substr(name.rfind('.') + 1);
            const std::string lower_extension = ascii_lowercase(extension);
            if (name.rfind('.') > 0 && std::find(extensions.begin(), extensions.end(), lower_extension) != extensions.end()) {
                return "a source file name";
            }
        }
        // lowerCamelCase: useEffect, getElementById (two lower-case letters first: not iPhone, eBay, macOS)
        if (!dot && !underscore && name.size() >= 5) {
            std::size_t lower_run = 0;
            while (lower_run < name.size() && name[lower_run] >= 'a' && name[lower_run] <= 'z') ++lower_run;
            if (lower_run >= 2 && lower_run + 1 < name.size() && name[lower_run] >= 'A' && name[lower_run] <= 'Z' &&
                name[lower_run + 1] >= 'a' && name[lower_run + 1] <= 'z') {
                return "a camelCase name";
            }
        }
        if (!dot && name.size() > 5 && name.front() >= 'A' && name.front() <= 'Z') {
            for (const string_view suffix : {string_view("Error"), string_view("Exception")}) {
                if (name.size() > suffix.size() && name.ends_with(suffix) && is_letter(name[name.size() - suffix.size() - 1])) {
                    return "an error name";
                }
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
    for (std::size_t at = text.find("Error:"); at != npos; at = text.find("Error:", at + 1)) {
        if (at > 0 && is_letter(text[at - 1])) return "Error:";  // TypeError:
    }
    return std::nullopt;
}

// 7. Math with numbers: a word problem (two numbers and a question for a quantity, or a number
// after "how many"), or a math term beside a number (17 is prime, 15 percent, the area of ...).
std::optional<string_view> number_math(string_view text, string_view lower) {
    const int numbers = count_numbers(text, 2);
    if (numbers == 0) return std::nullopt;
    constexpr std::array<string_view, 26> questions{
        "how much", "how many", "how long", "how far", "how fast", "how old", "how big", "how tall", "how heavy",
        "what is", "what's", "whats", "what are", "what will", "what would", "what time", "when will", "when does",
        "when should", "which is", "find", "work out", "what order", "which order", "what number", "which number"};
    if (numbers >= 2) {
        for (const string_view question : questions) {
            const auto at = find_word(lower, question);
            if (!at) continue;
            // "what's the best vacuum for 3 cats and 1 dog" asks for a recommendation, not a quantity
            const string_view rest = lower.substr(*at + question.size());
            if (question.starts_with("wh") && (rest.starts_with(" the best") || rest.starts_with(" a good"))) continue;
            return question;
        }
        if (text.find('%') != npos) return "%";
    }
    for (const string_view question : {string_view("how many"), string_view("how much"), string_view("how long")}) {
        if (const auto at = find_word(lower, question); at && lower.find_first_of("0123456789", *at) != npos) return question;
    }
    static constexpr auto terms = sorted(std::array<string_view, 32>{
        "prime", "primes", "percent", "percentage", "average", "median", "sum", "area", "perimeter", "circumference",
        "radius", "diameter", "interest", "squared", "cubed", "fraction", "remainder", "ratio", "sequence", "root",
        "convert", "divisible", "factorial", "gcd", "lcm", "multiple", "divisor", "mph", "odds", "chance", "angle",
        "angles"});
    for (Words words(lower); const auto word = words.next();) {
        if (listed(terms, word->second)) return word->second;
    }
    for (const string_view phrase : {string_view("as a decimal"), string_view("as a fraction"), string_view("in binary"),
                                     string_view("to binary"), string_view("in hex"), string_view("to hex"),
                                     string_view("twice as"), string_view("half as"), string_view("times as")}) {
        if (find_word(lower, phrase)) return phrase;
    }
    if (!has_non_ascii(text)) return std::nullopt;
    constexpr std::array<string_view, 28> chinese{
        "质数", "素数", "整除", "约数", "倍数", "平方", "立方", "次方", "百分之", "面积", "周长", "体积", "半径", "直径",
        "平均", "利率", "利息", "折后", "打折", "分数", "化成", "换算", "余数", "相遇", "速度", "之和", "的和", "的积"};
    if (const auto term = first_substring(text, chinese)) return *term;
    // A number, then a question for a quantity: 80的15%是多少, 100华氏度是多少摄氏度.
    constexpr std::array<string_view, 7> quantity{"多少", "几", "多远", "多久", "多长", "多大", "多重"};
    const std::size_t first_digit = text.find_first_of("0123456789");
    for (const string_view question : quantity) {
        const std::size_t at = text.rfind(question);
        if (at != npos && first_digit < at) return question;
    }
    if (numbers >= 2) {
        constexpr std::array<string_view, 4> asks{"什么", "怎么", "如何", "求"};
        if (const auto ask = first_substring(text, asks)) return *ask;
    }
    return std::nullopt;
}

// 8. Logic puzzles and requests for reasoning.
std::optional<string_view> logic(string_view text, string_view lower) {
    constexpr std::array<string_view, 21> phrases{
        "think step by step", "reason step by step", "step-by-step solution", "show your work", "show your working",
        "what comes next", "next number", "next in the sequence", "how many ways", "tell the truth", "tells the truth",
        "told the truth", "always lie", "always lies", "if all", "necessarily", "logically", "must be true",
        "add up to", "adds up to", "day of the week"};
    if (const auto phrase = first_phrase(lower, phrases)) return *phrase;
    for (const string_view word : {string_view("liar"), string_view("liars"), string_view("knight"), string_view("knights"),
                                   string_view("knave"), string_view("knaves")}) {
        if (find_word(lower, word)) return word;
    }
    // A riddle: "What has keys but can't open locks?", "What gets wetter the more it dries?"
    for (const string_view opening : {string_view("what has "), string_view("what have "), string_view("what gets "),
                                      string_view("what goes "), string_view("what can "), string_view("what belongs ")}) {
        if (lower.starts_with(opening) && (find_word(lower, "but") || lower.find("the more") != npos)) return "what has ... but";
    }
    // Counting letters: how many r's are in the word strawberry.
    if (const auto at = find_word(lower, "how many")) {
        if (lower.find("letter", *at) != npos || lower.find("the word", *at) != npos || lower.find("'s in", *at) != npos) {
            return "how many letters";
        }
    }
    // An order to work out: two comparisons and who or which.
    if (const auto than = lower.find(" than "); than != npos && lower.find(" than ", than + 1) != npos &&
                                                 (find_word(lower, "who") || find_word(lower, "which"))) {
        return "comparisons";
    }
    // "How do you ... ?" under a constraint: the jugs, the labels, the boat.
    for (const string_view how : {string_view("how do you"), string_view("how can you"), string_view("how would you"),
                                  string_view("how does he"), string_view("how does she"), string_view("how do they"),
                                  string_view("how can we")}) {
        if (!find_word(lower, how)) continue;
        for (const string_view limit : {string_view("only"), string_view("exactly"), string_view("may"),
                                        string_view("at most"), string_view("at least"), string_view("every")}) {
            if (find_word(lower, limit)) return limit;
        }
    }
    if (!has_non_ascii(text)) return std::nullopt;
    constexpr std::array<string_view, 13> chinese{"说谎", "真话", "假话", "骗子", "找规律", "下一个数", "如果所有",
                                                  "一步一步思考", "逐步推理", "一步步推理", "谜语", "脑筋急转弯", "猜谜"};
    if (const auto phrase = first_substring(text, chinese)) return *phrase;
    // 什么东西越洗越脏: a riddle.
    if (const auto more = text.find("越"); more != npos && text.find("越", more + 3) != npos && text.find("什么") != npos) {
        return "越...越";
    }
    constexpr std::array<string_view, 6> limits{"只能", "只有", "每次只", "最多", "至少", "恰好"};
    if (const auto limit = first_substring(text, limits); limit && (text.find("怎么") != npos || text.find("如何") != npos)) {
        return *limit;
    }
    return std::nullopt;
}

// 9. A plan under hard constraints: a budget, time slots, who may not sit with whom.
std::optional<string_view> constrained_plan(string_view text, string_view lower) {
    static constexpr auto plans = sorted(std::array<string_view, 13>{
        "plan", "planning", "schedule", "itinerary", "fit", "seat", "seating", "arrange", "timetable", "allocate",
        "split", "budget", "roster"});
    bool planning = false, only_budget = true;  // "budget around 800 dollars" is no constraint on a budget
    for (Words words(lower); const auto word = words.next();) {
        if (listed(plans, word->second)) {
            planning = true;
            only_budget = only_budget && word->second == "budget";
        }
    }
    constexpr std::array<string_view, 10> chinese_plans{"规划", "安排", "计划", "行程", "日程", "排班", "值班", "时间表",
                                                        "排一个", "排个"};
    const bool chinese = has_non_ascii(text);
    if (chinese && first_substring(text, chinese_plans)) planning = true, only_budget = false;
    if (!planning) return std::nullopt;
    constexpr std::array<string_view, 8> limits{"no more than", "at most", "at least", "can't", "cannot", "must",
                                                "only", "budget"};
    for (const string_view limit : limits) {
        if (limit == "budget" && only_budget) continue;
        if (find_word(lower, limit)) return limit;
    }
    if (chinese) {
        constexpr std::array<string_view, 7> chinese_limits{"以内", "不能", "只能", "最多", "至少", "预算", "不超过"};
        if (const auto limit = first_substring(text, chinese_limits)) return *limit;
    }
    if (count_numbers(text, 2) >= 2) return "numbers";
    return std::nullopt;
}

// 10. Words that ask for work (prove, solve, debug, calculate), whole words in any case.
std::optional<string_view> task_word(string_view text, string_view lower) {
    static constexpr auto words = sorted(std::array<string_view, 40>{
        "prove", "proves", "proving", "proof", "proofs", "solve", "solves", "solving", "debug", "debugging",
        "debugger", "derive", "derivation", "calculate", "calculating", "calculation", "compute", "computing",
        "optimize", "optimise", "optimizing", "optimising", "optimization", "optimisation", "implement",
        "implementing", "implementation", "refactor", "refactoring", "compile", "compiler", "compiling",
        "compilation", "bug", "bugs", "buggy", "puzzle", "riddle", "simplify", "factorise"});
    for (Words each(lower); const auto word = each.next();) {
        if (listed(words, word->second)) return word->second;
    }
    if (!has_non_ascii(text)) return std::nullopt;
    constexpr std::array<string_view, 12> chinese{"证明", "求解", "推导", "调试", "报错", "编译", "解题", "这道题",
                                                  "优化", "求积分", "排查", "计算"};
    for (const string_view word : chinese) {
        for (std::size_t at = text.find(word); at != npos; at = text.find(word, at + 1)) {
            if (word == "计算" && text.substr(at + word.size()).starts_with("机")) continue;  // 计算机: a computer
            return word;
        }
    }
    return std::nullopt;
}

// 11. A question for a remembered fact: who, when, where, what year, what X stands for.
bool recall_question(string_view text, string_view lower) {
    const std::size_t start = lower.find_first_not_of(" \t\r\n\"'");
    if (start == npos) return false;
    const string_view opening = lower.substr(start);
    for (const string_view word : {string_view("who "), string_view("who's "), string_view("whom "), string_view("when "),
                                   string_view("where "), string_view("what year"), string_view("which year"),
                                   string_view("in what year"), string_view("in which year")}) {
        if (opening.starts_with(word)) return true;
    }
    if (find_word(lower, "stand for") || find_word(lower, "stands for")) return true;
    if (!has_non_ascii(text)) return false;
    constexpr std::array<string_view, 8> chinese{"是谁", "谁发明", "谁发现", "谁写", "哪一年", "哪年", "什么时候", "缩写"};
    return first_substring(text, chinese).has_value();
}

// 12. Words for a subject that needs work: code and math. A language named as a thing to learn
// ("should I learn Rust or Go", "学Python还是学Java") is career advice, not code.
std::optional<string_view> topic_word(string_view text, string_view lower) {
    static constexpr auto words = sorted(std::array<string_view, 88>{
        "python", "javascript", "typescript", "java", "kotlin", "golang", "php", "perl", "haskell", "scala", "sql",
        "mysql", "postgres", "postgresql", "sqlite", "mongodb", "redis", "html", "css", "flexbox", "div", "vue",
        "angular", "nodejs", "npm", "pip", "pandas", "numpy", "django", "flask", "docker", "dockerfile",
        "kubernetes", "kubectl", "git", "bash", "zsh", "powershell", "cron", "crontab", "regex", "regexp", "json",
        "yaml", "api", "algorithm", "algorithms", "complexity", "coding", "programming", "functions", "array",
        "arrays", "hashmap", "recursion", "recursive", "thread", "threads", "multithreading", "mutex", "deadlock",
        "async", "await", "pytest", "makefile", "cmake", "gcc", "segfault", "webpack", "frontend", "backend",
        "database", "endpoint", "server", "localhost", "js", "math", "maths", "mathematics", "algebra", "calculus",
        "geometry", "trigonometry", "probability", "theorem", "lemma", "equation"});
    static constexpr auto more = sorted(std::array<string_view, 32>{
        "equations", "polynomial", "matrix", "matrices", "eigenvalue", "eigenvalues", "integral", "integrals",
        "derivative", "derivatives", "polygon", "pentagon", "hexagon", "octagon", "decagon", "diagonal", "diagonals",
        "hypotenuse", "vim", "emacs", "terraform", "ansible", "jest", "junit", "maven", "gradle", "nginx", "deploy",
        "deployed", "deploying", "deployment", "compiled"});
    // Names that are words too: a language only "in Rust", "用Go", "a c function", "react app".
    static constexpr auto ambiguous = sorted(std::array<string_view, 9>{
        "rust", "go", "c", "swift", "ruby", "react", "node", "shell", "r"});
    static constexpr auto in_context_after = sorted(std::array<string_view, 12>{
        "code", "app", "program", "script", "function", "component", "server", "project", "class", "compiler",
        "module", "crate"});

    const auto learned = [&](std::size_t at, std::optional<string_view> before) {
        if (before && (*before == "learn" || *before == "learning" || *before == "study")) return true;
        return lower.substr(0, at).ends_with("学") || lower.substr(0, at).ends_with("学习");
    };
    std::optional<string_view> before;
    for (Words each(lower); const auto word = each.next();) {
        const auto [at, name] = *word;
        if (listed(words, name) || listed(more, name)) {
            if (!learned(at, before)) return name;
        } else if (listed(ambiguous, name)) {
            const bool after_in = before && (*before == "in" || *before == "using" || *before == "with") && at > 0 &&
                                  lower[at - 1] == ' ';
            const bool after_use = lower.substr(0, at).ends_with("用");
            Words peek(lower, at + name.size());
            const auto next = peek.next();
            const bool next_adjacent = next && next->first == at + name.size() + 1 && lower[at + name.size()] == ' ';
            const bool before_noun = next_adjacent && listed(in_context_after, next->second);
            const bool language = lower.substr(at + name.size()).starts_with("语言");
            if ((after_in || after_use || before_noun || language) && !learned(at, before)) return name;
        } else if (name == "code" || name == "function") {
            constexpr std::array<string_view, 8> other_codes{"dress", "zip", "postal", "area", "country", "promo", "discount", "morse"};
            const bool other_code = name == "code" && before &&  // a dress code, a zip code
                                    std::find(other_codes.begin(), other_codes.end(), *before) != other_codes.end();
            const bool function_of = name == "function" && lower.substr(at + name.size()).starts_with(" of ");  // of the liver
            if (!other_code && !function_of) return name;
        }
        before = name;
    }
    for (const string_view mark : {string_view("c++"), string_view("c#"), string_view("node.js"), string_view(".net")}) {
        if (const auto at = lower.find(mark); at != npos && (at == 0 || !is_identifier_char(lower[at - 1]))) return mark;
    }
    constexpr std::array<string_view, 20> phrases{
        "unit test", "linked list", "hash map", "hash table", "binary search", "big o", "for loop", "while loop",
        "shell script", "cargo build", "cargo run", "linear time", "unit tests", "left join", "inner join",
        "outer join", "right join", "abstract class", "expected value", "standard deviation"};
    if (const auto phrase = first_phrase(lower, phrases)) return *phrase;
    if (!has_non_ascii(text)) return std::nullopt;
    constexpr std::array<string_view, 31> chinese{
        "代码", "函数", "编程", "算法", "数学", "方程", "矩阵", "几何", "定积分", "不定积分", "导数", "微分", "概率",
        "复杂度", "源码", "正则", "抽象类", "单例", "闭包", "递归", "链表", "数组", "字符串", "脚本", "装饰器",
        "服务器", "内存溢出", "内存泄漏", "数据库", "网页", "端口"};
    for (const string_view word : chinese) {
        const std::size_t at = text.find(word);
        if (at != npos && !text.substr(0, at).ends_with("学")) return word;
    }
    for (std::size_t at = text.find("接口"); at != npos; at = text.find("接口", at + 1)) {
        if (at == 0 || !is_identifier_char(text[at - 1])) return "接口";  // an API, not a USB port (USB接口)
    }
    constexpr string_view program = "程序";
    for (std::size_t at = text.find(program); at != npos; at = text.find(program, at + 1)) {
        if (!text.substr(at + program.size()).starts_with("员")) return program;  // a program, not a programmer
    }
    return first_substring(lower, std::array<string_view, 4>{"for循环", "while循环", "前端", "后端"});
}

std::string quoted(string_view word) { return "\"" + std::string(word) + "\""; }

// The word rules read at most this much of each end of a long prompt, where the ask is (a
// document or log pasted between is matter, not instruction): the cost per request stays under a
// millisecond whatever the prompt's length. The soft switches and code fences are found anywhere.
constexpr std::size_t judged_edge_bytes = 4096;

}  // namespace

std::optional<bool> soft_switch(std::string_view text) { return last_soft_switch(text); }

ThinkingVerdict assess_thinking(std::string_view original) {
    if (const auto decision = last_soft_switch(original)) {
        return {*decision, *decision ? "the user's /think" : "the user's /no_think"};
    }
    if (original.find("```") != npos || original.find("~~~") != npos) return {true, "a code fence"};
    std::string edges;
    if (original.size() > 2 * judged_edge_bytes) {
        edges.reserve(2 * judged_edge_bytes + 2);
        edges.append(original.substr(0, judged_edge_bytes)).append("\n\n").append(original.substr(original.size() - judged_edge_bytes));
        original = edges;
    }

    std::string lower = ascii_lowercase(original);
    std::string masked(original);  // the text with any text to translate or rewrite blanked out
    const std::optional<string_view> work = text_work(masked, lower);
    const string_view text = masked;
    if (const auto kind = prose_request(lower)) return {false, "a request to write prose (" + quoted(*kind) + ")"};
    if (has_latex(text)) return {true, "LaTeX math"};
    if (has_arithmetic(text, lower)) return {true, "arithmetic"};
    if (const auto evidence = code_evidence(text, lower)) return {true, "code-like text (" + std::string(*evidence) + ")"};
    if (const auto cue = number_math(text, lower)) return {true, "numbers and " + quoted(*cue)};
    if (const auto cue = logic(text, lower)) return {true, "a reasoning puzzle (" + quoted(*cue) + ")"};
    if (const auto cue = constrained_plan(text, lower)) return {true, "a plan with constraints (" + quoted(*cue) + ")"};
    if (const auto word = task_word(text, lower)) return {true, "the word " + quoted(*word)};
    if (recall_question(text, lower)) return {false, "a question for a remembered fact"};
    if (const auto word = topic_word(text, lower)) return {true, "the word " + quoted(*word)};
    if (work) return {false, "a request to translate, summarize or rewrite text (" + quoted(*work) + ")"};
    return {false, "conversation"};
}

}  // namespace sluice
