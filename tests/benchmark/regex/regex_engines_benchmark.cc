// The tokenizer's regex engine against Oniguruma, the engine Hugging Face tokenizers compiles
// tokenizer.json patterns with. sparsegate runs those patterns on PCRE2 after rewriting the escapes
// whose meaning differs (regex.h); this measures whether Oniguruma itself would do as well.
//
//   regex_engines_benchmark --corpus CORPUS.jsonl [--runs 5] [--copies 20] TOKENIZER.json...
//
// For every {"Regex": ...} pattern of each tokenizer.json and every case of the corpus (one JSON
// string a line): the match spans of both engines, which must be identical. Then the time of each
// engine to find all matches in the whole corpus repeated --copies times (median of --runs), and
// the time of the full sparsegate tokenizer's Encode on the same texts, so that the regex's share
// of tokenization is known. Prints one JSON object.
#include <oniguruma.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "difficulty_service/core/tokenizer/regex.h"
#include "difficulty_service/core/tokenizer/tokenizer.h"
#include "difficulty_service/core/tokenizer/utf8.h"
#include "nlohmann/json.hpp"

namespace sparsegate {
namespace {

using Spans = std::vector<Regex::Match>;

// One Oniguruma pattern, searched the way the onig crate's find_iter (and so Hugging Face) steps:
// an empty match right after the previous match is skipped by one character.
class OnigPattern {
 public:
  explicit OnigPattern(const std::string& pattern) {
    OnigErrorInfo info;
    const auto* p = reinterpret_cast<const OnigUChar*>(pattern.data());
    const int rc = onig_new(&regex_, p, p + pattern.size(), ONIG_OPTION_NONE, ONIG_ENCODING_UTF8,
                            ONIG_SYNTAX_RUBY, &info);
    if (rc != ONIG_NORMAL) {
      OnigUChar message[ONIG_MAX_ERROR_MESSAGE_LEN];
      onig_error_code_to_str(message, rc, &info);
      throw std::runtime_error("oniguruma: " + pattern + ": " + reinterpret_cast<char*>(message));
    }
    region_ = onig_region_new();
  }
  ~OnigPattern() {
    onig_region_free(region_, 1);
    onig_free(regex_);
  }

  void FindAll(const std::string& text, Spans* out) const {
    const auto* start = reinterpret_cast<const OnigUChar*>(text.data());
    const auto* end = start + text.size();
    size_t from = 0;
    bool have_last = false;
    size_t last_end = 0;
    while (from <= text.size()) {
      const int at = onig_search(regex_, start, end, start + from, end, region_, ONIG_OPTION_NONE);
      if (at < 0) break;
      const size_t b = region_->beg[0], e = region_->end[0];
      if (b == e && have_last && last_end == e) {
        from += from < text.size() ? utf8::SequenceLength(static_cast<unsigned char>(text[from])) : 1;
        continue;
      }
      out->push_back(Regex::Match{b, e});
      from = e;
      have_last = true;
      last_end = e;
    }
  }

