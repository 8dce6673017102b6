#pragma once
// Everything a plugin needs: the registry, the plugin ABI and the nine kinds.
#include "whatif/conditioning.hpp"
#include "whatif/dataset.hpp"
#include "whatif/denoiser.hpp"
#include "whatif/encoder.hpp"
#include "whatif/generator.hpp"
#include "whatif/metric.hpp"
#include "whatif/registry/plugin.hpp"
#include "whatif/registry/registry.hpp"
#include "whatif/sampler.hpp"
#include "whatif/schedule.hpp"
#include "whatif/text.hpp"
#include "whatif/vision.hpp"
