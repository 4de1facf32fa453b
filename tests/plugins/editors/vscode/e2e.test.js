'use strict';
// The extension with the real child_process.spawn and the real mcv (against the Ollama stand-in
// the pytest runner started): MCV_TEST_CMD is the mcv command as a JSON list.
const test = require('node:test');
const assert = require('node:assert');
const path = require('path');

const vscode = require('./vscode_stub');
const extension = require(path.join(process.env.MCV_VSCODE_EXTENSION, 'extension.js'));

test('Describe, Ask… and alt text with the real mcv', { skip: !process.env.MCV_TEST_CMD }, async () => {
  const state = vscode.__state;
  state.config.command = JSON.parse(process.env.MCV_TEST_CMD);
  extension.activate({ subscriptions: [] });
  const photo = process.env.MCV_TEST_PHOTO;
  const uri = vscode.Uri.file(photo);
  const outcome = await state.commands['mcv.describe'](uri, [uri]);
  assert.deepStrictEqual(outcome.results.map((r) => r.code), [0], outcome.results.map((r) => r.stderr).join(''));
  assert.strictEqual(outcome.document.getText(), `# Description of ${path.basename(photo)}\n\nA red square on a white table.\n`);

  // A one-word question that names a file beside the image (mcv runs there) stays the question.
  state.inputBoxAnswer = process.env.MCV_TEST_QUESTION;
  const asked = await state.commands['mcv.ask'](uri, [uri]);
  assert.deepStrictEqual(asked.results.map((r) => r.code), [0], asked.results.map((r) => r.stderr).join(''));

  const name = path.basename(photo);
  const editor = vscode.__editorFor(path.join(path.dirname(photo), 'post.md'), `![](<${name}>)\n`, 0, 3);
  vscode.window.activeTextEditor = editor;
  await state.commands['mcv.altText']();
  assert.strictEqual(editor.document.getText(), `![A red square on a white table.](<${name}>)\n`);
});
