'use strict';
// The parts of the extension that need no VS Code: argument lists, Markdown image links,
// alt text, and running mcv with a spawn function (child_process.spawn, or a test's stub).

const path = require('path');

const IMAGE_EXTENSIONS = ['png', 'jpg', 'jpeg', 'webp', 'gif', 'bmp', 'tif', 'tiff', 'heic', 'heif', 'avif'];

// `mcv ask --plain [--preset P] [--prompt QUESTION] -- FILE`: an array, `--` before the file.
// The question goes in --prompt: after the file, a question naming a file or a URL would be an image.
function argv(command, extraArgs, preset, file, question) {
  const args = [...command.slice(1), 'ask', '--plain', ...extraArgs];
  if (preset) args.push('--preset', preset);
  if (question !== undefined && question !== null) args.push('--prompt', question);
  args.push('--', file);
  return { program: command[0], args };
}

function isImage(file) {
  return IMAGE_EXTENSIONS.includes(path.extname(file).slice(1).toLowerCase());
}

// Every `![alt](dest)` in a line: {start, end (exclusive), alt, altStart, altEnd, dest}.
function imageLinks(line) {
  const links = [];
  // alt text may hold escaped brackets (\[ \]): what altText writes
  const pattern = /!\[((?:\\.|[^\]\\\n])*)\]\(/g;
  let match;
  while ((match = pattern.exec(line)) !== null) {
    let depth = 1;
    let i = match.index + match[0].length;
    for (; i < line.length && depth > 0; i++) {
      if (line[i] === '(') depth++;
      else if (line[i] === ')') depth--;
    }
    if (depth !== 0) continue;
    const inside = line.slice(match.index + match[0].length, i - 1);
    links.push({
      start: match.index,
      end: i,
      alt: match[1],
      altStart: match.index + 2,
      altEnd: match.index + 2 + match[1].length,
      dest: destination(inside),
    });
    pattern.lastIndex = i;
  }
  return links;
}

// The path in a link's parentheses: `<with spaces>`, or the text less a "title".
function destination(inside) {
  const text = inside.trim();
  if (text.startsWith('<')) {
    const close = text.indexOf('>');
    return close > 0 ? text.slice(1, close) : null;
  }
  return text.replace(/\s+("[^"]*"|'[^']*'|\([^)]*\))$/, '');
}

function linkAt(line, column) {
  return imageLinks(line).find((link) => column >= link.start && column <= link.end) || null;
}

// A destination as a file path, from the Markdown file's folder; null and why for a URL.
function resolve(dest, baseDir, exists) {
  if (!dest) return { error: 'the image link has no path' };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(dest)) return { error: `only local images: ${dest} is a URL` };
  const full = path.resolve(baseDir, dest);
  if (exists && !exists(full) && /%[0-9a-f]{2}/i.test(dest)) {
    try {
      const decoded = path.resolve(baseDir, decodeURIComponent(dest));
      if (exists(decoded)) return { file: decoded };
    } catch (err) {
      // not percent-encoding after all
    }
  }
  return { file: full };
}

// An answer as alt text: one line, brackets and backslashes escaped.
function altText(answer) {
  let text = answer.replace(/\s+/g, ' ').trim();
  const quoted = /^"(.*)"$/.exec(text);
  if (quoted) text = quoted[1];
  return text.replace(/([[\]\\])/g, '\\$1');
}

// Run mcv: onChunk(text) as stdout streams; resolves {code, stdout, stderr}.
function run(spawn, program, args, onChunk, options = {}) {
  return new Promise((resolvePromise) => {
    let stdout = '';
    let stderr = '';
    let child;
    try {
      child = spawn(program, args, { shell: false, windowsHide: true, env: options.env, cwd: options.cwd });
    } catch (err) {
      resolvePromise({ code: -1, stdout: '', stderr: `cannot start ${program}: ${err.message}` });
      return;
    }
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (text) => {
      stdout += text;
      if (onChunk) onChunk(text);
    });
    child.stderr.on('data', (text) => {
      stderr += text;
    });
    child.on('error', (err) => {
      resolvePromise({ code: -1, stdout, stderr: stderr + `cannot start ${program}: ${err.message} (set mcv.command)` });
    });
    child.on('close', (code) => resolvePromise({ code: code === null ? -1 : code, stdout, stderr }));
  });
}

function firstLine(text) {
  return (text.trim().split('\n')[0] || '').trim();
}

module.exports = { IMAGE_EXTENSIONS, argv, isImage, imageLinks, destination, linkAt, resolve, altText, run, firstLine };
