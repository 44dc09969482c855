// Hint cutting: step-boundary preference (line, sentence, word, character), Unicode safety (never
// inside a code point or a grapheme cluster), LaTeX math spans of every kind, and the templates.
#include <gtest/gtest.h>

#include <string>

#include "trainer_plugin/hints/hint_cutter.h"
#include "trainer_plugin/hints/hint_template.h"
#include "trainer_plugin/hints/math_spans.h"

namespace sparsegate::plugin {
namespace {

HintCut Cut(std::string_view text, double fraction, HintCutOptions options = {}) {
  absl::StatusOr<HintCut> cut = CutReferenceSolution(text, fraction, options);
  EXPECT_TRUE(cut.ok()) << cut.status();
  return cut.ok() ? *cut : HintCut{};
}

// Number of code points in a valid UTF-8 string.
size_t CodePoints(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

TEST(HintCut, PrefersTheLastLineEndBeforeTheTarget) {
  const std::string text =
      "Let x be the number of apples.\nThen 3x + 2 = 11, so 3x = 9.\nHence x = 3. We check: 3 * 3 + 2 = 11.\n"
      "The answer is 3.";
  const HintCut cut = Cut(text, 0.55);  // target: code point 63 of 115, just past the 2nd line
  EXPECT_EQ(cut.boundary, CutBoundary::kLineEnd);
  EXPECT_EQ(text.substr(0, cut.bytes), "Let x be the number of apples.\nThen 3x + 2 = 11, so 3x = 9.");
}

TEST(HintCut, FallsBackToASentenceEnd) {
  const std::string text =
      "We factor the quadratic first. The roots are 2 and 5. Their sum is 7 and their product is 10. So the "
      "answer is 7.";
  const HintCut cut = Cut(text, 0.5);
  EXPECT_EQ(cut.boundary, CutBoundary::kSentenceEnd);
  EXPECT_EQ(text.substr(0, cut.bytes), "We factor the quadratic first. The roots are 2 and 5.");
  // A decimal point is not a sentence end.
  const std::string decimals = "the value is 3.14159 and then 2.71828 appears and finally 1.41421 closes it";
  EXPECT_NE(Cut(decimals, 0.45).boundary, CutBoundary::kSentenceEnd);
}

TEST(HintCut, FallsBackToAWordBoundary) {
  const std::string text = "multiply both sides by the common denominator and collect the terms in x on the left";
  const HintCut cut = Cut(text, 0.5);
  EXPECT_EQ(cut.boundary, CutBoundary::kWordBoundary);
  const std::string prefix = text.substr(0, cut.bytes);
  EXPECT_EQ(text[cut.bytes], ' ');    // cut at a word's end...
  EXPECT_NE(prefix.back(), ' ');      // ...so the hint does not end in a space
  EXPECT_LE(CodePoints(prefix), static_cast<size_t>(std::llround(0.5 * CodePoints(text))));
}

TEST(HintCut, LineEndOutsideTheWindowLosesToANearerSentenceEnd) {
  // The only newline is far before the target; keeping only it would throw away most of the hint.
  const std::string text = "Setup.\nFirst we expand everything carefully. Then we simplify the result. Then we "
                           "collect like terms. Finally we solve for x.";
  const HintCut cut = Cut(text, 0.85);
  EXPECT_EQ(cut.boundary, CutBoundary::kSentenceEnd);
  EXPECT_GE(cut.bytes, 0.75 * 0.85 * text.size());
}

TEST(HintCut, CharacterFallbackAndEdges) {
  const std::string text(100, 'a');
  const HintCut cut = Cut(text, 0.25);
  EXPECT_EQ(cut.boundary, CutBoundary::kCharacter);
  EXPECT_EQ(cut.bytes, 25u);
  EXPECT_EQ(Cut(text, 0).bytes, 0u);
  EXPECT_EQ(Cut(text, 0).boundary, CutBoundary::kEmpty);
  EXPECT_EQ(Cut(text, 1).bytes, 100u);
  EXPECT_EQ(Cut(text, 1).boundary, CutBoundary::kWhole);
  EXPECT_EQ(Cut("", 0.5).bytes, 0u);
}

TEST(HintCut, RejectsBadInput) {
  EXPECT_EQ(CutReferenceSolution("abc", 1.5).status().code(), absl::StatusCode::kInvalidArgument);
  const absl::StatusOr<HintCut> bad = CutReferenceSolution("ok \xC3\x28 bad", 0.5);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("byte 3"), std::string::npos) << bad.status();
  HintCutOptions options;
  options.min_kept_share = 0;
  EXPECT_FALSE(CutReferenceSolution("abc", 0.5, options).ok());
}

// Every fraction from 0 to 1 cuts only at the offsets in `allowed`.
void ExpectCutsOnlyAt(const std::string& text, const std::vector<size_t>& allowed) {
  for (int i = 0; i <= 100; ++i) {
    const HintCut cut = Cut(text, i / 100.0);
    EXPECT_NE(std::find(allowed.begin(), allowed.end(), cut.bytes), allowed.end())
        << "fraction " << i / 100.0 << " cut at byte " << cut.bytes << " of '" << text << "'";
  }
}

TEST(HintCut, NeverSplitsACodePoint) {
  const std::string text = "我们先计算两边的和。然后把结果代入原式，得到答案是七。最后检查一遍。";
  std::vector<size_t> starts;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || (static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) starts.push_back(i);
  }
  ExpectCutsOnlyAt(text, starts);
  // CJK sentence ends are preferred when one is in the window.
  const HintCut cut = Cut(text, 0.33);  // target: code point 11 of 34
  EXPECT_EQ(cut.boundary, CutBoundary::kSentenceEnd);
  EXPECT_EQ(text.substr(0, cut.bytes), "我们先计算两边的和。");
}

TEST(HintCut, NeverSplitsAGraphemeCluster) {
  // "e" + COMBINING ACUTE ACCENT, repeated: the only boundaries are before each "e".
  std::string text;
  std::vector<size_t> allowed = {0};
  for (int i = 0; i < 20; ++i) {
    text += "e\xCC\x81";
    allowed.push_back(text.size());
  }
  ExpectCutsOnlyAt(text, allowed);

  // A ZWJ family emoji and a flag are single clusters.
  const std::string family = "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7";  // 👨‍👩‍👧
  const std::string flag = "\xF0\x9F\x87\xAF\xF0\x9F\x87\xB5";                                           // 🇯🇵
  std::string emoji;
  allowed = {0};
  for (int i = 0; i < 6; ++i) {
    emoji += (i % 2 ? flag : family);
    allowed.push_back(emoji.size());
  }
  ExpectCutsOnlyAt(emoji, allowed);
}

TEST(MathSpans, FindsEveryKind) {
  const std::string text = "a $x+1$ b $$y^2$$ c \\(z\\) d \\[w\\] e \\begin{align*}p&=q\\end{align*} f";
  const std::vector<ByteSpan> spans = FindMathSpans(text);
  ASSERT_EQ(spans.size(), 5u);
  EXPECT_EQ(text.substr(spans[0].begin, spans[0].end - spans[0].begin), "$x+1$");
  EXPECT_EQ(text.substr(spans[1].begin, spans[1].end - spans[1].begin), "$$y^2$$");
  EXPECT_EQ(text.substr(spans[2].begin, spans[2].end - spans[2].begin), "\\(z\\)");
  EXPECT_EQ(text.substr(spans[3].begin, spans[3].end - spans[3].begin), "\\[w\\]");
  EXPECT_EQ(text.substr(spans[4].begin, spans[4].end - spans[4].begin), "\\begin{align*}p&=q\\end{align*}");
}

TEST(MathSpans, DollarsThatAreNotMath) {
  EXPECT_TRUE(FindMathSpans("it costs \\$5 and \\$6 today").empty());
  EXPECT_TRUE(FindMathSpans("it costs $5 and $6 today").empty());
  EXPECT_TRUE(FindMathSpans("a line break \\\\[2pt] is not display math").empty());
  EXPECT_TRUE(FindMathSpans("$ x$ has a space after the opener").empty());
  EXPECT_TRUE(FindMathSpans("$a\n\nb$ spans a blank line").empty());
  EXPECT_TRUE(FindMathSpans("\\begin{itemize} text \\end{itemize}").empty());
  // An escaped dollar inside math does not close it.
  const std::vector<ByteSpan> spans = FindMathSpans("$a \\$ b$ rest");
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0], (ByteSpan{0, 8}));
}

