// The admin page in a real headless Chromium (Debian's), driven by playwright-core, against the
// local stack (`portico-local` with its own moto and table): sign in, approve and reject from
// the queue, change the registration policy.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

const root = resolve(import.meta.dirname, "../..");
const targetDir = process.env.CARGO_TARGET_DIR ?? join(root, "target");
const ADMIN = { email: "admin@portico.test", password: "sturdy browser passphrase" };
const DEVICE = "browser-test-device-0123456789";

let stack;
let base;
let browser;

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
    server.on("error", reject);
  });
}

async function api(method, path, body, token) {
  const headers = { "x-device-id": DEVICE };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

async function adminToken() {
  const { status, body } = await api("POST", "/sessions", ADMIN);
  assert.equal(status, 200, JSON.stringify(body));
  return body.access_token;
}

async function customers(status, token) {
  const { body } = await api("GET", `/admin/registrations?status=${status}&limit=100`, undefined, token);
  return body.items;
}

// Opens the admin page on `page` and signs in as the seeded administrator.
async function signIn(page) {
  await page.goto(`${base}/admin/`);
  await page.fill("#sign-in-form input[name=email]", ADMIN.email);
  await page.fill("#sign-in-form input[name=password]", ADMIN.password);
  await page.click("#sign-in-form button");
}

before(async () => {
  const [port, motoPort] = [await freePort(), await freePort()];
  base = `http://127.0.0.1:${port}`;
  stack = spawn(join(targetDir, "debug", "portico-local"), [], {
    cwd: root,
    env: {
      ...process.env,
      PORT: String(port),
      MOTO_PORT: String(motoPort),
      TABLE_NAME: `browser-${Date.now()}`,
      PORTICO_ADMIN_EMAIL: ADMIN.email,
      PORTICO_ADMIN_PASSWORD: ADMIN.password,
      RUST_LOG: "warn",
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  let exited = null;
  stack.on("exit", (code) => { exited = code; });
  for (let attempt = 0; ; attempt++) {
    if (exited !== null) throw new Error(`the local stack exited with ${exited}`);
    try {
      if ((await fetch(`${base}/registrations/policy`)).ok) break;
    } catch { /* not up yet */ }
    if (attempt > 300) throw new Error("the local stack did not start");
    await new Promise((done) => setTimeout(done, 100));
  }
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true, // playwright gives every launch a fresh, empty profile
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
      "--disable-sync", "--no-first-run"],
  });
});

after(async () => {
  await browser?.close();
  stack?.kill("SIGINT");
});

test("an admin approves and rejects registrations and changes the policy on the page", async () => {
  const token = await adminToken();
  const policy = { notify_on_registration: false, admin_approval: "all", device_confirmation: false, email_verification: "none" };
  assert.equal((await api("PUT", "/admin/settings/registration", policy, token)).status, 200);
  const suffix = Date.now();
  const ann = { email: `ann-${suffix}@example.com`, password: "correct horse battery staple", name: "Ann Lee", account_type: "person" };
  const bob = { email: `bob-${suffix}@example.com`, password: "correct horse battery staple", name: "Bob Novák",
    account_type: "company", company_name: "Novák Logistics s.r.o." };
  for (const customer of [ann, bob]) assert.equal((await api("POST", "/registrations", customer)).status, 202);

  const page = await browser.newPage();
  const problems = [];
  page.on("pageerror", (error) => problems.push(error.message));
  await signIn(page);
  await page.waitForSelector(`#queue tr:has-text("${ann.email}")`);
  await page.waitForSelector(`#queue tr:has-text("Novák Logistics")`);

  const annRow = page.locator(`#queue tr:has-text("${ann.email}")`);
  await annRow.getByRole("button", { name: "Approve" }).click();
  await annRow.waitFor({ state: "detached" });
  assert.ok((await customers("active", token)).some((c) => c.email === ann.email), "Ann is active");
  assert.equal((await api("POST", "/sessions", { email: ann.email, password: ann.password })).status, 200);

  const bobRow = page.locator(`#queue tr:has-text("${bob.email}")`);
  await bobRow.getByRole("button", { name: "Reject" }).click();
  await page.waitForSelector("#queue-error:has-text('reason')");
  await bobRow.getByLabel("Reason for rejecting").fill("Company not found in the register");
  await bobRow.getByRole("button", { name: "Reject" }).click();
  await bobRow.waitFor({ state: "detached" });
  const rejected = (await customers("rejected", token)).find((c) => c.email === bob.email);
  assert.equal(rejected?.rejection_reason, "Company not found in the register");
  await page.waitForSelector("#empty:not([hidden])");

  await page.click("nav button[data-tab=settings]");
  await page.waitForFunction(() => document.querySelector("#settings select[name=admin_approval]").value === "all");
  await page.selectOption("#settings select[name=admin_approval]", "companies");
  await page.click("#settings button[type=submit]");
  await page.waitForSelector("#settings-status:has-text('Saved.')");
  const saved = await api("GET", "/admin/settings/registration", undefined, token);
  assert.equal(saved.body.admin_approval, "companies");

  mkdirSync(join(targetDir, "browser"), { recursive: true });
  await page.screenshot({ path: join(targetDir, "browser", "admin-settings.png"), fullPage: true });
  assert.deepEqual(problems, [], "no script errors on the page");
});

test("a wrong password is shown and nothing opens", async () => {
  const page = await browser.newPage();
  await page.goto(`${base}/admin/`);
  await page.fill("#sign-in-form input[name=email]", ADMIN.email);
  await page.fill("#sign-in-form input[name=password]", "not the admin password");
  await page.click("#sign-in-form button");
  await page.waitForSelector("#sign-in-error:has-text('wrong')");
  assert.equal(await page.isHidden("#workspace"), true);
});

test("an admin finds a customer, attaches a label and sees its swatch, at a phone's width too", async () => {
  const token = await adminToken();
  const policy = { notify_on_registration: false, admin_approval: "none", device_confirmation: false, email_verification: "none" };
  assert.equal((await api("PUT", "/admin/settings/registration", policy, token)).status, 200);
  const suffix = Date.now();
  const vera = { email: `vera-${suffix}@example.com`, password: "correct horse battery staple", name: `Vera ${suffix}`, account_type: "person" };
  assert.equal((await api("POST", "/registrations", vera)).status, 202);
  const label = await api("POST", "/admin/labels", { name: `Gold ${suffix}`, colour: "#ffaa00" }, token);
  assert.equal(label.status, 201, JSON.stringify(label.body));

  for (const [width, name] of [[1280, "desktop"], [390, "phone"]]) {
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    const problems = [];
    page.on("pageerror", (error) => problems.push(error.message));
    await signIn(page);
    await page.waitForSelector("#workspace:not([hidden])");
    const noSidewaysScroll = () => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
    assert.ok(await noSidewaysScroll(), `the queue fits ${width} px`);

    await page.click("nav button[data-tab=customers]");
    await page.fill("#customer-search input[name=q]", "vera");
    await page.click("#customer-search button");
    const row = page.locator(`#customer-list tr:has-text("${vera.email}")`);
    await row.click();
    await page.waitForSelector(`#customer-name:has-text("${vera.name}")`);
    if (name === "desktop") {
      await page.selectOption("#label-choice", label.body.id);
      await page.click("#attach-label");
    }
    const chip = page.locator(`#customer-labels li[data-label-id="${label.body.id}"]`);
    await chip.waitFor();
    const colour = await chip.locator(".swatch").evaluate((swatch) => getComputedStyle(swatch).backgroundColor);
    assert.equal(colour, "rgb(255, 170, 0)", "the label's colour as a swatch");
    assert.ok(await noSidewaysScroll(), `the customer page fits ${width} px`);
    mkdirSync(join(targetDir, "browser"), { recursive: true });
    await page.screenshot({ path: join(targetDir, "browser", `admin-customer-${name}.png`), fullPage: true });
    assert.deepEqual(problems, [], "no script errors on the page");
    await page.close();
  }
});

test("an admin creates, recolours and deletes labels; refusals show next to their control", async () => {
  const token = await adminToken();
  const suffix = Date.now();
  const page = await browser.newPage({ viewport: { width: 360, height: 800 } });
  page.on("dialog", (dialog) => dialog.accept());
  await signIn(page);
  await page.waitForSelector("#workspace:not([hidden])");
  await page.click("nav button[data-tab=labels]");
  await page.waitForSelector("#label-list tr:has-text('lifecycle stage')");

  // A name that is too long is refused beside the name field.
  // (the browser's own limit taken off, as a script could)
  await page.evaluate(() => { document.querySelector("#label-form input[name=name]").removeAttribute("maxlength"); });
  await page.fill("#label-form input[name=name]", "x".repeat(65));
  await page.click("#label-form button[type=submit]");
  await page.waitForSelector("#label-name-error:has-text('64')");

  await page.fill("#label-form input[name=name]", `Silver ${suffix}`);
  await page.fill("#label-form input[name=colour]", "#c0c0c0");
  await page.click("#label-form button[type=submit]");
  const row = page.locator(`#label-list tr:has-text("Silver ${suffix}")`);
  await row.waitFor();
  assert.equal(await row.locator(".swatch").evaluate((s) => getComputedStyle(s).backgroundColor), "rgb(192, 192, 192)");

  await row.getByRole("button", { name: `Edit Silver ${suffix}` }).click();
  await page.fill("#label-form input[name=colour]", "#00aa55");
  await page.click("#label-form button[type=submit]");
  await page.waitForFunction((name) => {
    const swatch = [...document.querySelectorAll("#label-list tr")].find((tr) => tr.textContent.includes(name))?.querySelector(".swatch");
    return swatch && getComputedStyle(swatch).backgroundColor === "rgb(0, 170, 85)";
  }, `Silver ${suffix}`);

  // A label in use can't be deleted: the refusal shows; the built-in ones offer no delete.
  const id = await row.getAttribute("data-label-id");
  const vera = { email: `silver-${suffix}@example.com`, password: "correct horse battery staple", name: "Silvia", account_type: "person" };
  const policy = { notify_on_registration: false, admin_approval: "none", device_confirmation: false, email_verification: "none" };
  assert.equal((await api("PUT", "/admin/settings/registration", policy, token)).status, 200);
  assert.equal((await api("POST", "/registrations", vera)).status, 202);
  const found = await api("GET", `/admin/customers?q=${encodeURIComponent(vera.email)}`, undefined, token);
  assert.equal((await api("PUT", `/admin/customers/${found.body.items[0].id}/labels/${id}`, undefined, token)).status, 204);
  await row.getByRole("button", { name: `Delete Silver ${suffix}` }).click();
  await page.waitForSelector("#labels-error:has-text('detach it')");
  assert.equal(await page.locator("#label-list tr:has-text('lifecycle stage') button:has-text('Delete')").count(), 0);
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), "fits 360 px");
  mkdirSync(join(targetDir, "browser"), { recursive: true });
  await page.screenshot({ path: join(targetDir, "browser", "admin-labels-phone.png"), fullPage: true });
  await page.close();
});
