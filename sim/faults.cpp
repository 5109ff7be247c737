#include "sim/faults.hpp"

#include <optional>
#include <set>

namespace payengine::sim {
namespace {

using nlohmann::json;

std::optional<std::string> read_rate(const json& body, const char* name, double& out) {
  if (!body.contains(name)) return std::nullopt;
  const auto& value = body.at(name);
  if (!value.is_number() || value.get<double>() < 0 || value.get<double>() > 1) {
    return std::string(name) + " must be a number from 0 to 1";
  }
  out = value.get<double>();
  return std::nullopt;
}

std::optional<std::string> read_ms(const json& body, const char* name, long min, long max, long& out) {
  if (!body.contains(name)) return std::nullopt;
  const auto& value = body.at(name);
  if (!value.is_number_integer() || value.get<long>() < min || value.get<long>() > max) {
    return std::string(name) + " must be an integer from " + std::to_string(min) + " to " + std::to_string(max);
  }
  out = value.get<long>();
  return std::nullopt;
}

std::optional<std::string> unknown_member(const json& body) {
  static const std::set<std::string> known{"latency_ms",       "error_rate",            "timeout_rate",
                                           "timeout_ms",       "drop_notify_rate",      "duplicate_notify_rate",
                                           "reorder_notify",   "channel"};
  for (const auto& item : body.items()) {
    if (known.count(item.key()) == 0) return "unknown fault " + item.key();
  }
  return std::nullopt;
}

std::optional<std::string> read_channel(const json& body, std::optional<channel>& out) {
  if (!body.contains("channel")) return std::nullopt;
  const auto& value = body.at("channel");
  out = value.is_string() ? channel_from(value.get<std::string>()) : std::nullopt;
  if (!out) return std::string("channel must be \"alipay\" or \"wechat\"");
  return std::nullopt;
}

}  // namespace

std::variant<fault_setting, std::string> parse_faults(const json& body) {
  if (!body.is_object()) return std::string("body must be a JSON object");
  if (auto err = unknown_member(body)) return *err;
  std::optional<channel> only;
  if (auto err = read_channel(body, only)) return *err;
  faults f;
  for (auto err : {read_ms(body, "latency_ms", 0, limits::fault_latency_ms_max, f.latency_ms),
                   read_ms(body, "timeout_ms", 1, limits::fault_timeout_ms_max, f.timeout_ms),
                   read_rate(body, "error_rate", f.error_rate), read_rate(body, "timeout_rate", f.timeout_rate),
                   read_rate(body, "drop_notify_rate", f.drop_notify_rate),
                   read_rate(body, "duplicate_notify_rate", f.duplicate_notify_rate)}) {
    if (err) return *err;
  }
  if (body.contains("reorder_notify")) {
    if (!body.at("reorder_notify").is_boolean()) return std::string("reorder_notify must be true or false");
    f.reorder_notify = body.at("reorder_notify").get<bool>();
  }
  return fault_setting{f, only};
}

json to_json(const faults& f) {
  return {{"latency_ms", f.latency_ms},
          {"error_rate", f.error_rate},
          {"timeout_rate", f.timeout_rate},
          {"timeout_ms", f.timeout_ms},
          {"drop_notify_rate", f.drop_notify_rate},
          {"duplicate_notify_rate", f.duplicate_notify_rate},
          {"reorder_notify", f.reorder_notify}};
}

faults fault_state::current(channel c) const {
  std::lock_guard lock(mutex_);
  return faults_[index_of(c)];
}

void fault_state::set(const fault_setting& s) {
  std::lock_guard lock(mutex_);
  for (const channel c : all_channels) {
    if (!s.only || *s.only == c) faults_[index_of(c)] = s.values;
  }
}

json fault_state::describe(std::optional<channel> only) const {
  if (only) {
    json one = to_json(current(*only));
    one["channel"] = to_string(*only);
    return one;
  }
  json all = json::object();
  for (const channel c : all_channels) all[std::string(to_string(c))] = to_json(current(c));
  return all;
}

bool fault_state::roll(double rate) {
  if (rate <= 0) return false;
  std::lock_guard lock(mutex_);
  return std::uniform_real_distribution<double>(0.0, 1.0)(random_) < rate;
}

}  // namespace payengine::sim
