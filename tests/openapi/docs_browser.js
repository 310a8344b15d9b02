// docs_browser.js - drives lakeapi's Swagger UI (/docs) in headless Chromium like a person:
// the page must render the orders operations, and "Try it out" + "Execute" on
// GET /api/v1/orders/count must show a 200 response with the count.
//
//   node docs_browser.js BASE_URL [SCREENSHOT.png]
//
// Uses Debian's Chromium (/usr/bin/chromium, or CHROMIUM) through playwright-core; no
// browser is downloaded. Prints one JSON line with what it saw; exits 1 on any failure.
// Run by tests/api/test_openapi.py; modules come from NODE_PATH (scripts/swagger.sh --tests).
"use strict";

const { chromium } = require("playwright-core");

const TIMEOUT_MS = 20000;

async function main() {
  const base = process.argv[2];
  const shot = process.argv[3];
  if (!base) {
    console.error("usage: node docs_browser.js BASE_URL [SCREENSHOT.png]");
    process.exit(2);
  }
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--no-first-run"],
  });
  const seen = { requests: [], console_errors: [] };
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
    page.setDefaultTimeout(TIMEOUT_MS);
    page.on("request", (r) => seen.requests.push(r.url()));
    page.on("console", (m) => { if (m.type() === "error") seen.console_errors.push(m.text()); });

    const resp = await page.goto(`${base}/docs`, { waitUntil: "load" });
    seen.docs_status = resp.status();
    await page.waitForSelector("#operations-tag-orders");
    seen.title = await page.title();
    seen.operations = await page.$$eval(".opblock-summary-path", (els) =>
      els.map((e) => e.getAttribute("data-path") || e.textContent.trim()));

    const op = page.locator("#operations-orders-get_order_count");
    await op.locator(".opblock-summary").first().click();
    await op.locator("button.try-out__btn").click();
    await op.locator("button.execute").click();
    const status = op.locator(".live-responses-table .response .response-col_status").first();
    await status.waitFor();
    seen.execute_status = (await status.textContent()).trim();
    seen.execute_body = (await op.locator(".live-responses-table .response-col_description pre")
      .first().textContent()).trim();
    if (shot) {
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: shot, fullPage: false });
    }
  } finally {
    await browser.close();
  }
  // Offline: nothing but the server itself may have been asked for anything.
  seen.foreign = seen.requests.filter((u) => !u.startsWith(base) && !u.startsWith("data:"));
  console.log(JSON.stringify(seen));
}

main().catch((err) => {
  console.error(`browser test failed: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
