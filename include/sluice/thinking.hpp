// thinking: whether a prompt is worth a reasoning model's thinking (the `think: auto` rule).
//
// Thinking costs hundreds to thousands of tokens before the first word of the answer. It pays
// on problems with a checkable answer that takes several steps (math, code, logic, plans under
// constraints) and only delays conversation, advice, facts, writing and translation. The
// heuristic reads the last user message (the prompt, for /api/generate); the first of these
// rules that fires decides, and "off" if none does. Measured on tests/fixtures/
// think-auto-prompts.tsv (labelled by the rule in its header; figures in the README).
//
//  0. A Qwen3 soft switch written by the user: the last "/think" or "/no_think" decides.
//  1. A code fence: ``` or ~~~ (on).
//  2. Text work: a request to translate, summarize, proofread or rewrite (translate, "how do you
//     say", summarize, tl;dr, proofread, rewrite, rephrase, paraphrase, reword, polish, "English
//     to French"; 翻译 译成 英译中 中译英 怎么说 润色 改写 校对 总结 概括 摘要). The text it
//     carries (quoted spans, and everything after the first colon that follows the request) is
//     blanked; the rest is judged by the rules below, and is off if none fires. "Translate to
//     French: I love code reviews" is off; "Translate this Python code to Go: ..." is on.
//  3. A request to write prose (off): write, draft, compose or "come up with" whose object is a
//     poem, story, email, letter, post, tweet, toast, speech, slogan, joke ... (the head noun: "a
//     post request" is not a post); 写 + 一首 篇 封 诗 文章 作文 文案 故事 邮件 朋友圈 致辞 ...
//     before the clause ends. The topic does not matter: a limerick about a bug is prose.
//  4. LaTeX (on): a command such as \frac \sqrt \int \sum \prod \lim \begin{ \cdot \times \pi
//     \alpha \leq \infty, or a $...$ / $$...$$ / \( \) / \[ \] span whose inside holds an
//     operator, = ^ _ or a backslash ("costs $5 and $10" stays money, not math).
//  5. Arithmetic (on): two numbers joined by + * x ÷ ^ = < > % (or their full-width forms), by
//     - or / only with spaces around ("12 - 7"; not dates 2024-05-01, scores 3-1, or 24/7),
//     by "**", or by a word: plus, minus, times, divided by, multiplied by, mod, modulo, to the
//     power of, a spaced x (38 x 47), % of / percent of / % off; 加 加上 减 减去 乘 乘以 除以;
//     and a variable power such as x^2. A spaced - or / counts only when the expression ends
//     there or goes on ("144 / 12?", "12 - 7 = 5"), so "5 - 10 minutes" stays conversation.
//  6. Code-like text (on): #include, a def/fn/func/function header with parentheses, SQL's
//     SELECT ... FROM, a call on a dotted or snake_case name (obj.method(, read_file(), a bare
//     call with nothing before its argument (range(len(a)), not "friend(s)"), std::,
//     console.log, printf(, println!, ) {, the operators == != && || += -> =>, a line ending in
//     ';' with braces elsewhere, a snake_case or lowerCamelCase identifier (useEffect; not
//     iPhone), a source file name (main.py, app.tsx, lib.rs ...), or error output (Traceback,
//     SomethingError:, KeyError, NullPointerException, segmentation fault, stack trace,
//     undefined reference).
//  7. Numbers with a math question (on): two numbers (a date, time or range counts once) and a
//     question for a quantity: how much/many/long/far/fast/old/big/tall/heavy, what is/what's/
//     what are/what will, when will/does/should, which is, find, work out, what/which order,
//     what/which number ("what's the best ..." asks for a recommendation, not a quantity), or a
//     % sign; a number after how many/much/long; any number and a math term: prime, percent,
//     percentage, average, median, sum, area, perimeter, circumference, radius, diameter,
//     interest, squared, cubed, fraction, remainder, ratio, sequence, root, convert, divisible,
//     factorial, gcd, lcm, multiple, divisor, mph, odds, chance, angle; as a decimal, as a
//     fraction, in/to binary, in/to hex, twice as, half as, times as; 质数 素数 整除 约数 倍数
//     平方 立方 次方 百分之 面积 周长 体积 半径 直径 平均 利率 利息 折后 打折 分数 化成 换算
//     余数 相遇 速度 之和 的和 的积; a number before 多少 几 多远 多久 多长 多大 多重; two
//     numbers and 什么 怎么 如何 求.
//  8. Reasoning (on): think/reason step by step, show your work, what comes next, next number,
//     how many ways, tell(s)/told the truth, always lie(s), liar, knight, knave, if all,
//     necessarily, logically, must be true, add(s) up to, day of the week; counting letters
//     ("how many" and letter / the word / 's in); a riddle opening "What has/gets/goes/can ..."
//     with "but" or "the more"; two "than" comparisons and who/which; "how do you / can you /
//     would you / does he / does she / do they / can we" with only, exactly, may, at most, at
//     least or every; 说谎 真话 假话 骗子 找规律 下一个数 如果所有 一步一步思考 逐步推理 谜语
//     脑筋急转弯, 越…越 with 什么, 只能 只有 每次只 最多 至少 恰好 with 怎么 or 如何.
//  9. A plan under constraints (on): plan, schedule, itinerary, fit, seat, arrange, timetable,
//     allocate, split, budget, roster (规划 安排 计划 行程 日程 排班 值班 时间表 排一个 排个)
//     with no more than, at most, at least, can't, cannot, must, only, a budget (以内 不能 只能
//     最多 至少 预算 不超过), or two numbers. "Plan a birthday party" stays advice.
// 10. Words that ask for work (on, whole words, any case): prove/proof, solve, debug, derive,
//     calculate, compute, optimize, implement, refactor, compile, bug, puzzle, riddle, simplify,
//     factorise (and their forms); 证明 求解 推导 调试 报错 编译 解题 这道题 优化 求积分 排查
//     计算 (not 计算机, a computer).
// 11. A question for a remembered fact (off): opening with who, whom, when, where, what year,
//     which year, in what/which year; "stand(s) for"; 是谁 谁发明 谁发现 谁写 哪一年 哪年
//     什么时候 缩写. "Who proved Fermat's Last Theorem?" is recall, not math; the rules above
//     (numbers, code, task words) still win: "When will I have 5000 if I save 150 a month?".
// 12. Subject words (on): programming languages and tools (python, javascript, typescript,
//     java, sql, css, html, git, docker, npm, pip, pandas, flask, bash, regex, json, api, vim,
//     terraform, jest, deploy ...), data structures and concepts (array, hashmap, recursion,
//     thread, mutex, async, algorithm, complexity, linked list, hash map, binary search, big o,
//     unit test, abstract class, left/inner join ...), "code" (not after dress, zip, postal,
//     area, country, promo, discount, morse), "function" (not before "of": the function of the
//     liver), c++ c# node.js .net; math subjects (math, algebra, calculus, geometry, probability,
//     theorem, equation, matrix, integral, derivative, polygon, hexagon, diagonal, expected value
//     ...); names that are words too (rust, go, c, swift, ruby, react, node, shell, r) only in
//     context: "in Rust", 用Go, "a c function", "react app", C语言. A language named as a thing to
//     learn ("should I learn Rust or Go", "学Python还是学Java") is career advice, not code.
//     Chinese: 代码 函数 编程 算法 数学 方程 矩阵 几何 定积分 导数 微分 概率 复杂度 源码 正则
//     抽象类 单例 闭包 递归 链表 数组 字符串 脚本 装饰器 服务器 内存溢出 内存泄漏 数据库 网页
//     端口 接口 (not USB接口) 程序 (not 程序员) for循环 while循环 前端 后端.
//
// Everything else is conversation: greetings, chit-chat, advice, facts, writing, translation,
// summaries. The rules are deliberately readable word lists, not a model: a miss costs either
// some latency (thinking on small talk) or some quality (no thinking on a hard question), never
// an error, and a user who knows better writes /think or /no_think. They cost a few microseconds
// for a typical prompt; past 8 KiB only its first and last 4 KiB are judged (where the ask is),
// so no prompt costs more than about half a millisecond.
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
