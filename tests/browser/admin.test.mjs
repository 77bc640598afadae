// The admin console in a real headless Chromium (Debian's), driven by playwright-core, against
// the local stack (`portico-local` with its own moto and table): sign in (with the device step),
// approve and reject, customers and labels, staff, roles, projects and contact fields; every
// screen at a phone's width, checked by axe-core, with a screenshot under target/browser/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

const root = resolve(import.meta.dirname, "../..");
const targetDir = process.env.CARGO_TARGET_DIR ?? join(root, "target");
const ADMIN = { email: "admin@portico.test", password: "sturdy browser passphrase" };
const DEVICE = "browser-test-device-0123456789";
const PASSWORD = "correct horse battery staple";
const QUIET_POLICY = { notify_on_registration: false, admin_approval: "none", device_confirmation: false, email_verification: "none" };
const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const SHOTS = join(targetDir, "browser");

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

// Opens the console on `page` and signs in (as the seeded administrator unless told otherwise).
async function signIn(page, account = ADMIN) {
  await page.goto(`${base}/admin/`);
  await page.fill("#sign-in-form input[name=email]", account.email);
  await page.fill("#sign-in-form input[name=password]", account.password);
  await page.click("#sign-in-form button");
}

// A page that records script errors; `problems` must stay empty.
async function newPage(options = {}) {
  const page = await browser.newPage(options);
  page.problems = [];
  page.on("pageerror", (error) => page.problems.push(error.message));
  page.on("dialog", (dialog) => dialog.accept());
  return page;
}

async function openScreen(page, id) {
  await page.click(`nav button[data-screen=${id}]`);
  await page.waitForSelector(`#${id}:not([hidden]):not([aria-busy])`);
}

const noSidewaysScroll = (page) => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);

// axe-core's serious and critical findings on what the page shows now.
async function accessibilityProblems(page) {
  if (!(await page.evaluate(() => typeof window.axe === "object"))) await page.evaluate(AXE);
  const { violations } = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  return violations.filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((node) => node.target.join(" ")).join(", ")}`);
}

async function screenshot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

// The latest mail to `to` whose subject starts with `subject`, read from the local outbox.
async function latestMail(to, subject) {
  for (let attempt = 0; attempt < 50; attempt++) {
    const messages = await (await fetch(`${base}/_local/outbox`)).json();
    const mail = messages.filter((m) => m.channel === "email" && m.to.includes(to) && m.subject?.startsWith(subject)).at(-1);
    if (mail) return mail;
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`no mail "${subject}" to ${to}`);
}

// A staff user made through the API, with `roles`.
async function staffUser(token, roles, name = "Staff") {
  const user = { email: `${name.toLowerCase().replace(/\W+/g, "-")}-${Date.now()}@portico.test`, password: PASSWORD, name, roles };
  const { status, body } = await api("POST", "/admin/users", user, token);
  assert.equal(status, 201, JSON.stringify(body));
  return { ...user, id: body.id };
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
  const policy = { ...QUIET_POLICY, admin_approval: "all" };
  assert.equal((await api("PUT", "/admin/settings/registration", policy, token)).status, 200);
  const suffix = Date.now();
  const ann = { email: `ann-${suffix}@example.com`, password: PASSWORD, name: "Ann Lee", account_type: "person" };
  const bob = { email: `bob-${suffix}@example.com`, password: PASSWORD, name: "Bob Novák",
    account_type: "company", company_name: "Novák Logistics s.r.o." };
  for (const customer of [ann, bob]) assert.equal((await api("POST", "/registrations", customer)).status, 202);

  const page = await newPage();
  await signIn(page);
  await page.waitForSelector(`#queue tr:has-text("${ann.email}")`);
  await page.waitForSelector(`#queue tr:has-text("Novák Logistics")`);
  await screenshot(page, "admin-queue-desktop");

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

  await openScreen(page, "settings");
  await page.waitForFunction(() => document.querySelector("#settings select[name=admin_approval]").value === "all");
  await page.selectOption("#settings select[name=admin_approval]", "companies");
  await page.click("#settings button[type=submit]");
  await page.waitForSelector("#settings-status:has-text('Saved.')");
  const saved = await api("GET", "/admin/settings/registration", undefined, token);
  assert.equal(saved.body.admin_approval, "companies");
  assert.deepEqual(page.problems, [], "no script errors on the page");
  await page.close();
});

