#pragma once
// Options bound to the fields of a struct: one line per option gives its name, its type (from the
// field's C++ type), its default (read from a default-constructed struct) and its doc, and fills the
// field from resolved Options. A default is written once, in the struct, and every schema shown to
// users (Lua errors, `whatif plugins info`, docs) comes from there.
//
//   const Fields<Sampling> kSampling = Fields<Sampling>()
//       .add("steps", &Sampling::steps, "sampler steps")
//       .add("guidance", &Sampling::guidance, "classifier-free guidance w");
#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "whatif/registry/options.hpp"

namespace whatif {

template <class S>
class Fields {
 public:
  // A field reached through a member pointer.
  template <class F>
  Fields& add(std::string name, F S::*member, std::string doc) {
    return add<F>(std::move(name), [member](S& s) -> F& { return s.*member; }, std::move(doc));
  }

  // A field reached through an accessor (a nested struct's member, say).
  template <class F>
  Fields& add(std::string name, std::function<F&(S&)> access, std::string doc) {
    Entry e;
    e.spec.name = name;
    e.spec.type = option_type<F>();
    e.spec.doc = std::move(doc);
    e.get = [access](const S& s) { return to_value(access(const_cast<S&>(s))); };
    e.set = [access, name](const Options& o, S& s) { from_value(o.value(name), access(s)); };
    entries_.push_back(std::move(e));
    return *this;
  }

  // Every field's option with its default taken from `defaults`.
  Schema schema(const S& defaults = S{}) const {
    Schema out;
    for (const auto& e : entries_) {
      OptionSpec spec = e.spec;
      spec.default_value = e.get(defaults);
      out.push_back(std::move(spec));
    }
    return out;
  }

  // Fills `out` from options resolved against schema(): reads every field's key (marking it used).
  void read(const Options& resolved, S& out) const {
    for (const auto& e : entries_) e.set(resolved, out);
  }

  // Appends another struct's fields reached through `access` (a request's nested options).
  template <class T>
  Fields& nest(const Fields<T>& inner, std::function<T&(S&)> access) {
    for (const auto& ie : inner.entries()) {
      Entry e;
      e.spec = ie.spec;
      auto get = ie.get;
      auto set = ie.set;
      e.get = [access, get](const S& s) { return get(access(const_cast<S&>(s))); };
      e.set = [access, set](const Options& o, S& s) { set(o, access(s)); };
      entries_.push_back(std::move(e));
    }
    return *this;
  }

  struct Entry {
    OptionSpec spec;
    std::function<Value(const S&)> get;
    std::function<void(const Options&, S&)> set;
  };
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  template <class F>
  static constexpr OptionType option_type() {
    if constexpr (std::is_same_v<F, bool>) return OptionType::Bool;
    else if constexpr (std::is_integral_v<F>) return OptionType::Int;
    else if constexpr (std::is_floating_point_v<F>) return OptionType::Double;
    else if constexpr (std::is_same_v<F, std::string>) return OptionType::String;
    else if constexpr (std::is_same_v<F, std::vector<std::int64_t>>) return OptionType::IntList;
    else if constexpr (std::is_same_v<F, std::vector<double>>) return OptionType::DoubleList;
    else {
      static_assert(std::is_same_v<F, std::vector<std::string>>, "unsupported option field type");
      return OptionType::StringList;
    }
  }

  template <class F>
  static Value to_value(const F& v) {
    if constexpr (std::is_same_v<F, bool>) return Value(v);
    else if constexpr (std::is_integral_v<F>) return Value(static_cast<std::int64_t>(v));
    else if constexpr (std::is_floating_point_v<F>) return Value(static_cast<double>(v));
    else return Value(v);
  }

  template <class F>
  static void from_value(const Value& v, F& out) {
    if constexpr (std::is_same_v<F, bool>) out = std::get<bool>(v);
    else if constexpr (std::is_integral_v<F>) out = static_cast<F>(std::get<std::int64_t>(v));
    else if constexpr (std::is_floating_point_v<F>) out = static_cast<F>(std::get<double>(v));
    else out = std::get<F>(v);
  }

  std::vector<Entry> entries_;
};

}  // namespace whatif
