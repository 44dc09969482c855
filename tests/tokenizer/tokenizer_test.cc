// Tokenizer tests. The small tokenizer.json files are built here; every expected id list was
// produced by Hugging Face tokenizers (the Rust library, through its Node binding) from the same
// JSON, so these tests pin HF's behaviour rather than our reading of it. The tests on the real
// Qwen3 tokenizer.json run when tests/tokenizer_parity/node_modules holds it (`npm ci` there).
#include <gtest/gtest.h>

#include <utf8proc.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "difficulty_service/core/tokenizer/pre_tokenizer.h"
#include "difficulty_service/core/tokenizer/regex.h"
#include "difficulty_service/core/tokenizer/tokenizer.h"
#include "difficulty_service/core/tokenizer/utf8.h"
#include "nlohmann/json.hpp"

namespace sparsegate {
namespace {

using json = nlohmann::json;
using Ids = std::vector<int32_t>;

// ---------------------------------------------------------------------------------------------
// Fixtures.

// `flags` lists the added-token flags that are true, e.g. "special lstrip".
json Added(int id, const std::string& content, const std::string& flags = "") {
  auto has = [&](const char* f) { return (" " + flags + " ").find(std::string(" ") + f + " ") != std::string::npos; };
  return {{"id", id},
          {"content", content},
          {"single_word", has("single_word")},
          {"lstrip", has("lstrip")},
          {"rstrip", has("rstrip")},
          {"normalized", has("normalized")},
          {"special", has("special")}};
}

// GPT-2 style: ids 0..255 are the byte-level characters of bytes 0..255, then these merges.
const std::vector<std::pair<std::string, std::string>> kMerges = {
    {"h", "e"},  {"l", "l"},     {"he", "ll"}, {"hell", "o"},   {"Ġ", "t"},  {"Ġt", "he"}, {"Ġ", "w"},
    {"o", "r"},  {"Ġw", "or"},   {"l", "d"},   {"Ġwor", "ld"},  {"'", "s"},  {"1", "2"},   {"12", "3"}};

json ByteLevelVocab() {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[ByteLevelChar(static_cast<unsigned char>(b))] = b;
  int id = 256;
  for (const auto& [a, b] : kMerges) vocab[a + b] = id++;  // "hello" = 259, "Ġworld" = 266, "123" = 269
  return vocab;
}

json Gpt2Fixture(bool merges_as_strings, bool add_prefix_space, json added_tokens) {
  json merges = json::array();
  for (const auto& [a, b] : kMerges) {
    if (merges_as_strings) merges.push_back(a + " " + b); else merges.push_back(json::array({a, b}));
  }
  return {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", std::move(added_tokens)},
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", add_prefix_space}, {"trim_offsets", true}, {"use_regex", true}}},
      {"post_processor", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}}},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
      {"model",
       {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr}, {"fuse_unk", false}, {"byte_fallback", false}, {"ignore_merges", false},
        {"vocab", ByteLevelVocab()}, {"merges", merges}}},
  };
}

json Gpt2Fixture(bool merges_as_strings = true, bool add_prefix_space = false) {
  return Gpt2Fixture(merges_as_strings, add_prefix_space, json::array({Added(270, "<|endoftext|>", "special")}));
}

constexpr const char* kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

json Llama3Fixture() {
  json j = Gpt2Fixture(false, false,
                       json::array({Added(271, "<|begin_of_text|>", "special"),
                                    Added(272, "<|end_of_text|>", "special")}));
  j["pre_tokenizer"] = {{"type", "Sequence"},
                        {"pretokenizers",
                         {{{"type", "Split"}, {"pattern", {{"Regex", kLlama3Pattern}}}, {"behavior", "Isolated"}, {"invert", false}},
                          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}}}};
  json bos = {{"SpecialToken", {{"id", "<|begin_of_text|>"}, {"type_id", 0}}}};
  json seq_a = {{"Sequence", {{"id", "A"}, {"type_id", 0}}}};
  j["post_processor"] = {
      {"type", "Sequence"},
      {"processors",
       {{{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}},
        {{"type", "TemplateProcessing"},
         {"single", {bos, seq_a}},
         {"pair", {bos, seq_a, bos, {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}}},
         {"special_tokens",
          {{"<|begin_of_text|>", {{"id", "<|begin_of_text|>"}, {"ids", {271}}, {"tokens", {"<|begin_of_text|>"}}}}}}}}}};
  j["model"]["ignore_merges"] = true;
  j["model"]["vocab"]["Ġxyz"] = 270;  // reachable only because ignore_merges looks the word up whole
  return j;
}

