#pragma once

#include <httplib.h>

#include "channels/rsa_key.hpp"
#include "sim/faults.hpp"
#include "sim/gateway.hpp"
#include "sim/notifier.hpp"
#include "sim/sms_box.hpp"
#include "sim/stop_flag.hpp"
#include "sim/trade_book.hpp"
#include "sim/wechat_gateway.hpp"
#include "sim/wechat_keys.hpp"

// The simulator's HTTP surface: JSON in and out, except the Alipay gateway
// (form in, signed JSON out); WeChat Pay's answers carry its signed headers.
namespace payengine::sim {

struct services {
  trade_book& trades;
  notifier& notices;
  gateway& alipay_gateway;
  fault_state& faults;
  sms_box& sms;
  stop_flag& stopping;
  const channels::private_key& sim_key;
  // Both null when WeChat Pay is not configured.
  wechat_gateway* wechat = nullptr;
  const wechat_keys* wechat_identity = nullptr;
};

// Handlers keep references into `s`: it must outlive the server's run.
void register_routes(httplib::Server& server, services& s);

}  // namespace payengine::sim
