// WeChat Pay API v3 checked with an independent implementation: the npm
// package wechatpay-axios-plugin's helpers (Formatter for nonces,
// timestamps, the signed messages and the Authorization header; Rsa to sign
// and verify; Aes.AesGcm to seal and open notification resources).
//
// Mode "sim": paysim as WeChat Pay, seen by the package as a merchant sees it.
//   node wechat_official_client.mjs sim PAYSIM_URL [flags]
//   1. signs a native prepay (notify_url: a small HTTP server this script
//      starts on 127.0.0.1) that paysim must accept: 200 + code_url;
//   2. verifies paysim's answer signature with the platform public key;
//   3. a request signed with another key must be refused: 401 SIGN_ERROR
//      (that answer signed too);
//   4. pays (POST code_url), then verifies and decrypts the
//      TRANSACTION.SUCCESS notification paysim sends, and queries the order
//      (signed GET, verified answer, trade_state SUCCESS).
//   Flags (each falls back to the environment variable in brackets, the
//   engine's names, since the script plays the engine's part):
//     --merchant-private-key-file   [PAYENGINE_WECHAT_PRIVATE_KEY_FILE]
//     --merchant-serial             [PAYENGINE_WECHAT_SERIAL]
//     --platform-public-key-file    [PAYENGINE_WECHAT_PLATFORM_PUBLIC_KEY_FILE]
//     --platform-serial             [PAYENGINE_WECHAT_PLATFORM_SERIAL]
//     --apiv3-key-file              [PAYENGINE_WECHAT_APIV3_KEY_FILE]
//     --mchid                       [PAYENGINE_WECHAT_MCH_ID]
//     --appid                       [PAYENGINE_WECHAT_APP_ID]
//
// Mode "notify": a TRANSACTION.SUCCESS notification for the engine, built
// and signed with the package as WeChat Pay would send it.
//   node wechat_official_client.mjs notify ENGINE_BASE_URL [flags]
//   POSTs it to ENGINE_BASE_URL/v1/callbacks/wechat and prints
//   {"status", "body", "notification"} on stdout; exits 0 when the engine
//   answered 2xx (API.md: 204 after its commit), 1 otherwise.
//   Flags [environment fallback]:
//     --platform-private-key-file   [PAYSIM_WECHAT_PRIVATE_KEY_FILE]
//     --platform-serial             [PAYSIM_WECHAT_SERIAL]
//     --apiv3-key-file              [PAYSIM_WECHAT_APIV3_KEY_FILE]
//     --mchid                       [PAYSIM_WECHAT_MCH_ID]
//     --appid                       [PAYSIM_WECHAT_APP_ID]
//     --out-trade-no                (required) the trade paid
//     --amount                      (required) fen paid: amount.total and payer_total
//     --transaction-id              (default: a fresh 28-digit number)
//     --trade-state                 (default SUCCESS)
//     --event-type                  (default TRANSACTION.SUCCESS)
//     --tamper                      alter the body after signing (the engine must refuse it)
//
// Exit 0 when every check passed; 1 with one line per failure on stderr.
import { createServer } from "node:http";
import { generateKeyPairSync, randomInt, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { Aes, Formatter, Rsa } from "wechatpay-axios-plugin";

const DEADLINE_MS = 20_000;

const FLAGS = {
  "merchant-private-key-file": "PAYENGINE_WECHAT_PRIVATE_KEY_FILE",
  "merchant-serial": "PAYENGINE_WECHAT_SERIAL",
  "platform-public-key-file": "PAYENGINE_WECHAT_PLATFORM_PUBLIC_KEY_FILE",
  "platform-serial": "PAYENGINE_WECHAT_PLATFORM_SERIAL",
  "apiv3-key-file": "PAYENGINE_WECHAT_APIV3_KEY_FILE",
  mchid: "PAYENGINE_WECHAT_MCH_ID",
  appid: "PAYENGINE_WECHAT_APP_ID",
  "platform-private-key-file": "PAYSIM_WECHAT_PRIVATE_KEY_FILE",
  "out-trade-no": "",
  amount: "",
  "transaction-id": "",
  "trade-state": "",
  "event-type": "",
};
// In "notify" mode the script plays the platform: its names are paysim's.
const NOTIFY_ENV = {
  "platform-serial": "PAYSIM_WECHAT_SERIAL",
  "apiv3-key-file": "PAYSIM_WECHAT_APIV3_KEY_FILE",
  mchid: "PAYSIM_WECHAT_MCH_ID",
  appid: "PAYSIM_WECHAT_APP_ID",
};

function options(mode) {
  const spec = Object.fromEntries(Object.keys(FLAGS).map((name) => [name, { type: "string" }]));
  spec.tamper = { type: "boolean" };
  const { values, positionals } = parseArgs({ args: process.argv.slice(3), options: spec, allowPositionals: true });
  const get = (name, required = true) => {
    const env = (mode === "notify" && NOTIFY_ENV[name]) || FLAGS[name];
    const value = values[name] ?? (env ? process.env[env] : undefined);
    if (required && !value) throw new Error(`missing --${name}${env ? ` (or ${env})` : ""}`);
    return value;
  };
  return { url: positionals[0], get, tamper: Boolean(values.tamper) };
}

// The APIv3 key as WeChat's merchant platform gives it: 32 bytes; one
// trailing newline (an editor's) is not part of it.
function apiv3Key(path) {
  const key = readFileSync(path, "utf8").replace(/\n$/, "");
  if (Buffer.byteLength(key) !== 32) throw new Error(`APIv3 key ${path} is not 32 bytes`);
  return key;
}

const failures = [];
function check(ok, what) {
  if (!ok) failures.push(what);
  return ok;
}

// --- the merchant's side of the protocol, with the package --------------------

function authorization(merchant, method, urlPath, body) {
  const nonce = Formatter.nonce();
  const timestamp = Formatter.timestamp();
  const signature = Rsa.sign(Formatter.request(method, urlPath, timestamp, nonce, body), merchant.key);
  return Formatter.authorization(merchant.mchid, nonce, signature, timestamp, merchant.serial);
}

async function signedCall(base, merchant, method, urlPath, payload, key = merchant.key) {
  const body = payload === undefined ? "" : JSON.stringify(payload);
  const headers = {
    Accept: "application/json",
    Authorization: authorization({ ...merchant, key }, method, urlPath, body),
  };
  if (body) headers["Content-Type"] = "application/json";
  const res = await fetch(base + urlPath, { method, headers, body: body || undefined, signal: AbortSignal.timeout(DEADLINE_MS) });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

// WeChat's answer and notification signature: "timestamp\nnonce\nbody\n".
function verifyPlatform(headers, body, platform) {
  const get = (name) => (typeof headers.get === "function" ? headers.get(name) : headers[name.toLowerCase()]);
  const timestamp = get("Wechatpay-Timestamp");
  const nonce = get("Wechatpay-Nonce");
  const signature = get("Wechatpay-Signature");
  const serial = get("Wechatpay-Serial");
  if (!timestamp || !nonce || !signature) return "unsigned";
  if (serial !== platform.serial) return `serial ${serial}, expected ${platform.serial}`;
  if (Math.abs(Formatter.timestamp() - Number(timestamp)) > 300) return `timestamp ${timestamp} out of window`;
  return Rsa.verify(Formatter.response(timestamp, nonce, body), signature, platform.key) ? "" : "signature does not verify";
}

function openResource(notification, key) {
  const { ciphertext, nonce, associated_data: aad, algorithm } = notification.resource;
  if (algorithm !== "AEAD_AES_256_GCM") throw new Error(`resource algorithm ${algorithm}`);
  return JSON.parse(Aes.AesGcm.decrypt(ciphertext, key, nonce, aad));
}

// A local notify_url: keeps what arrives, acknowledges with 204.
function startReceiver() {
  const received = [];
  let wake = () => {};
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(204).end();
      wake();
    });
  });
  const next = (deadline) =>
    new Promise((resolve, reject) => {
      if (received.length) return resolve(received.shift());
      const timer = setTimeout(() => reject(new Error("no notification arrived")), deadline);
      wake = () => {
        clearTimeout(timer);
        resolve(received.shift());
      };
    });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({ url: `http://127.0.0.1:${server.address().port}/wechat/notify`, next, close: () => server.close() }),
    ),
  );
}

