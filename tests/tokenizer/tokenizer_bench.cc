// Single-thread encode throughput: `tokenizer_bench TOKENIZER_JSON_OR_DIR CORPUS_JSONL [SECONDS]`.
// Encodes every case of the corpus (one JSON string per line) in a loop for about SECONDS
// (default 3) and prints MB/s of UTF-8 input and tokens/s. The first pass, with an empty word
// cache, is reported on its own.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "difficulty_service/core/tokenizer/tokenizer.h"
#include "nlohmann/json.hpp"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s TOKENIZER_JSON_OR_DIR CORPUS_JSONL [SECONDS]\n", argv[0]);
    return 2;
  }
  std::filesystem::path path(argv[1]);
  if (std::filesystem::is_directory(path)) path /= "tokenizer.json";
  auto tokenizer = sparsegate::Tokenizer::FromFile(path.string());
  if (!tokenizer.ok()) {
    std::fprintf(stderr, "%s\n", tokenizer.status().ToString().c_str());
    return 1;
  }
  std::vector<std::string> texts;
  std::ifstream in(argv[2]);
  size_t bytes = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    texts.push_back(nlohmann::json::parse(line).get<std::string>());
    bytes += texts.back().size();
  }
  const double seconds = argc > 3 ? std::atof(argv[3]) : 3.0;
  using Clock = std::chrono::steady_clock;
  auto pass = [&]() {
    size_t tokens = 0;
    for (const std::string& t : texts) tokens += (*tokenizer)->Encode(t, false)->size();
    return tokens;
  };
  auto start = Clock::now();
  const size_t tokens_per_pass = pass();
  const double first = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("corpus: %zu cases, %.1f KB, %zu tokens per pass\n", texts.size(), bytes / 1024.0, tokens_per_pass);
  std::printf("first pass (cold word cache): %.2f MB/s\n", bytes / first / 1e6);
  size_t passes = 0;
  start = Clock::now();
  double elapsed = 0;
  while (elapsed < seconds) {
    pass();
    ++passes;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  }
  std::printf("steady state (%zu passes): %.2f MB/s, %.2f M tokens/s\n", passes, passes * bytes / elapsed / 1e6,
              passes * tokens_per_pass / elapsed / 1e6);
  return 0;
}
