// Browser test of the dashboard against a running `mrjbot serve`, driven by
// `mrjbot/tests/dashboard.rs` (which seeds the shop and starts the binary).
// playwright-core drives Debian's Chromium; no browser is downloaded.
//
// Env: BASE_URL, STAFF_ID, STAFF_PASSWORD, CUSTOMER_ID, CUSTOMER_USERNAME,
// PAYMENT_ID, ARTIFACTS (screenshots), CHROMIUM (default /usr/bin/chromium).
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const BASE = env("BASE_URL");
const ARTIFACTS = env("ARTIFACTS");
const customerId = env("CUSTOMER_ID");
const username = env("CUSTOMER_USERNAME");
const paymentId = env("PAYMENT_ID");
mkdirSync(ARTIFACTS, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
const context = await browser.newContext({ viewport: { width: 1366, height: 860 } });
// Start in English unless the test switched the language already.
await context.addInitScript(() => {
  if (!localStorage.getItem("mrjbot.lang")) localStorage.setItem("mrjbot.lang", "en");
});
const page = await context.newPage();
const errors = [];
page.on("pageerror", (e) => errors.push(String(e)));
let step = 0;
const shot = async (name) => {
  step += 1;
  const file = join(ARTIFACTS, `${String(step).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`screenshot ${file}`);
};
const check = (cond, message) => {
  if (!cond) throw new Error(message);
};

async function userBalance() {
  await page.goto(`${BASE}/admin/users`);
  await page.fill('input[name="search"]', username);
  const cell = page.getByTestId(`balance-${customerId}`);
  await cell.waitFor({ timeout: 15_000 });
  return (await cell.textContent()).trim();
}

try {
  // 1. Sign in as staff.
  await page.goto(`${BASE}/`);
  await page.getByTestId("tab-staff").click();
  await page.fill('input[name="telegram_id"]', env("STAFF_ID"));
  await page.fill('input[name="password"]', env("STAFF_PASSWORD"));
  await shot("login");
  await page.getByTestId("sign-in").click();
  await page.getByTestId("nav").waitFor({ timeout: 15_000 });
  check((await page.getByTestId("who").textContent()).includes("Staff"), "signed in as staff");

  // 2. The customer's balance before.
  const before = await userBalance();
  check(before === "0 Toman", `balance before approval: ${before}`);
  await shot("users-before");

  // 3. The receipt in the queue, with its photo; approve it.
  await page.goto(`${BASE}/admin/payments`);
  const card = page.locator(`[data-testid="receipt"][data-payment="${paymentId}"]`);
  await card.waitFor({ timeout: 15_000 });
  const image = card.getByTestId("receipt-image");
  await image.waitFor({ timeout: 15_000 });
  const width = await image.evaluate((img) => (img.complete ? img.naturalWidth : 0));
  check(width > 0, "the receipt photo loaded");
  check((await card.getByTestId("receipt-customer").textContent()).includes(username), "the queue names the customer");
  check((await card.getByTestId("receipt-amount").textContent()).includes("250,000"), "the queue shows the amount");
  await card.getByTestId("ocr").waitFor();
  check((await card.getByTestId("ocr").textContent()).includes("OCR reading"), "the queue shows the OCR reading (or that there is none yet)");
  await shot("queue");
  await card.getByTestId("approve").click();
  await page.getByTestId("queue-empty").waitFor({ timeout: 15_000 });
  await shot("queue-after-approval");

  // 4. The balance changed (the API's cache refreshed by the approval's events).
  let after = "";
  for (let i = 0; i < 30; i++) {
    after = await userBalance();
    if (after === "250,000 Toman") break;
    await page.waitForTimeout(500);
  }
  check(after === "250,000 Toman", `balance after approval: ${after}`);
  await page.getByTestId("users").locator(`[data-row="${customerId}"]`).click();
  await page.getByTestId("customer-balance").waitFor();
  check((await page.getByTestId("customer-balance").textContent()) === "250,000 Toman", "the customer dialog shows the new balance");
  await shot("users-after");
  await page.keyboard.press("Escape");

  // 5. Persian mirrors the layout: right-to-left document, navigation on the right.
  const drawerBox = async () => page.getByTestId("nav").boundingBox();
  const ltr = await drawerBox();
  check(ltr.x < 100, `the navigation starts on the left in English (x=${ltr.x})`);
  await page.getByTestId("switch-language").click();
  await page.waitForFunction(() => document.documentElement.dir === "rtl");
  await page.waitForTimeout(400);
  const rtl = await drawerBox();
  const viewport = page.viewportSize();
  check(rtl.x + rtl.width > viewport.width - 20 && rtl.x > viewport.width / 2, `the navigation is on the right in Persian (x=${rtl.x})`);
  check((await page.locator("body").textContent()).includes("کاربران"), "the page is in Persian");
  const persian = await userBalance();
  check(persian.includes("۲۵۰٬۰۰۰") && persian.includes("تومان"), `Persian digits and currency: ${persian}`);
  const align = await page.locator("h1").evaluate((h) => getComputedStyle(h).direction);
  check(align === "rtl", `headings run right-to-left (${align})`);
  await shot("persian-rtl");

  // 6. Settings: a switch per feature with its license; the license page (no license here).
  await page.goto(`${BASE}/admin/settings`);
  const points = page.getByTestId("switch-points");
  await points.waitFor({ timeout: 15_000 });
  check(await points.isChecked(), "points are on until switched off");
  check(await page.getByTestId("switch-chat").isDisabled(), "an unlicensed feature cannot be switched on");
  await points.click();
  await page.waitForFunction(() => document.querySelector('[data-testid="switch-points"]')?.checked === false, null, { timeout: 15_000 });
  await shot("settings");
  await page.goto(`${BASE}/admin/license`);
  await page.getByTestId("license-state").waitFor({ timeout: 15_000 });
  check((await page.getByTestId("license-state").getAttribute("data-state")) === "unlicensed", "the license page shows no license");
  await shot("license");

  // 7. Live chat for agents: the queue (empty in this shop).
  await page.goto(`${BASE}/admin/chat`);
  await page.getByTestId("no-chats").waitFor({ timeout: 15_000 });
  await shot("live-chat");

  // 8. The signed-in person's own pages: notifications (a table, or a line
  // saying nothing was sent) and live chat, which the unlicensed shop refuses
  // with the domain's reason. Every page is built now: nothing says "not available yet".
  await page.goto(`${BASE}/me/notifications`);
  await page.locator('[data-testid="notifications"], [data-testid="no-notifications"]').first().waitFor({ timeout: 15_000 });
  check((await page.getByTestId("not-available").count()) === 0, "the notifications page is built");
  await shot("notifications");
  await page.goto(`${BASE}/me/chat`);
  await page.getByTestId("no-chat").waitFor({ timeout: 15_000 });
  await page.getByTestId("open-chat").click();
  await page.getByTestId("chat-off").waitFor({ timeout: 15_000 });
  await shot("my-chat-off");

  check(errors.length === 0, `page errors: ${errors.join("; ")}`);
  console.log(JSON.stringify({ ok: true, before, after, persian }));
} catch (e) {
  await shot("failure").catch(() => {});
  console.error(`dashboard e2e failed: ${e.stack ?? e}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
