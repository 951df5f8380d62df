// Integration tests of the conversation store through real sockets and a real SQLite file: the
// page's API (put, get, list with paging, search, delete, export and import), owners kept
// apart, bad input and a full store refused with nothing lost, and a sluice killed mid-write
// that restarts with every acknowledged conversation.
#include "child_process.hpp"
#include "ports.hpp"
#include "sluice_under_test.hpp"

#include "sluice/access_control.hpp"
#include "sluice/conversation_db.hpp"

#include <SQLiteCpp/Database.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <unistd.h>

namespace sluice::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr std::string_view alice_key = "sk-sluice-alice-0123456789abcdef";
constexpr std::string_view bob_key = "sk-sluice-bob-0123456789abcdef0";
constexpr std::string_view api = "/_sluice/api/";

std::string conversation(std::string_view id, std::string_view title, std::string_view text) {
    return fmt::format(R"({{"id":"{}","title":"{}","messages":[{{"role":"user","content":"{}"}},{{"role":"assistant","content":"ok"}}]}})",
                       id, title, text);
}

class ConversationStoreTest : public SluiceUnderTest {
protected:
    ConversationStoreTest() { fs::create_directories(dir_); }
    ~ConversationStoreTest() override {
        server.reset();
        fs::remove_all(dir_);
    }
    // sluice with a store in this test's directory (and `store_extra` store settings) and `extra` YAML.
    void start_store(std::string_view extra = {}, std::string_view store_extra = {}) {
        start_yaml(fmt::format("store:\n  path: {}\n{}{}", file().string(), store_extra, extra));
    }
    fs::path file() const { return dir_ / "conversations.db"; }
    Response call(std::string_view method, std::string_view name, std::string_view body = {}, const Headers& headers = {}) {
        return request(method, fmt::format("{}{}", api, name), body, headers);
    }

