// UTF-8 helpers for the tokenizer. Validation follows RFC 3629 (no overlong forms, no UTF-16
// surrogates, nothing above U+10FFFF), which is what Rust's `str` and therefore Hugging Face
// tokenizers accept. The decoding helpers assume their input was validated first.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_CORE_TOKENIZER_UTF8_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_CORE_TOKENIZER_UTF8_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace sparsegate::utf8 {

// Byte offset of the first byte that does not begin a well-formed sequence, or
// std::string_view::npos when `s` is entirely valid.
size_t FindInvalid(std::string_view s);

// Length in bytes of the sequence that starts with `lead` (1 for anything that is not a valid
// lead byte, so callers always make progress).
inline int SequenceLength(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xF0) return 4;
  if (lead >= 0xE0) return 3;
  if (lead >= 0xC0) return 2;
  return 1;
}

// Decodes the code point at p (valid UTF-8) and stores its length in *len.
inline char32_t Decode(const char* p, int* len) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  if (u[0] < 0x80) {
    *len = 1;
    return u[0];
  }
  if (u[0] < 0xE0) {
    *len = 2;
    return (char32_t(u[0] & 0x1F) << 6) | (u[1] & 0x3F);
  }
  if (u[0] < 0xF0) {
    *len = 3;
    return (char32_t(u[0] & 0x0F) << 12) | (char32_t(u[1] & 0x3F) << 6) | (u[2] & 0x3F);
  }
  *len = 4;
  return (char32_t(u[0] & 0x07) << 18) | (char32_t(u[1] & 0x3F) << 12) |
         (char32_t(u[2] & 0x3F) << 6) | (u[3] & 0x3F);
}

void Append(char32_t cp, std::string* out);

// Unicode's White_Space property: what Rust's char::is_whitespace, the regex crate's \s and
// Oniguruma's \s all mean.
bool IsWhiteSpace(char32_t cp);

// Rust's String::from_utf8_lossy: each maximal ill-formed subsequence becomes one U+FFFD.
std::string FromBytesLossy(std::string_view bytes);

}  // namespace sparsegate::utf8

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_CORE_TOKENIZER_UTF8_H_
