#!/usr/bin/env node
// SPDX-License-Identifier: AGPL-3.0-or-later
// End-to-end test of the usage panel: the real C server (serving web/dist with --web-root) and
// Debian's Chromium driven by playwright-core. Run from web/ with `npm run e2e`.
//
// Environment:
//   STARMETER_BIN  the server binary (default ../build/starmeter relative to web/)
//   WEB_DIST       the built panel (default web/dist; run `npm run build` first)
//   CHROMIUM_BIN   the browser (default /usr/bin/chromium)
//   E2E_STATIC_FALLBACK=1  only while the server has no --web-root: serve WEB_DIST from node and
//                  proxy /v1 and /healthz to the server (for developing the panel, never for CI)
//   E2E_KEEP_TMP=1 keep the temporary directory (database, server log) for inspection
//
// Prints one "ok - ..." line per step and closes with "e2e: N passed, N failed".
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import {
  BIN,
  CHROMIUM,
  CHROMIUM_ARGS,
  chromium,
  cli,
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
  webDir,
} from './harness.mjs';

const SCREENSHOT = path.join(RESULTS_DIR, 'usage.png');
const DAILY_LIMIT = 5;

// ---------------------------------------------------------------------------------------------
// Helpers

/** Serves WEB_DIST and proxies /v1 and /healthz: only for E2E_STATIC_FALLBACK. */
function startStaticProxy(port, apiPort) {
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml' };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname.startsWith('/v1/') || url.pathname === '/healthz') {
      const up = http.request(
        { host: '127.0.0.1', port: apiPort, path: req.url, method: req.method, headers: req.headers },
        (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        },
      );
      up.on('error', () => {
        res.writeHead(502);
        res.end();
      });
      req.pipe(up);
      return;
    }
    let file = path.join(WEB_DIST, path.normalize(decodeURIComponent(url.pathname)));
    if (!file.startsWith(WEB_DIST) || !existsSync(file) || statSync(file).isDirectory()) {
      file = path.join(WEB_DIST, 'index.html');
    }
    res.writeHead(200, { 'content-type': types[path.extname(file)] ?? 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

// ---------------------------------------------------------------------------------------------
// The test

const state = { server: null, serverLog: [], context: null, page: null, proxy: null, tmp: null };

async function main() {
  if (!existsSync(BIN)) fail(`no server binary at ${BIN}: build it (cmake --build build) or set STARMETER_BIN`);
  if (!existsSync(path.join(WEB_DIST, 'index.html')))
    fail(`no built panel at ${WEB_DIST}/index.html: run "npm run build" in web/ first, or set WEB_DIST`);
  if (!existsSync(CHROMIUM)) fail(`no browser at ${CHROMIUM}: apt-get install -y chromium, or set CHROMIUM_BIN`);

  const { stdout: serveHelp } = await run(BIN, ['serve', '--help']).catch(() => ({ stdout: '' }));
  const hasWebRoot = serveHelp.includes('--web-root');
  const fallback = !hasWebRoot && process.env.E2E_STATIC_FALLBACK === '1';
  if (!hasWebRoot && !fallback) {
    fail(
      `${BIN} has no "serve --web-root" option yet, so it cannot serve the panel. ` +
        'Rebuild the server with it (or, only while developing the panel, set E2E_STATIC_FALLBACK=1).',
    );
  }

  state.tmp = mkdtempSync(path.join(os.tmpdir(), 'starmeter-e2e-'));
  const db = path.join(state.tmp, 'db', 'starmeter.db');

  // Bootstrap through the CLI: a plan of 5 calls a day in block mode, an account, its contract, a key.
  await cli(['admin', 'plan', 'create', '--code', 'e2e', '--name', 'E2E', '--daily-limit', String(DAILY_LIMIT), '--db', db]);
  const account = await cli(['admin', 'account', 'create', '--name', 'E2E Corp', '--db', db]);
  if (!account?.id) fail(`account create printed no id: ${JSON.stringify(account)}`);
  await cli(['admin', 'contract', 'set', '--account', String(account.id), '--plan-code', 'e2e', '--db', db]);
  const issued = await cli(['admin', 'key', 'issue', '--account', String(account.id), '--label', 'e2e', '--db', db]);
  const apiKey = issued?.api_key;
  if (typeof apiKey !== 'string' || apiKey === '') fail(`key issue printed no api_key: ${JSON.stringify(issued)}`);
  ok(`bootstrapped account ${account.id} with plan e2e (daily limit ${DAILY_LIMIT}, block) and key ${issued.key_id}`);

  const apiPort = await freePort();
  const serveArgs = ['serve', '--listen', `127.0.0.1:${apiPort}`, '--db', db, '--log-level', 'warn'];
  if (hasWebRoot) serveArgs.push('--web-root', WEB_DIST);
  state.server = spawn(BIN, serveArgs, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env } });
  for (const s of [state.server.stdout, state.server.stderr]) {
    s.on('data', (d) => {
      state.serverLog.push(String(d));
      if (state.serverLog.length > 200) state.serverLog.shift();
    });
  }
  const apiBase = `http://127.0.0.1:${apiPort}`;
  await waitForHealthz(apiBase, state.server);
  let base = apiBase;
  if (fallback) {
    const webPort = await freePort();
    state.proxy = await startStaticProxy(webPort, apiPort);
    base = `http://127.0.0.1:${webPort}`;
    console.log(`# E2E_STATIC_FALLBACK: the panel is served by node on ${base}, not by the server`);
  }
  ok(`server up on ${apiBase}${hasWebRoot ? ` serving ${WEB_DIST}` : ''}`);

  const call = async () => {
    const res = await fetch(`${apiBase}/v1/b2b/astrology/weekly-by-sign?sign=aries`, {
      headers: { 'X-API-Key': apiKey },
    });
    const body = await res.json().catch(() => null);
    return { status: res.status, body };
  };

  // Browser: Debian's Chromium, a fresh profile, nothing but this origin reachable.
  const profile = path.join(state.tmp, 'chromium-profile');
  mkdirSync(profile);
  state.context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    // This script owns the signals: it stops the server too, then exits.
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
    locale: 'en-US',
    reducedMotion: 'reduce', // no gauge transition half-way in the screenshot
    viewport: { width: 1280, height: 900 },
    timeout: 120_000, // a cold start on a busy 2-core machine has taken 25 s and more
  });
  const page = state.context.pages()[0] ?? (await state.context.newPage());
  state.page = page;
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  const pageErrors = [];
  const offOrigin = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  const origin = new URL(base).origin;
  await state.context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(`${origin}/`) || url.startsWith('data:')) return route.continue();
    offOrigin.push(url);
    return route.abort();
  });

  // 1. Sign in.
  await page.goto(`${base}/`, { waitUntil: 'domcontentloaded' });
  await page.getByRole('heading', { level: 1, name: /API usage/ }).waitFor();
  ok('the panel loads from the server at /');
  await page.getByLabel('API key', { exact: true }).fill(apiKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  if (page.url().includes(apiKey) || page.url().includes(encodeURIComponent(apiKey))) fail('the API key is in the URL');

  // 2. Empty state with a first-call command, key masked.
  const empty = page.getByTestId('empty-state');
  await empty.waitFor();
  const firstCall = await textOf(page.getByTestId('first-call'));
  if (!firstCall.includes('curl') || !firstCall.includes('/v1/b2b/astrology/weekly-by-sign') || !firstCall.includes('X-API-Key'))
    fail(`the first-call command is incomplete: ${firstCall}`);
  if (firstCall.includes(apiKey.split('_').pop())) fail('the first-call command shows the key unmasked');
  ok('empty state says "No calls yet" with a curl command and the key masked');
  await expectText(page.getByTestId('daily-used'), '0', 'today used (empty)');
  await expectText(page.getByTestId('daily-limit'), String(DAILY_LIMIT), 'today limit');

  // 3. Three calls from node, then a reload: 3 of 5 used.
  for (let i = 1; i <= 3; i += 1) {
    const r = await call();
    if (r.status !== 200) fail(`metered call ${i} answered ${r.status}: ${JSON.stringify(r.body)}`);
  }
  ok('3 metered calls answered 200');
  await page.reload({ waitUntil: 'domcontentloaded' });
  await page.getByTestId('usage-view').waitFor();
  await expectText(page.getByTestId('daily-used'), '3', 'today used after 3 calls');
  await expectText(page.getByTestId('daily-remaining'), '2', 'today remaining');
  const gauge = page.getByRole('progressbar', { name: /Today/ });
  const now = await gauge.getAttribute('aria-valuenow');
  const max = await gauge.getAttribute('aria-valuemax');
  if (now !== '3' || max !== String(DAILY_LIMIT)) fail(`today's progressbar is ${now}/${max}, expected 3/${DAILY_LIMIT}`);
  ok(`today's progressbar says 3 of ${DAILY_LIMIT} (${await gauge.getAttribute('aria-valuetext')})`);
  if (await empty.isVisible()) fail('the empty state is still shown after calls were made');
  ok('the key survived the reload in sessionStorage and the empty state is gone');

  // 4. Calls until refused: block mode refuses the 6th.
  let refusedAt = 0;
  for (let i = 4; i <= DAILY_LIMIT + 3; i += 1) {
    const r = await call();
    if (r.status === 429) {
      if (r.body?.error?.code !== 'b2b_quota_exceeded') fail(`call ${i}: 429 with code ${r.body?.error?.code}`);
      refusedAt = i;
      break;
    }
    if (r.status !== 200) fail(`metered call ${i} answered ${r.status}: ${JSON.stringify(r.body)}`);
  }
  if (refusedAt !== DAILY_LIMIT + 1) fail(`expected the call ${DAILY_LIMIT + 1} to be refused, got ${refusedAt || 'none'}`);
  ok(`call ${refusedAt} refused with 429 b2b_quota_exceeded`);

  // 5. Refetch (the Refresh button): the exceeded, "danger" state.
  await page.getByRole('button', { name: /^Refresh/ }).click();
  await expectText(page.getByTestId('daily-used'), String(DAILY_LIMIT), 'today used at the limit');
  await expectText(page.getByTestId('daily-remaining'), '0', 'today remaining at the limit');
  await expectText(page.getByTestId('daily-blocked'), '1', 'today blocked');
  await eventually('the daily gauge to be "danger"', async () => {
    const level = await gauge.getAttribute('data-level');
    return level === 'danger' ? true : level;
  });
  const status = await textOf(page.getByTestId('daily').getByTestId('gauge-status'));
  if (!/Limit reached/.test(status)) fail(`the daily status reads "${status}", expected "Limit reached"`);
  await page.getByText(/New calls are refused \(HTTP 429\)/).waitFor();
  ok(`today's gauge is "danger" with the text "${status}" and the block-mode explanation`);
  await page.getByTestId('history-chart').waitFor();
  await page.getByTestId('history-chart').locator('.recharts-bar-rectangle').first().waitFor();
  ok('the 30-day bar chart is drawn');
  // The chart's Download CSV: the streamed export of the chart's range, fetched with the key.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-csv').click()]);
  const filename = download.suggestedFilename();
  if (!/^starmeter-usage-\d{4}-\d{2}-\d{2}-\d{4}-\d{2}-\d{2}\.csv$/.test(filename)) fail(`downloaded file name ${filename}`);
  const csv = readFileSync(await download.path(), 'utf8');
  const lines = csv.split('\r\n');
  if (lines[0] !== 'date,key_id,label,requests,overage,blocked') fail(`CSV header: ${lines[0]}`);
  const sum = (col) => lines.slice(1, -1).reduce((n, l) => n + Number(l.split(',').at(col)), 0);
  if (sum(-3) !== DAILY_LIMIT || sum(-1) !== 1 || lines.at(-1) !== '')
    fail(`the CSV does not add up to ${DAILY_LIMIT} served and 1 refused: ${JSON.stringify(csv)}`);
  ok(`Download CSV saves ${filename}: ${DAILY_LIMIT} calls served and 1 refused, as the gauges say`);
  const rows = await page.getByTestId('credentials-table').locator('tbody tr').count();
  if (rows !== 1) fail(`the credentials table has ${rows} rows, expected 1`);
  ok('the credentials table lists the key');

  mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  ok(`screenshot saved to ${SCREENSHOT}`);

  // 6. Language switch.
  await page.getByLabel('Language', { exact: true }).selectOption('fr');
  await page.getByRole('heading', { level: 2, name: 'Aujourd’hui' }).waitFor();
  await page.getByLabel('Langue', { exact: true }).selectOption('en');
  await page.getByRole('heading', { level: 2, name: 'Today' }).waitFor();
  ok('the language switch turns the panel to French and back');

  // 7. The key is in sessionStorage only, never localStorage; sign-out forgets it.
  const storage = await page.evaluate(() => ({
    local: JSON.stringify({ ...window.localStorage }),
    session: JSON.stringify({ ...window.sessionStorage }),
  }));
  if (storage.local.includes(apiKey) || storage.local !== '{}') fail(`localStorage is not empty: ${storage.local}`);
  if (!storage.session.includes(apiKey)) fail('the key is not in sessionStorage while signed in');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByTestId('signed-out').waitFor();
  await page.getByLabel('API key', { exact: true }).waitFor();
  const after = await page.evaluate(() => JSON.stringify({ ...window.sessionStorage }) + JSON.stringify({ ...window.localStorage }));
  if (after.includes(apiKey)) fail('the key is still stored after sign-out');
  ok('sign-out returns to the sign-in form and forgets the key');

  // 8. A refused key: the standardized error with its code and request_id.
  await page.getByLabel('API key', { exact: true }).fill('sm_live_nosuchkey_0000000000000000');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('session-ended').waitFor();
  await expectText(page.getByTestId('error-code'), 'invalid_api_key', 'the error code');
  const rid = await textOf(page.getByTestId('error-request-id'));
  if (!/^[A-Za-z0-9._:-]{8,64}$/.test(rid)) fail(`no request id shown for the 401 (got "${rid}")`);
  ok(`a wrong key comes back to sign-in with invalid_api_key and request ID ${rid}`);

  if (pageErrors.length) fail(`JavaScript errors on the page: ${pageErrors.join(' | ')}`);
  if (offOrigin.length) fail(`the page tried to load from another origin: ${offOrigin.join(', ')}`);
  ok('no JavaScript error and nothing loaded from another origin');
}

async function cleanup() {
  state.page = null;
  if (state.context) {
    await state.context.close().catch(() => {});
    state.context = null;
  }
  if (state.proxy) {
    state.proxy.closeAllConnections?.();
    await new Promise((r) => state.proxy.close(() => r()));
    state.proxy = null;
  }
  await stopServerAndTmp(state);
}

async function reportFailure() {
  if (state.page) {
    // What the person would have seen: any alert on the page, and a screenshot.
    const alerts = await state.page
      .locator('[role=alert]')
      .allTextContents()
      .catch(() => []);
    if (alerts.length) console.error(`# alerts on the page: ${alerts.map((a) => a.replace(/\s+/g, ' ').trim()).join(' | ')}`);
    const shot = path.join(webDir, 'test-results', 'usage-failure.png');
    mkdirSync(path.dirname(shot), { recursive: true });
    await state.page
      .screenshot({ path: shot, fullPage: true, timeout: 5_000 })
      .then(() => console.error(`# failure screenshot: ${shot}`))
      .catch(() => {});
  }
  if (state.serverLog.length) {
    console.error(`# server log (last lines):\n${state.serverLog.join('').split('\n').slice(-30).join('\n')}`);
  }
}

await runTest(main, { cleanup, reportFailure });
