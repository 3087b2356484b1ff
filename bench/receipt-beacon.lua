-- wrk script: pageviews for a bench site. `-- gated FILE` sends site "gated" (consent
-- mode) with a receipt picked from FILE (one per line, all granting analytics);
-- `-- open` sends the same pageviews to the exempt site "open" without a receipt.
local site, receipts = "open", {}
local paths = { "/", "/products", "/products/42", "/blog/how-we-measure", "/pricing", "/about" }

init = function(args)
  site = args[1] or "open"
  if site == "gated" then
    for line in io.lines(args[2]) do receipts[#receipts + 1] = line end
  end
  math.randomseed(os.time())
end

request = function()
  local receipt = ""
  if #receipts > 0 then receipt = string.format(',"receipt":"%s"', receipts[math.random(#receipts)]) end
  local body = string.format('{"site":"%s","type":"pageview","url":"https://%s.example%s"%s}', site, site, paths[math.random(#paths)], receipt)
  return wrk.format("POST", "/v1/collect", {
    ["Content-Type"] = "text/plain;charset=UTF-8",
    ["Origin"] = "https://" .. site .. ".example",
    ["User-Agent"] = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    ["Accept-Language"] = "en-US,en;q=0.9",
    ["X-Forwarded-For"] = "198.18." .. math.random(0, 255) .. "." .. math.random(1, 254),
  }, body)
end