// Llama 2 style SentencePiece BPE: "▁" marks spaces, unknown characters fall back to <0xNN>.
json Llama2Fixture() {
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    tokens.push_back(name);
  }
  for (const char* t : {"▁", "h", "e", "l", "o", "w", "r", "d", "x", "▁h", "▁w", "he", "ll", "hell", "hello",
                        "▁hello", "or", "wor", "▁wor", "ld", "▁world"}) {
    tokens.push_back(t);  // "▁" = 259, "▁hello" = 274, "▁world" = 279
  }
  json vocab = json::object();
  for (size_t i = 0; i < tokens.size(); ++i) vocab[tokens[i]] = i;
  json merges = json::array({"h e", "l l", "he ll", "hell o", "▁ hello", "▁ h", "o r", "w or", "▁ wor", "▁ w", "l d",
                             "▁wor ld"});
  json bos = {{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}};
  json seq_a = {{"Sequence", {{"id", "A"}, {"type_id", 0}}}};
  return {
      {"version", "1.0"},
      {"added_tokens", {Added(0, "<unk>", "special"), Added(1, "<s>", "special"), Added(2, "</s>", "special")}},
      {"normalizer",
       {{"type", "Sequence"},
        {"normalizers",
         {{{"type", "Prepend"}, {"prepend", "▁"}}, {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "▁"}}}}}},
      {"pre_tokenizer", nullptr},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single", {bos, seq_a}},
        {"pair", {bos, seq_a, bos, {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}}},
        {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}}},
      {"decoder",
       {{"type", "Sequence"},
        {"decoders",
         {{{"type", "Replace"}, {"pattern", {{"String", "▁"}}}, {"content", " "}},
          {{"type", "ByteFallback"}},
          {{"type", "Fuse"}},
          {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}},
      {"model",
       {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", "<unk>"}, {"fuse_unk", true}, {"byte_fallback", true},
        {"vocab", vocab}, {"merges", merges}}},
  };
}

// Mistral style: a Metaspace pre-tokenizer that prefixes only the start of the input.
json MetaspaceFixture() {
  json j = Llama2Fixture();
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", "first"}, {"split", false}};
  j["decoder"] = {{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", "first"}, {"split", false}};
  j["model"]["byte_fallback"] = false;
  return j;
}

std::unique_ptr<Tokenizer> Load(const json& j) {
  absl::StatusOr<std::unique_ptr<Tokenizer>> t = Tokenizer::FromJson(j, "test.json");
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? std::move(*t) : nullptr;
}

Ids Enc(const Tokenizer& t, std::string_view text, bool add_special = false) {
  absl::StatusOr<Ids> ids = t.Encode(text, add_special);
  EXPECT_TRUE(ids.ok()) << ids.status();
  return ids.ok() ? *ids : Ids{};
}

// ---------------------------------------------------------------------------------------------
// Byte-level BPE.

TEST(BpeTest, MergesByRankLeftmostFirst) {
  auto t = Load(Gpt2Fixture());
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(Enc(*t, "hello world"), (Ids{259, 266}));
  EXPECT_EQ(Enc(*t, "hello the world's"), (Ids{259, 261, 266, 267}));
  EXPECT_EQ(Enc(*t, "lll"), (Ids{257, 108}));  // "l l" merges at the left pair first
  EXPECT_EQ(Enc(*t, "123123 12"), (Ids{269, 269, 32, 268}));
  EXPECT_EQ(Enc(*t, " hello"), (Ids{32, 259}));
  EXPECT_EQ(Enc(*t, "héllo wörld"), (Ids{104, 195, 169, 257, 111, 262, 195, 182, 114, 265}));
  EXPECT_EQ(Enc(*t, "hello<|endoftext|>world"), (Ids{259, 270, 119, 263, 265}));
  EXPECT_EQ(Enc(*t, ""), Ids{});
}

TEST(BpeTest, MergePairsAndMergeStringsAgree) {
  auto strings = Load(Gpt2Fixture(true));
  auto pairs = Load(Gpt2Fixture(false));
  ASSERT_NE(strings, nullptr);
  ASSERT_NE(pairs, nullptr);
  for (const char* text : {"hello world", "lll", "hello the world's 123"}) {
    EXPECT_EQ(Enc(*strings, text), Enc(*pairs, text)) << text;
  }
}

TEST(BpeTest, AddPrefixSpaceAppliesToEachSection) {
  auto t = Load(Gpt2Fixture(true, true));
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(Enc(*t, "hello world"), (Ids{32, 259, 266}));
  EXPECT_EQ(Enc(*t, " hello"), (Ids{32, 259}));
  EXPECT_EQ(Enc(*t, "<|endoftext|>hello"), (Ids{270, 32, 259}));
  EXPECT_EQ(t->Decode({270, 32, 259}, false), "<|endoftext|> hello");
  EXPECT_EQ(t->Decode({270, 32, 259}, true), " hello");
}

TEST(BpeTest, DecodeRoundTrip) {
  auto t = Load(Gpt2Fixture());
  ASSERT_NE(t, nullptr);
  for (const char* text : {"hello world", "héllo wörld", "tabs\tand\nnewlines\r\n", "emoji 🤷🏽‍♀️ ok", "日本語"}) {
    EXPECT_EQ(t->Decode(Enc(*t, text), false), text);
  }
  EXPECT_EQ(t->Decode({259, 270, 119, 263, 265}, true), "helloworld");
  // A multi-byte character cut between tokens decodes to U+FFFD, as HF's lossy UTF-8 does.
  EXPECT_EQ(t->Decode({104, 195}, false), "h\xEF\xBF\xBD");
  EXPECT_EQ(t->Decode({99999, 259}, false), "hello");  // unknown ids are skipped
}

TEST(BpeTest, VocabularyQueries) {
  auto t = Load(Gpt2Fixture());
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->vocab_size(), 271);
  EXPECT_EQ(t->TokenToId("hello"), 259);
  EXPECT_EQ(t->TokenToId("<|endoftext|>"), 270);
  EXPECT_EQ(t->TokenToId("nope"), std::nullopt);
  EXPECT_TRUE(t->IsSpecial(270));
  EXPECT_FALSE(t->IsSpecial(259));
  EXPECT_EQ(t->IdToToken(266), "Ġworld");
}

TEST(BpeTest, LongRunsMergeWithoutQuadraticRescans) {
  auto t = Load(Gpt2Fixture());
  ASSERT_NE(t, nullptr);
  const std::string run(200000, 'l');  // one pre-token of 200k characters
  Ids ids = Enc(*t, run);
  ASSERT_EQ(ids.size(), 100000u);
  EXPECT_EQ(ids.front(), 257);
  EXPECT_EQ(t->Decode(ids, false), run);
}

// ---------------------------------------------------------------------------------------------
// Added tokens.

json AddedFixture() {
  return Gpt2Fixture(true, false,
                     json::array({Added(270, "<|endoftext|>", "special"),
                                  Added(271, "<L>", "special lstrip"),
                                  Added(272, "<R>", "special rstrip"),
                                  Added(273, "<W>", "single_word"), Added(274, "[A"), Added(275, "[AB]"),
                                  Added(276, "hel", "normalized")}));
}

TEST(AddedTokensTest, StripAndSingleWordAndLongestMatch) {
  auto t = Load(AddedFixture());
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(Enc(*t, "a<L>b"), (Ids{97, 271, 98}));
  EXPECT_EQ(Enc(*t, "a   <L>b"), (Ids{97, 271, 98}));      // lstrip swallows the spaces on the left
  EXPECT_EQ(Enc(*t, "a\n\t<L>"), (Ids{97, 271}));          // any White_Space
  EXPECT_EQ(Enc(*t, "a<R>   b"), (Ids{97, 272, 98}));      // rstrip swallows those on the right
  EXPECT_EQ(Enc(*t, "a <R> b"), (Ids{97, 32, 272, 98}));
  EXPECT_EQ(Enc(*t, "  <L>  <R>  "), (Ids{271, 32, 32, 272}));
  EXPECT_EQ(Enc(*t, "<L><L>"), (Ids{271, 271}));
  EXPECT_EQ(Enc(*t, "x<W>y"), (Ids{120, 60, 87, 62, 121}));  // inside a word: not a match
  EXPECT_EQ(Enc(*t, "x <W> y"), (Ids{120, 32, 273, 32, 121}));
  EXPECT_EQ(Enc(*t, "<W>"), (Ids{273}));
  EXPECT_EQ(Enc(*t, "[AB] [A] [AB"), (Ids{275, 32, 274, 93, 32, 274, 66}));  // leftmost-longest
  EXPECT_EQ(Enc(*t, "hello"), (Ids{276, 108, 111}));  // added tokens win over BPE merges
  EXPECT_EQ(t->Decode({271, 32, 32, 272}, false), "<L>  <R>");
  EXPECT_EQ(t->Decode({271, 32, 32, 272}, true), "  ");
}

TEST(AddedTokensTest, NormalizedTokenMatchesNormalizedText) {
  json j = Gpt2Fixture(true, false,
                       json::array({Added(270, "<|endoftext|>", "special"),
                                    Added(271, "cafe\u0301", "normalized")}));
  j["normalizer"] = {{"type", "NFC"}};
  auto t = Load(j);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(Enc(*t, "cafe\u0301"), (Ids{271}));
  EXPECT_EQ(Enc(*t, "caf\u00e9 au lait"), (Ids{271, 32, 97, 117, 32, 108, 97, 105, 116}));
  EXPECT_EQ(Enc(*t, "cafe"), (Ids{99, 97, 102, 101}));
  // HF decodes a normalized token through its normalized form, which the byte-level decoder then
  // reads as bytes: U+00E9 stands for the lone byte 0xE9.
  EXPECT_EQ(t->Decode({271}, false), "caf\xEF\xBF\xBD");
}

TEST(AddedTokensTest, IdsFollowHuggingFaceRuleNotJsonIds) {
  // The JSON claims id 500 for a token that is not in the vocabulary; HF gives it the first id
  // after the vocabulary (270 entries), and keeps the vocabulary id of a token it already has.
  auto t = Load(Gpt2Fixture(true, false, json::array({Added(500, "<x>", "special"), Added(7, "hello")})));
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->TokenToId("<x>"), 270);
  EXPECT_EQ(Enc(*t, "a<x>hello"), (Ids{97, 270, 259}));
  EXPECT_EQ(t->vocab_size(), 271);
}

// ---------------------------------------------------------------------------------------------
// Llama 3 style: Split regex, ignore_merges, BOS from TemplateProcessing.

TEST(Llama3StyleTest, SplitIgnoreMergesAndTemplate) {
  auto t = Load(Llama3Fixture());
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(Enc(*t, "hello world"), (Ids{259, 266}));
  EXPECT_EQ(Enc(*t, "hello world", true), (Ids{271, 259, 266}));
  EXPECT_EQ(Enc(*t, " xyz"), (Ids{270}));
  EXPECT_EQ(Enc(*t, "12345"), (Ids{269, 52, 53}));  // \p{N}{1,3}
  EXPECT_EQ(Enc(*t, "<|begin_of_text|>hello", true), (Ids{271, 271, 259}));
  EXPECT_EQ(Enc(*t, "I'LL go"), (Ids{73, 39, 76, 76, 32, 103, 111}));  // (?i:'ll)
  EXPECT_EQ(Enc(*t, "a\r\n\r\nb  \n"), (Ids{97, 13, 10, 13, 10, 98, 32, 32, 10}));
  EXPECT_EQ(Enc(*t, "", true), (Ids{271}));
  EXPECT_EQ(t->Decode({271, 259, 266}, true), "hello world");
}

// ---------------------------------------------------------------------------------------------
// SentencePiece-style BPE.

TEST(SentencePieceStyleTest, Llama2PrependReplaceByteFallback) {
  auto t = Load(Llama2Fixture());
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(Enc(*t, "hello world"), (Ids{274, 279}));
  EXPECT_EQ(Enc(*t, "hello world", true), (Ids{1, 274, 279}));
  EXPECT_EQ(Enc(*t, "héllo"), (Ids{268, 198, 172, 271, 263}));  // é -> <0xC3><0xA9>
  EXPECT_EQ(Enc(*t, "hello  world"), (Ids{274, 259, 279}));
  EXPECT_EQ(Enc(*t, "<s>hello</s> world"), (Ids{1, 274, 2, 259, 279}));  // Prepend runs per section
  EXPECT_EQ(Enc(*t, "xyz"), (Ids{259, 267, 124, 125}));
  EXPECT_EQ(Enc(*t, "", true), (Ids{1}));
  EXPECT_EQ(t->Decode({1, 274, 279}, true), "hello world");
  EXPECT_EQ(t->Decode({268, 198, 172, 271, 263}, false), "héllo");
  EXPECT_EQ(t->Decode({1, 274, 2, 259, 279}, false), "<s> hello</s>  world");
  EXPECT_EQ(t->Decode({259, 198}, false), "\xEF\xBF\xBD");  // a lone <0xC3>
}

TEST(SentencePieceStyleTest, MetaspacePrependsOnlyAtInputStart) {
  auto t = Load(MetaspaceFixture());
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(Enc(*t, "hello world"), (Ids{274, 279}));
  EXPECT_EQ(Enc(*t, "<s>hello world"), (Ids{1, 273, 279}));
  EXPECT_EQ(Enc(*t, "hello<s> world"), (Ids{274, 1, 279}));
  EXPECT_EQ(Enc(*t, " hello"), (Ids{274}));
  EXPECT_EQ(Enc(*t, "héllo"), (Ids{268, 0, 271, 263}));  // no byte fallback: <unk>
  EXPECT_EQ(t->Decode({274, 279}, false), "hello world");
  EXPECT_EQ(t->Decode({268, 0, 271, 263}, false), "h<unk>llo");
}

// ---------------------------------------------------------------------------------------------
// Pre-tokenizers on their own.

std::vector<std::string> PreTokenize(const json& spec, const std::string& text) {
  absl::StatusOr<std::unique_ptr<PreTokenizer>> p = MakePreTokenizer(spec, JsonPath("test.json", "pre_tokenizer"));
  EXPECT_TRUE(p.ok()) << p.status();
  if (!p.ok()) return {};
  PreTokens tokens{{text}, true};
  EXPECT_TRUE((*p)->PreTokenize(&tokens).ok());
  return tokens.pieces;
}

using Strings = std::vector<std::string>;

TEST(SplitTest, Behaviors) {
  const std::string text = "the-final--countdown-";
  auto split = [&](const char* behavior, bool invert) {
    return PreTokenize({{"type", "Split"}, {"pattern", {{"String", "-"}}}, {"behavior", behavior}, {"invert", invert}},
                       text);
  };
  EXPECT_EQ(split("Removed", false), (Strings{"the", "final", "countdown"}));
  EXPECT_EQ(split("Removed", true), (Strings{"-", "-", "-", "-"}));
  EXPECT_EQ(split("Isolated", false), (Strings{"the", "-", "final", "-", "-", "countdown", "-"}));
  EXPECT_EQ(split("Isolated", true), (Strings{"the", "-", "final", "-", "-", "countdown", "-"}));
  EXPECT_EQ(split("MergedWithPrevious", false), (Strings{"the-", "final-", "-", "countdown-"}));
  EXPECT_EQ(split("MergedWithPrevious", true), (Strings{"the", "-final", "-", "-countdown", "-"}));
  EXPECT_EQ(split("MergedWithNext", false), (Strings{"the", "-final", "-", "-countdown", "-"}));
  EXPECT_EQ(split("MergedWithNext", true), (Strings{"the-", "final-", "-", "countdown-"}));
  EXPECT_EQ(split("Contiguous", false), (Strings{"the", "-", "final", "--", "countdown", "-"}));
  EXPECT_EQ(split("Contiguous", true), (Strings{"the", "-", "final", "--", "countdown", "-"}));
}

TEST(SplitTest, RegexInvertAndEmptyMatches) {
  auto split = [](const char* regex, const char* behavior, bool invert, const char* text) {
    return PreTokenize({{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", behavior}, {"invert", invert}},
                       text);
  };
  EXPECT_EQ(split("\\d+", "Removed", true, "ab12cd345e"), (Strings{"12", "345"}));
  // Empty matches split as in Oniguruma's find_iter (an empty match right after a match is skipped).
  EXPECT_EQ(split("(?=x)", "Isolated", false, "axbxxc"), (Strings{"a", "xb", "x", "xc"}));
  EXPECT_EQ(split("x*", "Isolated", false, "axbxxc"), (Strings{"a", "x", "b", "xx", "c"}));
  EXPECT_EQ(split("x*", "Contiguous", false, "axbxxc"), (Strings{"a", "x", "b", "xx", "c"}));
}

TEST(PreTokenizerTest, DigitsAndMetaspace) {
  EXPECT_EQ(PreTokenize({{"type", "Digits"}, {"individual_digits", false}}, "ab12c٣4½x"),
            (Strings{"ab", "12", "c", "٣4½", "x"}));
  EXPECT_EQ(PreTokenize({{"type", "Digits"}, {"individual_digits", true}}, "ab12c٣4½x"),
            (Strings{"ab", "1", "2", "c", "٣", "4", "½", "x"}));
  EXPECT_EQ(PreTokenize({{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", "always"}, {"split", true}},
                        "hello  big world"),
            (Strings{"▁hello", "▁", "▁big", "▁world"}));
}

TEST(PreTokenizerTest, ByteLevelGpt2Pattern) {
  EXPECT_EQ(PreTokenize({{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}},
                        "Hello world's  end\n"),
            (Strings{"Hello", "Ġworld", "'s", "Ġ", "Ġend", "Ċ"}));
}

TEST(RegexTest, OnigurumaEscapesMeanUnicodeClasses) {
  absl::StatusOr<std::unique_ptr<Regex>> re = Regex::Compile("\\s+");
  ASSERT_TRUE(re.ok()) << re.status();
  std::vector<Regex::Match> m;
  // U+0085 is White_Space, U+180E and U+FEFF are not.
  ASSERT_TRUE((*re)->FindAll("a\u0085b\u180e\ufeffc", &m).ok());
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].begin, 1u);
  EXPECT_EQ(m[0].end, 3u);
  EXPECT_EQ(*TranslateOnigurumaPattern("\\h[\\h]\\u00e9"), "[0-9a-fA-F][0-9a-fA-F]\\x{00e9}");
  EXPECT_FALSE(Regex::Compile("(unclosed").ok());
  EXPECT_EQ(Regex::Compile("[a-z&&[^aeiou]]").status().code(), absl::StatusCode::kUnimplemented);
}

// ---------------------------------------------------------------------------------------------
// Errors.

TEST(ErrorsTest, InvalidUtf8NamesTheByteOffset) {
  auto t = Load(Gpt2Fixture());
  ASSERT_NE(t, nullptr);
  struct Case {
    std::string text;
    size_t offset;
  };
  for (const Case& c : {Case{"ab\xff", 2}, Case{"ok \xc0\xaf", 3}, Case{"\xed\xa0\x80", 0}, Case{"日本\xe8\xaa", 6},
                        Case{"x\xf4\x90\x80\x80", 1}, Case{"\x80", 0}}) {
    absl::StatusOr<Ids> ids = t->Encode(c.text, false);
    ASSERT_FALSE(ids.ok());
    EXPECT_EQ(ids.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(ids.status().message().find("byte offset " + std::to_string(c.offset)), std::string::npos)
        << ids.status();
  }
  EXPECT_TRUE(t->Encode("\xf0\x9f\x98\x80 \xc3\xa9", false).ok());
}

TEST(ErrorsTest, UnsupportedComponentsAreNamed) {
  struct Case {
    const char* field;
    json value;
    const char* expect;
  };
  const Case cases[] = {
      {"pre_tokenizer", {{"type", "Whitespace"}}, "test.json: pre_tokenizer.type: unsupported pre_tokenizer type \"Whitespace\""},
      {"normalizer", {{"type", "BertNormalizer"}}, "normalizer.type: unsupported normalizer type \"BertNormalizer\""},
      {"decoder", {{"type", "WordPiece"}}, "decoder.type: unsupported decoder type \"WordPiece\""},
      {"post_processor", {{"type", "Nope"}}, "post_processor.type: unsupported post_processor type \"Nope\""},
  };
  for (const Case& c : cases) {
    json j = Gpt2Fixture();
    j[c.field] = c.value;
    absl::StatusOr<std::unique_ptr<Tokenizer>> t = Tokenizer::FromJson(j, "test.json");
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.status().code(), absl::StatusCode::kUnimplemented);
    EXPECT_NE(t.status().message().find(c.expect), std::string::npos) << t.status();
  }
  json j = Gpt2Fixture();
  j["model"] = {{"type", "Unigram"}, {"vocab", json::array()}};
  absl::StatusOr<std::unique_ptr<Tokenizer>> t = Tokenizer::FromJson(j, "m.json");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("m.json: model.type: unsupported model type \"Unigram\""), std::string::npos)
      << t.status();
  j = Gpt2Fixture();
  j["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", {{{"type", "Split"}, {"pattern", {{"Regex", "("}}}, {"behavior", "Isolated"}}}}};
  t = Tokenizer::FromJson(j, "m.json");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("m.json: pre_tokenizer.pretokenizers[0].pattern: regex \"(\" does not compile"),
            std::string::npos)
      << t.status();
}