// --- mode "sim" -----------------------------------------------------------------

async function checkPrepay(base, merchant, platform, order) {
  const answer = await signedCall(base, merchant, "POST", "/v3/pay/transactions/native", order);
  if (!check(answer.status === 200, `prepay answered ${answer.status}: ${answer.body}`)) return null;
  const why = verifyPlatform(answer.headers, answer.body, platform);
  check(!why, `prepay answer: ${why}`);
  const codeUrl = JSON.parse(answer.body).code_url;
  check(typeof codeUrl === "string" && codeUrl.startsWith(base), `code_url ${codeUrl} is not on paysim`);
  return codeUrl;
}

async function checkForgery(base, merchant, platform, order) {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const forged = { ...order, out_trade_no: `${order.out_trade_no}F` };
  const answer = await signedCall(base, merchant, "POST", "/v3/pay/transactions/native", forged, privateKey);
  check(answer.status === 401, `a wrong signature answered ${answer.status}, not 401`);
  check(answer.body.includes("SIGN_ERROR"), `a wrong signature answered ${answer.body}`);
  const why = verifyPlatform(answer.headers, answer.body, platform);
  check(!why, `401 answer: ${why}`);
}

async function checkNotification(receiver, platform, key, order) {
  const n = await receiver.next(DEADLINE_MS);
  const why = verifyPlatform(n.headers, n.body, platform);
  check(!why, `notification: ${why}`);
  const notification = JSON.parse(n.body);
  check(notification.event_type === "TRANSACTION.SUCCESS", `event_type ${notification.event_type}`);
  const trade = openResource(notification, key);
  check(trade.out_trade_no === order.out_trade_no, `notified out_trade_no ${trade.out_trade_no}`);
  check(trade.trade_state === "SUCCESS", `notified trade_state ${trade.trade_state}`);
  check(trade.amount?.total === order.amount.total, `notified amount.total ${trade.amount?.total}`);
  check(trade.mchid === order.mchid && trade.appid === order.appid, "notified mchid/appid");
  check(/^\d+$/.test(trade.transaction_id ?? ""), `notified transaction_id ${trade.transaction_id}`);
  return trade;
}

