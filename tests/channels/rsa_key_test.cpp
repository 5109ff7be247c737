#include "channels/rsa_key.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "tests/channels/test_keys.hpp"

namespace payengine::channels {
namespace {

TEST(channels_rsa_key, signs_and_verifies) {
  const auto priv = private_key::from_pem(test::app_pems().private_pem);
  const auto pub = public_key::from_pem(test::app_pems().public_pem);
  ASSERT_TRUE(priv) << priv.error().detail;
  ASSERT_TRUE(pub) << pub.error().detail;
  const auto sig = priv->sign("a=1&b=2");
  ASSERT_TRUE(sig);
  EXPECT_EQ(sig->size(), 344u);  // 256 bytes of signature in base64
  EXPECT_TRUE(pub->verify("a=1&b=2", *sig));
  EXPECT_FALSE(pub->verify("a=1&b=3", *sig));
}

TEST(channels_rsa_key, another_key_does_not_verify) {
  const auto priv = private_key::from_pem(test::app_pems().private_pem);
  const auto other = public_key::from_pem(test::channel_pems().public_pem);
  const auto sig = priv->sign("data");
  EXPECT_FALSE(other->verify("data", *sig));
}

TEST(channels_rsa_key, rejects_malformed_signatures) {
  const auto pub = public_key::from_pem(test::app_pems().public_pem);
  const auto sig = private_key::from_pem(test::app_pems().private_pem)->sign("data").value();
  std::string flipped = sig;
  flipped[10] = flipped[10] == 'A' ? 'B' : 'A';
  for (const std::string& bad : {std::string{}, std::string("not base64!"), sig.substr(1), flipped, sig + "AAAA",
                                 std::string(" ") + sig}) {
    EXPECT_FALSE(pub->verify("data", bad)) << bad;
  }
}

TEST(channels_rsa_key, loads_from_files) {
  const std::string path = testing::TempDir() + "channels_rsa_key_test_" + std::to_string(getpid()) + ".pem";
  std::ofstream(path) << test::app_pems().private_pem;
  EXPECT_TRUE(private_key::from_pem_file(path));
  std::ofstream(path) << test::app_pems().public_pem;
  EXPECT_TRUE(public_key::from_pem_file(path));
  std::remove(path.c_str());
  EXPECT_EQ(private_key::from_pem_file(path).error().code, errc::key_unreadable);
}

TEST(channels_rsa_key, refuses_garbage_and_short_keys) {
  EXPECT_EQ(private_key::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").error().code,
            errc::key_unreadable);
  EXPECT_EQ(public_key::from_pem(test::app_pems().private_pem).error().code, errc::key_unreadable);
  EXPECT_EQ(private_key::from_pem(test::app_pems().public_pem).error().code, errc::key_unreadable);
  const auto short_pair = test::generate_pem_pair(1024);
  EXPECT_EQ(private_key::from_pem(short_pair.private_pem).error().code, errc::key_unreadable);
  EXPECT_EQ(public_key::from_pem(short_pair.public_pem).error().code, errc::key_unreadable);
}

TEST(channels_rsa_key, base64_is_strict) {
  EXPECT_EQ(base64_encode("hello"), "aGVsbG8=");
  EXPECT_EQ(base64_decode("aGVsbG8="), "hello");
  EXPECT_EQ(base64_decode("aGVsbA=="), "hell");
  EXPECT_EQ(base64_decode("aGVs"), "hel");
  for (const char* bad : {"", "aGVsbG8", "aGVs bG8=", "aGVsbG8=\n", "a===", "aG=sbG8=", "aGVs*G8="}) {
    EXPECT_FALSE(base64_decode(bad)) << bad;
  }
}

}  // namespace
}  // namespace payengine::channels