    fs::path dir_ = fs::temp_directory_path() / fmt::format("sluice-store-{}-{}", ::getpid(),
                                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
};

Headers bearer(std::string_view key) { return {{"Authorization", fmt::format("Bearer {}", key)}}; }

std::string two_keys() {
    return fmt::format("auth:\n  keys:\n    - name: alice\n      hash: \"{}\"\n    - name: bob\n      hash: \"{}\"\n      routes: chat\n",
                       hash_api_key(alice_key), hash_api_key(bob_key));
}

TEST_F(ConversationStoreTest, AConversationPutIsReadBackByteForByteAndListedNewestFirst) {
    start_store();
    const auto first = conversation("c1", "Rust lifetimes", "explain borrowing");
    const auto put = call("PUT", "conversations/c1", first);
    ASSERT_EQ(put.status, 200u) << put.body;
    EXPECT_TRUE(put.body.starts_with(R"({"id":"c1","created":)")) << put.body;
    ASSERT_EQ(call("PUT", "conversations/c2", conversation("c2", "Soup \\\"recipes\\\"", "leek and potato")).status, 200u);

    const auto got = call("GET", "conversations/c1");
    EXPECT_EQ(got.status, 200u);
    EXPECT_EQ(got.body, first);
    EXPECT_EQ(got.header("Content-Type"), "application/json; charset=utf-8");
    const auto listed = call("GET", "conversations");
    EXPECT_EQ(listed.status, 200u);
    // c2 is newer; its title comes back escaped as JSON.
    EXPECT_NE(listed.body.find(R"("id":"c2","title":"Soup \"recipes\"")"), std::string::npos) << listed.body;
    EXPECT_LT(listed.body.find(R"("id":"c2")"), listed.body.find(R"("id":"c1")")) << listed.body;
    EXPECT_TRUE(listed.body.ends_with(R"(],"next":null})")) << listed.body;

    // Rename: the same id put again with another title replaces it.
    ASSERT_EQ(call("PUT", "conversations/c1", conversation("c1", "Borrowing", "explain borrowing")).status, 200u);
    EXPECT_NE(call("GET", "conversations").body.find(R"("id":"c1","title":"Borrowing")"), std::string::npos);

    EXPECT_EQ(call("DELETE", "conversations/c1").body, R"({"deleted":"c1"})");
    EXPECT_EQ(call("GET", "conversations/c1").status, 404u);
    EXPECT_EQ(call("DELETE", "conversations/c1").body, R"({"error":"sluice: no conversation c1"})");
}

TEST_F(ConversationStoreTest, TheListComesInPagesThatFollowEachOther) {
    start_store();
    for (int i = 0; i < 5; ++i) {
        ASSERT_EQ(call("PUT", fmt::format("conversations/p{}", i), conversation(fmt::format("p{}", i), "t", "x")).status, 200u);
        std::this_thread::sleep_for(2ms);  // distinct update times, so the order is known
    }
    std::vector<std::string> seen;
    std::string next;
    for (int pages = 0; pages < 5; ++pages) {
        const auto page = call("GET", next.empty() ? "conversations?limit=2" : fmt::format("conversations?limit=2&before={}", next));
        ASSERT_EQ(page.status, 200u) << page.body;
        for (auto at = page.body.find(R"("id":")"); at != std::string::npos; at = page.body.find(R"("id":")", at + 1)) {
            seen.push_back(page.body.substr(at + 6, 2));
        }
        const auto cursor = page.body.find(R"("next":")");
        if (cursor == std::string::npos) break;
        next = page.body.substr(cursor + 8, page.body.size() - cursor - 8 - 2);
    }
    EXPECT_EQ(seen, (std::vector<std::string>{"p4", "p3", "p2", "p1", "p0"}));
    EXPECT_EQ(call("GET", "conversations?limit=0").status, 400u);
    EXPECT_EQ(call("GET", "conversations?limit=201").status, 400u);
    EXPECT_EQ(call("GET", "conversations?before=nonsense").status, 400u);
    EXPECT_EQ(call("GET", "conversations?limit=2&limit=3").status, 400u);
}

TEST_F(ConversationStoreTest, SearchFindsWordsInTitlesAndMessagesAndNothingElse) {
    start_store();
    ASSERT_EQ(call("PUT", "conversations/a", conversation("a", "Gardening", "when to plant tomatoes")).status, 200u);
    ASSERT_EQ(call("PUT", "conversations/b", conversation("b", "Tomato soup", "a recipe please")).status, 200u);
    ASSERT_EQ(call("PUT", "conversations/c", conversation("c", "Taxes", "deductions")).status, 200u);
    const auto ids = [this](std::string_view query) {
        const auto found = call("GET", fmt::format("conversations?q={}", query));
        EXPECT_EQ(found.status, 200u) << found.body;
        std::string out;
        for (auto at = found.body.find(R"("id":")"); at != std::string::npos; at = found.body.find(R"("id":")", at + 1)) {
            out += found.body[at + 6];
        }
        return out;
    };
    EXPECT_EQ(ids("tomato"), "ba");  // a word's prefix, in a title or a message, newest first
    EXPECT_EQ(ids("TOMATO+soup"), "b");  // every word, any case
    EXPECT_EQ(ids("deductions"), "c");
    EXPECT_EQ(ids("nothing"), "");
    // FTS syntax in the words is taken as text, never as a query.
    EXPECT_EQ(ids("%22tomato%22+OR+taxes"), "");
    EXPECT_EQ(ids("NEAR(tomato*"), "");
}

TEST_F(ConversationStoreTest, AKeyNeverReachesAnotherKeysConversations) {
    start_store(two_keys());
    ASSERT_EQ(call("PUT", "conversations/secret", conversation("secret", "Alice's", "private"), bearer(alice_key)).status, 200u);
    // bob may only chat, and still has conversations of his own.
    ASSERT_EQ(call("PUT", "conversations/mine", conversation("mine", "Bob's", "hello"), bearer(bob_key)).status, 200u);

    EXPECT_EQ(call("GET", "conversations/secret", {}, bearer(bob_key)).status, 404u);
    EXPECT_EQ(call("GET", "conversations/secret/export?format=markdown", {}, bearer(bob_key)).status, 404u);
    EXPECT_EQ(call("DELETE", "conversations/secret", {}, bearer(bob_key)).status, 404u);
    const auto bobs = call("GET", "conversations", {}, bearer(bob_key));
    EXPECT_NE(bobs.body.find(R"("id":"mine")"), std::string::npos);
    EXPECT_EQ(bobs.body.find("secret"), std::string::npos) << bobs.body;
    EXPECT_EQ(call("GET", "conversations?q=private", {}, bearer(bob_key)).body.find("secret"), std::string::npos);
    EXPECT_EQ(call("GET", "export", {}, bearer(bob_key)).body.find("secret"), std::string::npos);
    // bob putting the same id makes his own conversation; alice's is untouched.
    ASSERT_EQ(call("PUT", "conversations/secret", conversation("secret", "Bob's copy", "x"), bearer(bob_key)).status, 200u);
    EXPECT_EQ(call("GET", "conversations/secret", {}, bearer(alice_key)).body, conversation("secret", "Alice's", "private"));
    // Without a key there is no owner to be.
    EXPECT_EQ(call("GET", "conversations").status, 401u);
    const auto me = call("GET", "me", {}, bearer(bob_key));
    EXPECT_TRUE(me.body.ends_with(R"("store":true})")) << me.body;
}

TEST_F(ConversationStoreTest, ExportThenImportElsewhereThenExportAgainIsTheSameBytes) {
    start_store(two_keys());
    ASSERT_EQ(call("PUT", "conversations/one", conversation("one", "First", "a\\nb ✓"), bearer(alice_key)).status, 200u);
    // A document is stored as written: key order, spacing and unknown members survive.
    const std::string spaced = R"({ "messages": [], "id" : "two", "title": "Second", "params": {"temperature": 0.70} })";
    ASSERT_EQ(call("PUT", "conversations/two", spaced, bearer(alice_key)).status, 200u);
    const auto exported = call("GET", "export", {}, bearer(alice_key));
    ASSERT_EQ(exported.status, 200u);
    EXPECT_EQ(exported.header("Content-Disposition"), R"(attachment; filename="sluice-conversations.json")");
    EXPECT_NE(exported.body.find(spaced), std::string::npos) << exported.body;

    const auto imported = call("POST", "import", exported.body, bearer(bob_key));
    EXPECT_EQ(imported.body, R"({"imported":2})");
    EXPECT_EQ(call("GET", "export", {}, bearer(bob_key)).body, exported.body);
    EXPECT_EQ(call("GET", "conversations/two", {}, bearer(bob_key)).body, spaced);
    // Importing again replaces, never duplicates.
    ASSERT_EQ(call("POST", "import", exported.body, bearer(bob_key)).status, 200u);
    EXPECT_EQ(call("GET", "export", {}, bearer(bob_key)).body, exported.body);

    const auto one = call("GET", "conversations/one/export?format=json", {}, bearer(alice_key));
    EXPECT_EQ(one.header("Content-Disposition"), R"(attachment; filename="sluice-one.json")");
    EXPECT_TRUE(one.body.starts_with(R"({"sluice_conversations":1,"conversations":[{"created":)")) << one.body;
    const auto markdown = call("GET", "conversations/one/export?format=markdown", {}, bearer(alice_key));
    EXPECT_EQ(markdown.header("Content-Type"), "text/markdown; charset=utf-8");
    EXPECT_EQ(markdown.body, "# First\n\n## User\n\na\nb ✓\n\n## Assistant\n\nok\n");
}

TEST_F(ConversationStoreTest, BadInputIsRefusedWithItsReasonAndLosesNothing) {
    start_store("limits:\n  max_body_bytes: 64KiB\n");
    const auto kept = conversation("kept", "Kept", "still here");
    ASSERT_EQ(call("PUT", "conversations/kept", kept).status, 200u);
    const auto before = call("GET", "export").body;

    const auto refused = [this](std::string_view method, std::string_view name, std::string_view body) {
        const auto answer = call(method, name, body);
        EXPECT_TRUE(answer.body.starts_with(R"({"error":"sluice: )")) << answer.body;
        return answer.status;
    };
    EXPECT_EQ(refused("PUT", "conversations/x", R"({"id":"x","title":"cut off)"), 400u);
    EXPECT_EQ(refused("PUT", "conversations/x", R"(["id","x"])"), 400u);
    EXPECT_EQ(refused("PUT", "conversations/x", R"({"id":"y"})"), 400u);
    EXPECT_EQ(refused("PUT", "conversations/x", R"({"id":"x","id":"kept"})"), 400u);
    EXPECT_EQ(refused("PUT", "conversations/x", R"({"id":"x","title":7})"), 400u);
    EXPECT_EQ(refused("PUT", "conversations/x", "{\"id\":\"x\",\"title\":\"\xff\"}"), 400u);
    EXPECT_EQ(refused("PUT", "conversations/..%2Fetc", "{}"), 400u);
    EXPECT_EQ(refused("PUT", "conversations/" + std::string(65, 'a'), "{}"), 400u);
    EXPECT_EQ(refused("POST", "conversations/kept", kept), 405u);
    EXPECT_EQ(refused("GET", "conversations/kept/versions", {}), 404u);
    EXPECT_EQ(refused("GET", "conversations/kept/export?format=pdf", {}), 400u);
    EXPECT_EQ(refused("GET", "import", {}), 405u);
    // An import is all or nothing: one bad entry, and none is stored.
    EXPECT_EQ(refused("POST", "import", R"({"sluice_conversations":1,"conversations":[)"
                                        R"({"created":1,"updated":2,"conversation":{"id":"new","title":"ok"}},)"
                                        R"({"created":1,"updated":2,"conversation":{"title":"no id"}}]})"),
              400u);
    EXPECT_EQ(refused("POST", "import", R"({"conversations":[]})"), 400u);
    EXPECT_EQ(refused("POST", "import", "not json"), 400u);
    // A body over limits.max_body_bytes: 413, whether its length is declared or not.
    EXPECT_EQ(refused("POST", "import", std::string(70 * 1024, ' ')), 413u);
    TestClient chunked(port());
    chunked.send_raw("POST /_sluice/api/import HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n" +
                     fmt::format("{:x}\r\n{}\r\n", 70 * 1024, std::string(70 * 1024, ' ')) + "0\r\n\r\n");
    EXPECT_EQ(chunked.read_response().status, 413u);

    EXPECT_EQ(call("GET", "export").body, before);
    EXPECT_EQ(call("GET", "conversations/kept").body, kept);
}

// A body that breaks its chunked framing is 400; one that stops coming is cut at
// timeouts.client_body; neither is stored, and sluice serves on.
TEST_F(ConversationStoreTest, AMalformedOrStalledBodyIsRefusedAndNothingIsStored) {
    start_store("timeouts:\n  client_body: 300ms\n");
    const auto document = conversation("x", "X", "never stored");
    TestClient malformed(port());
    malformed.send_raw("PUT /_sluice/api/conversations/x HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "zz\r\n" + document + "\r\n0\r\n\r\n");
    const auto refused = malformed.read_response();
    EXPECT_EQ(refused.status, 400u);
    EXPECT_TRUE(refused.body.starts_with(R"({"error":"sluice: malformed request body: )")) << refused.body;

    TestClient stalled(port());
    stalled.send_raw(fmt::format("PUT /_sluice/api/conversations/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n{}",
                                 document.size(), document.substr(0, 10)));
    EXPECT_TRUE(stalled.wait_closed(5s));
    EXPECT_EQ(call("GET", "conversations/x").status, 404u);
}

TEST_F(ConversationStoreTest, AFullStoreSays507AndKeepsWhatItHas) {
    start_store({}, "  max_bytes: 1MiB\n");
    const auto kept = conversation("kept", "Kept", "small");
    ASSERT_EQ(call("PUT", "conversations/kept", kept).status, 200u);
    unsigned status = 200;
    for (int i = 0; i < 40 && status == 200; ++i) {
        status = call("PUT", fmt::format("conversations/big{}", i), conversation(fmt::format("big{}", i), "Big", std::string(100 * 1024, 'x'))).status;
    }
    EXPECT_EQ(status, 507u);
    const auto full = call("PUT", "conversations/more", conversation("more", "More", std::string(200 * 1024, 'y')));
    EXPECT_EQ(full.status, 507u);
    EXPECT_NE(full.body.find("the conversation store is full"), std::string::npos) << full.body;
    EXPECT_EQ(call("GET", "conversations/kept").body, kept);
    EXPECT_EQ(call("GET", "conversations/more").status, 404u);
    // Deleting makes room again.
    for (int i = 0; i < 40; ++i) call("DELETE", fmt::format("conversations/big{}", i));
    EXPECT_EQ(call("PUT", "conversations/more", conversation("more", "More", "fits now")).status, 200u);
}

TEST_F(ConversationStoreTest, StoreOffKeepsChatsInTheBrowserAndSaysSo) {
    start_yaml("store: off\n");
    const auto answer = call("GET", "conversations");
    EXPECT_EQ(answer.status, 404u);
    EXPECT_EQ(answer.body, R"x({"error":"sluice: conversations are kept in each browser here (store: off in sluice's config)"})x");
    EXPECT_TRUE(call("GET", "me").body.ends_with(R"("store":false})"));
}

TEST_F(ConversationStoreTest, AForeignPageCannotWriteToTheStore) {
    start_store();
    const auto answer = call("POST", "import", R"({"sluice_conversations":1,"conversations":[]})", {{"Origin", "http://evil.example"}});
    EXPECT_EQ(answer.status, 403u);
}

TEST_F(ConversationStoreTest, ANewerSchemaIsRefusedAtStartWithWhatToDo) {
    {
        ConversationDb db(file().string(), 0);
    }
    SQLite::Database(file().string(), SQLite::OPEN_READWRITE).exec("PRAGMA user_version = 99");
    try {
        start_store();
        FAIL() << "sluice started on a store of a newer schema";
    } catch (const std::runtime_error& error) {
        EXPECT_NE(std::string(error.what()).find("was written by a newer sluice (schema 99; this one knows 1)"), std::string::npos)
            << error.what();
    }
}

TEST_F(ConversationStoreTest, AStoreThatCannotBeOpenedStopsTheStartWithWhatToDo) {
    std::ofstream(dir_ / "a-file") << "not a directory";
    try {
        start_yaml(fmt::format("store:\n  path: {}\n", (dir_ / "a-file" / "conversations.db").string()));
        FAIL() << "sluice started without its conversation store";
    } catch (const std::runtime_error& error) {
        const std::string what = error.what();
        EXPECT_TRUE(what.starts_with("cannot open the conversation store " + (dir_ / "a-file" / "conversations.db").string()))
            << what;
        EXPECT_TRUE(what.ends_with("(set store.path to a writable file, or store: off to keep chats in each browser)")) << what;
    }
}

// The real binary, killed (SIGKILL) while conversations are being written, then started again on
// the same file: every conversation it acknowledged is there, whole.
TEST_F(ConversationStoreTest, AKilledSluiceRestartsWithEveryAcknowledgedConversation) {
    const auto config = dir_ / "sluice.yaml";
    std::ofstream(config) << fmt::format("store:\n  path: {}\n", file().string());
    const auto port = closed_loopback_port();
    const std::vector<std::string> command{SLUICE_BINARY, "--config", config.string(), "--listen",
                                           fmt::format("127.0.0.1:{}", port), "--upstream", ollama.url()};
    std::vector<std::string> acknowledged;
    const auto log = (dir_ / "sluice.log").string();
    {
        ChildProcess sluice(command, {}, log);
        auto client = connect_when_listening(port, 10s);
        ASSERT_TRUE(client);
        std::thread killer([&sluice] {
            std::this_thread::sleep_for(300ms);
            sluice.signal(SIGKILL);
        });
        for (int i = 0; i < 100000; ++i) {
            const auto id = fmt::format("k{}", i);
            try {
                if (client->request("PUT", fmt::format("{}conversations/{}", api, id), conversation(id, "t", std::string(4096, 'z'))).status != 200) break;
            } catch (const std::exception&) {
                break;  // killed mid-request
            }
            acknowledged.push_back(id);
        }
        killer.join();
    }
    ASSERT_GT(acknowledged.size(), 10u);
    ChildProcess again(command, {}, log);
    auto client = connect_when_listening(port, 10s);
    ASSERT_TRUE(client);
    for (const auto& id : acknowledged) {
        const auto got = client->request("GET", fmt::format("{}conversations/{}", api, id));
        ASSERT_EQ(got.status, 200u) << id << " was acknowledged and is gone";
        ASSERT_EQ(got.body, conversation(id, "t", std::string(4096, 'z')));
    }
}

}  // namespace
}  // namespace sluice::test
