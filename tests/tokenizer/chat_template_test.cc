// ChatTemplate against jinja2: each family's template (the real Qwen3 one from the npm package,
// well-known texts of the others under chat_templates/) is rendered by render_chat_template.py
// with /usr/bin/python3 + python3-jinja2, the way transformers renders it, and must equal
// RenderUserPrompt byte for byte.
#include <gtest/gtest.h>

#include <cstdio>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "difficulty_service/core/tokenizer/chat_template.h"
#include "nlohmann/json.hpp"

namespace sparsegate {
namespace {

const std::vector<std::string>& UserTexts() {
  static const std::vector<std::string> texts = {
      "What is 2+2?",
      "  leading and trailing spaces  \n",
      "multi\nline\r\ntext\n\n",
      "unicode: 日本語 🤷🏽‍♀️ café and e\u0301",
      "quotes ' \" and {{ braces }} {% tags %} [INST] <|im_start|>",
      "",
      "\x1c\t python-only whitespace \x1f\u3000",
      "Let $x$ be a real number such that $x^2 + 3x - 4 = 0$. Find all possible values of $x$.",
  };
  return texts;
}

// Renders UserTexts() with jinja2; fails the test (not skips) when Python or jinja2 is missing.
std::vector<std::string> RenderWithJinja(const std::string& config_path) {
  const std::string input = ::testing::TempDir() + "/chat_texts.json";
  std::ofstream(input) << nlohmann::json(UserTexts()).dump();
  const std::string command = std::string(SPARSEGATE_SYSTEM_PYTHON) + " " + SPARSEGATE_RENDER_SCRIPT + " '" +
                              config_path + "' < '" + input + "' 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    ADD_FAILURE() << "cannot run " << command;
    return {};
  }
  std::string output;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) output.append(buf, n);
  const int status = pclose(pipe);
  nlohmann::json rendered = nlohmann::json::parse(output, nullptr, false);
  if (status != 0 || !rendered.is_array()) {
    ADD_FAILURE() << command << " failed (python3-jinja2 is needed; scripts/setup.sh installs it):\n" << output;
    return {};
  }
  return rendered.get<std::vector<std::string>>();
}

void ExpectMatchesJinja(const std::string& config_path, const std::string& family) {
  absl::StatusOr<ChatTemplate> tmpl = ChatTemplate::FromTokenizerConfig(config_path);
  ASSERT_TRUE(tmpl.ok()) << tmpl.status();
  EXPECT_EQ(tmpl->family_name(), family);
  const std::vector<std::string> expected = RenderWithJinja(config_path);
  ASSERT_EQ(expected.size(), UserTexts().size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(tmpl->RenderUserPrompt(UserTexts()[i]), expected[i]) << config_path << ", text " << i;
  }
}

std::string TestConfig(const std::string& name) {
  return std::string(SPARSEGATE_CHAT_TEMPLATE_DIR) + "/" + name + "/tokenizer_config.json";
}

TEST(ChatTemplateTest, Qwen3RealTemplate) {
  if (!std::filesystem::exists(SPARSEGATE_QWEN3_TOKENIZER_CONFIG)) {
    GTEST_SKIP() << "Qwen3 tokenizer_config.json not available (run `npm ci` in tests/tokenizer_parity)";
  }
  ExpectMatchesJinja(SPARSEGATE_QWEN3_TOKENIZER_CONFIG, "chatml");
  absl::StatusOr<ChatTemplate> tmpl = ChatTemplate::FromTokenizerConfig(SPARSEGATE_QWEN3_TOKENIZER_CONFIG);
  ASSERT_TRUE(tmpl.ok());
  EXPECT_EQ(tmpl->RenderUserPrompt("Hi"), "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplateTest, Qwen2DefaultSystemMessage) {
  ExpectMatchesJinja(TestConfig("qwen2"), "chatml");
  absl::StatusOr<ChatTemplate> tmpl = ChatTemplate::FromTokenizerConfig(TestConfig("qwen2"));
  ASSERT_TRUE(tmpl.ok());
  EXPECT_EQ(tmpl->RenderUserPrompt("Hi"),
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\n");
}

TEST(ChatTemplateTest, Qwen25DefaultSystemMessage) {
  ExpectMatchesJinja(TestConfig("qwen2_5"), "chatml");
  absl::StatusOr<ChatTemplate> tmpl = ChatTemplate::FromTokenizerConfig(TestConfig("qwen2_5"));
  ASSERT_TRUE(tmpl.ok());
  EXPECT_NE(tmpl->RenderUserPrompt("Hi").find("You are Qwen, created by Alibaba Cloud. You are a helpful assistant."),
            std::string::npos);
}

TEST(ChatTemplateTest, Llama3) { ExpectMatchesJinja(TestConfig("llama3"), "llama3"); }
TEST(ChatTemplateTest, Llama31SystemBlock) { ExpectMatchesJinja(TestConfig("llama3_1"), "llama3"); }
TEST(ChatTemplateTest, Llama2) { ExpectMatchesJinja(TestConfig("llama2"), "llama2"); }
TEST(ChatTemplateTest, Mistral) { ExpectMatchesJinja(TestConfig("mistral"), "mistral"); }
TEST(ChatTemplateTest, MistralV3) { ExpectMatchesJinja(TestConfig("mistral_v3"), "mistral"); }

class ChatTemplateFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) / ("chat_template_files_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    std::ofstream((dir_ / name).string()) << text;
    return (dir_ / name).string();
  }
  std::filesystem::path dir_;
};

