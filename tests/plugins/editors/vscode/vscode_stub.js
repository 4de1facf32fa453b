'use strict';
// A stand-in for the `vscode` module: just what the extension uses, recording what it is asked to do.
const path = require('path');

class Position {
  constructor(line, character) {
    this.line = line;
    this.character = character;
  }
}

class Range {
  constructor(startLine, startCharacter, endLine, endCharacter) {
    this.start = new Position(startLine, startCharacter);
    this.end = new Position(endLine, endCharacter);
  }
}

const Uri = {
  file: (fsPath) => ({ scheme: 'file', fsPath, path: fsPath, toString: () => 'file://' + fsPath }),
};

let untitled = 0;

class TextDocument {
  constructor(uri, text, languageId) {
    this.uri = uri;
    this.text = text;
    this.languageId = languageId;
  }
  get lineCount() {
    return this.text.split('\n').length;
  }
  lineAt(line) {
    const text = this.text.split('\n')[line];
    return { text, range: new Range(line, 0, line, text.length) };
  }
  offsetAt(position) {
    const lines = this.text.split('\n');
    let offset = 0;
    for (let i = 0; i < position.line; i++) offset += lines[i].length + 1;
    return offset + position.character;
  }
  getText() {
    return this.text;
  }
  replace(range, text) {
    const start = this.offsetAt(range.start);
    const end = this.offsetAt(range.end);
    this.text = this.text.slice(0, start) + text + this.text.slice(end);
  }
}

class WorkspaceEdit {
  constructor() {
    this.edits = [];
  }
  insert(uri, position, text) {
    this.edits.push({ uri, range: new Range(position.line, position.character, position.line, position.character), text });
  }
}

const state = {
  commands: {},
  documents: [],
  shown: [],
  errors: [],
  warnings: [],
  inputBoxAnswer: undefined,
  config: { command: [], extraArgs: [] },
};

const vscode = {
  Position,
  Range,
  Uri,
  WorkspaceEdit,
  ViewColumn: { Beside: -2 },
  ProgressLocation: { Notification: 15 },
  commands: {
    registerCommand(name, fn) {
      state.commands[name] = fn;
      return { dispose() {} };
    },
  },
  workspace: {
    getConfiguration: () => ({ get: (key) => state.config[key] }),
    async openTextDocument(options) {
      untitled += 1;
      const doc = new TextDocument({ scheme: 'untitled', fsPath: `Untitled-${untitled}` }, options.content || '', options.language);
      state.documents.push(doc);
      return doc;
    },
    async applyEdit(edit) {
      for (const change of edit.edits) {
        const doc = state.documents.find((d) => d.uri === change.uri);
        doc.replace(change.range, change.text);
      }
      return true;
    },
  },
  window: {
    activeTextEditor: undefined,
    async showTextDocument(document) {
      state.shown.push(document);
      return {};
    },
    async showInputBox() {
      return state.inputBoxAnswer;
    },
    showErrorMessage(message) {
      state.errors.push(message);
    },
    showWarningMessage(message) {
      state.warnings.push(message);
    },
    withProgress(options, task) {
      return task({ report() {} });
    },
  },
};

// An editor over a file-backed document, with the cursor at (line, character).
function editorFor(fsPath, text, line, character) {
  const document = new TextDocument(Uri.file(fsPath), text, 'markdown');
  return {
    document,
    selection: { active: new Position(line, character) },
    async edit(callback) {
      callback({ replace: (range, replacement) => document.replace(range, replacement) });
      return true;
    },
  };
}

// Make `require('vscode')` return the stand-in.
const Module = require('module');
const originalResolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === 'vscode') return path.join(__dirname, 'vscode_stub.js');
  return originalResolve.call(this, request, ...rest);
};

module.exports = vscode;
module.exports.__state = state;
module.exports.__editorFor = editorFor;
