#pragma once
// Free-text reports and short prompts for the synthetic brain, generated from its ground truth.
// Wording, synonyms and sentence order vary with the random stream; the facts do not.
#include <random>
#include <string>

namespace whatif::data {

struct MsFindings {
  int level = 0;  // 0 minimal, 1 moderate, 2 high
  int lesion_count = 0;
  double lesion_volume_ml = 0;
  double periventricular_fraction = 0;  // of the lesions, centred within 10 mm of a ventricle
};

struct AdFindings {
  int level = 0;  // 0 normal, 1 MCI, 2 dementia
  double hippocampus_ml = 0, ventricle_ml = 0;
  double hippocampus_change = 0, ventricle_change = 0;  // relative to the subject's normal twin
};

std::string ms_prompt(int level);  // "high lesion load"
std::string ad_prompt(int level);  // "mild cognitive impairment"
std::string ms_report(const MsFindings& findings, std::mt19937_64& rng);
std::string ad_report(const AdFindings& findings, std::mt19937_64& rng);

}  // namespace whatif::data