test("a wrong password is shown and nothing opens", async () => {
  const page = await newPage();
  await signIn(page, { email: ADMIN.email, password: "not the admin password" });
  await page.waitForSelector("#sign-in-error:has-text('wrong')");
  assert.equal(await page.isHidden("#workspace"), true);
  await page.close();
});

test("a staff member signs in from a new browser with the code from the mail, when the policy asks", async () => {
  const token = await adminToken();
  const colleague = await staffUser(token, ["administrator"], "Dana Device");
  assert.equal((await api("PUT", "/admin/settings/registration", { ...QUIET_POLICY, device_confirmation: true }, token)).status, 200);
  try {
    const page = await newPage();
    await signIn(page, colleague);
    await page.waitForSelector("#device-form:not([hidden])");
    assert.equal(await page.isHidden("#workspace"), true, "nothing opens before the code");
    await page.fill("#device-form input[name=code]", "000000");
    await page.click("#device-form button");
    await page.waitForSelector("#sign-in-error:not(:empty)");
    const mail = await latestMail(colleague.email, "Confirm the sign-in");
    const code = mail.body.match(/\b(\d{6})\b/)[1];
    await page.fill("#device-form input[name=code]", code);
    await page.click("#device-form button");
    await page.waitForSelector("#workspace:not([hidden])");
    assert.equal(await page.textContent("#who"), colleague.name);
    assert.deepEqual(page.problems, []);
    await page.close();
  } finally {
    assert.equal((await api("PUT", "/admin/settings/registration", QUIET_POLICY, token)).status, 200);
  }
});

test("an admin finds a customer, attaches a label and sees its swatch, at a phone's width too", async () => {
  const token = await adminToken();
  assert.equal((await api("PUT", "/admin/settings/registration", QUIET_POLICY, token)).status, 200);
  const suffix = Date.now();
  // (a fresh table per run: names need no suffix, and the screenshots in the README read well)
  const vera = { email: `vera.novakova-${suffix}@example.com`, password: PASSWORD, name: "Vera Nováková", account_type: "person" };
  assert.equal((await api("POST", "/registrations", vera)).status, 202);
  const label = await api("POST", "/admin/labels", { name: "Gold customer", colour: "#ffaa00" }, token);
  assert.equal(label.status, 201, JSON.stringify(label.body));

  for (const [width, name] of [[1280, "desktop"], [390, "phone"]]) {
    const page = await newPage({ viewport: { width, height: 900 } });
    await signIn(page);
    await page.waitForSelector("#workspace:not([hidden])");
    assert.ok(await noSidewaysScroll(page), `the queue fits ${width} px`);
    if (name === "phone") await screenshot(page, "admin-queue-phone");

    await openScreen(page, "customers");
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
    assert.ok(await noSidewaysScroll(page), `the customer page fits ${width} px`);
    await screenshot(page, `admin-customer-${name}`);
    assert.deepEqual(page.problems, [], "no script errors on the page");
    await page.close();
  }
});

test("an admin creates, recolours and deletes labels; refusals show next to their control", async () => {
  const token = await adminToken();
  const suffix = Date.now();
  const page = await newPage({ viewport: { width: 360, height: 800 } });
  await signIn(page);
  await page.waitForSelector("#workspace:not([hidden])");
  await openScreen(page, "labels");
  await page.waitForSelector("#label-list tr:has-text('lifecycle stage')");

  // A name that is too long is refused beside the name field.
  // (the browser's own limit taken off, as a script could)
  await page.evaluate(() => { document.querySelector("#label-form input[name=name]").removeAttribute("maxlength"); });
  await page.fill("#label-form input[name=name]", "x".repeat(65));
  await page.click("#label-form button[type=submit]");
  await page.waitForSelector("#label-name-error:has-text('64')");
  assert.equal(await page.getAttribute("#label-form input[name=name]", "aria-invalid"), "true");

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
  const silvia = { email: `silver-${suffix}@example.com`, password: PASSWORD, name: "Silvia", account_type: "person" };
  assert.equal((await api("PUT", "/admin/settings/registration", QUIET_POLICY, token)).status, 200);
  assert.equal((await api("POST", "/registrations", silvia)).status, 202);
  const found = await api("GET", `/admin/customers?q=${encodeURIComponent(silvia.email)}`, undefined, token);
  assert.equal((await api("PUT", `/admin/customers/${found.body.items[0].id}/labels/${id}`, undefined, token)).status, 204);
  await row.getByRole("button", { name: `Delete Silver ${suffix}` }).click();
  await page.waitForSelector("#labels-error:has-text('detach it')");
  assert.equal(await page.locator("#label-list tr:has-text('lifecycle stage') button:has-text('Delete')").count(), 0);
  assert.ok(await noSidewaysScroll(page), "fits 360 px");
  assert.deepEqual(page.problems, []);
  await page.close();
});