TEST(ErrorsTest, InvalidModelsAreNamed) {
  json j = Gpt2Fixture();
  j["model"]["merges"].push_back("he zz");
  absl::StatusOr<std::unique_ptr<Tokenizer>> t = Tokenizer::FromJson(j, "m.json");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("m.json: model.merges[14]: merge token \"zz\" is not in the vocabulary"),
            std::string::npos)
      << t.status();
  j = Gpt2Fixture();
  j["model"]["dropout"] = 0.1;
  EXPECT_EQ(Tokenizer::FromJson(j, "m.json").status().code(), absl::StatusCode::kUnimplemented);
  j = Gpt2Fixture();
  j["added_tokens"][0]["special"] = "yes";
  t = Tokenizer::FromJson(j, "m.json");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("m.json: added_tokens[0].special: expected a boolean"), std::string::npos)
      << t.status();
}

TEST(ErrorsTest, FileErrorsNameThePath) {
  absl::StatusOr<std::unique_ptr<Tokenizer>> t = Tokenizer::FromFile("/nonexistent/tokenizer.json");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(t.status().message().find("/nonexistent/tokenizer.json"), std::string::npos);

  const std::string path = ::testing::TempDir() + "/bad_tokenizer.json";
  std::ofstream(path) << "{\"model\": [1, 2";
  t = Tokenizer::FromFile(path);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(t.status().message().find(path + ": not valid JSON"), std::string::npos) << t.status();

  // Used to abort the process (out_of_range escaped), then to overflow the stack.
  for (const std::string& text : {std::string(R"({"model": {"type": "BPE", "dropout": 1e400}})"),
                                  std::string(100000, '[') + std::string(100000, ']')}) {
    std::ofstream(path, std::ios::trunc) << text;
    t = Tokenizer::FromFile(path);
    ASSERT_FALSE(t.ok());
    EXPECT_NE(t.status().message().find(path + ": not valid JSON"), std::string::npos) << t.status();
  }
}

