#include "whatif/data/text_metrics.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <map>

#include "whatif/registry/error.hpp"

namespace whatif::data {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Part of a word or number: letters, digits, inner hyphens and signs, apostrophes and any byte of a
// multi-byte UTF-8 character.
bool is_word(char c) {
  const auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) || c == '-' || c == '+' || c == '\'' || u >= 0x80;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

using Gram = std::vector<std::string>;

std::map<Gram, std::int64_t> ngrams(const std::vector<std::string>& tokens, std::size_t n) {
  std::map<Gram, std::int64_t> counts;
  for (std::size_t i = 0; i + n <= tokens.size(); ++i) ++counts[Gram(tokens.begin() + i, tokens.begin() + i + n)];
  return counts;
}

std::size_t lcs_length(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::vector<std::size_t> row(b.size() + 1, 0), previous(b.size() + 1, 0);
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j)
      row[j] = a[i - 1] == b[j - 1] ? previous[j - 1] + 1 : std::max(previous[j], row[j - 1]);
    std::swap(row, previous);
  }
  return previous[b.size()];
}

// Sentences end at '.', '!' or '?' followed by the end or by a space and a capital or a digit ("5
// lesions ..." starts a sentence; "i.e. mild" does not).
std::vector<std::string> sentences(const std::string& text) {
  std::vector<std::string> out;
  std::string current;
  for (std::size_t i = 0; i < text.size(); ++i) {
    current += text[i];
    const char c = text[i];
    if (c != '.' && c != '!' && c != '?') continue;
    std::size_t next = i + 1;
    while (next < text.size() && text[next] == ' ') ++next;
    const bool end = next >= text.size();
    const bool starts = !end && next > i + 1 &&
                        (std::isupper(static_cast<unsigned char>(text[next])) || is_digit(text[next]));
    if (end || starts) {
      const auto first = current.find_first_not_of(' ');
      if (first != std::string::npos) out.push_back(current.substr(first));
      current.clear();
    }
  }
  const auto first = current.find_first_not_of(' ');
  if (first != std::string::npos) out.push_back(current.substr(first));
  return out;
}

const char* kLobes[] = {"right upper lobe", "right middle lobe", "right lower lobe", "left upper lobe",
                        "left lower lobe"};

// The finding a chest change sentence is about: "right pleural effusion", "<lobe> nodule", ...
std::string chest_thing(const std::string& s) {
  for (const char* side : {"right", "left"})
    if (has(s, std::string(side) + " pleural effusion")) return std::string(side) + " pleural effusion";
  for (const char* lobe : kLobes)
    for (const char* what : {" nodule", " consolidation"})
      if (has(s, std::string(lobe) + what)) return std::string(lobe) + what;
  for (const char* thing : {"cardiomegaly", "emphysema"})
    if (has(s, thing)) return thing;
  return "";
}

// The change a sentence of chest_interpretation's change_sentence states, or "".
std::string chest_change(const std::string& s) {
  if (has(s, "resolved") || has(s, "no longer seen")) return "resolved";
  if (has(s, "increased") || has(s, " larger")) return "increased";
  if (has(s, "decreased") || has(s, " smaller")) return "decreased";
  if (has(s, "unchanged") || s.rfind("stable ", 0) == 0) return "unchanged";
  if (s.rfind("new ", 0) == 0 || s.rfind("a new ", 0) == 0) return "new";
  return "";
}

// The level word of an MS or AD sentence, or "".
std::string ms_level(const std::string& s) {
  for (const char* level : {"minimal", "moderate", "high"})
    if (has(s, std::string(" ") + level)) return level;
  return "";
}

