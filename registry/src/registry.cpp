#include "whatif/registry/registry.hpp"

#include <algorithm>
#include <filesystem>
#include <set>

#include <boost/dll/shared_library.hpp>

#include "whatif/registry/plugin.hpp"
#include "whatif/registry/suggest.hpp"

namespace whatif {
namespace {

// Plugin libraries stay loaded for the life of the process: objects, deleters, exception objects
// and type_info created by a plugin must never outlive its code. The vector is deliberately never
// destroyed, so no static destructor can unload a library while a component is still alive.
std::vector<boost::dll::shared_library>& loaded_libraries() {
  static auto* libraries = new std::vector<boost::dll::shared_library>();
  return *libraries;
}

std::string where(const FactoryEntry& e) {
  if (!e.library.empty()) return "plugin '" + e.plugin + "' (" + e.library + ")";
  return e.plugin.empty() ? std::string("the host") : "'" + e.plugin + "'";
}

}  // namespace

Registry::Registry() = default;
Registry::~Registry() = default;

const std::vector<std::string>& Registry::kinds() {
  static const std::vector<std::string> all{"encoder",   "denoiser", "schedule", "sampler",
                                            "conditioning", "text", "vision",   "generator",
                                            "dataset",   "metric"};
  return all;
}

void Registry::add(FactoryEntry entry) {
  if (registering_) {
    entry.plugin = registering_->name;
    entry.version = registering_->version;
    entry.library = registering_->library;
  } else if (entry.plugin.empty()) {
    entry.plugin = "builtin";
  }
  const auto& all = kinds();
  if (std::find(all.begin(), all.end(), entry.kind) == all.end())
    throw Error(where(entry) + " registers '" + entry.name + "' under unknown kind '" +
                entry.kind + "'" + did_you_mean(entry.kind, all));
  if (!entry.make) throw Error(where(entry) + " registers " + entry.kind + "/" + entry.name +
                               " without a factory");
  std::set<std::string> seen;
  for (const auto& spec : entry.schema) {
    if (!seen.insert(spec.name).second)
      throw Error(where(entry) + ": " + entry.kind + "/" + entry.name + " declares option '" +
                  spec.name + "' twice");
    coerce(spec.default_value, spec.type,
           entry.kind + "/" + entry.name + ": default of option '" + spec.name + "'");
  }
  const auto key = std::make_pair(entry.kind, entry.name);
  if (const auto it = entries_.find(key); it != entries_.end())
    throw Error("duplicate component " + entry.kind + "/" + entry.name + ": registered by " +
                where(it->second) + " and again by " + where(entry));
  entries_.emplace(key, std::move(entry));
}

const LoadedPlugin& Registry::load(const std::string& path) {
  const std::string canonical = std::filesystem::weakly_canonical(path).string();
  for (const auto& p : plugins_)
    if (p.library == canonical) return p;
  if (!std::filesystem::exists(canonical)) throw Error("plugin " + path + ": no such file");

  boost::dll::shared_library library;
  try {
    library.load(canonical);
  } catch (const std::exception& e) {
    throw Error("plugin " + canonical + ": cannot be loaded: " + e.what());
  }
  if (!library.has(kPluginEntrySymbol))
    throw Error("plugin " + canonical +
                ": not a whatif plugin (no 'whatif_plugin' entry; use WHATIF_PLUGIN(...))");
  const PluginInfo* info = nullptr;
  try {
    info = library.get_alias<PluginEntry>(kPluginEntrySymbol)();
  } catch (const std::exception& e) {
    throw Error("plugin " + canonical + ": its entry failed: " + e.what());
  }
  if (!info) throw Error("plugin " + canonical + ": its entry returned no PluginInfo");
  if (info->abi_version != kAbiVersion)
    throw Error("plugin " + canonical + " refused: ABI version " +
                std::to_string(info->abi_version) + " but this whatif has ABI version " +
                std::to_string(kAbiVersion) + " (rebuild the plugin against this whatif)");
  const std::string hash = info->interface_hash ? info->interface_hash : "";
  if (hash != WHATIF_INTERFACE_HASH)
    throw Error("plugin " + canonical + " refused: interface hash " + hash +
                " but this whatif has interface hash " + WHATIF_INTERFACE_HASH +
                " (rebuild the plugin against this whatif's headers)");

  LoadedPlugin plugin{info->name ? info->name : "", info->version ? info->version : "",
                      canonical, hash};
  for (const auto& p : plugins_)
    if (p.name == plugin.name)
      throw Error("duplicate plugin '" + plugin.name + "': " + p.library + " and " + canonical);

  // Register into a scratch copy so a plugin that fails half-way adds nothing. The library stays
  // loaded even then: its register function has run and may have left objects behind.
  auto before = entries_;
  registering_ = &plugin;
  std::string failure;
  try {
    info->register_fn(*this);
  } catch (const std::exception& e) {
    failure = e.what();
  } catch (...) {
    failure = "a non-standard exception";
  }
  registering_ = nullptr;
  loaded_libraries().push_back(std::move(library));
  if (!failure.empty()) {
    entries_ = std::move(before);
    throw Error("plugin '" + plugin.name + "' (" + canonical + "): registration failed: " +
                failure);
  }
  plugins_.push_back(std::move(plugin));
  return plugins_.back();
}

int Registry::load_directory(const std::string& dir) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(dir)) throw Error("plugin folder " + dir + ": not a directory");
  std::vector<std::string> paths;
  for (const auto& item : fs::directory_iterator(dir)) {
    const std::string file = item.path().filename().string();
    if (item.is_regular_file() && file.rfind("libwhatif-plugin-", 0) == 0 &&
        item.path().extension() == ".so")
      paths.push_back(item.path().string());
  }
  std::sort(paths.begin(), paths.end());
  for (const auto& p : paths) load(p);
  return static_cast<int>(paths.size());
}