TEST(BpeTest, MaxTokensStopsEncodingEarly) {
  auto t = Load(Gpt2Fixture(true, false, json::array()));
  ASSERT_NE(t, nullptr);
  std::string text;
  for (int i = 0; i < 1000; ++i) text += " a";
  const Ids all = Enc(*t, text);
  absl::StatusOr<Ids> capped = t->Encode(text, false, 10);
  ASSERT_TRUE(capped.ok()) << capped.status();
  EXPECT_GT(capped->size(), 10u);
  EXPECT_LT(capped->size(), all.size());
  EXPECT_TRUE(std::equal(capped->begin(), capped->end(), all.begin()));  // a prefix of the full encoding
  EXPECT_EQ(t->Encode(text, false, all.size()).value(), all);
}

TEST(AddedTokensTest, ANegativeIdInTheFileIsRefused) {
  auto j = Gpt2Fixture(true, false, json::array({Added(-3, "<x>", "special")}));
  absl::StatusOr<std::unique_ptr<Tokenizer>> t = Tokenizer::FromJson(j, "test.json");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("test.json: added_tokens[0].id: is -3"), std::string::npos) << t.status();
}

// Found by tests/fuzz/tokenizer_json_fuzzer: a post-processor's special ids are written verbatim,
// so one naming no token reached the model as an id past the vocabulary.
TEST(PostProcessorTest, ASpecialIdThatIsNoTokenIsRefused) {
  json j = Llama3Fixture();
  j["post_processor"]["processors"][1]["special_tokens"]["<|begin_of_text|>"]["ids"] = {999};
  absl::StatusOr<std::unique_ptr<Tokenizer>> t = Tokenizer::FromJson(j, "test.json");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("test.json: post_processor: adds id 999, which is no token of this tokenizer"),
            std::string::npos)
      << t.status();
  EXPECT_TRUE(Tokenizer::FromJson(Llama3Fixture(), "test.json").ok());  // id 271 is a token
}