// One sentence → its finding; false when the sentence is not of the grammars. `none` is set for
// sentences that are known but state no finding.
bool parse_sentence(std::string s, Finding& finding, bool& none) {
  none = false;
  s = lower(s);
  // chest_interpretation's leading clause: "compared with the baseline 6 months earlier: ...",
  // "interval change over 6 months: ...", "since the baseline (6 months): ...".
  for (const char* lead : {"compared with the baseline ", "interval change over ", "since the baseline ("}) {
    const auto colon = s.find(": ");
    if (s.rfind(lead, 0) == 0 && colon != std::string::npos) s = s.substr(colon + 2);
  }
  if (s.rfind("no interval change", 0) == 0 || s.rfind("no abnormality then or now", 0) == 0) {
    none = true;
    return true;
  }
  if (const std::string thing = chest_thing(s); !thing.empty()) {
    finding = {thing, chest_change(s)};
    return !finding.state.empty();
  }
  // MS reports.
  if (has(s, "lesion load") || has(s, "burden of demyelinating lesions")) {
    finding = {"lesion load", ms_level(s)};
    return !finding.state.empty();
  }
  const bool lesions = has(s, "lesion") || has(s, "foci") || has(s, "focus");
  if (lesions && (s.rfind("no ", 0) == 0 || has(s, "there are no "))) {
    finding = {"white matter lesions", "absent"};
    return true;
  }
  if (has(s, "periventricular") || has(s, "adjacent to the lateral ventricles")) {
    finding = {"lesion distribution", "periventricular"};
    return true;
  }
  if (lesions && has(s, "deep white matter")) {
    finding = {"lesion distribution", "deep"};
    return true;
  }
  if (lesions) {
    finding = {"white matter lesions", "present"};
    return true;
  }
  // AD reports.
  if (has(s, "cognitively normal") || has(s, "mild cognitive impairment") || has(s, "dementia")) {
    finding = {"cognition", has(s, "cognitively normal")           ? "normal"
                            : has(s, "mild cognitive impairment") ? "mild cognitive impairment"
                                                                  : "dementia"};
    return true;
  }
  if (has(s, "hippocamp")) {
    if (has(s, "no hippocampal atrophy") || has(s, "preserved")) finding = {"hippocampal atrophy", "none"};
    else if (has(s, "mild") || has(s, "slight")) finding = {"hippocampal atrophy", "mild"};
    else if (has(s, "marked") || has(s, "severe") || has(s, "pronounced")) finding = {"hippocampal atrophy", "marked"};
    else return false;
    return true;
  }
  if (has(s, "ventric")) {
    if (has(s, "without enlargement") || has(s, "not enlarged")) finding = {"ventricular enlargement", "absent"};
    else if (has(s, "enlarge") || has(s, "above baseline")) finding = {"ventricular enlargement", "present"};
    else return false;
    return true;
  }
  return false;
}

// The grammar's change rule (chest_reports.cpp, change_of): new, resolved, else unchanged within
// max(relative · before, absolute), else the direction.
std::string change_state(double before, double after, double relative, double absolute) {
  if (before <= 0) return "new";
  if (after <= 0) return "resolved";
  if (std::abs(after - before) < std::max(relative * before, absolute)) return "unchanged";
  return after > before ? "increased" : "decreased";
}

double safe_ratio(double a, double b, double if_empty) { return b > 0 ? a / b : if_empty; }

FindingScore finish(std::int64_t tp, std::int64_t predicted, std::int64_t expected) {
  FindingScore s;
  s.true_positives = tp;
  s.predicted = predicted;
  s.expected = expected;
  s.precision = safe_ratio(static_cast<double>(tp), static_cast<double>(predicted), 1.0);
  s.recall = safe_ratio(static_cast<double>(tp), static_cast<double>(expected), 1.0);
  s.f1 = s.precision + s.recall > 0 ? 2 * s.precision * s.recall / (s.precision + s.recall) : 0.0;
  return s;
}

std::int64_t matches(std::vector<Finding> predicted, std::vector<Finding> expected) {
  std::sort(predicted.begin(), predicted.end());
  std::sort(expected.begin(), expected.end());
  std::vector<Finding> common;
  std::set_intersection(predicted.begin(), predicted.end(), expected.begin(), expected.end(),
                        std::back_inserter(common));
  return static_cast<std::int64_t>(common.size());
}

