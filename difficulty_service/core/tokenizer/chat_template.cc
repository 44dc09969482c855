#include "difficulty_service/core/tokenizer/chat_template.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "difficulty_service/core/common/files.h"
#include "difficulty_service/core/common/json_parse.h"
#include "difficulty_service/core/tokenizer/absl_view.h"
#include "difficulty_service/core/tokenizer/utf8.h"
#include "nlohmann/json.hpp"

namespace sparsegate {
namespace {

constexpr size_t kNpos = std::string_view::npos;

bool Contains(std::string_view haystack, std::string_view needle) { return haystack.find(needle) != kNpos; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes the body of a Jinja string literal; Jinja applies Python's unicode-escape rules.
std::string UnescapeLiteral(std::string_view body) {
  std::string out;
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] != '\\' || i + 1 == body.size()) {
      out.push_back(body[i]);
      continue;
    }
    const char e = body[++i];
    switch (e) {
      case 'n': out.push_back('\n'); break;
      case 't': out.push_back('\t'); break;
      case 'r': out.push_back('\r'); break;
      case 'f': out.push_back('\f'); break;
      case 'v': out.push_back('\v'); break;
      case 'a': out.push_back('\a'); break;
      case 'b': out.push_back('\b'); break;
      case '0': out.push_back('\0'); break;
      case '\\': case '\'': case '"': out.push_back(e); break;
      case 'x': case 'u': case 'U': {
        const size_t digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
        char32_t cp = 0;
        bool ok = true;
        for (size_t k = 1; ok && k <= digits; ++k) {
          const int v = i + k < body.size() ? HexValue(body[i + k]) : -1;
          if (v < 0) ok = false; else cp = cp * 16 + v;
        }
        if (ok) {
          utf8::Append(cp, &out);
          i += digits;
        } else {
          out.push_back('\\');
          out.push_back(e);
        }
        break;
      }
      default:  // Python keeps unknown escapes as written
        out.push_back('\\');
        out.push_back(e);
    }
  }
  return out;
}

// A string literal inside a Jinja tag: its decoded text and where it sits in the template.
struct Literal {
  std::string text;
  size_t begin;  // offset of the opening quote
  size_t end;    // offset just past the closing quote
};

// The string literals inside the template's {{ }} and {% %} tags, in order. Literal text between
// tags and {# #} comments are skipped.
std::vector<Literal> TemplateLiterals(std::string_view t) {
  std::vector<Literal> out;
  size_t i = 0;
  while (i + 1 < t.size()) {
    const size_t open = t.find('{', i);
    if (open == kNpos || open + 1 >= t.size()) break;
    const char kind = t[open + 1];
    if (kind == '#') {
      const size_t close = t.find("#}", open + 2);
      i = close == kNpos ? t.size() : close + 2;
      continue;
    }
    if (kind != '{' && kind != '%') {
      i = open + 1;
      continue;
    }
    const std::string_view closer = kind == '{' ? "}}" : "%}";
    size_t j = open + 2;
    while (j < t.size()) {
      const char c = t[j];
      if (c == '\'' || c == '"') {
        size_t k = j + 1;
        while (k < t.size() && t[k] != c) k += t[k] == '\\' ? 2 : 1;
        if (k >= t.size()) return out;  // unterminated: stop, the template is broken anyway
        out.push_back(Literal{UnescapeLiteral(t.substr(j + 1, k - j - 1)), j, k + 1});
        j = k + 1;
        continue;
      }
      if (t.substr(j, 2) == closer) {
        j += 2;
        break;
      }
      ++j;
    }
    i = j;
  }
  return out;
}

// Index of the first literal at or after `from` that contains `marker`, or -1.
int FindLiteral(const std::vector<Literal>& literals, std::string_view marker, size_t from = 0) {
  for (size_t i = from; i < literals.size(); ++i) {
    if (Contains(literals[i].text, marker)) return static_cast<int>(i);
  }
  return -1;
}

