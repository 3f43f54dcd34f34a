#!/usr/bin/env node
// SPDX-License-Identifier: AGPL-3.0-or-later
// End-to-end test of the operator console: the real C server with an admin token, serving
// web/dist, and Chromium with two separate browser contexts, the operator's and the customer's.
// The operator creates a plan and an account, sets the contract, issues a key and copies it; the
// customer signs in with it; calls are made; both views show them; the operator revokes the key
// and the customer's next call is refused; the audit page shows the server's verification of the
// chain (GET /v1/admin/audit/verify) valid. Screenshots of the console's pages, in English and
// French, go to web/test-results/console-*.png. Run from web/ with `npm run e2e`.
//
// Environment: STARMETER_BIN, WEB_DIST, CHROMIUM_BIN, E2E_KEEP_TMP as for usage.e2e.mjs.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  BIN,
  CHROMIUM,
  CHROMIUM_ARGS,
  chromium,
  eventually,
  expectText,
  fail,
  freePort,
  ok,
  RESULTS_DIR,
  run,
  runTest,
  STEP_TIMEOUT_MS,
  stopServerAndTmp,
  textOf,
  waitForHealthz,
  WEB_DIST,
} from './harness.mjs';

const ADMIN_TOKEN = 'e2e-admin-token-0123456789abcdef';
const PLAN_CODE = 'e2e-console';
const DAILY_LIMIT = 5;
const CALLS = 3;

const state = { server: null, serverLog: [], browser: null, pages: [], tmp: null };

async function newContext(base, offOrigin, pageErrors, extra = {}) {
  const context = await state.browser.newContext({
    locale: 'en-US',
    reducedMotion: 'reduce',
    viewport: { width: 1280, height: 900 },
    ...extra,
  });
  const origin = new URL(base).origin;
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(`${origin}/`) || url.startsWith('data:')) return route.continue();
    offOrigin.push(url);
    return route.abort();
  });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  page.on('pageerror', (e) => pageErrors.push(e.message));
  state.pages.push(page);
  return page;
}