test("an admin makes a sales manager on the staff screen, who then sees no settings screens", async () => {
  const token = await adminToken();
  const suffix = Date.now();
  const manager = { name: `Sam Sales ${suffix}`, email: `sam-${suffix}@portico.test`, password: PASSWORD };
  const page = await newPage();
  await signIn(page);
  await openScreen(page, "users");
  await page.fill("#user-form input[name=name]", manager.name);
  await page.fill("#user-form input[name=email]", manager.email);
  // Too short a password is refused beside its field, and nothing is made.
  await page.evaluate(() => { document.querySelector("#user-form input[name=password]").removeAttribute("minlength"); });
  await page.fill("#user-form input[name=password]", "short");
  await page.check("#user-roles input[value=sales_manager]");
  await page.click("#user-form button[type=submit]");
  await page.waitForSelector("#user-password-error:not(:empty)");
  assert.equal(await page.locator(`#user-list tr:has-text("${manager.email}")`).count(), 0);
  await page.fill("#user-form input[name=password]", manager.password);
  await page.click("#user-form button[type=submit]");
  const row = page.locator(`#user-list tr:has-text("${manager.email}")`);
  await row.waitFor();
  assert.match(await row.textContent(), /Sales manager/);
  assert.deepEqual(page.problems, []);
  await page.close();

  const theirs = await newPage({ viewport: { width: 360, height: 800 } });
  await signIn(theirs, manager);
  await theirs.waitForSelector("#workspace:not([hidden])");
  await theirs.waitForSelector("#no-screens:not([hidden])");
  assert.equal(await theirs.locator("nav button").count(), 0, "no screen is offered");
  for (const screen of ["settings", "labels", "users", "roles", "projects", "fields", "registrations", "customers"]) {
    assert.equal(await theirs.isHidden(`#${screen}`), true, `${screen} stays hidden`);
  }
  // And the API refuses them the same, whatever the page shows.
  const { body: tokens } = await api("POST", "/sessions", { email: manager.email, password: manager.password });
  assert.equal((await api("GET", "/admin/settings/registration", undefined, tokens.access_token)).status, 403);
  assert.deepEqual(await accessibilityProblems(theirs), []);
  assert.deepEqual(theirs.problems, []);
  await theirs.close();
});

test("an admin makes a custom role with the module grid, a project and a masked contact field", async () => {
  const token = await adminToken();
  const suffix = Date.now();
  const page = await newPage();
  await signIn(page);

  await openScreen(page, "roles");
  await page.waitForSelector("#role-list tr[data-role-id=administrator]");
  assert.equal(await page.locator("#role-list tr[data-role-id=administrator] button").count(), 0, "built-in roles are read-only");
  const roleId = `dispatcher_${suffix}`;
  await page.fill("#role-form input[name=id]", roleId);
  await page.fill("#role-form input[name=name]", "Dispatcher");
  await page.check("#role-permissions input[value='records.assign']");
  await page.selectOption("#role-modules select[name='deliveries.r']", "all");
  await page.selectOption("#role-modules select[name='deliveries.w']", "own");
  await page.click("#role-form button[type=submit]");
  await page.waitForSelector(`#role-list tr[data-role-id=${roleId}]`);
  const role = await api("GET", `/admin/roles/${roleId}`, undefined, token);
  assert.deepEqual(role.body.permissions, ["records.assign"]);
  assert.deepEqual(role.body.modules, { deliveries: "r,w:own" });
  // Editing shows the grid as saved.
  await page.click(`#role-list tr[data-role-id=${roleId}] button:has-text("Edit")`);
  assert.equal(await page.inputValue("#role-modules select[name='deliveries.w']"), "own");
  assert.equal(await page.inputValue("#role-modules select[name='deliveries.d']"), "none");

  await openScreen(page, "projects");
  await page.fill("#project-form input[name=name]", `North ${suffix}`);
  await page.click("#project-form button[type=submit]");
  await page.waitForSelector(`#project-list li:has-text("North ${suffix}")`);

  await openScreen(page, "fields");
  await page.fill("#field-form input[name=name]", "bad.name");
  await page.click("#field-form button[type=submit]");
  await page.waitForSelector("#field-name-error:not(:empty)");
  const fieldName = `vip_note_${suffix}`;
  await page.fill("#field-form input[name=name]", fieldName);
  await page.check(`#field-projects label:has-text("North ${suffix}") input`);
  await page.check("#field-form input[name=masked]");
  await page.click("#field-form button[type=submit]");
  const row = page.locator(`#field-list tr[data-field="${fieldName}"]`);
  await row.waitFor();
  assert.match(await row.textContent(), new RegExp(`North ${suffix}`));
  const fields = await api("GET", "/admin/contact-fields", undefined, token);
  const field = fields.body.find((f) => f.name === fieldName);
  assert.equal(field.masked, true);
  assert.equal(field.projects.length, 1);
  assert.deepEqual(page.problems, []);
  await page.close();
});

