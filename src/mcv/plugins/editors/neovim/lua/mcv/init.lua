-- mcv for Neovim 0.7+: describe, OCR, ask about images, and Markdown alt text.
--
-- mcv runs with vim.fn.jobstart and an argument list (no shell):
--   {cmd..., 'ask', '--plain', '--preset', PRESET, '--', FILE} (a question: '--prompt', QUESTION before '--')
-- Answers stream into a scratch buffer (filetype markdown); :McvAlt puts the
-- answer into the `![...](path)` under the cursor when it is finished.
local M = {}

M.config = {
  cmd = nil, -- list: the mcv command; default vim.g.mcv_command, the installed launcher, or {'mcv'}
  args = {}, -- extra arguments after `ask` (e.g. {'--model', 'minicpm-v:8b'})
  split = 'botright vsplit', -- how the answer window opens
}

local IMAGE_EXTENSIONS = {
  png = true, jpg = true, jpeg = true, webp = true, gif = true, bmp = true,
  tif = true, tiff = true, heic = true, heif = true, avif = true,
}

function M.setup(opts)
  M.config = vim.tbl_extend('force', M.config, opts or {})
end

function M.command()
  if M.config.cmd then
    return vim.deepcopy(M.config.cmd)
  end
  if type(vim.g.mcv_command) == 'table' then
    return vim.deepcopy(vim.g.mcv_command)
  end
  local ok, launcher = pcall(require, 'mcv.launcher') -- written by `mcv plugins install neovim`
  if ok and type(launcher) == 'table' then
    return vim.deepcopy(launcher)
  end
  return { 'mcv' }
end

-- The argument list for one question: never a string, `--` before the file. The question goes in
-- --prompt: after the file, a question naming a file or a URL would be read as an image.
function M.argv(preset, file, question)
  local argv = M.command()
  table.insert(argv, 'ask')
  table.insert(argv, '--plain')
  for _, arg in ipairs(M.config.args) do
    table.insert(argv, arg)
  end
  if preset then
    table.insert(argv, '--preset')
    table.insert(argv, preset)
  end
  if question then
    table.insert(argv, '--prompt')
    table.insert(argv, question)
  end
  table.insert(argv, '--')
  table.insert(argv, file)
  return argv
end

-- --- Markdown image links ------------------------------------------------------------------

local function url_decode(text)
  return (text:gsub('%%(%x%x)', function(hex)
    return string.char(tonumber(hex, 16))
  end))
end

-- The link destination: `<with spaces>` or up to the first space (a "title" may follow).
local function destination(inside)
  inside = vim.trim(inside)
  if inside:sub(1, 1) == '<' then
    local close = inside:find('>', 2, true)
    return close and inside:sub(2, close - 1) or nil
  end
  -- Spaces without <> are not CommonMark, but people write them: the whole, less a "title".
  local dest = inside:gsub('%s+"[^"]*"$', ''):gsub("%s+'[^']*'$", ''):gsub('%s+%([^)]*%)$', '')
  return dest
end

-- Where the `]` closing alt text that starts at `from` is (escaped brackets, as alt_text writes them, skipped).
local function alt_close(line, from)
  local i = from
  while i <= #line do
    local c = line:sub(i, i)
    if c == '\\' then
      i = i + 1
    elseif c == ']' then
      return i
    end
    i = i + 1
  end
  return nil
end

-- Every `![alt](dest)` in a line: {start, finish (1-based, inclusive), alt, dest, alt_start, alt_finish}.
function M.image_links(line)
  local links = {}
  local from = 1
  while true do
    local s = line:find('![', from, true)
    local alt_end = s and alt_close(line, s + 2)
    if not alt_end then
      break
    end
    if line:sub(alt_end + 1, alt_end + 1) == '(' then
      local depth, i = 0, alt_end + 1
      local finish
      while i <= #line do
        local c = line:sub(i, i)
        if c == '(' then
          depth = depth + 1
        elseif c == ')' then
          depth = depth - 1
          if depth == 0 then
            finish = i
            break
          end
        end
        i = i + 1
      end
      if finish then
        table.insert(links, {
          start = s, finish = finish, alt = line:sub(s + 2, alt_end - 1),
          dest = destination(line:sub(alt_end + 2, finish - 1)), alt_start = s + 2, alt_finish = alt_end - 1,
        })
        from = finish + 1
      else
        from = alt_end + 1
      end
    else
      from = alt_end + 1
    end
  end
  return links
