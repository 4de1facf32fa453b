'use strict';
// The extension's commands with a stubbed spawn: argument arrays (hostile names), streaming, alt text.
const test = require('node:test');
const assert = require('node:assert');
const path = require('path');
const { EventEmitter } = require('events');
const { PassThrough } = require('stream');

const vscode = require('./vscode_stub');
const extensionDir = process.env.MCV_VSCODE_EXTENSION;
const extension = require(path.join(extensionDir, 'extension.js'));
const mcv = require(path.join(extensionDir, 'lib', 'mcv.js'));
const state = vscode.__state;

// A spawn that records its arguments and answers in chunks (or fails like mcv).
const calls = [];
function fakeSpawn(program, args, options) {
  calls.push({ program, args, options });
  const child = new EventEmitter();
  child.stdout = new PassThrough();
  child.stderr = new PassThrough();
  const file = args[args.indexOf('--') + 1];
  setImmediate(async () => {
    if (file.endsWith('fail.png')) {
      child.stderr.end('mcv: error: fail.png: not an image (it is text)\n');
      child.stdout.end();
      setImmediate(() => child.emit('close', 2));
      return;
    }
    child.stdout.write('First part, ');
    await new Promise((r) => setTimeout(r, 20));
    child.stdout.end('[second] part.\n');
    setImmediate(() => child.emit('close', 0));
  });
  return child;
}
extension.setSpawn(fakeSpawn);
extension.activate({ subscriptions: [] });
state.config.command = ['/opt/mcv bin/mcv', '--flag-before-ask'];

const HOSTILE = ['-rf x.png', 'q"$(id)\'`.png', 'semi;colon | pipe.png', 'new\nline.png', '--help.PNG'];

test('argv is an array with -- before the file', () => {
  for (const name of HOSTILE) {
    const file = path.join('/tmp/shots', name);
    assert.deepStrictEqual(mcv.argv(['/usr/bin/mcv'], [], 'ocr', file), {
      program: '/usr/bin/mcv',
      args: ['ask', '--plain', '--preset', 'ocr', '--', file],
    });
  }
  assert.deepStrictEqual(mcv.argv(['py', '-m', 'mcv'], ['-m', 'x'], null, '/a.png', '-- why?').args, ['-m', 'mcv', 'ask', '--plain', '-m', 'x', '--prompt', '-- why?', '--', '/a.png']);
});

test('Describe streams the answer into a Markdown document, one spawn per file, no shell', async () => {
  calls.length = 0;
  const uris = HOSTILE.map((name) => vscode.Uri.file(path.join('/tmp/shots', name)));
  const outcome = await state.commands['mcv.describe'](uris[0], uris.concat([vscode.Uri.file('/tmp/shots/notes.txt')]));
  assert.strictEqual(calls.length, HOSTILE.length); // notes.txt is no image
  calls.forEach((call, i) => {
    assert.strictEqual(call.program, '/opt/mcv bin/mcv');
    assert.deepStrictEqual(call.args, ['--flag-before-ask', 'ask', '--plain', '--preset', 'describe', '--', uris[i].fsPath]);
    assert.strictEqual(call.options.shell, false);
  });
  const text = outcome.document.getText();
  assert.strictEqual(outcome.document.languageId, 'markdown');
  assert.ok(text.startsWith(`# Description of ${HOSTILE.length} images\n\n## -rf x.png\n\nFirst part, [second] part.\n`), text);
  assert.strictEqual(text.split('First part, [second] part.').length - 1, HOSTILE.length);
});

test('Extract text and Ask… use the ocr preset and the question', async () => {
  calls.length = 0;
  const uri = vscode.Uri.file('/tmp/shots/a.png');
  await state.commands['mcv.ocr'](uri, [uri]);
  state.inputBoxAnswer = '-- what is this? $(id)';
  await state.commands['mcv.ask'](uri, [uri]);
  assert.deepStrictEqual(calls[0].args.slice(-4), ['--preset', 'ocr', '--', '/tmp/shots/a.png']);
  assert.deepStrictEqual(calls[1].args.slice(-4), ['--prompt', '-- what is this? $(id)', '--', '/tmp/shots/a.png']);
});

test('a failure is one line in the document and an error message', async () => {
  state.errors.length = 0;
  const uri = vscode.Uri.file('/tmp/shots/fail.png');
  const outcome = await state.commands['mcv.describe'](uri, [uri]);
  assert.match(outcome.document.getText(), /> mcv failed: mcv: error: fail.png: not an image/);
  assert.deepStrictEqual(state.errors, ['mcv: error: fail.png: not an image (it is text)']);
});

test('Markdown image links and alt text', () => {
  const links = mcv.imageLinks('a ![x](<my shots/b c.png> "t") b ![](img/y.png \'t\') ![z](p (1).png)');
  assert.deepStrictEqual(links.map((l) => l.dest), ['my shots/b c.png', 'img/y.png', 'p (1).png']);
  assert.strictEqual(mcv.linkAt('text ![a](b.png)', 7).dest, 'b.png');
  assert.strictEqual(mcv.linkAt('text ![a](b.png)', 1), null);
  // alt text the extension wrote (escaped brackets) still reads as the link
  assert.strictEqual(mcv.linkAt('![A \\[1\\] cat](a.png) ![b](b.png)', 3).dest, 'a.png');
  assert.deepStrictEqual(mcv.resolve('https://e.com/a.png', '/tmp'), { error: 'only local images: https://e.com/a.png is a URL' });
  assert.deepStrictEqual(mcv.resolve('b%20c.png', '/tmp', (f) => f === '/tmp/b c.png'), { file: '/tmp/b c.png' });
  assert.strictEqual(mcv.altText('  "A cat [asleep]\non a \\ sofa."\n'), 'A cat \\[asleep\\] on a \\\\ sofa.');
});

test('Write alt text fills the link under the cursor', async () => {
  calls.length = 0;
  const editor = vscode.__editorFor('/tmp/notes/post.md', 'intro\nsee ![old](<../shots/-rf x.png> "t") and ![k](k.png)\n', 1, 8);
  vscode.window.activeTextEditor = editor;
  const alt = await state.commands['mcv.altText']();
  assert.strictEqual(alt, 'First part, \\[second\\] part.');
  assert.deepStrictEqual(calls[0].args, ['--flag-before-ask', 'ask', '--plain', '--preset', 'alt', '--', '/tmp/shots/-rf x.png']);
  assert.strictEqual(editor.document.getText(), 'intro\nsee ![First part, \\[second\\] part.](<../shots/-rf x.png> "t") and ![k](k.png)\n');
});
