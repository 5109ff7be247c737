// Verifies a webhook payengine sent, with the reference Standard Webhooks
// implementation. Usage: node verify_webhook.mjs FILE
// FILE: {"secret": "whsec_...", "headers": {...}, "body": "..."}
import { readFileSync } from "node:fs";
import { Webhook } from "standardwebhooks";

const { secret, headers, body } = JSON.parse(readFileSync(process.argv[2], "utf8"));
try {
  const payload = new Webhook(secret).verify(body, headers);
  console.log(`verified ${headers["webhook-id"]}: ${payload.type}`);
} catch (err) {
  console.error(`not verified: ${err.message}`);
  process.exit(1);
}