end

-- The link under (or, failing that, nearest after) column `col` (1-based).
function M.link_at(line, col)
  local after
  for _, link in ipairs(M.image_links(line)) do
    if col >= link.start and col <= link.finish then
      return link
    end
    if not after and link.start > col then
      after = link
    end
  end
  return after
end

-- A link destination as a file path: relative to the Markdown file's folder; %20 decoded if needed.
function M.resolve(dest, base_dir)
  if not dest or dest == '' then
    return nil, 'the image link has no path'
  end
  if dest:match('^%a[%w+.-]*://') then
    return nil, 'only local images: ' .. dest .. ' is a URL'
  end
  local function absolute(path)
    if path:sub(1, 1) == '/' or path:match('^%a:[/\\]') then
      return path
    end
    return base_dir .. '/' .. path
  end
  local path = absolute(dest)
  if vim.fn.filereadable(path) == 0 and dest:find('%%%x%x') then
    local decoded = absolute(url_decode(dest))
    if vim.fn.filereadable(decoded) == 1 then
      path = decoded
    end
  end
  return vim.fn.fnamemodify(path, ':p')
end

-- Which image a command is about: its argument, the link under the cursor, or this buffer's file.
local function target(arg)
  if arg then
    -- Only Vim's own names (%, #, #2, <cfile>, with :modifiers) are expanded: expand() on a file name
    -- would glob `shot[1].png` into shot1.png and read `$HOME` or a leading `#` as Vim's.
    local special = arg:match('^[%%#]%d*$') or arg:match('^<%a+>$')
      or arg:match('^[%%#]%d*:[%w~.:]*$') or arg:match('^<%a+>:[%w~.:]*$')
    if special then
      arg = vim.fn.expand(arg)
    end
    return vim.fn.fnamemodify(arg, ':p')
  end
  local line = vim.api.nvim_get_current_line()
  local col = vim.api.nvim_win_get_cursor(0)[2] + 1
  local link = M.link_at(line, col)
  if link then
    return M.resolve(link.dest, vim.fn.expand('%:p:h'))
  end
  local name = vim.api.nvim_buf_get_name(0)
  local ext = vim.fn.fnamemodify(name, ':e'):lower()
  if IMAGE_EXTENSIONS[ext] then
    return name
  end
  return nil, 'no image: give a path, or put the cursor on a Markdown image link'
end

-- --- running mcv -------------------------------------------------------------------------------

local function notify(message, level)
  -- mcv's own errors already read `mcv: error: ...`
  vim.notify(message:match('^mcv:') and message or ('mcv: ' .. message), level or vim.log.levels.INFO)
end

-- Run argv; on_chunk(lines) as output streams (jobstart's list: the first item continues the last line),
-- on_done(code, stdout_text, stderr_text) at the end. Returns the job id.
function M.spawn(argv, on_chunk, on_done)
  local out, err = {}, {}
  local job = vim.fn.jobstart(argv, {
    stdout_buffered = false,
    on_stdout = function(_, data)
      if on_chunk then
        on_chunk(data)
      end
      table.insert(out, table.concat(data, '\n'))
    end,
    on_stderr = function(_, data)
      table.insert(err, table.concat(data, '\n'))
    end,
    on_exit = function(_, code)
      on_done(code, table.concat(out, ''), table.concat(err, ''))
    end,
  })
  if job <= 0 then
    on_done(-1, '', 'cannot start ' .. tostring(argv[1]) .. ' (set vim.g.mcv_command or require("mcv").setup{cmd = {...}})')
  end
  return job
end

-- A scratch buffer for an answer, shown in a split; returns its number.
function M.open_scratch(title)
  local buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_option(buf, 'buftype', 'nofile')
  vim.api.nvim_buf_set_option(buf, 'bufhidden', 'hide')
  vim.api.nvim_buf_set_option(buf, 'swapfile', false)
  vim.api.nvim_buf_set_option(buf, 'filetype', 'markdown')
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, { '# ' .. title:gsub('[\r\n]', ' '), '', '' })
  vim.cmd(M.config.split)
  vim.api.nvim_win_set_buf(0, buf)
  return buf
end

local function append(buf, data)
  if not vim.api.nvim_buf_is_valid(buf) then
    return
  end
  local last = vim.api.nvim_buf_line_count(buf)
  local tail = vim.api.nvim_buf_get_lines(buf, last - 1, last, false)[1] or ''
  local lines = vim.deepcopy(data)
  lines[1] = tail .. lines[1]
  vim.api.nvim_buf_set_lines(buf, last - 1, last, false, lines)
