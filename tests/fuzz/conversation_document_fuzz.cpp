// conversation_document_fuzz: libFuzzer target for what the page (or anyone with a key) puts in
// the conversation store: a conversation document and an export file to import.
//
// Nothing is caught. For any input: a conversation is accepted only with a valid id, and its
// Markdown can be made; an error always says "sluice: ..."; an export file that is accepted,
// written out again and read back gives the same entries and the same bytes (an export imported
// elsewhere exports identically). Build, run and the long run: tests/fuzz/README.md.
#include "sluice/conversation_document.hpp"

#include <simdjson.h>

#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    static simdjson::dom::parser parser;
    std::string error;
    if (const auto facts = sluice::read_conversation(input, parser, error)) {
        if (!sluice::is_conversation_id(facts->id)) std::abort();
        if (sluice::conversation_markdown(input, parser).empty()) std::abort();  // at least the title line
    } else if (!error.starts_with("sluice: ")) {
        std::abort();
    }
    error.clear();
    const auto entries = sluice::read_export_file(input, parser, error);
    if (!entries) {
        if (!error.starts_with("sluice: ")) std::abort();
        return 0;
    }
    std::vector<sluice::ExportedConversation> exported;
    for (const auto& entry : *entries) exported.push_back(entry.exported);
    const auto written = sluice::export_file(exported);
    const auto again = sluice::read_export_file(written, parser, error);
    if (!again || again->size() != entries->size()) std::abort();
    std::vector<sluice::ExportedConversation> exported_again;
    for (std::size_t i = 0; i < again->size(); ++i) {
        const auto& first = (*entries)[i];
        const auto& second = (*again)[i];
        if (first.exported.document != second.exported.document || first.exported.created != second.exported.created ||
            first.exported.updated != second.exported.updated || first.facts.id != second.facts.id ||
            first.facts.text != second.facts.text) {
            std::abort();
        }
        exported_again.push_back(second.exported);
    }
    if (sluice::export_file(exported_again) != written) std::abort();
    return 0;
}
