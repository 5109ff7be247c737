#pragma once

// Everything the engine's Alipay gateway and the simulator share: request
// building and checking, response signing and verification, notifications.
#include "channels/alipay_codes.hpp"
#include "channels/alipay_notification.hpp"
#include "channels/alipay_request.hpp"
#include "channels/alipay_response.hpp"
#include "channels/alipay_sign.hpp"
#include "channels/form.hpp"
#include "channels/money_text.hpp"
#include "channels/result.hpp"
#include "channels/rsa_key.hpp"
