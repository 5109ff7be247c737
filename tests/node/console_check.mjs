// The console in a real browser (Debian's chromium driven by playwright-core):
// logs in, watches an order move to `paid` without reloading, kills the
// order's actor and sees the restart, finds the order's timeline, and saves
// a screenshot. Run by tests/e2e/console_test.cpp:
//
//   node console_check.mjs <engine url> <admin token> <merchant api key> <screenshot.png>
//
// Exits 0 when every step was seen, 1 with the failed step otherwise.
import { chromium } from "playwright-core";

const [base, adminToken, merchantKey, screenshot] = process.argv.slice(2);
if (!base || !adminToken || !merchantKey || !screenshot) {
  console.error("usage: console_check.mjs <engine url> <admin token> <merchant key> <screenshot.png>");
  process.exit(2);
}
const STEP_MS = 20000;

async function merchant(path, body) {
  const res = await fetch(base + path, {
    method: body === undefined ? "GET" : "POST",
    headers: { Authorization: "Bearer " + merchantKey, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${path} answered ${res.status}: ${JSON.stringify(json)}`);
  return json;
}

let step = "launch";
const problems = [];
const browser = await chromium.launch({
  executablePath: process.env.PAYENGINE_CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
         "--disable-extensions", "--disable-sync", "--no-first-run", "--mute-audio"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1500 } });
  page.setDefaultTimeout(STEP_MS);
  page.on("pageerror", (e) => problems.push("page error: " + e.message));
  page.on("console", (m) => {
    // The document itself answers 401 until the operator logs in: expected.
    if (m.type() === "error" && !/status of 401/.test(m.text())) problems.push("console error: " + m.text() + " (" + (m.location().url || "?") + ")");
  });

  step = "open /console (no token: 401 with the login page)";
  const first = await page.goto(base + "/console");
  if (first.status() !== 401) throw new Error("expected 401 before login, got " + first.status());
  await page.waitForSelector('[data-testid="login"]:not([hidden])');

  step = "a wrong token is refused";
  await page.fill('[data-testid="token"]', "not-the-token-at-all");
  await page.click('[data-testid="login-button"]');
  await page.waitForSelector("#login-error:has-text('refused')");

  step = "log in; the stream goes live";
  await page.fill('[data-testid="token"]', adminToken);
  await page.click('[data-testid="login-button"]');
  await page.waitForSelector('[data-testid="stream-state"][data-state="live"]');
  await page.evaluate(() => { window.__notReloaded = true; });
  await page.waitForSelector('#tree [data-kind="order_registry"]');
  await page.waitForSelector('#tree [data-kind="storage_writer"]');
  await page.waitForSelector('#breakers tr[data-channel="alipay"][data-circuit="closed"]');

  step = "an order appears";
  const order = await merchant("/v1/orders", {
    merchant_order_no: "BROWSER-" + Date.now(), amount: 8888, currency: "CNY",
    subject: "Console check", channel: "alipay",
  });
  const row = `#orders tr[data-order="${order.id}"]`;
  await page.waitForSelector(`${row}[data-status="created"]`);

  step = "the customer pays; the row moves to paid without a reload";
  await merchant(`/v1/orders/${order.id}/pay`, {});
  let qr = null;
  for (let i = 0; i < 200 && !qr; i++) {
    const o = await merchant(`/v1/orders/${order.id}`);
    qr = o.payment && o.payment.qr_code;
    if (!qr) await new Promise((r) => setTimeout(r, 50));
  }
  if (!qr) throw new Error("no QR code for " + order.id);
  await page.waitForSelector(`${row}[data-status="awaiting_payment"]`);
  const scan = await fetch(qr, { method: "POST", headers: { "Content-Type": "application/json" },
                                 body: JSON.stringify({ result: "success" }) });
  if (!scan.ok) throw new Error("paysim refused the payment: " + scan.status);
  await page.waitForSelector(`${row}[data-status="paid"]`);
  if (!(await page.evaluate(() => window.__notReloaded === true))) throw new Error("the page reloaded");
  await page.waitForSelector(`#feed li[data-type="transition"][data-order="${order.id}"]`);

  step = "kill the order's actor; the restart is visible";
  await page.click(`${row} button[data-kill="${order.id}"]`);
  await page.waitForSelector(`#feed li[data-type="crash"][data-order="${order.id}"]`);
  await page.waitForSelector(`#feed li[data-type="restart"][data-order="${order.id}"]`);
  await page.waitForSelector(`${row}[data-restarts="1"][data-live="true"][data-status="paid"]`);

  step = "the order's timeline";
  await page.fill('[data-testid="search"]', order.id);
  await page.press('[data-testid="search"]', "Enter");
  await page.waitForSelector(`#order-detail [data-order="${order.id}"][data-status="paid"]`);
  await page.waitForSelector('#order-detail [data-event="order.paid"]');
  await page.waitForSelector('#order-detail [data-event="order.created"]');

  step = "charts have data; screenshot";
  const frames = Number(await page.evaluate(() => document.body.dataset.statsFrames || "0"));
  await page.waitForFunction((n) => Number(document.body.dataset.statsFrames) > n, frames + 1);

  step = "the front door's figures";
  // The console's own stream is an open connection; the limit is a number.
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="kpi-connections"]').textContent) >= 1);
  await page.waitForFunction(() => /^\d+ \/ \d+$/.test(document.querySelector('[data-testid="kpi-admission"]').textContent));

  step = "the ledger panel";
  // Its sums come from GET /admin/ledger: equal debits and credits.
  await page.waitForFunction(() => /^balanced /.test(document.querySelector('[data-testid="ledger-totals"]').textContent));
  await page.screenshot({ path: screenshot, fullPage: true });

  if (problems.length) throw new Error(problems.join("\n"));
  console.log(JSON.stringify({ ok: true, order: order.id, screenshot }));
} catch (e) {
  console.error(`console check failed at step "${step}": ${e.message}`);
  if (problems.length) console.error(problems.join("\n"));
  process.exitCode = 1;
} finally {
  await browser.close();
}