test("every screen fits 360 px, passes axe-core, and shows dates in the staff member's locale", async () => {
  const token = await adminToken();
  const german = await staffUser(token, ["administrator"], "Greta Deutsch");
  const { body: tokens } = await api("POST", "/sessions", { email: german.email, password: german.password });
  assert.equal((await api("PATCH", "/me", { locale: "de" }, tokens.access_token)).status, 200);
  assert.equal((await api("PUT", "/admin/settings/registration", { ...QUIET_POLICY, admin_approval: "all" }, token)).status, 200);
  const waiting = { email: `wait-${Date.now()}@example.com`, password: PASSWORD, name: "Wanda Wait", account_type: "person" };
  assert.equal((await api("POST", "/registrations", waiting)).status, 202);

  const page = await newPage({ viewport: { width: 360, height: 800 } });
  await signIn(page, german);
  await page.waitForSelector(`#queue tr:has-text("${waiting.email}")`);
  const shown = await page.textContent(`#queue tr:has-text("${waiting.email}") td:nth-child(5)`);
  const { body: queue } = await api("GET", "/admin/registrations?status=pending_approval&limit=100", undefined, token);
  const registered = queue.items.find((c) => c.email === waiting.email).created_at;
  const inGerman = await page.evaluate((iso) =>
    new Intl.DateTimeFormat("de", { dateStyle: "medium", timeStyle: "short" }).format(new Date(iso)), registered);
  assert.equal(shown, inGerman, "the registration date in German");

  const screens = await page.$$eval("nav button", (tabs) => tabs.map((tab) => tab.dataset.screen));
  assert.deepEqual(screens, ["registrations", "customers", "labels", "users", "roles", "projects", "fields", "settings"]);
  const problems = [];
  for (const screen of screens) {
    await openScreen(page, screen);
    if (!(await noSidewaysScroll(page))) problems.push(`${screen} scrolls sideways at 360 px`);
    for (const finding of await accessibilityProblems(page)) problems.push(`${screen}: ${finding}`);
    await screenshot(page, `admin-${screen}-phone`);
  }
  assert.deepEqual(problems, []);
  assert.deepEqual(page.problems, []);
  assert.equal((await api("PUT", "/admin/settings/registration", QUIET_POLICY, token)).status, 200);
  await page.close();
});

test("the console works from the keyboard, with a visible focus", async () => {
  const page = await newPage();
  await page.goto(`${base}/admin/`);
  await page.focus("#sign-in-form input[name=email]");
  await page.keyboard.type(ADMIN.email);
  await page.keyboard.press("Tab");
  await page.keyboard.type(ADMIN.password);
  await page.keyboard.press("Enter");
  await page.waitForSelector("#workspace:not([hidden])");
  let focused = "";
  for (let presses = 0; presses < 10 && focused !== "Customers"; presses++) {
    await page.keyboard.press("Tab");
    focused = await page.evaluate(() => document.activeElement?.textContent ?? "");
  }
  assert.equal(focused, "Customers", "the tabs are reached with Tab");
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, "none", "the focused tab shows its focus");
  await page.keyboard.press("Enter");
  await page.waitForSelector("#customers:not([hidden]):not([aria-busy])");
  assert.equal(await page.getAttribute("nav button[data-screen=customers]", "aria-current"), "page");
  assert.deepEqual(page.problems, []);
  await page.close();
});
