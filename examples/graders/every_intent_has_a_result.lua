-- Every intent of the run has a result record.
local seen = {}
for _, r in ipairs(fixture.results) do
  seen[r.intent_id] = true
end
local missing = {}
for _, i in ipairs(fixture.intents) do
  if not seen[i.intent_id] then
    missing[#missing + 1] = i.intent_id
  end
end
if #missing == 0 then
  return { pass = true, reason_codes = { "every_intent_has_result" } }
end
return {
  pass = false,
  reason_codes = { "intent_without_result" },
  message = "intents without a result: " .. table.concat(missing, ", "),
  details = { missing = missing },
}
