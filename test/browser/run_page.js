// Open one test page in headless Chromium (the Debian package, driven by playwright-core),
// wait until it sets window.__done, and print one JSON report on stdout:
//
//   node test/browser/run_page.js URL [--screenshot FILE] [--selector CSS] [--timeout MS]
//                                      [--timezone ZONE]
//
//   {"loaded": bool, "done": bool, "results": window.__results, "console": [...],
//    "page_errors": [...], "responses": [{"method","url","status"}], "failed": [{"method","url","error"}]}
//
// Environment: CHROMIUM (default /usr/bin/chromium), NODE_PATH must reach playwright-core.
// Exit status 0 whenever a report was printed; the caller judges the report.
"use strict";

const { chromium } = require("playwright-core");

function args(argv) {
    const out = { url: null, screenshot: null, selector: null, timeout: 120000, timezone: null };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === "--screenshot") out.screenshot = argv[++i];
        else if (a === "--selector") out.selector = argv[++i];
        else if (a === "--timeout") out.timeout = Number(argv[++i]);
        else if (a === "--timezone") out.timezone = argv[++i];
        else out.url = a;
    }
    if (!out.url) throw new Error("usage: run_page.js URL [--screenshot FILE] [--selector CSS] [--timeout MS]");
    return out;
}

async function main() {
    const opt = args(process.argv.slice(2));
    const report = { loaded: false, done: false, results: null, console: [], page_errors: [],
                     responses: [], failed: [], error: null };
    const browser = await chromium.launch({
        executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
        headless: true,
        args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
               "--host-resolver-rules=MAP localhost 127.0.0.1"],
    });
    try {
        const context = await browser.newContext({
            viewport: { width: 1280, height: 800 },
            timezoneId: opt.timezone || undefined,
            locale: "ru-RU",
        });
        const page = await context.newPage();
        page.on("console", (m) => report.console.push(m.type() + ": " + m.text()));
        page.on("pageerror", (e) => report.page_errors.push(String(e && e.stack || e)));
        page.on("response", (r) => report.responses.push(
            { method: r.request().method(), url: r.url(), status: r.status() }));
        page.on("requestfailed", (r) => report.failed.push(
            { method: r.method(), url: r.url(), error: (r.failure() || {}).errorText || "" }));
        const deadline = Date.now() + opt.timeout;
        const nav = await page.goto(opt.url, { waitUntil: "load", timeout: opt.timeout });
        report.loaded = !!nav && nav.ok();
        try {
            await page.waitForFunction(() => window.__done === true,
                                       null, { timeout: Math.max(1000, deadline - Date.now()) });
            report.done = true;
        } catch (e) {
            report.error = "the page did not finish (window.__done) in time: " + e.message.split("\n")[0];
        }
        report.results = await page.evaluate(() => window.__results || null);
        if (opt.screenshot) {
            const target = opt.selector ? page.locator(opt.selector) : page;
            await target.screenshot({ path: opt.screenshot });
        }
    } catch (e) {
        report.error = String(e && e.stack || e);
    } finally {
        await browser.close();
    }
    process.stdout.write(JSON.stringify(report) + "\n");
}

main().catch((e) => {
    process.stdout.write(JSON.stringify({ loaded: false, done: false, error: String(e && e.stack || e) }) + "\n");
});
