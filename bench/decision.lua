-- wrk script: consent decisions for the bench site "gated", as banners send them:
-- half accept all, 30% reject all, 20% customize; 10% of browsers send Sec-GPC: 1.
-- Each answer is a receipt sent only once the decision is durable in ClickHouse.
local bodies = {
  '{"site":"gated","method":"accept_all","lang":"en","banner_version":"1.0"}',
  '{"site":"gated","method":"reject_all","lang":"de","banner_version":"1.0"}',
  '{"site":"gated","method":"custom","choices":{"analytics":true,"marketing":false},"lang":"fr","banner_version":"1.0"}',
}
math.randomseed(os.time())

request = function()
  local r = math.random(10)
  local body = bodies[1]
  if r > 5 then body = bodies[2] end
  if r > 8 then body = bodies[3] end
  local headers = {
    ["Content-Type"] = "text/plain;charset=UTF-8",
    ["Origin"] = "https://gated.example",
    ["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    ["X-Forwarded-For"] = "198.18." .. math.random(0, 255) .. "." .. math.random(1, 254),
  }
  if math.random(10) == 1 then headers["Sec-GPC"] = "1" end
  return wrk.format("POST", "/v1/consent", headers, body)
end