async function shot(page, name) {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `console-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

async function main() {
  if (!existsSync(BIN)) fail(`no server binary at ${BIN}: build it (cmake --build build) or set STARMETER_BIN`);
  if (!existsSync(path.join(WEB_DIST, 'index.html')))
    fail(`no built panel at ${WEB_DIST}/index.html: run "npm run build" in web/ first, or set WEB_DIST`);
  if (!existsSync(CHROMIUM)) fail(`no browser at ${CHROMIUM}: apt-get install -y chromium, or set CHROMIUM_BIN`);
  const { stdout: serveHelp } = await run(BIN, ['serve', '--help']).catch(() => ({ stdout: '' }));
  if (!serveHelp.includes('--web-root')) fail(`${BIN} has no "serve --web-root" option: it cannot serve the console`);

  // An empty database: everything is made through the console.
  state.tmp = mkdtempSync(path.join(os.tmpdir(), 'starmeter-console-e2e-'));
  const db = path.join(state.tmp, 'db', 'starmeter.db');
  const port = await freePort();
  state.server = spawn(
    BIN,
    ['serve', '--listen', `127.0.0.1:${port}`, '--db', db, '--log-level', 'warn', '--web-root', WEB_DIST],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, STARMETER_ADMIN_TOKEN: ADMIN_TOKEN } },
  );
  for (const s of [state.server.stdout, state.server.stderr]) {
    s.on('data', (d) => {
      state.serverLog.push(String(d));
      if (state.serverLog.length > 200) state.serverLog.shift();
    });
  }
  const base = `http://127.0.0.1:${port}`;
  await waitForHealthz(base, state.server);
  ok(`server up on ${base} with an admin token, serving ${WEB_DIST}`);

  state.browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
    timeout: 120_000, // a cold start on a busy 2-core machine has taken 25 s and more
  });
  const pageErrors = [];
  const offOrigin = [];
  const op = await newContext(base, offOrigin, pageErrors, {
    permissions: ['clipboard-read', 'clipboard-write'],
  });

  const nav = (name) => op.getByRole('navigation').getByRole('link', { name, exact: true });

  // 1. The operator signs in with the admin token.
  await op.goto(`${base}/`, { waitUntil: 'domcontentloaded' });
  await op.getByLabel('The operator, with the admin token').check();
  await op.getByLabel('Admin token', { exact: true }).fill(ADMIN_TOKEN);
  await op.getByRole('button', { name: 'Sign in' }).click();
  await op.getByRole('heading', { level: 1, name: /Operator console/ }).waitFor();
  await op.getByTestId('accounts-empty').waitFor();
  if (op.url().includes(ADMIN_TOKEN)) fail('the admin token is in the URL');
  const stored = await op.evaluate(() => ({ local: window.localStorage.length, session: JSON.stringify({ ...window.sessionStorage }) }));
  if (stored.local !== 0) fail('localStorage is not empty');
  if (!stored.session.includes(ADMIN_TOKEN)) fail('the admin token is not in sessionStorage');
  ok('the operator signs in with the admin token (sessionStorage only) and sees no accounts yet');

  // 2. A plan of 5 calls a day, block mode.
  await nav('Plans').click();
  await op.getByTestId('plans-empty').waitFor();
  await op.getByRole('button', { name: 'New plan' }).click();
  await op.getByLabel('Code', { exact: true }).fill(PLAN_CODE);
  await op.getByLabel('Name', { exact: true }).fill('E2E Console');
  await op.getByLabel('Daily limit', { exact: true }).fill(String(DAILY_LIMIT));
  await op.getByRole('button', { name: 'Create the plan' }).click();
  await op.getByTestId('plan-saved').waitFor();
  await op.getByTestId(`plan-row-${PLAN_CODE}`).waitFor();
  ok(`plan ${PLAN_CODE} created from the console (daily limit ${DAILY_LIMIT}, block)`);

  // 3. An account, its contract.
  await nav('Accounts').click();
  await op.getByLabel('Name', { exact: true }).fill('Console Corp');
  await op.getByRole('button', { name: 'Create the account' }).click();
  await op.getByTestId('account-created').waitFor();
  await op.getByTestId('account-created').getByRole('link', { name: 'Open it' }).click();
  await op.getByTestId('account-title').filter({ hasText: 'Console Corp' }).waitFor();
  await op.getByTestId('no-contract').waitFor();
  await op.getByLabel('Plan', { exact: true }).selectOption(PLAN_CODE);
  await op.getByRole('button', { name: 'Set the contract' }).click();
  await op.getByTestId('contract-saved').waitFor();
  await expectText(op.getByTestId('effective-daily'), String(DAILY_LIMIT), 'the contract in force, daily limit');

  // 4. A key: shown once, copied.
  await op.getByLabel('Label', { exact: true }).fill('primary');
  await op.getByRole('button', { name: 'Issue a key' }).click();
  const panel = op.getByTestId('new-key');
  await panel.waitFor();
  const shown = await op.getByTestId('new-key-value').inputValue();
  if (!/^sm_live_[A-Za-z0-9]{12}_[A-Za-z0-9]+$/.test(shown)) fail(`the new key looks wrong: ${shown}`);
  const keyId = shown.split('_')[2];
  await op.getByTestId('copy-key').click();
  await expectText(op.getByTestId('copy-status'), 'The key is copied to the clipboard.', 'the copy status');
  const apiKey = await op.evaluate(() => navigator.clipboard.readText());
  if (apiKey !== shown) fail('the clipboard does not hold the key that was shown');
  await op.getByRole('button', { name: 'I have stored it' }).click();
  await panel.waitFor({ state: 'detached' });
  if ((await op.content()).includes(shown)) fail('the key is still in the page after "I have stored it"');
  ok(`key ${keyId} issued, shown once with its warning, copied to the clipboard, then gone from the page`);

  // 5. The customer, in a second context, signs in with the copied key.
  const cu = await newContext(base, offOrigin, pageErrors);
  await cu.goto(`${base}/`, { waitUntil: 'domcontentloaded' });
  await cu.getByLabel('API key', { exact: true }).fill(apiKey);
  await cu.getByRole('button', { name: 'Sign in' }).click();
  await cu.getByTestId('empty-state').waitFor();
  const cuStorage = await cu.evaluate(() => JSON.stringify({ ...window.sessionStorage }));
  if (cuStorage.includes(ADMIN_TOKEN)) fail("the admin token reached the customer's context");
  ok('the customer signs in with the key in a second context and sees the empty state');

  // 6. Calls.
  const call = async () => {
    const res = await fetch(`${base}/v1/b2b/astrology/weekly-by-sign?sign=aries`, { headers: { 'X-API-Key': apiKey } });
    return { status: res.status, body: await res.json().catch(() => null) };
  };
  for (let i = 1; i <= CALLS; i += 1) {
    const r = await call();
    if (r.status !== 200) fail(`metered call ${i} answered ${r.status}: ${JSON.stringify(r.body)}`);
  }
  ok(`${CALLS} metered calls answered 200`);

  // 7. The usage in both views.
  await cu.getByRole('button', { name: /^Refresh/ }).click();
  await expectText(cu.getByTestId('daily-used'), String(CALLS), "the customer's today used");
  await op.getByTestId('account-usage').getByRole('button', { name: /^Refresh/ }).click();
  await expectText(op.getByTestId('account-usage').getByTestId('daily-used'), String(CALLS), "the console's today used");
  const gauge = op.getByTestId('account-usage').getByRole('progressbar', { name: /Today/ });
  await eventually('the console gauge to read 3 of 5', async () =>
    (await gauge.getAttribute('aria-valuenow')) === String(CALLS) && (await gauge.getAttribute('aria-valuemax')) === String(DAILY_LIMIT)
      ? true
      : `${await gauge.getAttribute('aria-valuenow')}/${await gauge.getAttribute('aria-valuemax')}`,
  );
  await op.getByTestId('account-usage').getByTestId('history-chart').waitFor();
  const accountUrl = op.url();
  await nav('Accounts').click();
  await expectText(op.getByTestId('account-row-1').getByTestId('account-today'), `${CALLS} / ${DAILY_LIMIT}`, "the accounts list's today");
  await expectText(op.getByTestId('account-row-1').getByTestId('account-plan'), 'E2E Console', "the accounts list's plan");

  // 8. Screenshots of the console's pages, in English then in French.
  const shots = [];
  const pages = [
    ['accounts', `${base}/#/accounts`, 'accounts-table'],
    ['account', accountUrl, 'keys-table'],
    ['plans', `${base}/#/plans`, 'plans-table'],
    ['audit', `${base}/#/audit`, 'chain-result'],
  ];
  for (const lang of ['en', 'fr']) {
    if (lang === 'fr') await op.getByLabel('Language', { exact: true }).selectOption('fr');
    for (const [name, url, ready] of pages) {
      await op.goto(url, { waitUntil: 'domcontentloaded' });
      await op.getByTestId(ready).waitFor();
      if (name === 'account') await op.getByTestId('history-chart').locator('.recharts-bar-rectangle').first().waitFor();
      if (name === 'accounts') await expectText(op.getByTestId('account-today'), `${CALLS} / ${DAILY_LIMIT}`, `today in the list (${lang})`);
      shots.push(await shot(op, `${name}-${lang}`));
    }
    const h = await textOf(nav(lang === 'en' ? 'Accounts' : 'Comptes'));
    if (h !== (lang === 'en' ? 'Accounts' : 'Comptes')) fail(`the console is not in ${lang}`);
  }
  ok(`screenshots saved: ${shots.map((s) => path.basename(s)).join(', ')}`);
  await op.getByLabel('Langue', { exact: true }).selectOption('en');

  // 9. The operator revokes the key; the customer's next call is refused.
  await op.goto(accountUrl, { waitUntil: 'domcontentloaded' });
  await op.getByRole('button', { name: `Revoke key ${keyId}` }).click();
  const dialog = op.getByRole('alertdialog');
  await dialog.waitFor();
  await dialog.getByRole('button', { name: 'Revoke' }).click();
  await dialog.waitFor({ state: 'detached' });
  await expectText(op.getByTestId(`key-row-${keyId}`).locator('.pill'), 'Revoked', 'the key status in the console');
  const refused = await call();
  if (refused.status !== 401 || refused.body?.error?.code !== 'revoked_api_key')
    fail(`the call after revocation answered ${refused.status} ${JSON.stringify(refused.body)}`);
  ok('the next call with the revoked key is refused: 401 revoked_api_key');
  await cu.getByRole('button', { name: /^Refresh/ }).click();
  await cu.getByTestId('session-ended').waitFor();
  await expectText(cu.getByTestId('error-code'), 'revoked_api_key', "the customer's panel error code");

  // 10. The audit trail: newest first, the chain verified by the server (GET /v1/admin/audit/verify).
  const verified = op.waitForResponse((r) => new URL(r.url()).pathname === '/v1/admin/audit/verify');
  await nav('Audit trail').click();
  const verifyRes = await verified;
  if (verifyRes.status() !== 200) fail(`the page's verification answered ${verifyRes.status()}`);
  const chain = op.getByTestId('chain-result');
  await chain.waitFor();
  // The page may first show the trail cached from the screenshots, then the refetched one.
  await eventually('the newest event to be credential.revoke', async () => {
    const first = await op.getByTestId('audit-row').first().getAttribute('data-action');
    return first === 'credential.revoke' ? true : first;
  });
  await eventually('the verification to cover the revocation', async () =>
    (await textOf(chain)).includes('Valid: 5 events checked') ? true : textOf(chain),
  );
  if ((await chain.getAttribute('data-valid')) !== 'true') fail(`the chain is not valid: ${await textOf(chain)}`);
  if ((await op.locator('[data-broken]').count()) !== 0) fail('an audit row is marked broken');
  const direct = await fetch(`${base}/v1/admin/audit/verify`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
  const verdict = (await direct.json().catch(() => null))?.data;
  if (direct.status !== 200 || verdict?.valid !== true || verdict.checked !== 5 || verdict.first_broken_seq !== null || verdict.reason !== null)
    fail(`the API's verification answered ${direct.status} ${JSON.stringify(verdict)}`);
  await op.getByLabel('Action', { exact: true }).selectOption('plan.create');
  await op.getByRole('button', { name: 'Filter', exact: true }).click();
  await expectText(op.getByTestId('audit-count'), '1 event.', 'the audit filtered by action');
  ok(`the audit trail lists the revocation first and the server verifies the chain (${await textOf(chain)})`);

  if (pageErrors.length) fail(`JavaScript errors on the page: ${pageErrors.join(' | ')}`);
  if (offOrigin.length) fail(`the page tried to load from another origin: ${offOrigin.join(', ')}`);
  ok('no JavaScript error and nothing loaded from another origin');
}

async function cleanup() {
  state.pages = [];
  if (state.browser) {
    await state.browser.close().catch(() => {});
    state.browser = null;
  }
  await stopServerAndTmp(state);
}

async function reportFailure() {
  for (const [i, page] of state.pages.entries()) {
    const alerts = await page
      .locator('[role=alert]')
      .allTextContents()
      .catch(() => []);
    if (alerts.length) console.error(`# alerts on page ${i}: ${alerts.map((a) => a.replace(/\s+/g, ' ').trim()).join(' | ')}`);
    const file = path.join(RESULTS_DIR, `console-failure-${i}.png`);
    mkdirSync(RESULTS_DIR, { recursive: true });
    await page
      .screenshot({ path: file, fullPage: true, timeout: 5_000 })
      .then(() => console.error(`# failure screenshot: ${file}`))
      .catch(() => {});
  }
  if (state.serverLog.length) {
    console.error(`# server log (last lines):\n${state.serverLog.join('').split('\n').slice(-30).join('\n')}`);
  }
}

await runTest(main, { cleanup, reportFailure });
