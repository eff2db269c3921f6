"""The Lua scripts of the Redis store (redis.py): each is one atomic step on the server.

Balances are doubles here and are written back with ``%.17g``, which round-trips every
double (Lua's own number formatting keeps 14 digits). An account is the value
``"available held spent granted [key, models, created, secret]"``; a task's version is
``"version seq"``; a clip's place is ``"index:task id"``; a log item is its position, a
space and its bytes.
"""

# A double as Lua writes it back: exactly, and with a point (so it reads back a float).
_NUM = """
local function num(x)
  local s = string.format('%.17g', x)
  if not string.find(s, '[.en]') then s = s .. '.0' end
  return s
end
"""

# KEYS: accounts, counters, ledger, book, free, loose, task versions. ARGV: key, the four
# deltas, the entry's middle JSON, the reference, n(one) | o(pen) | c(losing). False: no
# such account; {available}: not enough; -1: ``guard`` refused. Nothing written then.
_MOVE = _NUM + """
local function move(K, A, guard)
  local raw = redis.call('HGET', K[1], A[1])
  if not raw then return false end
  local a, h, s, g, rest = string.match(raw, '^(%S+) (%S+) (%S+) (%S+) (.*)$')
  local new = {tonumber(a) + tonumber(A[2]), tonumber(h) + tonumber(A[3]),
               tonumber(s) + tonumber(A[4]), tonumber(g) + tonumber(A[5])}
  if math.min(new[1], new[2], new[3]) < -1e-9 then return {a} end
  if guard and not guard() then return -1 end
  for i = 1, 4 do
    if new[i] > -1e-9 and new[i] < 0 then new[i] = 0 end
    new[i] = num(new[i])
  end
  local id = redis.call('HINCRBY', K[2], 'ledger', 1)
  redis.call('ZADD', K[3], id, '[' .. id .. ',' .. A[6] .. ',' .. new[1] .. ',' .. new[2] ..
             ',' .. new[3] .. ']')
  local ref = A[7]
  if A[8] == 'n' then
    redis.call('ZADD', K[5], id, id)
  else
    local ids = redis.call('HGET', K[4], 'r' .. ref)
    redis.call('HSET', K[4], 'r' .. ref, ids and (ids .. ' ' .. id) or id)
    if A[8] == 'c' and redis.call('HEXISTS', K[7], ref) == 0 then
      redis.call('ZADD', K[6], 'NX', id, ref)
      redis.call('HSET', K[4], 'l' .. ref, id)
    end
  end
  redis.call('HINCRBY', K[4], 'v', 1)
  local value = table.concat(new, ' ') .. ' ' .. rest
  redis.call('HSET', K[1], A[1], value)
  return value
end
"""

# KEYS: tasks, task versions, counters, task order, clips. ARGV: id, version read, the
# record up to its seq, the clip ids of a new task. The new seq, or false: a stale write.
_PUT = """
local function writable(K, A)
  local meta = redis.call('HGET', K[2], A[1])
  if not meta then return A[2] == '0' end
  return string.match(meta, '^(%d+) ') == A[2]
end

local function put(K, A)
  if not writable(K, A) then return false end
  local meta = redis.call('HGET', K[2], A[1])
  local seq
  if meta then
    seq = string.match(meta, ' (%d+)$')
  else
    seq = redis.call('HINCRBY', K[3], 'task', 1)
    redis.call('ZADD', K[4], seq, A[1])
    for i = 4, #A do redis.call('HSET', K[5], A[i], (i - 4) .. ':' .. A[1]) end
  end
  redis.call('HSET', K[2], A[1], (tonumber(A[2]) + 1) .. ' ' .. seq)
  redis.call('HSET', K[1], A[1], A[3] .. seq .. '}')
  return tonumber(seq)
end
"""

