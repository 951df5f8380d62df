// thinking: whether a prompt is worth a reasoning model's thinking (the `think: auto` rule).
//
// Thinking costs hundreds to thousands of tokens before the first word of the answer. It pays
// on problems with a checkable answer (math, code, logic) and only delays conversation. The
// heuristic reads the last user message (the prompt, for /api/generate) and says "on" at the
// first of these it finds, "off" otherwise:
//
//  0. A Qwen3 soft switch written by the user: the last "/think" or "/no_think" decides.
//  1. A code fence: ``` or ~~~.
//  2. LaTeX: a command such as \frac \sqrt \int \sum \prod \lim \begin{ \cdot \times \pi
//     \alpha \leq \infty, or a $...$ / $$...$$ / \( \) / \[ \] span whose inside holds an
//     operator, = ^ _ or a backslash ("costs $5 and $10" stays money, not math).
//  3. Arithmetic: two numbers joined by + * x ÷ ^ = < > % (or their full-width forms), by
//     - or / only with spaces around ("12 - 7"; not dates 2024-05-01, scores 3-1, or 24/7),
//     by "**", or by a word: plus, minus, times, divided by, multiplied by, mod, modulo, to the
//     power of, 加 加上 减 减去 乘 乘以 除以; and a variable power such as x^2. A spaced - or /
//     counts only when the expression ends there or goes on ("144 / 12?", "12 - 7 = 5"), so
//     "5 - 10 minutes" stays conversation.
//  4. Code-like text: #include, a def/fn/func/function header with parentheses, SQL's
//     SELECT ... FROM, a call on a dotted or snake_case name (obj.method(, read_file(),
//     std::, console.log, printf(, println!, ) {, the operators == != && || += -> =>, a line
//     ending in ';' with braces elsewhere, a snake_case identifier, a source file name
//     (main.py, app.tsx, lib.rs ...), or error output (Traceback, SomethingError:,
//     SomethingException, segmentation fault, stack trace, undefined reference).
//  5. Words (whole words, any case): prove/proof, solve, debug, derive/derivative, calculate,
//     compute, optimize, integral, equation, theorem, lemma, algorithm, complexity, refactor,
//     implement, compile, regex, bug, programming, python, javascript, typescript, sql, math,
//     algebra, calculus, geometry, probability, matrices, eigenvalue, polynomial, puzzle,
//     riddle; "code" (not after dress, zip, postal, area, country), "function" (not before
//     "of": the function of the liver); phrases "why does", "why doesn't", "why is my", "why
//     isn't my", "why won't", "step by step"; Chinese 证明 计算 代码 求解 推导 调试 算法 方程
//     函数 编程 报错 积分 导数 微分 概率 数学 编译 复杂度 矩阵 几何 优化 这道题 解题.
//
// Everything else is conversation: greetings, chit-chat, advice, facts, writing, translation,
// summaries. The rules are deliberately few and readable: a miss costs either some latency
// (thinking on small talk) or some quality (no thinking on a hard question), never an error,
// and a user who knows better writes /think or /no_think.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sluice {

struct ThinkingVerdict {
    bool think = false;
    std::string why;  // which rule decided: "a code fence", "the word \"prove\"", "conversation"
};

ThinkingVerdict assess_thinking(std::string_view last_user_message);

inline bool wants_thinking(std::string_view last_user_message) { return assess_thinking(last_user_message).think; }

// The last Qwen3 soft switch the text carries as a word of its own: true for "/think", false
// for "/no_think", nullopt for none. The rewriter leaves the decision to a user who wrote one.
std::optional<bool> soft_switch(std::string_view text);

}  // namespace sluice