// ---------------------------------------------------------------------------------------------
// The real Qwen3 tokenizer.json.

class Qwen3Test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::unique_ptr<Tokenizer>> t = Tokenizer::FromFile(SPARSEGATE_QWEN3_TOKENIZER_JSON);
    if (t.ok()) tokenizer_ = std::move(*t).release();
    else load_error_ = new std::string(t.status().ToString());
  }
  static void TearDownTestSuite() {
    delete tokenizer_;
    tokenizer_ = nullptr;
  }
  void SetUp() override {
    if (tokenizer_ == nullptr) {
      GTEST_SKIP() << "Qwen3 tokenizer.json not available (run `npm ci` in tests/tokenizer_parity): "
                   << (load_error_ ? *load_error_ : "");
    }
  }
  static std::string Nfc(const std::string& s) {
    utf8proc_uint8_t* out = utf8proc_NFC(reinterpret_cast<const utf8proc_uint8_t*>(s.c_str()));
    std::string r(reinterpret_cast<char*>(out));
    std::free(out);
    return r;
  }
  static inline Tokenizer* tokenizer_ = nullptr;
  static inline std::string* load_error_ = nullptr;
};

TEST_F(Qwen3Test, Vocabulary) {
  EXPECT_EQ(tokenizer_->vocab_size(), 151669);
  EXPECT_EQ(tokenizer_->TokenToId("<|im_start|>"), 151644);
  EXPECT_EQ(tokenizer_->TokenToId("<think>"), 151667);
  EXPECT_TRUE(tokenizer_->IsSpecial(151644));
  EXPECT_FALSE(tokenizer_->IsSpecial(151667));  // <think> is an added token but not special
  EXPECT_FALSE(tokenizer_->IsSpecial(9707));
}