// Python's str.isspace(), which Jinja's trim filter and str.strip() use.
bool IsPythonSpace(char32_t c) { return utf8::IsWhiteSpace(c) || (c >= 0x1C && c <= 0x1F); }

std::string_view PythonStrip(std::string_view s) {
  size_t begin = 0, end = s.size();
  while (begin < end) {
    int len;
    if (!IsPythonSpace(utf8::Decode(s.data() + begin, &len))) break;
    begin += len;
  }
  while (end > begin) {
    size_t start = end - 1;
    while (start > begin && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    int len;
    if (!IsPythonSpace(utf8::Decode(s.data() + start, &len))) break;
    end = start;
  }
  return s.substr(begin, end - begin);
}

// Whether a template expression (the code between two literals) applies Jinja's trim filter or
// Python's strip() to what it concatenates.
bool Trims(std::string_view expression) { return Contains(expression, "trim") || Contains(expression, "strip()"); }

// The template's Jinja structure: every {{ }}, {% %} and {# #} closed, and every block tag
// (if, for, macro, call, filter, raw, block, a set without '=') ended in order. Without a Jinja
// engine the families are told by their markers, so a template cut short would otherwise render
// a different prompt with no word said. Written by hand: no Jinja parser for C++ is packaged here,
// and nesting is all that needs checking.
absl::Status CheckJinjaStructure(std::string_view t) {
  std::vector<std::pair<std::string, size_t>> open;  // block tag, byte offset
  for (size_t at = t.find('{'); at != kNpos && at + 1 < t.size(); at = t.find('{', at + 1)) {
    const char kind = t[at + 1];
    const std::string_view close = kind == '{' ? "}}" : kind == '%' ? "%}" : kind == '#' ? "#}" : "";
    if (close.empty()) continue;
    const size_t end = t.find(close, at + 2);
    if (end == kNpos)
      return absl::InvalidArgumentError(absl::StrCat("'{", std::string(1, kind), "' at byte ", at, " is never closed"));
    if (kind == '%') {
      std::string_view body = t.substr(at + 2, end - at - 2);
      while (!body.empty() && (body.front() == '-' || body.front() == '+' || body.front() == ' ' || body.front() == '\n'))
        body.remove_prefix(1);
      const std::string word(body.substr(0, body.find_first_of(" \t\n-+%")));
      const bool block = word == "if" || word == "for" || word == "macro" || word == "call" || word == "filter" ||
                         word == "raw" || word == "block" || word == "generation" || (word == "set" && !Contains(body, "="));
      if (block) {
        open.emplace_back(word, at);
      } else if (word.rfind("end", 0) == 0) {
        if (open.empty() || open.back().first != word.substr(3))
          return absl::InvalidArgumentError(
              absl::StrCat("'", word, "' at byte ", at, " closes no open '", word.substr(3), "'"));
        open.pop_back();
      } else if ((word == "elif" || word == "else") &&
                 (open.empty() || (open.back().first != "if" && open.back().first != "for"))) {
        return absl::InvalidArgumentError(absl::StrCat("'", word, "' at byte ", at, " is outside any 'if' or 'for'"));
      }
    }
    at = end + 1;
  }
  if (!open.empty())
    return absl::InvalidArgumentError(absl::StrCat("'", open.back().first, "' at byte ", open.back().second,
                                                   " is never ended (a template cut short?)"));
  return absl::OkStatus();
}

}  // namespace

std::string ChatTemplate::family_name() const {
  switch (family_) {
    case Family::kChatMl: return "chatml";
    case Family::kLlama3: return "llama3";
    case Family::kLlama2: return "llama2";
    case Family::kMistral: return "mistral";
  }
  return "unknown";
}

