#pragma once
// Components in scripts: the "whatif.Component" handle every registry-built part gets, with the
// methods of its kind (schedule:logsnr, metric:update/compute/reset/fit, encoder:fit/encode/decode,
// dataset:images/size).
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "whatif/dataset.hpp"
#include "whatif/model.hpp"
#include "whatif/registry/component.hpp"
#include "whatif/registry/options.hpp"

struct lua_State;

namespace whatif::lua {

// Registers the "whatif.Component" metatable and its methods.
void open_components(lua_State* L);

void push_component(lua_State* L, std::shared_ptr<Component> component);
// The component at `index`; raises a Lua error if it is not one.
std::shared_ptr<Component> check_component(lua_State* L, int index);
// The dataset at `index`; throws Error naming `method` otherwise.
std::shared_ptr<Dataset> check_dataset(lua_State* L, int index, const char* method);

// Pushes {losses = {...}, steps = n, seconds = s, <log> = {...}}: what every fit returns.
void push_fit_result(lua_State* L, const TrainResult& train, const std::map<std::string, std::vector<double>>& logs);

// A fit request read from options resolved against a fit schema (requests.hpp): paths resolved in
// the run directory, the trainer's label set.
FitRequest fit_request(lua_State* L, const Options& resolved, bool with_data_options, const char* label);

}  // namespace whatif::lua