TEST_F(Qwen3Test, KnownEncodings) {
  const Tokenizer& t = *tokenizer_;
  EXPECT_EQ(Enc(t, "Hello world"), (Ids{9707, 1879}));
  EXPECT_EQ(Enc(t, "Hello world", true), (Ids{9707, 1879}));  // ByteLevel post-processor adds nothing
  EXPECT_EQ(Enc(t, "a  b\r\n\r\n c"), (Ids{64, 220, 293, 871, 272}));
  EXPECT_EQ(Enc(t, "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n"),
            (Ids{151644, 872, 198, 13048, 1052, 151645, 198, 151644, 77091, 198}));
  // NFC: "e" + U+0301 encodes like the precomposed "é".
  EXPECT_EQ(Enc(t, "cafe\u0301"), Enc(t, "caf\u00e9"));
}

TEST_F(Qwen3Test, DecodeRoundTrip) {
  const Tokenizer& t = *tokenizer_;
  for (const std::string text :
       {"Hello world", "日本語のテキスト", "🤷🏽‍♀️ 👨‍👩‍👧‍👦", "def f(x):\n    return x  # c\r\n", "cafe\u0301 \u1100\u1161\u11a8",
        "<|im_start|>user\nhi<|im_end|>", "   trailing   ", "مرحبا नमस्ते สวัสดี"}) {
    EXPECT_EQ(t.Decode(Enc(t, text), false), Nfc(text));
  }
  EXPECT_EQ(t.Decode(Enc(t, "<|im_start|>user\nhi<|im_end|>"), true), "user\nhi");
  EXPECT_EQ(t.Decode(Enc(t, "<think>x</think>"), true), "<think>x</think>");  // not special: kept
}

