#include "difficulty_service/core/tokenizer/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <cctype>

#include "absl/strings/str_cat.h"
#include "difficulty_service/core/tokenizer/absl_view.h"
#include "difficulty_service/core/tokenizer/utf8.h"

namespace sparsegate {
namespace {

// Unicode White_Space, spelled for use inside a character class.
constexpr const char kWhiteSpace[] =
    "\\t-\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}";
// Oniguruma's Unicode \w: Letter, Mark, Decimal_Number, Connector_Punctuation.
constexpr const char kWord[] = "\\p{L}\\p{M}\\p{Nd}\\p{Pc}";
constexpr const char kHexDigit[] = "0-9a-fA-F";

std::string Pcre2Message(int code) {
  PCRE2_UCHAR buf[256];
  pcre2_get_error_message(code, buf, sizeof(buf));
  return reinterpret_cast<const char*>(buf);
}

// Each thread keeps one JIT stack: the default 32 KiB machine stack is too small for the
// backtracking that patterns like \s+(?!\S) do on long whitespace runs.
class ThreadMatchState {
 public:
  ThreadMatchState() {
    context_ = pcre2_match_context_create(nullptr);
    stack_ = pcre2_jit_stack_create(32 * 1024, 16 * 1024 * 1024, nullptr);
    if (context_ != nullptr && stack_ != nullptr) pcre2_jit_stack_assign(context_, nullptr, stack_);
  }
  ~ThreadMatchState() {
    pcre2_jit_stack_free(stack_);
    pcre2_match_context_free(context_);
  }
  pcre2_match_context* context() const { return context_; }

 private:
  pcre2_match_context* context_;
  pcre2_jit_stack* stack_;
};

}  // namespace

absl::StatusOr<std::string> TranslateOnigurumaPattern(std::string_view p) {
  std::string out;
  out.reserve(p.size() + 64);
  bool in_class = false;
  size_t class_open = 0;  // offset in `p` of the '[' that opened the current class
  for (size_t i = 0; i < p.size();) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char d = p[i + 1];
      i += 2;
      switch (d) {
        case 's':
          absl::StrAppend(&out, in_class ? "" : "[", kWhiteSpace, in_class ? "" : "]");
          continue;
        case 'S':
          // Inside a class there is no way to spell "not White_Space" as a set member; PCRE2's own
          // \S differs from it only for U+180E.
          if (in_class) absl::StrAppend(&out, "\\S"); else absl::StrAppend(&out, "[^", kWhiteSpace, "]");
          continue;
        case 'w':
          absl::StrAppend(&out, in_class ? "" : "[", kWord, in_class ? "" : "]");
          continue;
        case 'W':
          if (in_class) absl::StrAppend(&out, "\\W"); else absl::StrAppend(&out, "[^", kWord, "]");
          continue;
        case 'h':
          absl::StrAppend(&out, in_class ? "" : "[", kHexDigit, in_class ? "" : "]");
          continue;
        case 'H':
          if (in_class) {
            return absl::UnimplementedError(
                absl::StrCat("\\H inside a character class at offset ", i - 2, " is not supported"));
          }
          absl::StrAppend(&out, "[^", kHexDigit, "]");
          continue;
        case 'u':
          // Ruby's \uHHHH; PCRE2 spells it \x{HHHH}.
          if (i + 4 <= p.size() && std::isxdigit(static_cast<unsigned char>(p[i])) &&
              std::isxdigit(static_cast<unsigned char>(p[i + 1])) &&
              std::isxdigit(static_cast<unsigned char>(p[i + 2])) &&
              std::isxdigit(static_cast<unsigned char>(p[i + 3]))) {
            absl::StrAppend(&out, "\\x{", AsAbsl(p.substr(i, 4)), "}");
            i += 4;
            continue;
          }
          out.append("\\u");
          continue;
        default:
          out.push_back('\\');
          out.push_back(d);
          continue;
      }
    }
    if (in_class) {
      if (c == '[') {
        if (i + 1 < p.size() && p[i + 1] == ':') {  // POSIX bracket such as [:alpha:]
          const size_t close = p.find(":]", i + 2);
          if (close == std::string_view::npos) {
            return absl::InvalidArgumentError(absl::StrCat("unterminated POSIX bracket at offset ", i));
          }
          out.append(p.substr(i, close + 2 - i));
          i = close + 2;
          continue;
        }
        return absl::UnimplementedError(
            absl::StrCat("nested character class at offset ", i, " is not supported"));
      }
      if (c == '&' && i + 1 < p.size() && p[i + 1] == '&') {
        return absl::UnimplementedError(
            absl::StrCat("character class intersection (&&) at offset ", i, " is not supported"));
      }
      // A ']' right after '[' or '[^' is a literal in both engines.
      const size_t first = class_open + 1 + (p[class_open + 1] == '^' ? 1 : 0);
      if (c == ']' && i != first) in_class = false;
      out.push_back(c);
      ++i;
      continue;
    }
    if (c == '[') {
      in_class = true;
      class_open = i;
    }
    out.push_back(c);
    ++i;
  }
  return out;
}