std::string ChatTemplate::RenderUserPrompt(std::string_view user_text) const {
  const std::string_view text = trim_user_text_ ? PythonStrip(user_text) : user_text;
  std::string out;
  out.reserve(prefix_.size() + text.size() + suffix_.size());
  out.append(prefix_);
  out.append(text);
  out.append(suffix_);
  return out;
}

absl::StatusOr<ChatTemplate> ChatTemplate::FromTemplateText(std::string_view t, std::string bos_token,
                                                            const std::string& source) {
  if (absl::Status structure = CheckJinjaStructure(t); !structure.ok())
    return absl::InvalidArgumentError(
        absl::StrCat(QuotedPath(source), ": the chat template does not parse: ", structure.message()));
  const std::vector<Literal> literals = TemplateLiterals(t);
  ChatTemplate result;
  if (Contains(t, "bos_token")) result.prefix_ = std::move(bos_token);

  if (Contains(t, "<|im_start|>")) {
    result.family_ = Family::kChatMl;
    // Qwen 2 / 2.5 write their default system turn as one literal:
    // '<|im_start|>system\nYou are ...<|im_end|>\n'.
    constexpr std::string_view kSystem = "<|im_start|>system\n";
    for (const Literal& literal : literals) {
      const std::string& l = literal.text;
      if (l.rfind(kSystem, 0) != 0) continue;
      const size_t end = l.find("<|im_end|>", kSystem.size());
      if (end != std::string::npos && end > kSystem.size()) {
        absl::StrAppend(&result.prefix_, AsAbsl(l.substr(0, end)), "<|im_end|>\n");
        break;
      }
    }
    absl::StrAppend(&result.prefix_, "<|im_start|>user\n");
    result.suffix_ = "<|im_end|>\n<|im_start|>assistant\n";
    return result;
  }

  if (Contains(t, "<|start_header_id|>")) {
    result.family_ = Family::kLlama3;
    // Llama 3.1+ always open with a system turn that states the knowledge cutoff and a date.
    if (const int cutoff = FindLiteral(literals, "Cutting Knowledge Date:"); cutoff >= 0) {
      // The fallback literal of `set date_string = "26 Jul 2024"`: deterministic, unlike the
      // strftime_now("%d %b %Y") that Llama 3.2+ templates prefer when the renderer offers it.
      std::string date;
      const size_t set = t.find("set date_string = \"");
      if (set != kNpos) {
        const size_t begin = set + std::string_view("set date_string = \"").size();
        const size_t end = t.find('"', begin);
        if (end != kNpos) date = UnescapeLiteral(t.substr(begin, end - begin));
      }
      if (date.empty()) {
        return absl::FailedPreconditionError(
            absl::StrCat(source, ": Llama 3 chat_template has a Cutting Knowledge Date system block but no "
                                 "literal `set date_string = \"...\"` to take the date from"));
      }
      absl::StrAppend(&result.prefix_, "<|start_header_id|>system<|end_header_id|>\n\n", literals[cutoff].text, "Today Date: ", date,
                      "\n\n<|eot_id|>");
    }
    absl::StrAppend(&result.prefix_, "<|start_header_id|>user<|end_header_id|>\n\n");
    result.suffix_ = "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
    // The user turn is the first "'<|end_header_id|>\n\n' + <content> + '<|eot_id|>'" whose middle
    // reads a message content; whether that middle trims decides. (Subscripts such as
    // message['content'] are literals too, hence the walk back to the header literal.)
    for (size_t i = 0; i < literals.size(); ++i) {
      if (literals[i].text.rfind("<|eot_id|>", 0) != 0) continue;
      size_t j = i;
      while (j > 0 && !Contains(literals[j - 1].text, "<|end_header_id|>")) --j;
      if (j == 0) continue;
      const std::string_view middle = t.substr(literals[j - 1].end, literals[i].begin - literals[j - 1].end);
      if (Contains(middle, "content")) {
        result.trim_user_text_ = Trims(middle);
        break;
      }
    }
    return result;
  }

  if (Contains(t, "[INST]")) {
    if (Contains(t, "[SYSTEM_PROMPT]")) {
      return absl::FailedPreconditionError(absl::StrCat(
          source, ": Mistral chat_template with a [SYSTEM_PROMPT] default system message is not supported"));
    }
    result.family_ = Contains(t, "<<SYS>>") ? Family::kLlama2 : Family::kMistral;
    const int open = FindLiteral(literals, "[INST]");
    const int close = open < 0 ? -1 : FindLiteral(literals, "[/INST]", open);
    if (open < 0 || close < 0) {
      return absl::FailedPreconditionError(
          absl::StrCat(source, ": [INST] chat_template without string literals holding \"[INST]\" and \"[/INST]\""));
    }
    // '[INST] ' and ' [/INST]' in Mistral v0.1 and Llama 2, '[/INST]' without the space in v0.3.
    const std::string& open_text = literals[open].text;
    const std::string& close_text = literals[close].text;
    absl::StrAppend(&result.prefix_, AsAbsl(std::string_view(open_text).substr(open_text.find("[INST]"))));
    result.suffix_ = close_text.substr(0, close_text.find("[/INST]") + std::string_view("[/INST]").size());
    // Llama 2 strips the user text ('[INST] ' + content.strip() + ' [/INST]'); Mistral does not.
    if (open != close) {
      result.trim_user_text_ = Trims(t.substr(literals[open].end, literals[close].begin - literals[open].end));
    }
    return result;
  }

  return absl::FailedPreconditionError(
      absl::StrCat(source, ": chat_template belongs to no supported family (looked for <|im_start|> for ChatML, "
                           "<|start_header_id|> for Llama 3, [INST] for Llama 2 / Mistral)"));
}