TEST(MathSpans, UnclosedDisplayMathRunsToTheEnd) {
  const std::string text = "so $$x = \\frac{1}{2";
  const std::vector<ByteSpan> spans = FindMathSpans(text);
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0], (ByteSpan{3, text.size()}));
}

// Every fraction's cut lies outside every math span of `text`.
void ExpectNoCutInsideMath(const std::string& text) {
  const std::vector<ByteSpan> spans = FindMathSpans(text);
  ASSERT_FALSE(spans.empty());
  for (int i = 0; i <= 100; ++i) {
    const HintCut cut = Cut(text, i / 100.0);
    for (const ByteSpan& s : spans) {
      EXPECT_FALSE(s.begin < cut.bytes && cut.bytes < s.end)
          << "fraction " << i / 100.0 << " cut at " << cut.bytes << " inside [" << s.begin << ", " << s.end << ") of '"
          << text << "'";
    }
  }
}

TEST(HintCut, NeverInsideMath) {
  ExpectNoCutInsideMath("We have $\\frac{a+b}{c} = \\sqrt{d^2 + e^2}$ and therefore the value follows at once.");
  ExpectNoCutInsideMath("Compute $$\\int_0^1 x^2 \\, dx = \\frac{1}{3}$$ which gives the area under the curve.");
  ExpectNoCutInsideMath("Note \\(a^2 + b^2 = c^2 \\text{ for right triangles}\\) so c follows from a and b.");
  ExpectNoCutInsideMath("Then \\[\\sum_{k=1}^{n} k = \\frac{n(n+1)}{2}\\] and we substitute n = 100 to finish.");
  ExpectNoCutInsideMath("Solve \\begin{align} x + y &= 10 \\\\ x - y &= 2 \\end{align} to get x = 6 and y = 4.");
}