SCRIPTS = {
    "get_account": """
return {redis.call('HGET', KEYS[1], ARGV[1]), redis.call('GET', KEYS[2])}""",
    # KEYS: accounts, account order, counters, then a key's ledger, book, free, loose.
    "add_account": """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], redis.call('HINCRBY', KEYS[3], 'account', 1), ARGV[1])
if ARGV[3] then
  redis.call('DEL', KEYS[4], KEYS[5], KEYS[6], KEYS[7])
  redis.call('HSET', KEYS[5], 'o', ARGV[3])
end
return 1""",
    "move": _MOVE + "return move(KEYS, ARGV)",
    "put_task": _PUT + "return put(KEYS, ARGV)",
    # A hold and a new task's first write, both or neither. KEYS: move's, then tasks, task
    # order, clips. ARGV: move's, then put's.
    "begin": _MOVE + _PUT + """
local task_keys, task_args = {KEYS[8], KEYS[7], KEYS[2], KEYS[9], KEYS[10]}, {}
for i = 9, #ARGV do task_args[#task_args + 1] = ARGV[i] end
local account = move(KEYS, ARGV, function() return writable(task_keys, task_args) end)
if type(account) ~= 'string' then return account end
return {put(task_keys, task_args), account}""",
    "ledger": """
return {redis.call('HGET', KEYS[1], 'o'), redis.call('ZRANGE', KEYS[2], 0, -1)}""",
    "find_clip": """
local at = redis.call('HGET', KEYS[1], ARGV[1])
if not at then return false end
local index, id = string.match(at, '^(%d+):(.*)$')
local task = redis.call('HGET', KEYS[2], id)
if not task then return false end
return {index, task}""",
    # What forgetting a task folds, as Book.fold picks it. KEYS: tasks, task versions,
    # ledger, book, free, loose.
    "fold_plan": """
local meta = redis.call('HGET', KEYS[2], ARGV[1])
if not meta then return false end
local entries, refs, free = {}, {}, {}
local out = {redis.call('HGET', KEYS[1], ARGV[1]), meta,
             redis.call('HGET', KEYS[4], 'v') or '0', redis.call('HGET', KEYS[4], 'o') or '',
             entries, refs, free}
local own = redis.call('HGET', KEYS[4], 'r' .. ARGV[1])
if not own then return out end
local cut
local function take(ids)
  for id in string.gmatch(ids, '%d+') do
    entries[#entries + 1] = redis.call('ZRANGEBYSCORE', KEYS[3], id, id)[1]
  end
end
take(own)
refs[1] = ARGV[1]
for id in string.gmatch(own, '%d+') do cut = tonumber(id) end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', cut)) do
  free[#free + 1] = id
  take(id)
end
local start = 0
while true do
  local page = redis.call('ZRANGE', KEYS[6], start, start + 63)
  if #page == 0 then return out end
  for _, ref in ipairs(page) do
    if ref ~= ARGV[1] then
      if tonumber(redis.call('HGET', KEYS[4], 'l' .. ref)) > cut then return out end
      refs[#refs + 1] = ref
      take(redis.call('HGET', KEYS[4], 'r' .. ref))
    end
  end
  start = start + 64
end""",
    # The plan applied, unless the task or the book changed since. KEYS: tasks, task
    # versions, task order, clips, ledger, book, free, loose. ARGV: id, version, book
    # version, opening, then counted lists of references, free ids and entry ids, then
    # the clip ids.
    "fold_apply": """
local id = ARGV[1]
if redis.call('HGET', KEYS[2], id) ~= ARGV[2] or
   (redis.call('HGET', KEYS[6], 'v') or '0') ~= ARGV[3] then return 0 end
redis.call('HDEL', KEYS[1], id)
redis.call('HDEL', KEYS[2], id)
redis.call('ZREM', KEYS[3], id)
local i = 5
local n = tonumber(ARGV[i])
for j = i + 1, i + n do
  redis.call('HDEL', KEYS[6], 'r' .. ARGV[j], 'l' .. ARGV[j])
  redis.call('ZREM', KEYS[8], ARGV[j])
end
i = i + n + 1
n = tonumber(ARGV[i])
for j = i + 1, i + n do redis.call('ZREM', KEYS[7], ARGV[j]) end
i = i + n + 1
n = tonumber(ARGV[i])
for j = i + 1, i + n do redis.call('ZREMRANGEBYSCORE', KEYS[5], ARGV[j], ARGV[j]) end
for j = i + n + 1, #ARGV do
  local at = redis.call('HGET', KEYS[4], ARGV[j])
  if at and string.match(at, '^%d+:(.*)$') == id then redis.call('HDEL', KEYS[4], ARGV[j]) end
end
if n > 0 then
  redis.call('HSET', KEYS[6], 'o', ARGV[4])
  redis.call('HINCRBY', KEYS[6], 'v', 1)
end
return 1""",
    # Records in the order a sorted set keeps their ids: {ids, records}.
    "listing": """
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
local values = {}
for i = 1, #ids, 1000 do
  for _, v in ipairs(redis.call('HMGET', KEYS[2], unpack(ids, i, math.min(i + 999, #ids)))) do
    values[#values + 1] = v
  end
end
return {ids, values}""",
    "put_listed": """
if redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('ZADD', KEYS[2], redis.call('HINCRBY', KEYS[3], ARGV[3], 1), ARGV[1])
end""",
    "drop_listed": """
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
if KEYS[3] then redis.call('INCR', KEYS[3]) end
return 1""",
    # KEYS: the namespace's fixed keys (accounts first, log names second), generation last.
    "reset": """
local p = ARGV[1]
for _, k in ipairs(redis.call('HKEYS', KEYS[1])) do
  redis.call('UNLINK', p .. 'ledger:' .. k, p .. 'book:' .. k, p .. 'free:' .. k,
             p .. 'loose:' .. k)
end
for _, name in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  redis.call('UNLINK', p .. 'log:' .. name)
end
for i = 1, #KEYS - 1 do redis.call('UNLINK', KEYS[i]) end
redis.call('INCR', KEYS[#KEYS])""",
    "put_doc": """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return redis.call('INCR', KEYS[2])""",
    # KEYS: the log, the namespace's log names, the positions counter (every namespace's).
    "push": """
local at = redis.call('INCRBY', KEYS[3], #ARGV - 2) - #ARGV + 3
for i = 3, #ARGV, 1000 do
  local batch = {}
  for j = i, math.min(i + 999, #ARGV) do batch[#batch + 1] = (at + j - 3) .. ' ' .. ARGV[j] end
  redis.call('RPUSH', KEYS[1], unpack(batch))
end
local cap = tonumber(ARGV[2])
if cap > 0 then redis.call('LTRIM', KEYS[1], -cap, -1) else redis.call('DEL', KEYS[1]) end
redis.call('SADD', KEYS[2], ARGV[1])""",
    # KEYS: the namespace's buckets. ARGV: bucket, rate, burst, now. A bucket is
    # "tokens at".
    "take_token": _NUM + """
local rate, burst, now = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local row = redis.call('HGET', KEYS[1], ARGV[1])
local tokens = burst
if row then
  local left, at = string.match(row, '^(%S+) (%S+)$')
  tokens = math.min(burst, tonumber(left) + math.max(0, now - tonumber(at)) * rate)
end
local allowed = 0
if tokens >= 1 then
  allowed = 1
  tokens = tokens - 1
end
tokens = num(tokens)
redis.call('HSET', KEYS[1], ARGV[1], tokens .. ' ' .. ARGV[4])
return {allowed, tokens}""",
    # KEYS: due times, records, claims.
    "put_work": """
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
if ARGV[4] then redis.call('HSET', KEYS[3], ARGV[1], ARGV[4])
else redis.call('HDEL', KEYS[3], ARGV[1]) end""",
    "drop_work": """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])""",
    "claim_work": """
local limit, now, stale = tonumber(ARGV[4]), ARGV[2], tonumber(ARGV[2]) - tonumber(ARGV[3])
local out, start = {}, 0
while #out < 3 * limit do
  local page = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT',
                          start, 128)
  if #page == 0 then break end
  for i = 1, #page, 2 do
    local claimed = redis.call('HGET', KEYS[3], page[i])
    if not claimed or tonumber(claimed) < stale then
      redis.call('HSET', KEYS[3], page[i], now)
      out[#out + 1] = page[i]
      out[#out + 1] = page[i + 1]
      out[#out + 1] = redis.call('HGET', KEYS[2], page[i])
      if #out >= 3 * limit then break end
    end
  end
  start = start + 128
end
return out""",
    "claim_key": """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('INCR', KEYS[2])
return 1""",
    "release_key": """
if redis.call('HDEL', KEYS[1], ARGV[1]) == 1 then redis.call('INCR', KEYS[2]) end""",
    "release_keys": """
local all, n = redis.call('HGETALL', KEYS[1]), 0
for i = 1, #all, 2 do
  if all[i + 1] == ARGV[1] then redis.call('HDEL', KEYS[1], all[i]); n = n + 1 end
end
if n > 0 then redis.call('INCR', KEYS[2]) end""",
    "add_sandbox": """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[1])
return 1""",
}
