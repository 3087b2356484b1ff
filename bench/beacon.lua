-- wrk script: realistic beacons for the example site "shop": varied paths, campaigns,
-- referrers, user agents and client addresses (via X-Forwarded-For from a trusted
-- 127.0.0.1 proxy; the addresses are only header values, nothing is sent to them).
-- About 5% carry DNT: 1 and are only counted, never stored.
local uas = {
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
  "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
}
local paths = { "/", "/products", "/products/42", "/products/77", "/blog/how-we-measure", "/checkout", "/pricing", "/about", "/account/orders" }
local sources = { "", "", "", "newsletter", "twitter", "google" }
local refs = { "", "", "https://www.google.com/search?q=shop", "https://news.ycombinator.com/", "https://shop.example/products", "https://duckduckgo.com/" }

math.randomseed(os.time())

request = function()
  local path = paths[math.random(#paths)]
  local src = sources[math.random(#sources)]
  local url = "https://shop.example" .. path
  if src ~= "" then url = url .. "?utm_source=" .. src .. "&utm_medium=social&fbclid=abc123" end
  local body = string.format('{"site":"shop","type":"pageview","url":"%s","referrer":"%s"}', url, refs[math.random(#refs)])
  local headers = {
    ["Content-Type"] = "text/plain;charset=UTF-8",
    ["Origin"] = "https://shop.example",
    ["User-Agent"] = uas[math.random(#uas)],
    ["Accept-Language"] = "en-US,en;q=0.9",
    ["X-Forwarded-For"] = "198.18." .. math.random(0, 255) .. "." .. math.random(1, 254),
  }
  if math.random(20) == 1 then headers["DNT"] = "1" end
  return wrk.format("POST", "/v1/collect", headers, body)
end
