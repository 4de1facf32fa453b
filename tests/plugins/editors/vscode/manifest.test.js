'use strict';
// The extension's manifest: what VS Code reads before running a line of it.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const path = require('path');

const extensionDir = process.env.MCV_VSCODE_EXTENSION;
const manifest = JSON.parse(fs.readFileSync(path.join(extensionDir, 'package.json'), 'utf8'));

function whenRegex(when) {
  const match = /resourceExtname =~ \/(.+)\/([a-z]*)$/.exec(when);
  assert.ok(match, `no regex in ${when}`);
  return new RegExp(match[1], match[2]);
}

test('the manifest has what VS Code requires', () => {
  assert.match(manifest.name, /^[a-z0-9][a-z0-9-]*$/);
  assert.match(manifest.publisher, /^[a-z0-9][a-z0-9-]*$/i);
  assert.match(manifest.version, /^\d+\.\d+\.\d+$/);
  assert.match(manifest.engines.vscode, /^\^1\.\d+\.\d+$/);
  assert.ok(fs.existsSync(path.join(extensionDir, manifest.main)), 'main exists');
  assert.ok(Array.isArray(manifest.activationEvents));
  // Plain JavaScript, no build step: nothing to install, nothing to compile.
  assert.strictEqual(manifest.dependencies, undefined);
  assert.strictEqual(manifest.scripts, undefined);
});

test('every menu entry names a declared command, and every command has a title', () => {
  const declared = new Set(manifest.contributes.commands.map((c) => c.command));
  for (const c of manifest.contributes.commands) assert.ok(c.title, c.command);
  for (const [menu, entries] of Object.entries(manifest.contributes.menus)) {
    for (const entry of entries) assert.ok(declared.has(entry.command), `${menu}: ${entry.command}`);
  }
  const explorer = manifest.contributes.menus['explorer/context'].map((e) => e.command);
  assert.deepStrictEqual(explorer, ['mcv.describe', 'mcv.ocr', 'mcv.ask']);
});

test('the explorer when clause takes .PNG and .jpeg, not .txt or folders', () => {
  for (const entry of manifest.contributes.menus['explorer/context']) {
    assert.ok(entry.when.startsWith('!explorerResourceIsFolder && '), entry.when);
    const regex = whenRegex(entry.when);
    for (const ext of ['.PNG', '.png', '.jpeg', '.JPG', '.webp', '.heic']) assert.ok(regex.test(ext), ext);
    for (const ext of ['.txt', '.png.txt', '.pdf', '', '.jpegx']) assert.ok(!regex.test(ext), ext);
  }
});

test('activate registers exactly the declared commands', () => {
  const vscode = require('./vscode_stub');
  const extension = require(path.join(extensionDir, manifest.main));
  extension.activate({ subscriptions: [] });
  const declared = manifest.contributes.commands.map((c) => c.command).sort();
  assert.deepStrictEqual(Object.keys(vscode.__state.commands).sort(), declared);
});
