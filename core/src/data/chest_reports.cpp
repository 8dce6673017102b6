#include "data/chest_reports.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "data/pick.hpp"
#include "whatif/data/text_metrics.hpp"

namespace whatif::data {
namespace {

std::string capitalised(std::string s) {
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

std::string join(const std::vector<std::string>& sentences) {
  std::string text;
  for (const auto& s : sentences) text += (text.empty() ? "" : " ") + s;
  return text;
}

void shuffle(std::vector<std::string>& sentences, std::mt19937_64& rng) {
  for (std::size_t i = sentences.size(); i > 1; --i) std::swap(sentences[i - 1], sentences[rng() % i]);
}

const char* kSides[2] = {"right", "left"};

// "an 8 mm", "a 6 mm"
std::string with_article(const std::string& number) {
  const bool vowel = number[0] == '8' || number.rfind("11 ", 0) == 0 || number.rfind("18 ", 0) == 0;
  return (vowel ? "an " : "a ") + number;
}

std::string degree(double percent) { return percent < 10 ? "mild" : percent < 20 ? "moderate" : "severe"; }

std::vector<std::string> nodule_sentences(const ChestFindings& f, std::mt19937_64& rng) {
  if (f.nodules.empty())
    return {pick(rng, {"No pulmonary nodules.", "No suspicious pulmonary nodule is seen.", "There are no lung nodules."})};
  std::vector<std::string> out;
  for (const auto& n : f.nodules) {
    const std::string d = nodule_mm(n.diameter_mm), lobe = lobe_name(n.lobe);
    out.push_back(pick(rng, {capitalised(with_article(d)) + " nodule in the " + lobe + ".", capitalised(lobe) + " nodule measuring " + d + ".",
                             "There is " + with_article(d) + " solid nodule in the " + lobe + "."}));
  }
  return out;
}

std::string consolidation_sentence(const ChestFindings& f, std::mt19937_64& rng) {
  if (f.consolidation_ml <= 0)
    return pick(rng, {"No focal consolidation.", "The lungs are without consolidation.", "No airspace consolidation."});
  const std::string lobe = lobe_name(f.consolidation_lobe), v = approx_ml(f.consolidation_ml);
  if (f.air_bronchograms)
    return pick(rng, {"Consolidation in the " + lobe + ", " + v + ", with air bronchograms.",
                      "There is airspace consolidation of the " + lobe + " (" + v + "); air bronchograms are seen.",
                      capitalised(lobe) + " consolidation of " + v + " with air bronchograms."});
  return pick(rng, {"Consolidation in the " + lobe + ", " + v + ".",
                    "There is airspace consolidation of the " + lobe + " (" + v + ").",
                    capitalised(lobe) + " consolidation of " + v + "."});
}

std::string emphysema_sentence(const ChestFindings& f, std::mt19937_64& rng) {
  if (f.emphysema_percent <= 0) return pick(rng, {"No emphysema.", "No emphysematous change."});
  const std::string p = percent_text(f.emphysema_percent), g = degree(f.emphysema_percent);
  return pick(rng, {capitalised(g) + " emphysema, " + p + " of the lung below -950 HU, upper-zone predominant.",
                    "There is " + g + " emphysema (" + p + " of the lung volume below -950 HU)."});
}

std::vector<std::string> effusion_sentences(const ChestFindings& f, std::mt19937_64& rng) {
  const bool right = f.effusion_ml[0] > 0, left = f.effusion_ml[1] > 0;
  if (!right && !left) return {pick(rng, {"No pleural effusion.", "No pleural effusions.", "The pleural spaces are clear."})};
  if (right && left)
    return {pick(rng, {"Bilateral pleural effusions, " + approx_ml(f.effusion_ml[0]) + " on the right and " +
                           approx_ml(f.effusion_ml[1]) + " on the left.",
                       "There are pleural effusions on both sides (" + approx_ml(f.effusion_ml[0]) + " right, " +
                           approx_ml(f.effusion_ml[1]) + " left)."})};
  const int s = right ? 0 : 1;
  const std::string side = kSides[s], other = kSides[1 - s], v = approx_ml(f.effusion_ml[static_cast<std::size_t>(s)]);
  return {pick(rng, {capitalised(side) + " pleural effusion, " + v + ".", "There is a " + side + " pleural effusion of " + v + ".",
                     "A " + side + "-sided pleural effusion measures " + v + "."}),
          pick(rng, {"No " + other + " pleural effusion.", "No effusion on the " + other + "."})};
}

std::string heart_sentence(const ChestFindings& f, std::mt19937_64& rng) {
  const std::string c = ctr_text(f.ctr);
  if (!f.cardiomegaly())
    return pick(rng, {"Heart size is normal (cardiothoracic ratio " + c + ").",
                      "The cardiac silhouette is not enlarged (CTR " + c + ")."});
  return pick(rng, {"Cardiomegaly, cardiothoracic ratio " + c + ".", "The heart is enlarged (CTR " + c + ")."});
}

enum Change { kNew, kResolved, kIncreased, kDecreased, kUnchanged };

Change change_of(double before, double after, double relative, double absolute) {
  if (before <= 0) return kNew;
  if (after <= 0) return kResolved;
  if (std::abs(after - before) < std::max(relative * before, absolute)) return kUnchanged;
  return after > before ? kIncreased : kDecreased;
}

// One sentence on `thing` (a noun phrase) that was `old_text` and is `new_text`.
std::string change_sentence(Change change, const std::string& thing, const std::string& old_text,
                            const std::string& new_text, std::mt19937_64& rng) {
  switch (change) {
    case kNew:
      return pick(rng, {"New " + thing + ", " + new_text + ".", "A new " + thing + " (" + new_text + ") has appeared."});
    case kResolved:
      return pick(rng, {"The " + thing + " has resolved (previously " + old_text + ").",
                        "The previous " + thing + " (" + old_text + ") is no longer seen."});
    case kIncreased:
      return pick(rng, {"The " + thing + " has increased, from " + old_text + " to " + new_text + ".",
                        "The " + thing + " is larger: " + old_text + " then, " + new_text + " now."});
    case kDecreased:
      return pick(rng, {"The " + thing + " has decreased, from " + old_text + " to " + new_text + ".",
                        "The " + thing + " is smaller: " + old_text + " then, " + new_text + " now."});
    case kUnchanged:
      break;
  }
  return pick(rng, {"The " + thing + " is unchanged (" + new_text + ").", "Stable " + thing + ", " + new_text + "."});
}

}  // namespace

std::string approx_ml(double ml) {
  const double shown = ml >= 50 ? 10 * std::round(ml / 10) : std::max(1.0, std::round(ml));
  return "about " + std::to_string(static_cast<long long>(shown)) + " ml";
}

std::string nodule_mm(double diameter) {
  return std::to_string(static_cast<long long>(std::max(1.0, std::round(diameter)))) + " mm";
}

std::string ctr_text(double ctr) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%.2f", ctr);
  return buffer;
}

std::string percent_text(double percent) {
  return std::to_string(static_cast<long long>(std::max(1.0, std::round(percent)))) + " %";
}

std::string chest_impression(const ChestFindings& f) {
  std::vector<std::string> parts;
  if (f.effusion_ml[0] > 0 && f.effusion_ml[1] > 0) parts.push_back("bilateral pleural effusions");
  else if (f.effusion_ml[0] > 0 || f.effusion_ml[1] > 0) parts.push_back(std::string(kSides[f.effusion_ml[0] > 0 ? 0 : 1]) + " pleural effusion");
  if (f.consolidation_ml > 0) parts.push_back(std::string(lobe_name(f.consolidation_lobe)) + " consolidation");
  if (!f.nodules.empty())
    parts.push_back(std::to_string(f.nodules.size()) + (f.nodules.size() == 1 ? " pulmonary nodule" : " pulmonary nodules"));
  if (f.cardiomegaly()) parts.push_back("cardiomegaly");
  if (f.emphysema_percent > 0) parts.push_back(degree(f.emphysema_percent) + " emphysema");
  if (parts.empty()) return "no acute cardiopulmonary abnormality";
  std::string text;
  for (const auto& p : parts) text += (text.empty() ? "" : "; ") + p;
  return text;
}

std::string chest_change_prompt(const ChestFindings& before, const ChestFindings& after) {
  std::string text;
  for (const auto& f : chest_change_findings(before, after))
    if (f.state != "unchanged") text += (text.empty() ? "" : ", ") + f.state + " " + f.name;
  return text.empty() ? "no interval change" : text;
}

std::string chest_report(const ChestFindings& f, std::mt19937_64& rng) {
  std::vector<std::string> findings = nodule_sentences(f, rng);
  findings.push_back(consolidation_sentence(f, rng));
  findings.push_back(emphysema_sentence(f, rng));
  for (auto& s : effusion_sentences(f, rng)) findings.push_back(s);
  findings.push_back(heart_sentence(f, rng));
  shuffle(findings, rng);
  return "Findings: " + join(findings) + " Impression: " + capitalised(chest_impression(f)) + ".";
}

std::string chest_interpretation(const ChestFindings& before, const ChestFindings& after, std::mt19937_64& rng) {
  std::vector<std::string> sentences;
  for (int s = 0; s < 2; ++s) {
    const double a = before.effusion_ml[static_cast<std::size_t>(s)], b = after.effusion_ml[static_cast<std::size_t>(s)];
    if (a > 0 || b > 0)
      sentences.push_back(change_sentence(change_of(a, b, 0.1, 0), std::string(kSides[s]) + " pleural effusion",
                                          approx_ml(a), approx_ml(b), rng));
  }
  int max_id = 0;
  for (const auto* f : {&before, &after})
    for (const auto& n : f->nodules) max_id = std::max(max_id, n.id);
  for (int id = 1; id <= max_id; ++id) {
    const ChestNodule *a = nullptr, *b = nullptr;
    for (const auto& n : before.nodules) if (n.id == id) a = &n;
    for (const auto& n : after.nodules) if (n.id == id) b = &n;
    if (!a && !b) continue;
    const ChestNodule& any = a ? *a : *b;
    sentences.push_back(change_sentence(change_of(a ? a->diameter_mm : 0, b ? b->diameter_mm : 0, 0, 1),
                                        std::string(lobe_name(any.lobe)) + " nodule", a ? nodule_mm(a->diameter_mm) : "",
                                        b ? nodule_mm(b->diameter_mm) : "", rng));
  }
  if (before.consolidation_ml > 0 || after.consolidation_ml > 0) {
    const int lobe = before.consolidation_ml > 0 ? before.consolidation_lobe : after.consolidation_lobe;
    sentences.push_back(change_sentence(change_of(before.consolidation_ml, after.consolidation_ml, 0.1, 0),
                                        std::string(lobe_name(lobe)) + " consolidation", approx_ml(before.consolidation_ml),
                                        approx_ml(after.consolidation_ml), rng));
  }
  if (before.cardiomegaly() || after.cardiomegaly())
    sentences.push_back(change_sentence(change_of(before.cardiomegaly() ? before.ctr : 0, after.cardiomegaly() ? after.ctr : 0, 0, 0.02),
                                        "cardiomegaly", "cardiothoracic ratio " + ctr_text(before.ctr),
                                        "cardiothoracic ratio " + ctr_text(after.ctr), rng));
  if (before.emphysema_percent > 0 || after.emphysema_percent > 0)
    sentences.push_back(change_sentence(change_of(before.emphysema_percent, after.emphysema_percent, 0.1, 0), "emphysema",
                                        percent_text(before.emphysema_percent) + " of the lung below -950 HU",
                                        percent_text(after.emphysema_percent) + " of the lung below -950 HU", rng));
  const std::string months = std::to_string(static_cast<long long>(std::round(after.months - before.months)));
  if (sentences.empty())
    return pick(rng, {"No interval change over " + months + " months; no acute cardiopulmonary abnormality.",
                      "Compared with the baseline " + months + " months earlier: no abnormality then or now."});
  shuffle(sentences, rng);
  return pick(rng, {"Compared with the baseline " + months + " months earlier: ", "Interval change over " + months + " months: ",
                    "Since the baseline (" + months + " months): "}) +
         join(sentences);
}

}  // namespace whatif::data
