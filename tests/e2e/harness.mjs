// SPDX-License-Identifier: AGPL-3.0-or-later
// What the end-to-end tests share: the paths and binaries from the environment, "ok" lines and
// failures, the server's CLI, polling helpers, Chromium's flags, and one runner that reports,
// cleans up once (at the end or on a signal) and exits with the result.
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const webDir = path.resolve(here, '../../web');
// playwright-core is installed in web/node_modules, not beside this file.
const requireFromWeb = createRequire(path.join(webDir, 'package.json'));
export const { chromium } = requireFromWeb('playwright-core');

export const BIN = process.env.STARMETER_BIN
  ? path.resolve(process.env.STARMETER_BIN)
  : path.resolve(webDir, '../build/starmeter');
export const WEB_DIST = path.resolve(process.env.WEB_DIST ?? path.join(webDir, 'dist'));
export const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
export const RESULTS_DIR = path.join(webDir, 'test-results');
export const STEP_TIMEOUT_MS = 15_000;

/** Debian's Chromium, headless, with nothing of its own reaching the network. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const counts = { passed: 0, failed: 0 };
export const ok = (msg) => {
  counts.passed += 1;
  console.log(`ok - ${msg}`);
};

export class E2EError extends Error {}
export const fail = (msg) => {
  throw new E2EError(msg);
};

export function run(cmd, args, { timeout = 20_000, env } = {}) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout, maxBuffer: 4 * 1024 * 1024, env }, (err, stdout, stderr) => {
      if (err) {
        reject(new E2EError(`${path.basename(cmd)} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      } else {
        resolve({ stdout, stderr });
      }
    });
  });
}

/** `starmeter <args>`, its JSON answer's data. */
export async function cli(args) {
  const { stdout } = await run(BIN, args);
  try {
    const json = JSON.parse(stdout);
    return json && typeof json === 'object' && 'data' in json ? json.data : json;
  } catch {
    return fail(`starmeter ${args.join(' ')} did not print JSON:\n${stdout}`);
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function waitForHealthz(base, serverProc, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (serverProc.exitCode !== null) fail(`the server exited early with code ${serverProc.exitCode}`);
    try {
      const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(1_000) });
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (e) {
      last = e.message;
    }
    await sleep(100);
  }
  fail(`${base}/healthz did not answer within ${timeoutMs} ms (${last})`);
}

/** Polls until fn() returns true; anything else it returns is what it saw, shown on timeout. */
export async function eventually(what, fn, timeoutMs = STEP_TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last === true) return;
    } catch (e) {
      last = e.message;
    }
    if (Date.now() > deadline) fail(`timed out waiting for ${what} (last seen: ${JSON.stringify(last)})`);
    await sleep(150);
  }
}

export async function textOf(locator) {
  return ((await locator.textContent({ timeout: 2_000 })) ?? '').replace(/\s+/g, ' ').trim();
}

export async function expectText(locator, expected, what) {
  await eventually(`${what} to be "${expected}"`, async () => {
    const seen = await textOf(locator);
    return seen === expected ? true : seen;
  });
  ok(`${what} is "${expected}"`);
}

/**
 * Runs main(); on failure prints "not ok - <reason>" and calls reportFailure(); always calls
 * cleanup() once, also on SIGINT/SIGTERM/SIGHUP; prints the tally and exits.
 */
export async function runTest(main, { cleanup, reportFailure }) {
  let cleaning = null;
  const cleanupOnce = () => (cleaning ??= cleanup().catch((e) => console.error(`# cleanup: ${e?.message ?? e}`)));
  let interrupted = false;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      if (interrupted) return;
      interrupted = true;
      console.error(`# ${sig}: stopping the browser and the server`);
      cleanupOnce().finally(() => process.exit(130));
    });
  }
  const started = Date.now();
  try {
    await main();
  } catch (e) {
    counts.failed += 1;
    if (!interrupted) {
      console.error(`not ok - ${e instanceof E2EError ? e.message : (e?.stack ?? e)}`);
      await reportFailure();
    }
  } finally {
    await cleanupOnce();
  }
  console.log(`e2e: ${counts.passed} passed, ${counts.failed} failed (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  process.exit(interrupted ? 130 : counts.failed > 0 ? 1 : 0);
}

/**
 * Stops the server of `state` (SIGTERM, then SIGKILL after 12 s) and removes its temporary
 * directory (kept when E2E_KEEP_TMP=1): the end of every test's cleanup.
 */
export async function stopServerAndTmp(state) {
  const srv = state.server;
  if (srv && srv.exitCode === null && srv.signalCode === null) {
    const exited = new Promise((r) => srv.once('exit', r));
    srv.kill('SIGTERM');
    const done = await Promise.race([exited.then(() => true), sleep(12_000).then(() => false)]);
    if (!done) {
      console.error('# the server ignored SIGTERM for 12 s; killing it');
      srv.kill('SIGKILL');
      await exited;
    }
  }
  state.server = null;
  if (state.tmp) {
    if (process.env.E2E_KEEP_TMP === '1') console.log(`# kept ${state.tmp}`);
    else rmSync(state.tmp, { recursive: true, force: true });
  }
}