bool Registry::contains(const std::string& kind, const std::string& name) const {
  return entries_.count({kind, name}) > 0;
}

std::vector<std::string> Registry::names(const std::string& kind) const {
  std::vector<std::string> out;
  for (const auto& [key, entry] : entries_)
    if (key.first == kind) out.push_back(key.second);
  return out;
}

const FactoryEntry& Registry::find(const std::string& kind, const std::string& name) const {
  const auto& all = kinds();
  if (std::find(all.begin(), all.end(), kind) == all.end())
    throw Error("unknown kind '" + kind + "'" + did_you_mean(kind, all));
  const auto it = entries_.find({kind, name});
  if (it != entries_.end()) return it->second;
  const auto known = names(kind);
  std::string message = "unknown " + kind + " '" + name + "'";
  const std::string best = closest_name(name, known);
  if (!best.empty()) {
    message += " (did you mean '" + best + "'?)";
  } else if (known.empty()) {
    message += " (no " + kind + " is registered; is the plugin folder on the search path?)";
  } else {
    message += " (available:";
    for (const auto& k : known) message += " " + k;
    message += ")";
  }
  throw Error(message);
}

std::vector<const FactoryEntry*> Registry::entries() const {
  std::vector<const FactoryEntry*> out;
  for (const auto& [key, entry] : entries_) out.push_back(&entry);
  return out;
}

std::shared_ptr<Component> Registry::create(const std::string& kind, const std::string& name,
                                            const Options& options) const {
  const FactoryEntry& entry = find(kind, name);
  const std::string owner = kind + "/" + name;
  Options resolved = options.resolve(entry.schema, owner);
  std::shared_ptr<Component> object;
  try {
    object = entry.make(resolved);
  } catch (const std::exception& e) {
    throw Error(owner + " from " + where(entry) + " failed: " + e.what());
  } catch (...) {
    throw Error(owner + " from " + where(entry) + " failed with a non-standard exception");
  }
  if (!object) throw Error(owner + " from " + where(entry) + " returned no object");
  const auto unused = resolved.unused_explicit_keys();
  if (!unused.empty())
    throw Error(owner + " from " + where(entry) + " never read option '" + unused.front() +
                "' (the plugin declares it but ignores it)");
  object->stamp(ComponentIdentity{kind, name, entry.plugin, entry.version, entry.library},
                std::move(resolved));
  return object;
}

}  // namespace whatif
