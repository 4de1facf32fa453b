-- Run by tests/plugins/editors/test_editor_neovim.py: nvim --headless -u NONE, the plugin on 'rtp'.
-- MCV_TEST_MODE=stub: a recording stand-in mcv (argv checked, hostile file names);
-- MCV_TEST_MODE=real: the real mcv against the Ollama stand-in.
local failures = 0
local function check(ok, message)
  if not ok then
    failures = failures + 1
    io.stderr:write('FAIL: ' .. message .. '\n')
  end
end
local function equal(got, want, message)
  check(vim.deep_equal(got, want), message .. ': got ' .. vim.inspect(got) .. ', want ' .. vim.inspect(want))
end

local mcv = require('mcv')
local cmd = vim.fn.json_decode(os.getenv('MCV_TEST_CMD'))
mcv.setup({ cmd = cmd, split = 'vsplit' })
local dir = os.getenv('MCV_TEST_DIR')
local mode = os.getenv('MCV_TEST_MODE')

local function wait(state)
  check(state ~= nil, 'a job was started')
  if state then
    check(vim.wait(60000, function() return state.done end, 20), 'the job finished')
  end
end

local function buffer_text(buf)
  return table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n')
end

-- commands exist (plugin/mcv.lua loaded from 'rtp')
for _, name in ipairs({ 'McvDescribe', 'McvOcr', 'McvAlt', 'McvAsk' }) do
  check(vim.fn.exists(':' .. name) == 2, name .. ' is defined')
end

-- pure parts
local links = mcv.image_links('see ![a cat](img/cat.png "Title") and ![](<my shots/b c.png>) ![x](https://e.com/y.png)')
equal(#links, 3, 'three links')
equal(links[1].dest, 'img/cat.png', 'dest with a title')
equal(links[2].dest, 'my shots/b c.png', 'dest in <>')
equal(mcv.link_at('x ![a](b.png) y ![c](d.png)', 18).dest, 'd.png', 'link under the cursor')
-- alt text mcv wrote (escaped brackets) still reads as the link, not as the next one
equal(mcv.link_at('![A \\[1\\] cat](a.png) ![b](b.png)', 3).dest, 'a.png', 'alt with escaped brackets')
local _, problem = mcv.resolve('https://e.com/y.png', dir)
check(problem and problem:find('only local images', 1, true), 'a URL is refused')
equal(mcv.alt_text('  A cat [sleeping]\non a "sofa".\n'), 'A cat \\[sleeping\\] on a "sofa".', 'alt text is one escaped line')

if mode == 'stub' then
  local log = os.getenv('MCV_STUB_LOG')
  local names = { '-rf x.png', 'q"$(id)\'`.png', 'semi;colon | pipe.png', 'new\nline.png', 'plain.png' }
  for _, name in ipairs(names) do
    local path = dir .. '/' .. name
    local state = mcv.describe(path)
    wait(state)
    equal(state.code, 0, 'exit code for ' .. name)
    local lines = vim.fn.readfile(log)
    local argv = vim.fn.json_decode(lines[#lines])
    equal(argv, { 'ask', '--plain', '--preset', 'describe', '--', path }, 'argv for ' .. name)
    equal(buffer_text(state.buf), '# Description of ' .. vim.fn.fnamemodify(path, ':t'):gsub('\n', ' ') .. '\n\nFirst part of the describe answer, [second] part.\nLast line.\n', 'streamed answer for ' .. name)
  end

  -- a name is taken as it is: no glob (shot[1].png is not shot1.png), no $VAR, no leading # as Vim's
  vim.cmd('cd ' .. vim.fn.fnameescape(dir))
  for _, name in ipairs({ 'shot[1].png', '#a.png', 'a$HOME.png' }) do
    wait(mcv.describe(name))
    local argv = vim.fn.json_decode(vim.fn.readfile(log)[#vim.fn.readfile(log)])
    equal(argv[#argv], vim.fn.fnamemodify(dir, ':p') .. name, ':McvDescribe ' .. name)
  end

  local state = mcv.ocr(dir .. '/plain.png')
  wait(state)
  local argv = vim.fn.json_decode(vim.fn.readfile(log)[#vim.fn.readfile(log)])
  equal(argv[4], 'ocr', ':McvOcr uses the ocr preset')

  state = mcv.ask('what is -- this?', dir .. '/plain.png')
  wait(state)
  argv = vim.fn.json_decode(vim.fn.readfile(log)[#vim.fn.readfile(log)])
  equal(argv, { 'ask', '--plain', '--prompt', 'what is -- this?', '--', dir .. '/plain.png' }, 'ask: the question in --prompt')

  state = mcv.describe(dir .. '/fail.png')
  wait(state)
  equal(state.code, 2, 'a failure keeps mcv exit code')
  check(buffer_text(state.buf):find('> mcv failed: mcv: error: fail.png: not an image', 1, true), 'the failure is shown')

  -- :McvAlt on a Markdown buffer: the link under the cursor, relative to the file's folder
  vim.cmd('edit ' .. vim.fn.fnameescape(dir .. '/notes.md'))
  vim.api.nvim_buf_set_lines(0, 0, -1, false, { 'intro', 'before ![old](<-rf x.png> "t") after ![keep](plain.png)' })
  vim.api.nvim_win_set_cursor(0, { 2, 10 })
  state = mcv.alt()
  wait(state)
  argv = vim.fn.json_decode(vim.fn.readfile(log)[#vim.fn.readfile(log)])
  equal(argv, { 'ask', '--plain', '--preset', 'alt', '--', dir .. '/-rf x.png' }, 'alt argv')
  equal(vim.api.nvim_buf_get_lines(0, 1, 2, false)[1],
    'before ![First part of the alt answer, \\[second\\] part. Last line.](<-rf x.png> "t") after ![keep](plain.png)',
    'alt text filled in place')
else
  local photo = os.getenv('MCV_TEST_PHOTO')
  local state = mcv.describe(photo)
  wait(state)
  equal(state.code, 0, 'real mcv exit code')
  equal(buffer_text(state.buf), '# Description of ' .. vim.fn.fnamemodify(photo, ':t') .. '\n\nA red square on a white table.\n', 'real answer in the scratch buffer')
  -- a one-word question naming a file where mcv runs stays the question
  vim.cmd('cd ' .. vim.fn.fnameescape(dir))
  state = mcv.ask(os.getenv('MCV_TEST_QUESTION'), photo)
  wait(state)
  equal(state.code, 0, 'real mcv exit code for a question naming a file')
  vim.cmd('edit ' .. vim.fn.fnameescape(dir .. '/post.md'))
  vim.api.nvim_buf_set_lines(0, 0, -1, false, { '![](' .. vim.fn.fnamemodify(photo, ':t') .. ')' })
  vim.api.nvim_win_set_cursor(0, { 1, 0 })
  state = mcv.alt()
  wait(state)
  equal(vim.api.nvim_buf_get_lines(0, 0, 1, false)[1], '![A red square on a white table.](' .. vim.fn.fnamemodify(photo, ':t') .. ')', 'real alt text')
end

if failures > 0 then
  io.stderr:write(failures .. ' failed\n')
  vim.cmd('cquit 1')
else
  io.stderr:write('all passed\n')
  vim.cmd('qall!')
end