TEST_F(ChatTemplateFilesTest, NamedTemplateListUsesDefault) {
  const nlohmann::json config = {
      {"bos_token", {{"content", "<s>"}, {"__type", "AddedToken"}}},
      {"chat_template",
       {{{"name", "tool_use"}, {"template", "{{ '<|im_start|>' }}"}},
        {{"name", "default"}, {"template", "{{ bos_token }}{{ '[INST] ' + messages[0]['content'] + ' [/INST]' }}"}}}}};
  const std::string path = Write("tokenizer_config.json", config.dump());
  absl::StatusOr<ChatTemplate> tmpl = ChatTemplate::FromTokenizerConfig(dir_.string());  // a model directory
  ASSERT_TRUE(tmpl.ok()) << tmpl.status();
  EXPECT_EQ(tmpl->family_name(), "mistral");
  EXPECT_EQ(tmpl->RenderUserPrompt("hi"), "<s>[INST] hi [/INST]");
  ExpectMatchesJinja(path, "mistral");
}

TEST_F(ChatTemplateFilesTest, ChatTemplateJinjaBesideConfig) {
  Write("tokenizer_config.json", R"({"bos_token": null})");
  Write("chat_template.jinja", "{% for m in messages %}{{'<|im_start|>' + m['role'] + '\\n' + m['content'] + "
                               "'<|im_end|>\\n'}}{% endfor %}{{ '<|im_start|>assistant\\n' }}");
  absl::StatusOr<ChatTemplate> tmpl = ChatTemplate::FromTokenizerConfig((dir_ / "tokenizer_config.json").string());
  ASSERT_TRUE(tmpl.ok()) << tmpl.status();
  EXPECT_EQ(tmpl->RenderUserPrompt("x"), "<|im_start|>user\nx<|im_end|>\n<|im_start|>assistant\n");
}

TEST_F(ChatTemplateFilesTest, ErrorsSayWhatIsWrong) {
  std::string path = Write("tokenizer_config.json", R"({"bos_token": "<s>"})");
  absl::StatusOr<ChatTemplate> tmpl = ChatTemplate::FromTokenizerConfig(path);
  EXPECT_EQ(tmpl.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(tmpl.status().message().find(path + ": no chat_template"), std::string::npos) << tmpl.status();

  path = Write("tokenizer_config.json", R"({"chat_template": "{{ '<start_of_turn>user\n' + messages[0]['content'] }}"})");
  tmpl = ChatTemplate::FromTokenizerConfig(path);
  EXPECT_EQ(tmpl.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(tmpl.status().message().find("belongs to no supported family"), std::string::npos) << tmpl.status();

  path = Write("tokenizer_config.json", R"({"chat_template": [{"name": "rag", "template": "x"}]})");
  tmpl = ChatTemplate::FromTokenizerConfig(path);
  EXPECT_EQ(tmpl.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(tmpl.status().message().find("no template named \"default\""), std::string::npos) << tmpl.status();

  path = Write("tokenizer_config.json",
               R"({"chat_template": "{{ '[SYSTEM_PROMPT]' + sys + '[/SYSTEM_PROMPT]' }}{{ '[INST]' + c + '[/INST]' }}"})");
  tmpl = ChatTemplate::FromTokenizerConfig(path);
  EXPECT_EQ(tmpl.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(tmpl.status().message().find("[SYSTEM_PROMPT]"), std::string::npos) << tmpl.status();

  tmpl = ChatTemplate::FromTokenizerConfig((dir_ / "missing.json").string());
  EXPECT_EQ(tmpl.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(tmpl.status().message().find("missing.json"), std::string::npos) << tmpl.status();

  path = Write("tokenizer_config.json", "{ not json");
  tmpl = ChatTemplate::FromTokenizerConfig(path);
  EXPECT_EQ(tmpl.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sparsegate