TEST(HintCut, MovesBeforeASpanOrJustPastItsEnd) {
  // The target (50% = byte 40) falls early inside a long span: cut before it, at the word end.
  const std::string before = "Start with this: $a + b + c + d + e + f + g + h + i + j + k + l + m + n + o$ end";
  const HintCut cut1 = Cut(before, 0.5);
  EXPECT_EQ(before.substr(0, cut1.bytes), "Start with this:");

  // The target falls just before the end of a short span in a long text: finish the formula.
  std::string after(200, 'w');
  for (size_t i = 10; i < after.size(); i += 10) after[i] = ' ';
  after.replace(96, 8, "$x^{2}$ ");  // a span over bytes [96, 103)
  HintCutOptions options;
  options.math_overshoot_share = 0.05;  // up to 10 bytes past the target
  const HintCut cut2 = Cut(after, 0.5, options);  // target byte 100, inside the span, 3 from its end
  EXPECT_EQ(cut2.bytes, 103u);
  options.math_overshoot_share = 0;  // no overshoot allowed: back to before the span
  const HintCut cut3 = Cut(after, 0.5, options);
  EXPECT_LE(cut3.bytes, 96u);
}

TEST(HintCut, NeverEmptyForANonzeroFraction) {
  const std::string text = "$$\\sum_{i=1}^{10} i = 55$$";
  const HintCut cut = Cut(text, 0.25);
  EXPECT_EQ(cut.bytes, text.size());
}

TEST(HintTemplate, DefaultAndGhpoPlacement) {
  const std::string prompt = "What is 2 + 3?";
  const std::string block = RenderHintBlock(HintTemplate::Default(), "We add 2 and 3.");
  EXPECT_NE(block.find("<partial_solution>\nWe add 2 and 3.\n</partial_solution>"), std::string::npos);
  EXPECT_EQ(ApplyHintBlock(prompt, block), prompt + block);

  const std::string ghpo = ApplyHintBlock(prompt, RenderHintBlock(HintTemplate::Ghpo(), "We add"));
  EXPECT_EQ(ghpo,
            "What is 2 + 3?\n The following text is the beginning part of the answer, which you can refer to for "
            "solving the problem:\nWe add");
}

TEST(HintTemplate, Validation) {
  EXPECT_TRUE(ValidateHintTemplate(HintTemplate::Default()).ok());
  EXPECT_TRUE(ValidateHintTemplate(HintTemplate::Ghpo()).ok());
  EXPECT_FALSE(ValidateHintTemplate({"no placeholder"}).ok());
  EXPECT_FALSE(ValidateHintTemplate({"{hint} and {hint}"}).ok());
  EXPECT_EQ(RenderHintBlock({"[{hint}]"}, "x"), "[x]");
}

}  // namespace
}  // namespace sparsegate::plugin
