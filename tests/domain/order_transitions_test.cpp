// Walks every (status, input) pair of the transition table against the
// table of API.md, written out here independently of the implementation.
#include "domain/order_transitions.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <utility>

namespace payengine {
namespace {

using s = order_status;
using in = order_input;

struct expected_transition {
  order_status to;
  bool refund_late_payment;
};

// API.md, "Statuses": every allowed pair. Anything not listed changes nothing.
const std::map<std::pair<order_status, order_input>, expected_transition>& api_table() {
  static const std::map<std::pair<order_status, order_input>, expected_transition> table = {
    {{s::created, in::pay}, {s::paying, false}},
    {{s::failed, in::pay}, {s::paying, false}},
    {{s::awaiting_payment, in::pay}, {s::paying, false}},
    {{s::paying, in::channel_accepted}, {s::awaiting_payment, false}},
    {{s::paying, in::channel_rejected}, {s::failed, false}},
    {{s::paying, in::payment_succeeded}, {s::paid, false}},
    {{s::awaiting_payment, in::payment_succeeded}, {s::paid, false}},
    {{s::failed, in::payment_succeeded}, {s::paid, false}},
    {{s::cancelled, in::payment_succeeded}, {s::refunded, true}},
    {{s::expired, in::payment_succeeded}, {s::refunded, true}},
    {{s::awaiting_payment, in::payment_closed}, {s::failed, false}},
    {{s::created, in::cancel}, {s::cancelled, false}},
    {{s::failed, in::cancel}, {s::cancelled, false}},
    {{s::awaiting_payment, in::cancel}, {s::cancelled, false}},
    {{s::created, in::expire}, {s::expired, false}},
    {{s::paying, in::expire}, {s::expired, false}},
    {{s::awaiting_payment, in::expire}, {s::expired, false}},
    {{s::failed, in::expire}, {s::expired, false}},
    {{s::paid, in::refund_completed}, {s::refunded, false}},
    {{s::completed, in::refund_completed}, {s::refunded, false}},
    {{s::paid, in::delivered}, {s::completed, false}},
  };
  return table;
}

TEST(order_transitions, every_pair_matches_the_api_table) {
  int allowed = 0;
  int refused = 0;
  for (auto from : all_order_statuses) {
    for (auto input : all_order_inputs) {
      SCOPED_TRACE(std::string{to_string(from)} + " + " + std::string{to_string(input)});
      auto got = next_status(from, input);
      auto want = api_table().find({from, input});
      if (want == api_table().end()) {
        EXPECT_FALSE(got.has_value()) << "moved to " << to_string(got->to);
        ++refused;
        continue;
      }
      ASSERT_TRUE(got.has_value());
      EXPECT_EQ(got->to, want->second.to);
      EXPECT_EQ(got->refund_late_payment, want->second.refund_late_payment);
      ++allowed;
    }
  }
  EXPECT_EQ(allowed, 21);
  EXPECT_EQ(allowed + refused, 9 * 9);
}

TEST(order_transitions, terminal_statuses_only_move_by_money_rules) {
  // refunded is final; completed only moves by a full refund; cancelled and
  // expired only by money that arrives late (and is refunded at once).
  for (auto input : all_order_inputs)
    EXPECT_FALSE(next_status(s::refunded, input).has_value()) << to_string(input);
  for (auto from : {s::cancelled, s::expired})
    for (auto input : all_order_inputs)
      if (input != in::payment_succeeded) {
        EXPECT_FALSE(next_status(from, input).has_value());
      }
}

TEST(order_transitions, no_input_moves_a_paid_order_back_to_unpaid) {
  const std::set<order_status> unpaid = {s::created, s::paying, s::awaiting_payment,
                                         s::failed, s::cancelled, s::expired};
  for (auto from : {s::paid, s::completed, s::refunded})
    for (auto input : all_order_inputs)
      if (auto t = next_status(from, input)) {
        EXPECT_FALSE(unpaid.count(t->to)) << to_string(from) << " -> " << to_string(t->to);
      }
}

TEST(order_transitions, event_types_name_the_target_status) {
  EXPECT_EQ(event_type_for(s::paid), "order.paid");
  EXPECT_EQ(event_type_for(s::cancelled), "order.cancelled");
  EXPECT_EQ(event_type_for(s::awaiting_payment), "order.awaiting_payment");
}

TEST(order_status, names_and_stored_codes_round_trip) {
  for (auto st : all_order_statuses) {
    EXPECT_EQ(order_status_from_string(to_string(st)), st);
    EXPECT_EQ(order_status_from_code(static_cast<int>(st)), st);
  }
  EXPECT_FALSE(order_status_from_string("pending").has_value());
  EXPECT_FALSE(order_status_from_code(0).has_value());
  EXPECT_FALSE(order_status_from_code(10).has_value());
  // Stored numbers are permanent.
  EXPECT_EQ(static_cast<int>(s::created), 1);
  EXPECT_EQ(static_cast<int>(s::completed), 9);
}

} // namespace
} // namespace payengine