absl::StatusOr<ChatTemplate> ChatTemplate::FromTokenizerConfig(const std::string& path_or_dir) {
  std::filesystem::path path(path_or_dir);
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) path /= "tokenizer_config.json";
  const std::string source = path.string();
  absl::StatusOr<std::string> text = ReadFile(source);
  if (!text.ok()) return text.status();
  absl::StatusOr<nlohmann::json> parsed = ParseJson(*text);
  if (!parsed.ok())
    return absl::InvalidArgumentError(absl::StrCat(source, ": not valid JSON: ", parsed.status().message()));
  const nlohmann::json config = *std::move(parsed);
  if (!config.is_object()) return absl::InvalidArgumentError(absl::StrCat(source, ": expected a JSON object"));

  std::string bos;
  if (auto it = config.find("bos_token"); it != config.end()) {
    if (it->is_string()) bos = it->get<std::string>();
    else if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) bos = (*it)["content"];
  }

  std::string template_text;
  auto it = config.find("chat_template");
  if (it != config.end() && it->is_string()) {
    template_text = it->get<std::string>();
  } else if (it != config.end() && it->is_array()) {
    for (const nlohmann::json& named : *it) {
      if (named.is_object() && named.value("name", "") == "default" && named.contains("template") &&
          named["template"].is_string()) {
        template_text = named["template"].get<std::string>();
      }
    }
    if (template_text.empty()) {
      return absl::NotFoundError(absl::StrCat(source, ": chat_template list has no template named \"default\""));
    }
  } else if (it != config.end() && !it->is_null()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": chat_template: expected a string or a list, found ",
                                                   it->type_name()));
  } else {
    // Newer checkpoints keep the template in its own file.
    const std::filesystem::path jinja = path.parent_path() / "chat_template.jinja";
    absl::StatusOr<std::string> from_file = ReadFile(jinja.string());
    if (!from_file.ok()) {
      return absl::NotFoundError(
          absl::StrCat(source, ": no chat_template, and no chat_template.jinja beside it"));
    }
    return FromTemplateText(*from_file, bos, jinja.string());
  }
  return FromTemplateText(template_text, bos, source);
}

}  // namespace sparsegate
