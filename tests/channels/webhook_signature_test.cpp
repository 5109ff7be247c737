// Standard Webhooks signatures: the specification's example, and secrets
// that are not "whsec_" + base64 (found by fuzz/webhook_signature.cpp).
#include "channels/webhook_signature.hpp"

#include <gtest/gtest.h>

namespace payengine::channels {
namespace {

TEST(webhook_signature, signs_the_specification_example) {
  EXPECT_EQ(sign_webhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                         R"({"test": 2432232314})"),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST(webhook_signature, refuses_secrets_that_are_not_whsec_base64) {
  // "====" once sized the key below zero (std::length_error, a crash).
  for (const char* secret : {"whsec_====", "whsec_A===", "whsec_", "whsec_!!!!", "whsec_abc", "MfKQ9r8GKYqrTwjU"})
    EXPECT_FALSE(sign_webhook(secret, "msg_1", 1, "{}")) << secret;
  EXPECT_TRUE(sign_webhook("whsec_AA==", "msg_1", 1, "{}"));
}

// The key is decoded strictly (channels/rsa_key.hpp), as the engine writes
// it: what OpenSSL's lenient decoder let through (blanks, '=' inside, data
// after the padding) would sign with a key other than the merchant's.
TEST(webhook_signature, decodes_the_key_strictly) {
  for (const char* secret : {"whsec_ AAA", "whsec_AAAA\n", "whsec_A=AA", "whsec_AA==AAAA", "whsec_AA\tA"})
    EXPECT_FALSE(sign_webhook(secret, "msg_1", 1, "{}")) << secret;
  EXPECT_TRUE(sign_webhook("whsec_AAAA", "msg_1", 1, "{}"));
}

} // namespace
} // namespace payengine::channels
