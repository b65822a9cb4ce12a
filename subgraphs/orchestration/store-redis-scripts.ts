/**
 * The Lua scripts of the Redis run store (store-redis.ts has the key layout and the order of the
 * steps of a create). Each touches the keys of one unit, so one Redis Cluster slot, and its header
 * lists its KEYS and ARGV. Inline rather than .lua files so that `npm run build` (tsc only) ships them.
 */
import { createHash } from 'node:crypto';

const RECORD = `
--[[
  Step 1 of a create: the run record, provisional (it expires unless step 4 makes it permanent).
  Input:
    KEYS[1] run hash  {P:run:<id>}
    ARGV[1] json   ARGV[2] status   ARGV[3] version   ARGV[4] createdAt ms   ARGV[5] provisional ttl ms
  Output: 1 written | 0 a run with this id exists
]]
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'json', ARGV[1], 'status', ARGV[2], 'version', ARGV[3], 'created', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
`;

const KEEP = `
--[[
  Keep a run record for good and return it: step 4 of a create, and every replay that hands the
  run to a caller (a run the API has answered with must never expire, whoever finished its create).
  Input:  KEYS[1] run hash {P:run:<id>}
  Output: the run's json | nil (gone: a provisional record that expired, the create lost its claims)
]]
local json = redis.call('HGET', KEYS[1], 'json')
if not json then return nil end
redis.call('PERSIST', KEYS[1])
return json
`;

const POINT = `
--[[
  Compare-and-set a pointer (idempotency key or opportunity -> run id).
  Input:  KEYS[1] pointer   ARGV[1] expected run id ('' = absent)   ARGV[2] new run id ('' = delete)
  Output: 1 set | 0 the pointer holds something else
]]
local current = redis.call('GET', KEYS[1])
if (current or '') ~= ARGV[1] then return 0 end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[2])
end
return 1
`;

const SAVE = `
--[[
  Optimistic save: write the run only if the stored version is the one the caller read.
  Input:
    KEYS[1] run hash  {P:run:<id>}
    ARGV[1] expected version   ARGV[2] new json (version already + 1)   ARGV[3] new status
  Output:
    createdAt ms (for the index) | nil when the run is absent or its version differs
]]
local current = redis.call('HMGET', KEYS[1], 'version', 'created')
if not current[1] or current[1] ~= ARGV[1] then
  return nil
end
redis.call('HSET', KEYS[1], 'json', ARGV[2], 'status', ARGV[3], 'version', tostring(tonumber(ARGV[1]) + 1))
-- A record still provisional (its start stopped after step 3 and was replayed) is kept from now on.
redis.call('PERSIST', KEYS[1])
return current[2]
`;

const INDEX = `
--[[
  Record a run's status in the listing index, unless the index already has this version or a newer one.
  Input:
    KEYS[1] {P:index}:runs   KEYS[2] {P:index}:indexed   KEYS[3..] {P:index}:status:<S>, one per status
    ARGV[1] run id   ARGV[2] version   ARGV[3] status
    ARGV[4] createdAt ms (the score: a save never moves a run in list order)
    ARGV[5] which of KEYS[3..] is the status's set (1 = KEYS[3])
  Output: 1 updated | 0 already as new
]]
local known = redis.call('HGET', KEYS[2], ARGV[1])
if known and tonumber(string.match(known, '^(%d+)')) >= tonumber(ARGV[2]) then return 0 end
local target = tonumber(ARGV[5]) + 2
for i = 3, #KEYS do
  if i == target then
    redis.call('ZADD', KEYS[i], ARGV[4], ARGV[1])
  else
    redis.call('ZREM', KEYS[i], ARGV[1])
  end
end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. ' ' .. ARGV[3])
return 1
`;

const LIST = `
--[[
  One page of run ids, newest first: score (createdAt ms) descending, ties by run id descending
  (the order ZREVRANGE uses). The cursor is a run id; its position is its score in the all-runs
  set, so it stays valid after the run moved to another status set or newer runs were added.
  Input:
    KEYS[1] zset to page ({P:index}:runs or {P:index}:status:<status>)   KEYS[2] {P:index}:runs
    ARGV[1] page size   ARGV[2] cursor run id or ''
  Output:
    {hasNextPage (0|1), id...}
]]
-- byte order, as the zset orders equal scores; Lua's '<' would use the server's locale (strcoll)
local function bytesBefore(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end
local want = tonumber(ARGV[1]) + 1
local ids
if ARGV[2] == '' then
  ids = redis.call('ZREVRANGE', KEYS[1], 0, want - 1)
else
  local score = redis.call('ZSCORE', KEYS[2], ARGV[2])
  if not score then return {0} end
  ids = {}
  -- runs created in the same millisecond as the cursor and after it in the order
  local ties = redis.call('ZRANGEBYSCORE', KEYS[1], score, score)
  for i = #ties, 1, -1 do
    if #ids >= want then break end
    if bytesBefore(ties[i], ARGV[2]) then ids[#ids + 1] = ties[i] end
  end
  if #ids < want then
    local older = redis.call('ZREVRANGEBYSCORE', KEYS[1], '(' .. score, '-inf', 'LIMIT', 0, want - #ids)
    for _, id in ipairs(older) do ids[#ids + 1] = id end
  end
end
local result = {0}
for i, id in ipairs(ids) do
  if i == want then
    result[1] = 1
  else
    result[#result + 1] = id
  end
end
return result
`;

const LEASE = `
--[[
  Take the lease when free, or extend it when the caller already holds it.
  Input:  KEYS[1] {P:run:<runId>}:lease   ARGV[1] holder   ARGV[2] ttl ms
  Output: 1 held by the caller | 0 held by someone else
]]
local holder = redis.call('GET', KEYS[1])
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`;

const RELEASE = `
--[[
  Compare-and-delete: only the holder may release (a lease that expired and was taken by another
  worker must not be deleted by the late first holder).
  Input:  KEYS[1] {P:run:<runId>}:lease   ARGV[1] holder
  Output: 1 released | 0 not held by the caller
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;

export interface Script {
  source: string;
  sha: string;
}

const script = (source: string): Script => ({ source, sha: createHash('sha1').update(source).digest('hex') });
export const SCRIPTS = {
  record: script(RECORD),
  keep: script(KEEP),
  point: script(POINT),
  save: script(SAVE),
  index: script(INDEX),
  list: script(LIST),
  lease: script(LEASE),
  release: script(RELEASE),
};
