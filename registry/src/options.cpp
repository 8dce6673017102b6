#include "whatif/registry/options.hpp"

#include <cmath>
#include <cstdlib>
#include <sstream>

#include <nlohmann/json.hpp>

#include "whatif/registry/error.hpp"
#include "whatif/registry/suggest.hpp"

namespace whatif {
namespace {

template <class... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

std::vector<std::string> split_list(const std::string& text) {
  std::string body = trim(text);
  if (body.size() >= 2 && body.front() == '{' && body.back() == '}')
    body = body.substr(1, body.size() - 2);
  std::vector<std::string> parts;
  if (trim(body).empty()) return parts;
  std::stringstream stream(body);
  std::string part;
  while (std::getline(stream, part, ',')) parts.push_back(trim(part));
  return parts;
}

std::int64_t parse_int(const std::string& text, const std::string& what) {
  const std::string t = trim(text);
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(t.c_str(), &end, 10);
  if (t.empty() || *end != '\0' || errno != 0)
    throw Error(what + ": expected an integer, got '" + text + "'");
  return v;
}

double parse_double(const std::string& text, const std::string& what) {
  const std::string t = trim(text);
  char* end = nullptr;
  const double v = std::strtod(t.c_str(), &end);
  if (t.empty() || *end != '\0' || !std::isfinite(v))
    throw Error(what + ": expected a finite number, got '" + text + "'");
  return v;
}

bool is_empty_list(const Value& v) {
  if (const auto* a = std::get_if<std::vector<std::int64_t>>(&v)) return a->empty();
  if (const auto* b = std::get_if<std::vector<double>>(&v)) return b->empty();
  if (const auto* c = std::get_if<std::vector<std::string>>(&v)) return c->empty();
  return false;
}

nlohmann::json json_of(const Value& value) {
  return std::visit([](const auto& v) { return nlohmann::json(v); }, value);
}

}  // namespace

const char* to_string(OptionType type) {
  switch (type) {
    case OptionType::Bool: return "bool";
    case OptionType::Int: return "int";
    case OptionType::Double: return "number";
    case OptionType::String: return "string";
    case OptionType::IntList: return "int list";
    case OptionType::DoubleList: return "number list";
    case OptionType::StringList: return "string list";
  }
  return "?";
}

OptionType type_of(const Value& value) { return static_cast<OptionType>(value.index()); }

std::string to_json(const Value& value) { return json_of(value).dump(); }

std::string to_string(const Value& value) {
  return std::visit(
      Overloaded{[](bool v) -> std::string { return v ? "true" : "false"; },
                 [](std::int64_t v) -> std::string { return std::to_string(v); },
                 [](double v) -> std::string { return nlohmann::json(v).dump(); },
                 [](const std::string& v) -> std::string { return "\"" + v + "\""; },
                 [](const auto& list) -> std::string {
                   std::string out = "{";
                   for (std::size_t i = 0; i < list.size(); ++i) {
                     if (i) out += ", ";
                     out += to_string(Value(list[i]));
                   }
                   return out + "}";
                 }},
      value);
}

Value parse_value(OptionType type, const std::string& text, const std::string& what) {
  switch (type) {
    case OptionType::Bool: {
      const std::string t = trim(text);
      if (t == "true" || t == "1" || t == "yes" || t == "on") return true;
      if (t == "false" || t == "0" || t == "no" || t == "off") return false;
      throw Error(what + ": expected true or false, got '" + text + "'");
    }
    case OptionType::Int: return parse_int(text, what);
    case OptionType::Double: return parse_double(text, what);
    case OptionType::String: return text;
    case OptionType::IntList: {
      std::vector<std::int64_t> out;
      for (const auto& p : split_list(text)) out.push_back(parse_int(p, what));
      return out;
    }
    case OptionType::DoubleList: {
      std::vector<double> out;
      for (const auto& p : split_list(text)) out.push_back(parse_double(p, what));
      return out;
    }
    case OptionType::StringList: return split_list(text);
  }
  throw Error(what + ": unknown option type");
}

Value coerce(const Value& value, OptionType type, const std::string& what) {
  const OptionType have = type_of(value);
  if (have == type) return value;
  if (have == OptionType::Int && type == OptionType::Double)
    return static_cast<double>(std::get<std::int64_t>(value));
  if (have == OptionType::Double && type == OptionType::Int) {
    const double d = std::get<double>(value);
    // Whole and within int64's range (beyond it the conversion is undefined).
    if (std::isfinite(d) && d == std::floor(d) && d >= -9.2233720368547758e18 && d < 9.2233720368547758e18)
      return static_cast<std::int64_t>(d);
  }
  if (have == OptionType::IntList && type == OptionType::DoubleList) {
    const auto& ints = std::get<std::vector<std::int64_t>>(value);
    return std::vector<double>(ints.begin(), ints.end());
  }
  // An empty list arrives untyped from Lua; it fits any list type.
  const bool list_wanted = type == OptionType::IntList || type == OptionType::DoubleList ||
                           type == OptionType::StringList;
  if (list_wanted && is_empty_list(value)) return parse_value(type, "", what);
  throw Error(what + ": expected " + to_string(type) + ", got " + to_string(have) + " " +
              to_string(value));
}

Options Options::from_strings(const std::vector<std::string>& assignments) {
  Options options;
  for (const auto& a : assignments) {
    const auto eq = a.find('=');
    if (eq == std::string::npos || eq == 0)
      throw Error("'" + a + "' is not of the form key=value");
    options.set_raw(trim(a.substr(0, eq)), a.substr(eq + 1));
  }
  return options;
}

void Options::set(const std::string& key, Value value) {
  raw_.erase(key);
  values_[key] = std::move(value);
}

void Options::set_raw(const std::string& key, const std::string& text) {
  values_.erase(key);
  raw_[key] = text;
}

bool Options::contains(const std::string& key) const {
  return values_.count(key) > 0 || raw_.count(key) > 0;
}

std::vector<std::string> Options::keys() const {
  std::set<std::string> all;
  for (const auto& [k, v] : values_) all.insert(k);
  for (const auto& [k, v] : raw_) all.insert(k);
  return {all.begin(), all.end()};
}

const Value& Options::value(const std::string& key) const {
  const auto it = values_.find(key);
  if (it == values_.end()) {
    if (raw_.count(key)) throw Error("option '" + key + "' has not been typed by a schema");
    throw Error("missing option '" + key + "'" + did_you_mean(key, keys()));
  }
  used_.insert(key);
  return it->second;
}

template <class T>
T Options::get(const std::string& key) const {
  const Value& v = value(key);
  if (const T* typed = std::get_if<T>(&v)) return *typed;
  const OptionType want = static_cast<OptionType>(Value(T{}).index());
  return std::get<T>(coerce(v, want, "option '" + key + "'"));
}

template bool Options::get<bool>(const std::string&) const;
template std::int64_t Options::get<std::int64_t>(const std::string&) const;
template double Options::get<double>(const std::string&) const;
template std::string Options::get<std::string>(const std::string&) const;
template std::vector<std::int64_t> Options::get<std::vector<std::int64_t>>(
    const std::string&) const;
template std::vector<double> Options::get<std::vector<double>>(const std::string&) const;
template std::vector<std::string> Options::get<std::vector<std::string>>(
    const std::string&) const;

Options Options::resolve(const Schema& schema, const std::string& owner) const {
  std::vector<std::string> valid;
  for (const auto& spec : schema) valid.push_back(spec.name);
  for (const auto& key : keys()) {
    bool known = false;
    for (const auto& spec : schema) known = known || spec.name == key;
    if (!known) {
      const std::string best = closest_name(key, valid);
      std::string message = owner + ": unknown option '" + key + "'";
      if (!best.empty())
        message += " (did you mean '" + best + "'?)";
      else if (valid.empty())
        message += " (it takes no options)";
      else {
        message += " (valid:";
        for (const auto& v : valid) message += " " + v;
        message += ")";
      }
      throw Error(message);
    }
  }
  Options resolved;
  std::set<std::string> given;
  for (const auto& spec : schema) {
    const std::string what = owner + ": option '" + spec.name + "'";
    if (const auto it = values_.find(spec.name); it != values_.end()) {
      resolved.values_[spec.name] = coerce(it->second, spec.type, what);
      given.insert(spec.name);
    } else if (const auto raw = raw_.find(spec.name); raw != raw_.end()) {
      resolved.values_[spec.name] = parse_value(spec.type, raw->second, what);
      given.insert(spec.name);
    } else {
      resolved.values_[spec.name] = coerce(spec.default_value, spec.type, what);
    }
  }
  resolved.explicit_ = given;
  return resolved;
}

std::vector<std::string> Options::unused_explicit_keys() const {
  std::vector<std::string> unused;
  for (const auto& key : explicit_)
    if (!used_.count(key)) unused.push_back(key);
  return unused;
}

std::string Options::to_json() const {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [k, v] : values_) out[k] = json_of(v);
  for (const auto& [k, v] : raw_) out[k] = v;
  return out.dump();
}

}  // namespace whatif