void check_pairs(std::size_t candidates, std::size_t references, const char* what) {
  if (candidates != references)
    throw Error(std::string(what) + ": " + std::to_string(candidates) + " candidates against " +
                std::to_string(references) + " references; pass one reference per candidate");
}

}  // namespace

std::vector<std::string> text_tokens(const std::string& text) {
  std::vector<std::string> tokens;
  std::string word;
  auto flush = [&] {
    if (!word.empty()) tokens.push_back(lower(word));
    word.clear();
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool inner = (c == '.' || c == ',') && i > 0 && i + 1 < text.size() && is_digit(text[i - 1]) &&
                       is_digit(text[i + 1]);
    if (is_word(c) || inner) {
      word += c;
    } else {
      flush();
      if (!std::isspace(static_cast<unsigned char>(c))) tokens.emplace_back(1, c);
    }
  }
  flush();
  return tokens;
}

double bleu(const std::vector<std::string>& candidates, const std::vector<std::string>& references, bool smooth) {
  check_pairs(candidates.size(), references.size(), "bleu");
  if (candidates.empty()) return 0.0;
  std::array<std::int64_t, 4> matched{}, total{};
  std::int64_t c = 0, r = 0;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const auto cand = text_tokens(candidates[i]), ref = text_tokens(references[i]);
    c += static_cast<std::int64_t>(cand.size());
    r += static_cast<std::int64_t>(ref.size());
    for (std::size_t n = 1; n <= 4; ++n) {
      const auto ref_counts = ngrams(ref, n);
      for (const auto& [gram, count] : ngrams(cand, n)) {
        const auto it = ref_counts.find(gram);
        matched[n - 1] += std::min(count, it == ref_counts.end() ? 0 : it->second);  // clipped
        total[n - 1] += count;
      }
    }
  }
  if (c == 0) return 0.0;
  double log_sum = 0;
  for (std::size_t n = 0; n < 4; ++n) {
    const double extra = smooth && n > 0 ? 1.0 : 0.0;
    const double m = static_cast<double>(matched[n]) + extra, t = static_cast<double>(total[n]) + extra;
    if (m <= 0 || t <= 0) return 0.0;
    log_sum += 0.25 * std::log(m / t);
  }
  const double brevity = c > r ? 1.0 : std::exp(1.0 - static_cast<double>(r) / static_cast<double>(c));
  return brevity * std::exp(log_sum);
}

double bleu(const std::string& candidate, const std::string& reference, bool smooth) {
  return bleu(std::vector<std::string>{candidate}, std::vector<std::string>{reference}, smooth);
}

Rouge rouge_l(const std::string& candidate, const std::string& reference) {
  const auto cand = text_tokens(candidate), ref = text_tokens(reference);
  Rouge out;
  const auto l = static_cast<double>(lcs_length(cand, ref));
  if (l == 0) return out;
  out.precision = l / static_cast<double>(cand.size());
  out.recall = l / static_cast<double>(ref.size());
  out.f = 2 * out.precision * out.recall / (out.precision + out.recall);
  return out;
}

double rouge_l(const std::vector<std::string>& candidates, const std::vector<std::string>& references) {
  check_pairs(candidates.size(), references.size(), "rouge_l");
  if (candidates.empty()) return 0.0;
  double sum = 0;
  for (std::size_t i = 0; i < candidates.size(); ++i) sum += rouge_l(candidates[i], references[i]).f;
  return sum / static_cast<double>(candidates.size());
}

ParsedText parse_findings(const std::string& text) {
  ParsedText out;
  for (const auto& sentence : sentences(text)) {
    Finding finding;
    bool none = false;
    if (!parse_sentence(sentence, finding, none)) out.unparsed.push_back(sentence);
    else if (!none) out.findings.push_back(finding);
  }
  return out;
}