TEST_F(Qwen3Test, LongInputs) {
  const Tokenizer& t = *tokenizer_;
  for (const std::string& text : {std::string(300000, 'a'), std::string(1 << 20, ' '), std::string(100000, '7'),
                                  std::string(200000, '\n'), std::string("x") + std::string(500000, ' ') + "y"}) {
    Ids ids = Enc(t, text);
    EXPECT_FALSE(ids.empty());
    EXPECT_EQ(t.Decode(ids, false), text);
  }
}

TEST_F(Qwen3Test, ConcurrentEncodeMatchesSequential) {
  const Tokenizer& t = *tokenizer_;
  std::vector<std::string> texts;
  for (int i = 0; i < 400; ++i) {
    texts.push_back("Question " + std::to_string(i) + ": what is " + std::to_string(i * 7919) + " + 日本 " +
                    std::string(i % 13, ' ') + "<|im_end|> tail" + std::string(i % 5, '\n'));
  }
  std::vector<Ids> expected;
  for (const std::string& s : texts) expected.push_back(Enc(t, s));
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      for (int round = 0; round < 5; ++round) {
        for (size_t i = (k * 37) % texts.size(), n = 0; n < texts.size(); ++n, i = (i + 1) % texts.size()) {
          absl::StatusOr<Ids> ids = t.Encode(texts[i], false);
          if (!ids.ok() || *ids != expected[i]) ++mismatches[k];
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (int k = 0; k < 4; ++k) EXPECT_EQ(mismatches[k], 0) << "thread " << k;
}

}  // namespace
}  // namespace sparsegate
