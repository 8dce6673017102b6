// The conditioning plugin: text, image and attribute conditions with their null conditions.
#include <whatif/registry/plugin.hpp>
#include <whatif/registry/registry.hpp>

#include "attributes_conditioning.hpp"
#include "concat_conditioning.hpp"
#include "text_conditioning.hpp"

namespace {

using whatif::OptionType;
namespace wc = whatif_conditioning;

const whatif::OptionSpec kNull{"null", OptionType::String, std::string("learned"),
                               "null condition for guidance: learned or zeros"};
const whatif::OptionSpec kDropout{"dropout", OptionType::Double, 0.1,
                                  "training probability of replacing a condition by the null one"};

void register_components(whatif::Registry& registry) {
  registry.add<whatif::Conditioning>(
      "conditioning", "cross-attention",
      "text tokens projected to context tokens [B,T,context_dim] with the text's mask; with "
      "vector_dim > 0 also the pooled text projected to a FiLM vector [B,vector_dim]",
      {{"context_dim", OptionType::Int, std::int64_t{128}, "width of the context tokens"},
       {"vector_dim", OptionType::Int, std::int64_t{0},
        "width of the pooled text's FiLM vector; 0 = tokens only"},
       kNull, kDropout},
      [](const whatif::Options& o) {
        return std::make_shared<wc::TextConditioning>(wc::TextTarget::Context,
                                                      o.get_int("context_dim"),
                                                      wc::parse_null(o.get_string("null")),
                                                      o.get_double("dropout"), o.get_int("vector_dim"));
      });
  registry.add<whatif::Conditioning>(
      "conditioning", "film", "the pooled text projected to a vector [B,vector_dim] for FiLM",
      {{"vector_dim", OptionType::Int, std::int64_t{128}, "width of the vector"}, kNull,
       kDropout},
      [](const whatif::Options& o) {
        return std::make_shared<wc::TextConditioning>(wc::TextTarget::Vector,
                                                      o.get_int("vector_dim"),
                                                      wc::parse_null(o.get_string("null")),
                                                      o.get_double("dropout"));
      });
  registry.add<whatif::Conditioning>(
      "conditioning", "concat",
      "the source image as spatial channels concatenated to the input; null = zeros",
      {{"channels", OptionType::Int, std::int64_t{1}, "channels of the source image"},
       {"size", OptionType::IntList, std::vector<std::int64_t>{},
        "spatial size {H,W} or {D,H,W} of the null image; empty = the last source's"},
       kDropout},
      [](const whatif::Options& o) {
        return std::make_shared<wc::ConcatConditioning>(o.get_int("channels"), o.get_ints("size"),
                                                        o.get_double("dropout"));
      });
  registry.add<whatif::Conditioning>(
      "conditioning", "attributes",
      "numeric or categorical attributes embedded into a vector and a one-token context (the "
      "non-language baseline)",
      {{"categories", OptionType::IntList, std::vector<std::int64_t>{0},
        "one entry per attribute column: 0 = numeric, n = categorical with n classes"},
       {"scales", OptionType::DoubleList, std::vector<double>{},
        "per column, what numeric values are divided by before embedding (their typical size); empty = 1"},
       {"width", OptionType::Int, std::int64_t{128}, "width of the summed attribute embeddings"},
       {"vector_dim", OptionType::Int, std::int64_t{128}, "width of the vector (0 = none)"},
       {"context_dim", OptionType::Int, std::int64_t{128}, "width of the context token (0 = none)"},
       kNull, kDropout},
      [](const whatif::Options& o) {
        wc::AttributesOptions options;
        options.categories = o.get_ints("categories");
        options.scales = o.get_doubles("scales");
        options.width = o.get_int("width");
        options.vector_dim = o.get_int("vector_dim");
        options.context_dim = o.get_int("context_dim");
        options.null = wc::parse_null(o.get_string("null"));
        options.dropout = o.get_double("dropout");
        return std::make_shared<wc::AttributesConditioning>(options);
      });
}

}  // namespace

WHATIF_PLUGIN("conditioning", "0.1.0", register_components)
