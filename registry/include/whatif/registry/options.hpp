#pragma once
// Typed options for components and scripts.
//
// Values arrive from Lua tables or `key=value` strings. A schema (name, type, default, doc) says
// what a component accepts; resolving user values against it fills defaults, checks types and
// refuses unknown keys with the closest valid one. Reading a value marks it used, so a key that was
// accepted but never read is caught too.
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

namespace whatif {

enum class OptionType { Bool, Int, Double, String, IntList, DoubleList, StringList };

const char* to_string(OptionType type);

using Value = std::variant<bool, std::int64_t, double, std::string, std::vector<std::int64_t>,
                           std::vector<double>, std::vector<std::string>>;

OptionType type_of(const Value& value);
std::string to_string(const Value& value);      // human form: 2, 0.5, true, "a", {32, 64}
std::string to_json(const Value& value);        // JSON form
// Parses `text` as a value of `type` ("32,64,64" for lists; true/false/1/0 for bools).
// Throws Error naming `what` on failure.
Value parse_value(OptionType type, const std::string& text, const std::string& what);
// Converts `value` to `type` where that is lossless (int -> double, int list -> double list);
// throws Error naming `what` otherwise.
Value coerce(const Value& value, OptionType type, const std::string& what);

struct OptionSpec {
  std::string name;
  OptionType type;
  Value default_value;
  std::string doc;
};
using Schema = std::vector<OptionSpec>;

class Options {
 public:
  Options() = default;

  // Splits "key=value" into a raw string entry; the type is decided when resolved.
  static Options from_strings(const std::vector<std::string>& assignments);

  void set(const std::string& key, Value value);
  void set_raw(const std::string& key, const std::string& text);  // typed later by a schema
  bool contains(const std::string& key) const;
  std::vector<std::string> keys() const;
  bool empty() const { return values_.empty() && raw_.empty(); }

  // Typed read; marks the key used. Throws Error if missing or of another type.
  template <class T>
  T get(const std::string& key) const;

  bool get_bool(const std::string& key) const { return get<bool>(key); }
  std::int64_t get_int(const std::string& key) const { return get<std::int64_t>(key); }
  double get_double(const std::string& key) const { return get<double>(key); }
  std::string get_string(const std::string& key) const { return get<std::string>(key); }
  std::vector<std::int64_t> get_ints(const std::string& key) const {
    return get<std::vector<std::int64_t>>(key);
  }
  std::vector<double> get_doubles(const std::string& key) const {
    return get<std::vector<double>>(key);
  }
  std::vector<std::string> get_strings(const std::string& key) const {
    return get<std::vector<std::string>>(key);
  }
  const Value& value(const std::string& key) const;  // marks used

  // Returns the options resolved against `schema`: every schema key present (defaults filled),
  // values coerced to the schema's type. `owner` names the component for messages, e.g.
  // "schedule/constant-snr". Unknown keys throw with the closest valid key.
  Options resolve(const Schema& schema, const std::string& owner) const;

  // Keys given explicitly (not filled from defaults) that no one read.
  std::vector<std::string> unused_explicit_keys() const;
  void mark_explicit(const std::set<std::string>& keys) { explicit_ = keys; }

  std::string to_json() const;  // {"key": value, ...} in key order
  const std::map<std::string, Value>& values() const { return values_; }

 private:
  std::map<std::string, Value> values_;
  std::map<std::string, std::string> raw_;
  std::set<std::string> explicit_;
  mutable std::set<std::string> used_;
};

}  // namespace whatif
