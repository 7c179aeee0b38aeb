// Drives Debian's Chromium through the dashboard page for e2e_dashboard_test (C++), which owns
// the system and checks the RDP clients' screens. One browser for the whole run; the test sends
// steps as JSON to POST /step on a loopback port this script picks and writes to
// $MP_E2E_PORT_FILE. Each step answers {"ok": true, ...} or {"ok": false, "error"}.
//
//   MP_E2E_URL        the dashboard, e.g. http://127.0.0.1:41234
//   MP_E2E_OUT        where screenshots go (tests/e2e/out)
//   MP_E2E_PORT_FILE  this script's control port is written here once it listens
import { createServer } from "node:http";
import { writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const base = process.env.MP_E2E_URL;
const out = process.env.MP_E2E_OUT;
const portFile = process.env.MP_E2E_PORT_FILE;
if (!base || !out || !portFile) {
  console.error("browser.mjs: MP_E2E_URL, MP_E2E_OUT and MP_E2E_PORT_FILE are required");
  process.exit(2);
}
mkdirSync(out, { recursive: true });

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run"],
});
let context = null;
let page = null;

const card = (key) => `.card[data-key="${key}"]`;

// Every step the test may ask for. Waits are bounded by `timeout_ms` (default 10 s).
const steps = {
  // A fresh browser profile: no cookies, nothing cached.
  async new_page() {
    if (context) await context.close();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    page.setDefaultTimeout(10000);
    return {};
  },

  async goto({ path }) {
    const response = await page.goto(base + path);
    return { url: page.url(), status: response ? response.status() : 0 };
  },

  // fetch() from the page, with the page's cookies. `csrf` adds the token of GET /api/me.
  async fetch({ method, path, body, csrf }) {
    return page.evaluate(async ({ method, path, body, csrf }) => {
      const headers = { "Content-Type": "application/json" };
      if (csrf) {
        const me = await fetch("/api/me", { credentials: "same-origin" });
        headers["X-CSRF-Token"] = (await me.json()).csrf_token;
      }
      const options = { method, headers, credentials: "same-origin" };
      if (body !== undefined) options.body = JSON.stringify(body);
      const response = await fetch(path, options);
      return { status: response.status, text: await response.text() };
    }, { method, path, body, csrf: Boolean(csrf) });
  },

  // Logs in through the login form; answers where the page went and the error it shows.
  async login({ user, password }) {
    await page.goto(base + "/login");
    await page.fill("#user", user);
    await page.fill("#password", password);
    await page.click("#login-button");
    await page.waitForFunction(() => location.pathname !== "/login" ||
      !document.getElementById("login-error").hidden);
    const path = new URL(page.url()).pathname;
    if (path !== "/login") await page.waitForSelector("#who:not(:empty)");
    const error = path === "/login" ? await page.textContent("#login-error") : "";
    return { path, error };
  },

  // Until every station's card shows the user and state asked for.
  async wait_stations({ stations, timeout_ms }) {
    await page.waitForFunction((wanted) => wanted.every((s) => {
      const card = document.querySelector(`.card[data-key="${s.key}"]`);
      return card && card.dataset.state === s.state &&
        card.querySelector(".user").textContent === s.user;
    }), stations, { timeout: timeout_ms || 10000 });
    return {
      cards: await page.$$eval(".card", (cards) => cards.map((c) => ({
        key: c.dataset.key, state: c.dataset.state,
        name: c.querySelector(".name").textContent,
        user: c.querySelector(".user").textContent,
        badge: c.querySelector(".badge").textContent,
        label: c.querySelector(".screen-label").textContent,
      }))),
    };
  },

  // Clicks each card once, as a teacher selects stations.
  async select({ keys }) {
    for (const key of keys) {
      await page.click(card(key));
      await page.waitForSelector(card(key) + '[aria-checked="true"]');
    }
    return { count: await page.textContent("#selection-count") };
  },

  // Selects only `source`, shortcut P, "every other station", Project; then until every other
  // card says it shows the source.
  async project({ source, name }) {
    await page.click(card(source));
    await page.waitForSelector(card(source) + '[aria-checked="true"]');
    await page.focus("body");
    await page.keyboard.press("p");
    await page.waitForSelector("#project-dialog[open]");
    await page.selectOption("#project-source", source);
    await page.check('input[name="project-to"][value="all"]');
    await page.click('#project-dialog button[value="ok"]');
    const said = await toast();
    await page.waitForFunction((text) => [...document.querySelectorAll(".card .limits")]
      .filter((e) => e.textContent.includes(text)).length >= 1, "Shows " + name);
    await page.click(card(source));  // unselected again
    return { toast: said };
  },

  async stop_projection() {
    await page.waitForSelector("#project-stop:not([hidden])");
    await page.click("#project-stop");
    const said = await toast();
    await page.waitForSelector("#project-stop", { state: "hidden" });
    return { toast: said };
  },

  // Shortcut S, a block schedule for every station on one day; until its row is listed.
  async add_schedule({ label, day, from, to, message }) {
    await page.focus("body");
    await page.keyboard.press("s");
    await page.waitForSelector("#schedules-dialog[open]");
    await page.fill("#schedule-label", label);
    await page.selectOption("#schedule-for", "all");
    for (const box of await page.$$('input[name="day"]')) {
      if ((await box.getAttribute("value")) === day) await box.check(); else await box.uncheck();
    }
    await page.fill("#schedule-from", from);
    await page.fill("#schedule-to", to);
    await page.selectOption("#schedule-action", "block");
    await page.fill("#schedule-detail", message);
    await page.click('#schedules-dialog button[value="add"]');
    const row = page.locator("#schedules-list tr", { hasText: label });
    await row.waitFor();
    return { toast: await toast(), row: await row.textContent() };
  },

  async remove_schedule({ label }) {
    const row = page.locator("#schedules-list tr", { hasText: label });
    await row.locator("button").click();
    await row.waitFor({ state: "detached" });
    await page.click('#schedules-dialog button[value="cancel"]');
    return {};
  },

  // Keyboard shortcut B, the message typed into the dialog, its Block button.
  async block({ message }) {
    await page.focus("body");
    await page.keyboard.press("b");
    await page.waitForSelector("#block-dialog[open]");
    await page.fill("#block-message", message);
    await page.click('#block-dialog button[value="ok"]');
    return { toast: await toast() };
  },

  // Disconnect… on the selected stations, confirmed.
  async disconnect() {
    await page.click("#disconnect");
    await page.waitForSelector("#disconnect-dialog[open]");
    await page.click('#disconnect-dialog button[value="ok"]');
    return { toast: await toast() };
  },

  async unblock() {
    await page.click("#unblock");
    return { toast: await toast() };
  },

  async message({ text }) {
    await page.click("#message");
    await page.waitForSelector("#message-dialog[open]");
    await page.fill("#message-text", text);
    await page.click('#message-dialog button[value="ok"]');
    return { toast: await toast() };
  },

  // Until the replies panel lists an answer containing `text`.
  async wait_reply({ text, timeout_ms }) {
    const item = page.locator("#reply-list li", { hasText: text });
    await item.first().waitFor({ timeout: timeout_ms || 10000 });
    return { reply: await item.first().textContent() };
  },

  // Until every card shows its thumbnail; then each one's size, bytes and a digest of its pixels.
  async thumbnails({ timeout_ms }) {
    await page.waitForFunction(() => {
      const cards = [...document.querySelectorAll(".card")];
      return cards.length > 0 && cards.every((c) => {
        const img = c.querySelector("img.thumb");
        return img && !img.hidden && img.complete && img.naturalWidth > 0;
      });
    }, null, { timeout: timeout_ms || 10000 });
    const thumbnails = await page.$$eval(".card", async (cards) => Promise.all(cards.map(async (c) => {
      const img = c.querySelector("img.thumb");
      // The page may have started loading a newer picture since: wait for it.
      if (!img.complete || img.naturalWidth === 0) {
        await new Promise((settle) => {
          img.addEventListener("load", settle, { once: true });
          img.addEventListener("error", settle, { once: true });
          setTimeout(settle, 3000);
        });
      }
      // Read now: the page may start loading the next picture while this step awaits below.
      const width = img.naturalWidth;
      const height = img.naturalHeight;
      const canvas = document.createElement("canvas");
      canvas.width = width;
      canvas.height = height;
      const context = canvas.getContext("2d");
      context.drawImage(img, 0, 0);
      const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
      let hash = 2166136261;
      for (let i = 0; i < pixels.length; i += 4) {
        hash = Math.imul(hash ^ (pixels[i] | (pixels[i + 1] << 8) | (pixels[i + 2] << 16)), 16777619);
      }
      const response = await fetch(img.src, { credentials: "same-origin" });
      const bytes = (await response.arrayBuffer()).byteLength;
      return { key: c.dataset.key, width, height, bytes,
        type: response.headers.get("Content-Type"), digest: (hash >>> 0).toString(16) };
    })));
    return { thumbnails };
  },

  // Enlarges a station (double-click), takes control and types `text` on the live picture.
  async take_control({ key, text }) {
    await page.dblclick(card(key));
    await page.waitForSelector("#live-view[open]");
    await page.waitForFunction(() => {
      const img = document.getElementById("live-image");
      return img.complete && img.naturalWidth > 0;
    });
    await page.click("#take-control");
    await page.waitForSelector('#take-control[aria-pressed="true"]');
    const box = await page.locator("#live-image").boundingBox();
    await page.mouse.move(box.x + box.width * 0.75, box.y + box.height * 0.75);
    await page.keyboard.type(text, { delay: 40 });
    // The live view's own, larger stream has arrived by now.
    await page.waitForFunction(() => document.getElementById("live-image").naturalWidth > 320,
      null, { timeout: 10000 });
    return { status: await page.textContent("#live-status") };
  },

  // Esc twice gives control back; Close ends the live view.
  async stop_control() {
    await page.keyboard.press("Escape");
    await page.keyboard.press("Escape");
    await page.waitForSelector('#take-control[aria-pressed="false"]');
    await page.click("#live-close");
    await page.waitForSelector("#live-view:not([open])", { state: "attached" });
    return {};
  },

  // Key W, a mode and the sites typed into the dialog, Apply; until every card says `limits`.
  async web_limit({ mode, domains, keys, limits }) {
    await page.focus("body");
    await page.keyboard.press("w");
    await page.waitForSelector("#web-dialog[open]");
    await page.check(`input[name="web-mode"][value="${mode}"]`);
    await page.fill("#web-domains", (domains || []).join("\n"));
    await page.click('#web-dialog button[value="ok"]');
    const said = await toast();
    await page.waitForFunction(({ keys, limits }) => keys.every((k) =>
      document.querySelector(`.card[data-key="${k}"] .limits`).textContent === limits),
    { keys, limits });
    return { toast: said };
  },

  // The Manager's Services tab, the restart or shutdown button, then the confirmation dialog
  // answered `answer` ("ok" or "cancel"); the toast when confirmed.
  async server_power({ action, answer }) {
    await page.goto(base + "/manager");
    await page.waitForSelector("#who:not(:empty)");
    await page.click('.tab[data-tab="services"]');
    await page.waitForSelector("#service-rows tr");
    await page.click("#server-" + action);
    await page.waitForSelector("#confirm-dialog[open]");
    const title = await page.textContent("#confirm-title");
    if (answer !== "ok") {
      await page.click('#confirm-dialog button[value="cancel"]');
      await page.waitForSelector("#confirm-dialog", { state: "hidden" });
      return { title };
    }
    await page.screenshot({ path: join(out, "dashboard-server-" + action + "-confirm.png") });
    await page.click('#confirm-dialog button[value="ok"]');
    return { title, toast: await toast() };
  },

  // The dashboard page's Server… button (admins), then Restart now / Shut down now.
  async dashboard_power({ action }) {
    await page.goto(base + "/");
    await page.waitForSelector("#server-power:not([hidden])");
    await page.click("#server-power");
    await page.waitForSelector("#server-dialog[open]");
    await page.click('#server-dialog button[value="' + action + '"]');
    return { toast: await toast() };
  },

  async screenshot({ name }) {
    const path = join(out, "dashboard-" + name + ".png");
    await page.screenshot({ path, fullPage: true });
    return { path };
  },
};

// The toast the page shows after a command (its text names what happened or what failed).
async function toast() {
  await page.waitForSelector("#toast:not([hidden])");
  return page.textContent("#toast");
}

const server = createServer((request, response) => {
  let body = "";
  request.on("data", (chunk) => { body += chunk; });
  request.on("end", async () => {
    let answer;
    try {
      const { step, args } = JSON.parse(body);
      if (step === "quit") {
        answer = { ok: true };
        setImmediate(async () => {
          await browser.close();
          server.close();
        });
      } else if (!steps[step]) {
        answer = { ok: false, error: "no step " + step };
      } else {
        answer = { ok: true, ...(await steps[step](args || {})) };
      }
    } catch (error) {
      answer = { ok: false, error: String(error && error.message || error) };
    }
    response.writeHead(200, { "Content-Type": "application/json" });
    response.end(JSON.stringify(answer));
  });
});
server.listen(0, "127.0.0.1", () => {
  writeFileSync(portFile, String(server.address().port));
});
