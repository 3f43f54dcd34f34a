#!/usr/bin/env node
// SPDX-License-Identifier: AGPL-3.0-or-later
// The panel's API types come from the contract, docs/openapi.yaml, through openapi-typescript.
//   node tools/openapi-types.mjs          regenerate src/generated/openapi.ts
//   node tools/openapi-types.mjs --check  regenerate into a temporary file and fail if it differs
// Every response property is sent by the server, so properties are required unless the contract
// says otherwise (--properties-required-by-default); request bodies are typed by hand as partials.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const webDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const contract = path.resolve(webDir, '../docs/openapi.yaml');
const target = path.join(webDir, 'src/generated/openapi.ts');
const cli = path.join(webDir, 'node_modules/openapi-typescript/bin/cli.js');

function generate(out) {
  execFileSync(process.execPath, [cli, contract, '--properties-required-by-default', '--output', out], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

if (process.argv.includes('--check')) {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'openapi-types-'));
  try {
    const fresh = path.join(tmp, 'openapi.ts');
    generate(fresh);
    let current = '';
    try {
      current = readFileSync(target, 'utf8');
    } catch {
      // missing: reported below
    }
    if (current !== readFileSync(fresh, 'utf8')) {
      console.error(
        `${path.relative(webDir, target)} is not what docs/openapi.yaml generates: run "npm run types:generate" in web/ and commit the result.`,
      );
      process.exit(1);
    }
    console.log(`${path.relative(webDir, target)} matches docs/openapi.yaml`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
} else {
  generate(target);
  console.log(`wrote ${path.relative(webDir, target)}`);
}