async function checkQuery(base, merchant, platform, order, transactionId) {
  const path = `/v3/pay/transactions/out-trade-no/${order.out_trade_no}?mchid=${order.mchid}`;
  const answer = await signedCall(base, merchant, "GET", path);
  check(answer.status === 200, `query answered ${answer.status}: ${answer.body}`);
  const why = verifyPlatform(answer.headers, answer.body, platform);
  check(!why, `query answer: ${why}`);
  const trade = JSON.parse(answer.body);
  check(trade.trade_state === "SUCCESS", `queried trade_state ${trade.trade_state}`);
  check(trade.transaction_id === transactionId, `queried transaction_id ${trade.transaction_id}`);
}

async function simMode(opts) {
  const base = opts.url.replace(/\/$/, "");
  const merchant = {
    mchid: opts.get("mchid"),
    serial: opts.get("merchant-serial"),
    key: Rsa.from(`file://${opts.get("merchant-private-key-file")}`, Rsa.KEY_TYPE_PRIVATE),
  };
  const platform = {
    serial: opts.get("platform-serial"),
    key: Rsa.from(`file://${opts.get("platform-public-key-file")}`, Rsa.KEY_TYPE_PUBLIC),
  };
  const key = apiv3Key(opts.get("apiv3-key-file"));
  const receiver = await startReceiver();
  try {
    const order = {
      appid: opts.get("appid"),
      mchid: merchant.mchid,
      description: "official client check",
      out_trade_no: `node_${Formatter.nonce(16)}`,
      notify_url: receiver.url,
      amount: { total: 2333, currency: "CNY" },
    };
    const codeUrl = await checkPrepay(base, merchant, platform, order);
    await checkForgery(base, merchant, platform, order);
    if (!codeUrl) return;
    const paid = await fetch(codeUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ result: "success" }),
      signal: AbortSignal.timeout(DEADLINE_MS),
    });
    check(paid.status === 200, `paying the code_url answered ${paid.status}`);
    const trade = await checkNotification(receiver, platform, key, order);
    await checkQuery(base, merchant, platform, order, trade.transaction_id);
    if (!failures.length) console.log(`wechatpay-axios-plugin: prepay, signatures, notification and query check out (${order.out_trade_no})`);
  } finally {
    receiver.close();
  }
}