end

local function last_line(text)
  local lines = vim.split(vim.trim(text), '\n', { plain = true })
  return lines[1] or ''
end

-- Ask about `file` into a new scratch buffer; returns {buf = ..., job = ...}.
function M.answer_into_buffer(title, preset, file, question)
  local buf = M.open_scratch(title)
  local state = { buf = buf, done = false }
  state.job = M.spawn(M.argv(preset, file, question), function(data)
    append(buf, data)
  end, function(code, _, err)
    state.done, state.code = true, code
    if code ~= 0 then
      append(buf, { '', '> mcv failed: ' .. last_line(err) })
      notify(vim.trim(err) ~= '' and vim.trim(err) or ('exit code ' .. code), vim.log.levels.ERROR)
    end
  end)
  return state
end

local function with_target(arg, fn)
  local file, problem = target(arg)
  if not file then
    notify(problem, vim.log.levels.WARN)
    return nil
  end
  return fn(file)
end

function M.describe(arg)
  return with_target(arg, function(file)
    return M.answer_into_buffer('Description of ' .. vim.fn.fnamemodify(file, ':t'), 'describe', file)
  end)
end

function M.ocr(arg)
  return with_target(arg, function(file)
    return M.answer_into_buffer('Text in ' .. vim.fn.fnamemodify(file, ':t'), 'ocr', file)
  end)
end

function M.ask(question, file)
  question = question or vim.fn.input('Ask mcv: ')
  if not question or vim.trim(question) == '' then
    return nil
  end
  return with_target(file, function(path)
    return M.answer_into_buffer(question, nil, path, question)
  end)
end

-- Alt text as it goes between `![` and `]`: one line, brackets escaped.
function M.alt_text(answer)
  local text = vim.trim((answer:gsub('%s+', ' ')))
  text = text:gsub('^"(.*)"$', '%1')
  return (text:gsub('([%[%]\\])', '\\%1'))
end

-- Fill the alt text of the image link under the cursor (when mcv is done, wherever the link is then).
function M.alt()
  local buf = vim.api.nvim_get_current_buf()
  local row, col0 = unpack(vim.api.nvim_win_get_cursor(0))
  local line = vim.api.nvim_get_current_line()
  local link = M.link_at(line, col0 + 1)
  if not link then
    notify('no Markdown image `![...](path)` under the cursor', vim.log.levels.WARN)
    return nil
  end
  local file, problem = M.resolve(link.dest, vim.fn.expand('%:p:h'))
  if not file then
    notify(problem, vim.log.levels.WARN)
    return nil
  end
  local original = line:sub(link.start, link.finish)
  local mark = vim.api.nvim_buf_set_extmark(buf, vim.api.nvim_create_namespace('mcv'), row - 1, link.start - 1, {})
  local state = { done = false }
  notify('writing alt text for ' .. vim.fn.fnamemodify(file, ':t') .. '…')
  state.job = M.spawn(M.argv('alt', file), nil, function(code, out, err)
    state.done, state.code = true, code
    if code ~= 0 then
      notify(vim.trim(err) ~= '' and vim.trim(err) or ('exit code ' .. code), vim.log.levels.ERROR)
      return
    end
    if not vim.api.nvim_buf_is_valid(buf) then
      return
    end
    local ns = vim.api.nvim_create_namespace('mcv')
    local pos = vim.api.nvim_buf_get_extmark_by_id(buf, ns, mark, {})
    vim.api.nvim_buf_del_extmark(buf, ns, mark)
    local at_row = pos[1]
    local current = at_row and vim.api.nvim_buf_get_lines(buf, at_row, at_row + 1, false)[1]
    local s = current and current:find(original, pos[2] + 1, true)
    if not s then
      notify('the image link changed while mcv was writing; alt text: ' .. vim.trim(out), vim.log.levels.WARN)
      state.alt = vim.trim(out)
      return
    end
    local alt = M.alt_text(out)
    local replaced = '![' .. alt .. ']' .. original:sub(#link.alt + 4)
    vim.api.nvim_buf_set_lines(buf, at_row, at_row + 1, false, {
      current:sub(1, s - 1) .. replaced .. current:sub(s + #original),
    })
    state.alt = alt
  end)
  return state
end

return M
