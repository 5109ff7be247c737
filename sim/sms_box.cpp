#include "sim/sms_box.hpp"

#include <chrono>
#include <ctime>

#include "sim/limits.hpp"

namespace payengine::sim {
namespace {

// E.164: '+', then 8 to 15 digits, the first not 0.
bool is_e164(const std::string& number) {
  if (number.size() < 9 || number.size() > 16 || number[0] != '+' || number[1] == '0') return false;
  for (std::size_t i = 1; i < number.size(); ++i) {
    if (number[i] < '0' || number[i] > '9') return false;
  }
  return true;
}

std::string string_member(const nlohmann::json& body, const char* name) {
  const auto it = body.find(name);
  return it != body.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

// The message, or an explanation of what is wrong with it.
std::variant<sms_message, std::string> read_message(const nlohmann::json& body) {
  if (!body.is_object()) return std::string("body must be a JSON object");
  sms_message m{string_member(body, "id"), string_member(body, "to"), string_member(body, "text"), {}};
  if (m.id.empty() || m.id.size() > limits::sms_id_chars_max) return std::string("id must be 1..255 characters");
  if (!is_e164(m.to)) return std::string("to must be an E.164 number such as +8613800000000");
  if (m.text.empty() || m.text.size() > limits::sms_text_chars_max) return std::string("text must be 1..1000 bytes");
  return m;
}

std::string utc_now_rfc3339() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm fields{};
  gmtime_r(&now, &fields);
  char text[32];
  return std::string(text, std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &fields));
}

}  // namespace

sms_result sms_box::send(const nlohmann::json& body, std::string& detail) {
  auto read = read_message(body);
  if (auto* error = std::get_if<std::string>(&read)) {
    detail = *error;
    return sms_result::invalid;
  }
  auto& message = std::get<sms_message>(read);
  std::lock_guard lock(mutex_);
  if (const auto it = by_id_.find(message.id); it != by_id_.end()) {
    const auto& earlier = messages_[it->second];
    const bool same = earlier.to == message.to && earlier.text == message.text;
    detail = same ? "" : "id already used for another message";
    return same ? sms_result::sent : sms_result::conflict;
  }
  if (messages_.size() >= limits::sms_messages_max) {
    detail = "message store full";
    return sms_result::full;
  }
  message.sent_at = utc_now_rfc3339();
  by_id_.emplace(message.id, messages_.size());
  messages_.push_back(std::move(message));
  return sms_result::sent;
}

std::vector<sms_message> sms_box::messages() const {
  std::lock_guard lock(mutex_);
  return messages_;
}

nlohmann::json to_json(const sms_message& m) {
  return {{"id", m.id}, {"to", m.to}, {"text", m.text}, {"sent_at", m.sent_at}};
}

}  // namespace payengine::sim
