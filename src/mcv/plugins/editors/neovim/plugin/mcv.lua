-- mcv: MiniCPM-V on images from Neovim (0.7+). Commands; the work is in lua/mcv/init.lua.
if vim.g.loaded_mcv then
  return
end
vim.g.loaded_mcv = true

local function run(name)
  return function(opts)
    require('mcv')[name](opts.args ~= '' and opts.args or nil)
  end
end

vim.api.nvim_create_user_command('McvDescribe', run('describe'), {
  nargs = '?', complete = 'file', desc = 'Describe an image with mcv (path, or the image link under the cursor)',
})
vim.api.nvim_create_user_command('McvOcr', run('ocr'), {
  nargs = '?', complete = 'file', desc = 'Extract the text of an image with mcv',
})
vim.api.nvim_create_user_command('McvAsk', function(opts)
  require('mcv').ask(opts.args ~= '' and opts.args or nil)
end, { nargs = '?', desc = 'Ask mcv a question about the image link under the cursor' })
vim.api.nvim_create_user_command('McvAlt', function()
  require('mcv').alt()
end, { nargs = 0, desc = 'Fill the alt text of the Markdown image under the cursor' })
