#pragma once

#include <mutex>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

// The SMS provider: accepts messages idempotently by id and keeps them for
// GET /sms/messages.
namespace payengine::sim {

struct sms_message {
  std::string id;
  std::string to;
  std::string text;
  std::string sent_at;
};

// How a send ended; the numbers are the HTTP status of the answer.
enum class sms_result : int { sent = 200, invalid = 400, conflict = 409, full = 503 };

class sms_box {
 public:
  // `body` is the parsed request; `detail` explains a refusal.
  [[nodiscard]] sms_result send(const nlohmann::json& body, std::string& detail);
  [[nodiscard]] std::vector<sms_message> messages() const;

 private:
  mutable std::mutex mutex_;
  std::vector<sms_message> messages_;
  std::unordered_map<std::string, std::size_t> by_id_;  // id -> index in messages_
};

[[nodiscard]] nlohmann::json to_json(const sms_message& m);

}  // namespace payengine::sim
