'use strict';
// mcv for VS Code: Describe image, Extract text and Ask… on image files in the explorer (answers
// stream into a Markdown document), and alt text for the Markdown image link under the cursor.
// mcv is spawned with an argument array (child_process.spawn, shell: false), never a shell string.

const fs = require('fs');
const path = require('path');
const childProcess = require('child_process');
const vscode = require('vscode');
const mcv = require('./lib/mcv');

// The spawn function used; tests replace it.
let spawn = childProcess.spawn;

function setSpawn(fn) {
  spawn = fn;
}

function command() {
  const configured = vscode.workspace.getConfiguration('mcv').get('command') || [];
  if (configured.length > 0) return configured;
  try {
    // Written by `mcv plugins install vscode`: the absolute mcv that installed this extension.
    const recorded = JSON.parse(fs.readFileSync(path.join(__dirname, 'launcher.json'), 'utf8'));
    if (Array.isArray(recorded) && recorded.length > 0) return recorded;
  } catch (err) {
    // not installed by mcv: mcv on PATH
  }
  return ['mcv'];
}

function extraArgs() {
  return vscode.workspace.getConfiguration('mcv').get('extraArgs') || [];
}

// The image files a command is about: the explorer selection, else the active editor's file.
function chosenFiles(uri, selected) {
  const uris = Array.isArray(selected) && selected.length > 0 ? selected : uri ? [uri] : [];
  if (uris.length === 0 && vscode.window.activeTextEditor) uris.push(vscode.window.activeTextEditor.document.uri);
  return uris.filter((u) => u && u.scheme === 'file' && mcv.isImage(u.fsPath)).map((u) => u.fsPath);
}

// Append to a document in order (edits are queued: chunks arrive faster than edits apply).
function appender(document) {
  let queue = Promise.resolve();
  return (text) => {
    queue = queue.then(() => {
      const edit = new vscode.WorkspaceEdit();
      const end = document.lineAt(document.lineCount - 1).range.end;
      edit.insert(document.uri, end, text);
      return vscode.workspace.applyEdit(edit);
    });
    return queue;
  };
}

async function answerInDocument(title, preset, files, question) {
  const heading = files.length === 1 ? `# ${title} ${path.basename(files[0])}\n\n` : `# ${title} ${files.length} images\n\n`;
  const document = await vscode.workspace.openTextDocument({ language: 'markdown', content: heading });
  await vscode.window.showTextDocument(document, { preview: false, viewColumn: vscode.ViewColumn.Beside });
  const append = appender(document);
  const results = [];
  for (const [index, file] of files.entries()) {
    if (files.length > 1) await append(`${index > 0 ? '\n' : ''}## ${path.basename(file)}\n\n`);
    const { program, args } = mcv.argv(command(), extraArgs(), preset, file, question);
    const result = await mcv.run(spawn, program, args, (text) => append(text), { cwd: path.dirname(file) });
    if (result.code !== 0) {
      await append(`\n> mcv failed: ${mcv.firstLine(result.stderr)}\n`);
      vscode.window.showErrorMessage(mcv.firstLine(result.stderr) || `mcv exited with code ${result.code}`);
    }
    results.push(result);
  }
  await append('');
  return { document, results };
}

async function describe(uri, selected) {
  const files = chosenFiles(uri, selected);
  if (files.length === 0) return vscode.window.showWarningMessage('mcv: choose an image file');
  return answerInDocument('Description of', 'describe', files);
}

async function ocr(uri, selected) {
  const files = chosenFiles(uri, selected);
  if (files.length === 0) return vscode.window.showWarningMessage('mcv: choose an image file');
  return answerInDocument('Text in', 'ocr', files);
}

async function ask(uri, selected) {
  const files = chosenFiles(uri, selected);
  if (files.length === 0) return vscode.window.showWarningMessage('mcv: choose an image file');
  const question = await vscode.window.showInputBox({ prompt: `Ask about ${files.length === 1 ? path.basename(files[0]) : files.length + ' images'}` });
  if (!question || !question.trim()) return undefined;
  return answerInDocument('Answer about', null, files, question.trim());
}

// Write alt text into the `![...](path)` under the cursor (when mcv is done, if the link is still there).
async function altText() {
  const editor = vscode.window.activeTextEditor;
  if (!editor) return vscode.window.showWarningMessage('mcv: open a Markdown file first');
  const document = editor.document;
  const position = editor.selection.active;
  const line = document.lineAt(position.line).text;
  const link = mcv.linkAt(line, position.character);
  if (!link) return vscode.window.showWarningMessage('mcv: no Markdown image ![...](path) under the cursor');
  const base = document.uri.scheme === 'file' ? path.dirname(document.uri.fsPath) : process.cwd();
  const target = mcv.resolve(link.dest, base, fs.existsSync);
  if (target.error) return vscode.window.showWarningMessage(`mcv: ${target.error}`);
  const { program, args } = mcv.argv(command(), extraArgs(), 'alt', target.file);
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `mcv: writing alt text for ${path.basename(target.file)}` },
    () => mcv.run(spawn, program, args, null, { cwd: base }),
  );
  if (result.code !== 0) return vscode.window.showErrorMessage(mcv.firstLine(result.stderr) || `mcv exited with code ${result.code}`);
  const original = line.slice(link.start, link.end);
  const now = document.lineAt(position.line).text;
  const at = now.indexOf(original);
  if (at < 0) {
    return vscode.window.showWarningMessage(`mcv: the link changed meanwhile; alt text: ${result.stdout.trim()}`);
  }
  const range = new vscode.Range(position.line, at + 2, position.line, at + 2 + link.alt.length);
  const alt = mcv.altText(result.stdout);
  await editor.edit((builder) => builder.replace(range, alt));
  return alt;
}

function activate(context) {
  context.subscriptions.push(
    vscode.commands.registerCommand('mcv.describe', describe),
    vscode.commands.registerCommand('mcv.ocr', ocr),
    vscode.commands.registerCommand('mcv.ask', ask),
    vscode.commands.registerCommand('mcv.altText', altText),
  );
}

function deactivate() {}

module.exports = { activate, deactivate, setSpawn, describe, ocr, ask, altText };