absl::StatusOr<std::unique_ptr<Regex>> Regex::Compile(std::string_view pattern) {
  absl::StatusOr<std::string> translated = TranslateOnigurumaPattern(pattern);
  if (!translated.ok()) {
    return absl::Status(translated.status().code(),
                        absl::StrCat("regex \"", AsAbsl(pattern), "\": ", translated.status().message()));
  }
  return CompilePcre2(*translated, pattern);
}

absl::StatusOr<std::unique_ptr<Regex>> Regex::CompileLiteral(std::string_view text) {
  std::string escaped;
  for (char c : text) {
    if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) escaped.push_back('\\');
    escaped.push_back(c);
  }
  return CompilePcre2(escaped, text);
}

absl::StatusOr<std::unique_ptr<Regex>> Regex::CompilePcre2(const std::string& pcre_pattern,
                                                           std::string_view original) {
  pcre2_compile_context* cctx = pcre2_compile_context_create(nullptr);
  // Oniguruma's '.' excludes only \n, and its ^/$ see only \n as a line end.
  pcre2_set_newline(cctx, PCRE2_NEWLINE_LF);
  int error = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pcre_pattern.data()), pcre_pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE, &error, &error_offset, cctx);
  pcre2_compile_context_free(cctx);
  if (code == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("regex \"", AsAbsl(original), "\" does not compile: ",
                                                   Pcre2Message(error), " (offset ", error_offset,
                                                   " of the PCRE2 form \"", pcre_pattern, "\")"));
  }
  // Without JIT (e.g. an architecture PCRE2 has no JIT for) the interpreter gives the same results.
  const bool jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  return std::unique_ptr<Regex>(new Regex(code, jit, std::string(original)));
}

absl::StatusOr<std::unique_ptr<Regex>> MakePattern(const nlohmann::json& j, const JsonPath& at) {
  if (!j.is_object()) return at.Invalid("expected {\"String\": ...} or {\"Regex\": ...}");
  absl::StatusOr<std::unique_ptr<Regex>> re;
  if (j.contains("String")) {
    absl::StatusOr<std::string> s = GetString(j, at, "String");
    if (!s.ok()) return s.status();
    re = Regex::CompileLiteral(*s);
  } else if (j.contains("Regex")) {
    absl::StatusOr<std::string> s = GetString(j, at, "Regex");
    if (!s.ok()) return s.status();
    re = Regex::Compile(*s);
  } else {
    return at.Invalid("expected {\"String\": ...} or {\"Regex\": ...}");
  }
  if (!re.ok()) return absl::Status(re.status().code(), at.ToString() + ": " + std::string(re.status().message()));
  return re;
}

Regex::~Regex() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

absl::Status Regex::FindAll(std::string_view text, std::vector<Match>* out) const {
  static thread_local ThreadMatchState state;
  auto* code = static_cast<pcre2_code*>(code_);
  pcre2_match_data* md = pcre2_match_data_create(1, nullptr);
  if (md == nullptr) return absl::ResourceExhaustedError("out of memory for PCRE2 match data");
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  const size_t n = text.size();
  size_t search_from = 0;
  bool have_last = false;
  size_t last_match_end = 0;
  absl::Status status;
  while (search_from <= n) {
    int rc = 0;
    if (jit_) rc = pcre2_jit_match(code, subject, n, search_from, 0, md, state.context());
    if (!jit_ || rc == PCRE2_ERROR_JIT_STACKLIMIT) {
      // The interpreter keeps its backtracking state on the heap, so it copes where the JIT
      // stack ran out.
      rc = pcre2_match(code, subject, n, search_from, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md, nullptr);
    }
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      status = absl::ResourceExhaustedError(absl::StrCat("regex \"", pattern_, "\" failed at byte ",
                                                         search_from, ": ", Pcre2Message(rc)));
      break;
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    const size_t begin = ov[0], end = ov[1];
    if (begin == end && have_last && last_match_end == end) {
      search_from += search_from < n ? utf8::SequenceLength(static_cast<unsigned char>(text[search_from])) : 1;
      continue;
    }
    out->push_back(Match{begin, end});
    search_from = end;
    have_last = true;
    last_match_end = end;
  }
  pcre2_match_data_free(md);
  return status;
}

}  // namespace sparsegate
