#include "data/brain_reports.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "data/pick.hpp"

namespace whatif::data {
namespace {

const char* kMsLevels[] = {"minimal", "moderate", "high"};
const char* kAdLevels[] = {"cognitively normal", "mild cognitive impairment", "dementia"};

std::string fixed(double value, int decimals = 1) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

std::string join_shuffled(std::vector<std::string> sentences, std::mt19937_64& rng) {
  for (std::size_t i = sentences.size(); i > 1; --i) std::swap(sentences[i - 1], sentences[rng() % i]);
  std::string text;
  for (const auto& s : sentences) text += (text.empty() ? "" : " ") + s;
  return text;
}

}  // namespace

std::string ms_prompt(int level) { return std::string(kMsLevels[level]) + " lesion load"; }
std::string ad_prompt(int level) { return kAdLevels[level]; }

std::string ms_report(const MsFindings& f, std::mt19937_64& rng) {
  const std::string level = kMsLevels[f.level];
  std::vector<std::string> sentences;
  sentences.push_back(pick(rng, {"Overall, the white matter lesion load is " + level + ".",
                                 "Impression: " + level + " lesion load.",
                                 "Findings are consistent with a " + level + " lesion load.",
                                 "The burden of demyelinating lesions is " + level + "."}));
  const std::string volume = fixed(f.lesion_volume_ml, 2) + " mL";
  if (f.lesion_count == 0) {
    sentences.push_back(pick(rng, {"No T1-hypointense white matter lesions are seen.",
                                   "There are no focal white matter lesions.",
                                   "No lesions are identified in the white matter."}));
  } else {
    const std::string n = std::to_string(f.lesion_count);
    const std::string noun = f.lesion_count == 1 ? "lesion" : "lesions";
    sentences.push_back(pick(rng, {
        n + " T1-hypointense " + noun + " in the white matter, total volume " + volume + ".",
        "There " + std::string(f.lesion_count == 1 ? "is " : "are ") + n + " hypointense white matter " +
            noun + " (" + volume + " in total).",
        "Lesion volume " + volume + " across " + n + (f.lesion_count == 1 ? " focus." : " foci."),
        "We count " + n + " " + noun + " with a combined volume of " + volume + "."}));
    if (f.periventricular_fraction >= 0.5)
      sentences.push_back(pick(rng, {"The lesions are predominantly periventricular.",
                                     "Most foci lie adjacent to the lateral ventricles.",
                                     "The distribution is mainly periventricular."}));
    else
      sentences.push_back(pick(rng, {"The lesions are scattered in the deep white matter.",
                                     "Most foci lie away from the ventricles, in the deep white matter."}));
  }
  return join_shuffled(std::move(sentences), rng);
}

std::string ad_report(const AdFindings& f, std::mt19937_64& rng) {
  std::vector<std::string> sentences;
  const std::string level = kAdLevels[f.level];
  sentences.push_back(pick(rng, {"Clinical picture: " + level + ".", "Findings are in keeping with " + level + ".",
                                 "Impression: " + level + ".", "The imaging fits " + level + "."}));
  const std::string hippocampus = fixed(f.hippocampus_ml) + " mL";
  const std::string ventricles = fixed(f.ventricle_ml) + " mL";
  const std::string shrink = fixed(-100.0 * f.hippocampus_change, 0) + " %";
  const std::string grow = fixed(100.0 * f.ventricle_change, 0) + " %";
  if (f.level == 0) {
    sentences.push_back(pick(rng, {"No hippocampal atrophy; hippocampal volume " + hippocampus + ".",
                                   "The hippocampi are preserved (" + hippocampus + " combined)."}));
    sentences.push_back(pick(rng, {"Ventricular volume " + ventricles + ", without enlargement.",
                                   "The ventricles measure " + ventricles + " and are not enlarged."}));
  } else {
    const std::string degree = f.level == 1 ? pick(rng, {"mild", "slight"}) : pick(rng, {"marked", "severe", "pronounced"});
    sentences.push_back(pick(rng, {
        "There is " + degree + " hippocampal atrophy, volume " + hippocampus + " (" + shrink + " below baseline).",
        "Hippocampal volume is " + hippocampus + ", a " + shrink + " loss, i.e. " + degree + " atrophy.",
        "The hippocampi show " + degree + " volume loss (" + hippocampus + ")."}));
    sentences.push_back(pick(rng, {
        "The ventricles are enlarged to " + ventricles + " (+" + grow + ").",
        "Ventricular volume " + ventricles + ", " + grow + " above baseline.",
        "Ex vacuo ventricular enlargement to " + ventricles + "."}));
  }
  return join_shuffled(std::move(sentences), rng);
}

}  // namespace whatif::data