 private:
  OnigRegex regex_ = nullptr;
  OnigRegion* region_ = nullptr;
};

void CollectRegexPatterns(const nlohmann::json& j, std::vector<std::string>* out) {
  if (j.is_object()) {
    auto it = j.find("Regex");
    if (it != j.end() && it->is_string()) out->push_back(it->get<std::string>());
    for (const auto& [key, value] : j.items()) CollectRegexPatterns(value, out);
  } else if (j.is_array()) {
    for (const auto& value : j) CollectRegexPatterns(value, out);
  }
}

double MedianSeconds(int runs, const std::function<void()>& body) {
  std::vector<double> times;
  for (int r = 0; r < runs; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    body();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

int Main(int argc, char** argv) {
  CLI::App app{"The tokenizer's regex engine (PCRE2) against Oniguruma"};
  std::string corpus_path;
  std::vector<std::string> tokenizers;
  int runs = 5, copies = 20;
  app.add_option("--corpus", corpus_path, "one JSON string a line")->required();
  app.add_option("--runs", runs, "timed runs per engine (median)");
  app.add_option("--copies", copies, "the corpus repeated this many times for timing");
  app.add_option("tokenizers", tokenizers, "tokenizer.json files")->required();
  CLI11_PARSE(app, argc, argv);

  std::vector<std::string> texts;
  std::ifstream corpus(corpus_path);
  for (std::string line; std::getline(corpus, line);) {
    if (!line.empty()) texts.push_back(nlohmann::json::parse(line).get<std::string>());
  }
  size_t corpus_bytes = 0;
  for (const std::string& t : texts) corpus_bytes += t.size();

  OnigEncoding encodings[] = {ONIG_ENCODING_UTF8};
  onig_initialize(encodings, 1);
  nlohmann::json report = {{"corpus_cases", texts.size()}, {"corpus_bytes", corpus_bytes},
                           {"copies", copies}, {"runs", runs}, {"patterns", nlohmann::json::array()}};
  int mismatches = 0;
  for (const std::string& path : tokenizers) {
    std::ifstream in(path);
    const nlohmann::json j = nlohmann::json::parse(in);
    std::vector<std::string> patterns;
    CollectRegexPatterns(j, &patterns);
    auto tokenizer = Tokenizer::FromJson(j, path);
    if (!tokenizer.ok()) throw std::runtime_error(std::string(tokenizer.status().message()));
    const double encode_s = MedianSeconds(runs, [&] {
      for (int c = 0; c < copies; ++c) {
        for (const std::string& t : texts) (void)(*tokenizer)->Encode(t, false);
      }
    });
    for (const std::string& pattern : patterns) {
      auto pcre = Regex::Compile(pattern);
      if (!pcre.ok()) throw std::runtime_error(std::string(pcre.status().message()));
      OnigPattern onig(pattern);
      int differing = 0;
      size_t matches = 0;
      for (size_t i = 0; i < texts.size(); ++i) {
        Spans a, b;
        if (!(*pcre)->FindAll(texts[i], &a).ok()) throw std::runtime_error("pcre2 failed");
        onig.FindAll(texts[i], &b);
        matches += a.size();
        const bool same = a.size() == b.size() &&
                          std::equal(a.begin(), a.end(), b.begin(), [](const auto& x, const auto& y) {
                            return x.begin == y.begin && x.end == y.end;
                          });
        if (!same) {
          ++differing;
          if (differing <= 3) std::cerr << path << ": case " << i + 1 << " differs for " << pattern << "\n";
        }
      }
      mismatches += differing;
      Spans scratch;
      const double pcre_s = MedianSeconds(runs, [&] {
        for (int c = 0; c < copies; ++c) {
          for (const std::string& t : texts) {
            scratch.clear();
            (void)(*pcre)->FindAll(t, &scratch);
          }
        }
      });
      const double onig_s = MedianSeconds(runs, [&] {
        for (int c = 0; c < copies; ++c) {
          for (const std::string& t : texts) {
            scratch.clear();
            onig.FindAll(t, &scratch);
          }
        }
      });
      const double mb = static_cast<double>(corpus_bytes) * copies / 1e6;
      report["patterns"].push_back({{"tokenizer", path},
                                    {"pattern", pattern},
                                    {"matches", matches},
                                    {"cases_differing", differing},
                                    {"pcre2_mb_per_s", mb / pcre_s},
                                    {"oniguruma_mb_per_s", mb / onig_s},
                                    {"oniguruma_over_pcre2_time", onig_s / pcre_s},
                                    {"encode_mb_per_s", mb / encode_s},
                                    {"regex_share_of_encode", pcre_s / encode_s},
                                    {"encode_with_oniguruma_over_encode", (encode_s - pcre_s + onig_s) / encode_s}});
    }
  }
  report["cases_differing"] = mismatches;
  onig_end();
  std::cout << report.dump(1) << "\n";
  return mismatches == 0 ? 0 : 1;
}

}  // namespace
}  // namespace sparsegate

int main(int argc, char** argv) {
  try {
    return sparsegate::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "regex_engines_benchmark: " << e.what() << "\n";
    return 2;
  }
}