std::vector<Finding> chest_change_findings(const ChestFindings& before, const ChestFindings& after) {
  std::vector<Finding> out;
  const char* sides[2] = {"right", "left"};
  for (std::size_t s = 0; s < 2; ++s) {
    const double a = before.effusion_ml[s], b = after.effusion_ml[s];
    if (a > 0 || b > 0) out.push_back({std::string(sides[s]) + " pleural effusion", change_state(a, b, 0.1, 0)});
  }
  int max_id = 0;
  for (const auto* f : {&before, &after})
    for (const auto& n : f->nodules) max_id = std::max(max_id, n.id);
  for (int id = 1; id <= max_id; ++id) {
    const ChestNodule *a = nullptr, *b = nullptr;
    for (const auto& n : before.nodules) if (n.id == id) a = &n;
    for (const auto& n : after.nodules) if (n.id == id) b = &n;
    if (!a && !b) continue;
    out.push_back({std::string(lobe_name((a ? a : b)->lobe)) + " nodule",
                   change_state(a ? a->diameter_mm : 0, b ? b->diameter_mm : 0, 0, 1)});
  }
  if (before.consolidation_ml > 0 || after.consolidation_ml > 0) {
    const int lobe = before.consolidation_ml > 0 ? before.consolidation_lobe : after.consolidation_lobe;
    out.push_back({std::string(lobe_name(lobe)) + " consolidation",
                   change_state(before.consolidation_ml, after.consolidation_ml, 0.1, 0)});
  }
  if (before.cardiomegaly() || after.cardiomegaly())
    out.push_back({"cardiomegaly", change_state(before.cardiomegaly() ? before.ctr : 0,
                                                after.cardiomegaly() ? after.ctr : 0, 0, 0.02)});
  if (before.emphysema_percent > 0 || after.emphysema_percent > 0)
    out.push_back({"emphysema", change_state(before.emphysema_percent, after.emphysema_percent, 0.1, 0)});
  return out;
}

std::vector<Finding> ms_report_findings(int level, std::int64_t lesion_count, double periventricular_fraction) {
  static const char* levels[] = {"minimal", "moderate", "high"};
  std::vector<Finding> out{{"lesion load", levels[std::clamp(level, 0, 2)]}};
  if (lesion_count == 0) {
    out.push_back({"white matter lesions", "absent"});
  } else {
    out.push_back({"white matter lesions", "present"});
    out.push_back({"lesion distribution", periventricular_fraction >= 0.5 ? "periventricular" : "deep"});
  }
  return out;
}

std::vector<Finding> ad_report_findings(int level) {
  static const char* cognition[] = {"normal", "mild cognitive impairment", "dementia"};
  static const char* atrophy[] = {"none", "mild", "marked"};
  const int l = std::clamp(level, 0, 2);
  return {{"cognition", cognition[l]},
          {"hippocampal atrophy", atrophy[l]},
          {"ventricular enlargement", l == 0 ? "absent" : "present"}};
}

FindingScore score_findings(const std::vector<Finding>& predicted, const std::vector<Finding>& expected) {
  return finish(matches(predicted, expected), static_cast<std::int64_t>(predicted.size()),
                static_cast<std::int64_t>(expected.size()));
}

FindingScore score_findings(const std::vector<std::vector<Finding>>& predicted,
                            const std::vector<std::vector<Finding>>& expected) {
  check_pairs(predicted.size(), expected.size(), "score_findings");
  std::int64_t tp = 0, p = 0, e = 0;
  for (std::size_t i = 0; i < predicted.size(); ++i) {
    tp += matches(predicted[i], expected[i]);
    p += static_cast<std::int64_t>(predicted[i].size());
    e += static_cast<std::int64_t>(expected[i].size());
  }
  return finish(tp, p, e);
}

}  // namespace whatif::data
