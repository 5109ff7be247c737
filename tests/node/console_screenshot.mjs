// The README's picture of the console under load (scripts/console_screenshot.sh):
//   node console_screenshot.mjs <engine url> <admin token> <out.png> [seconds=30]
import { chromium } from "playwright-core";

const [base, token, out, seconds = "30"] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.PAYENGINE_CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1400 } });
  await page.goto(base + "/console");
  await page.fill('[data-testid="token"]', token);
  await page.click('[data-testid="login-button"]');
  await page.waitForSelector('[data-testid="stream-state"][data-state="live"]');
  // Let the charts fill: one stats frame a second.
  await page.waitForFunction((n) => Number(document.body.dataset.statsFrames) >= n, Number(seconds),
                             { timeout: (Number(seconds) + 20) * 1000 });
  // Kill one live order actor to show a crash and its restart.
  // The pointer over the table holds its rows still, as for an operator.
  await page.hover("#orders thead");
  const id = await page.getAttribute("#orders tr[data-live=true]", "data-order");
  if (id) {
    await page.click(`button[data-kill="${id}"]`);
    await page.waitForSelector(`#feed li[data-type="restart"][data-order="${id}"]`);
    await page.fill('[data-testid="search"]', id);
    await page.press('[data-testid="search"]', "Enter");
    await page.waitForSelector(`#order-detail [data-order="${id}"]`);
  }
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: out, fullPage: true });
  console.log("saved " + out);
} finally {
  await browser.close();
}