// --- mode "notify" ------------------------------------------------------------------

// WeChat-like: "4200" and 24 digits.
function transactionId() {
  return `4200${Array.from({ length: 24 }, () => randomInt(10)).join("")}`;
}

// Beijing time, as WeChat writes it: 2018-06-08T10:34:56+08:00.
function beijingNow() {
  const t = new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 19);
  return `${t}+08:00`;
}

// The notification's headers and body, and the transaction it carries;
// `opts.get(name, required)` reads a flag (see the header comment).
export function buildNotification(opts) {
  const key = apiv3Key(opts.get("apiv3-key-file"));
  const platformKey = Rsa.from(`file://${opts.get("platform-private-key-file")}`, Rsa.KEY_TYPE_PRIVATE);
  const amount = Number(opts.get("amount"));
  if (!Number.isSafeInteger(amount) || amount < 1) throw new Error("--amount must be a positive integer of fen");
  const now = beijingNow();
  const trade = {
    appid: opts.get("appid"),
    mchid: opts.get("mchid"),
    out_trade_no: opts.get("out-trade-no"),
    transaction_id: opts.get("transaction-id", false) ?? transactionId(),
    trade_type: "NATIVE",
    trade_state: opts.get("trade-state", false) ?? "SUCCESS",
    trade_state_desc: "支付成功",
    bank_type: "OTHERS",
    success_time: now,
    payer: { openid: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" },
    amount: { total: amount, payer_total: amount, currency: "CNY", payer_currency: "CNY" },
  };
  const nonce = Formatter.nonce(12);
  const body = JSON.stringify({
    id: randomUUID(),
    create_time: now,
    resource_type: "encrypt-resource",
    event_type: opts.get("event-type", false) ?? "TRANSACTION.SUCCESS",
    summary: "支付成功",
    resource: {
      original_type: "transaction",
      algorithm: "AEAD_AES_256_GCM",
      ciphertext: Aes.AesGcm.encrypt(JSON.stringify(trade), key, nonce, "transaction"),
      associated_data: "transaction",
      nonce,
    },
  });
  const timestamp = Formatter.timestamp();
  const headerNonce = Formatter.nonce();
  const headers = {
    "Content-Type": "application/json",
    "Wechatpay-Timestamp": String(timestamp),
    "Wechatpay-Nonce": headerNonce,
    "Wechatpay-Signature": Rsa.sign(Formatter.response(timestamp, headerNonce, body), platformKey),
    "Wechatpay-Serial": opts.get("platform-serial"),
  };
  return { headers, body, trade };
}

async function notifyMode(opts) {
  const built = buildNotification(opts);
  const body = opts.tamper ? built.body.replace('"summary":"', '"summary":"x') : built.body;
  const res = await fetch(`${opts.url.replace(/\/$/, "")}/v1/callbacks/wechat`, {
    method: "POST",
    headers: built.headers,
    body,
    signal: AbortSignal.timeout(DEADLINE_MS),
  });
  const answer = await res.text();
  console.log(JSON.stringify({ status: res.status, body: answer, notification: built.trade }));
  check(res.status >= 200 && res.status < 300, `the engine answered ${res.status}: ${answer}`);
}

async function main() {
  const mode = process.argv[2];
  const opts = options(mode);
  if (!opts.url || !["sim", "notify"].includes(mode)) {
    throw new Error("usage: node wechat_official_client.mjs sim PAYSIM_URL | notify ENGINE_URL [flags]");
  }
  await (mode === "sim" ? simMode(opts) : notifyMode(opts));
}

// Run as a program (importing it for buildNotification runs nothing).
if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  try {
    await main();
  } catch (err) {
    failures.push(err.message);
  }
  for (const f of failures) console.error(`FAIL: ${f}`);
  process.exit(failures.length ? 1 : 0);
}
