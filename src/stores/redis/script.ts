import { createHash } from "node:crypto";

/**
 * The one Lua script behind the Redis store: every operation (consume, refund, settle, reset,
 * block, and the concurrency leases) is a branch of it, so one SHA is loaded and one NOSCRIPT
 * fallback covers them all.
 *
 * The arithmetic is `src/ratelimit/algorithms.ts` (what the memory store runs) line by line: token
 * bucket and GCRA on integers scaled by g = gcd(limit, windowMs), JavaScript's Math.round as
 * `jsround` (floor, plus one when the exact fraction is ≥ 0.5), reservations refunded to the window
 * they were taken in. Lua numbers are IEEE doubles like JavaScript's; `%` is written `math.fmod`
 * (exact, same sign rule as JS `%`), states are stored as binary doubles (`struct.pack`, exact and
 * cheaper than formatting) and non-integer results are returned as `%.17g` strings (Redis truncates
 * Lua numbers to integers in replies), so every answer equals the reference bit for bit. A stored
 * NaN or infinity rejects the call.
 *
 * One hash per key, `<prefix>{<key>}:r` (the `{key}` hash tag keeps a key's data on one Cluster
 * slot), so a check is one HMGET and one HSET whatever the number of limits:
 *   `l<name>`  the limit's state: 6 little-endian doubles — algorithm code (1 fixed, 2 sliding,
 *              3 token bucket, 4 GCRA), windowMs, expiresAt, s0, s1, s2; used only while
 *              `now < expiresAt` and while algorithm and window match the request's
 *   `r<id>`    an unsettled reservation: 3 doubles — expiresAt, amount, consumedAt (2 doubles when
 *              written by an earlier version: refunded to the current window first)
 *   `e`        the earliest reservation expiry (so expired ones are looked for only when due)
 *   `b`        the block end (ms)
 *   `x`        when the hash may expire: kept ≥ every field's expiry (and PEXPIRE with it)
 * Concurrency leases live in the sorted set `<prefix>{<key>}:c` (lease id → expiry ms).
 *
 * Time is Redis `TIME`. The test variant (created only by `dangerouslyTestClock`) reads it from the
 * last ARGV instead and pads every PEXPIRE by a day so real time never expires a state early.
 */

/** Lua table constructors of a given size (Lua 5.1 sizes a table from its constructor). */
const nils = (count: number) => Array<string>(count).fill("nil").join(", ");
const zeros = (count: number) => Array<string>(count).fill("0").join(", ");

const BODY = `
local call, floor, ceil, max, min, fmod = redis.call, math.floor, math.ceil, math.max, math.min, math.fmod
local spack, sunpack, tunpack, byte, fmt, tonumber = struct.pack, struct.unpack, unpack, string.byte, string.format, tonumber
local function num(s)
  local v = tonumber(s)
  if v == nil or v - v ~= 0 then error('bulwark: corrupt number') end -- nil, NaN or infinite
  return v
end
local TIME = __TIME__
local now = __NOW__
local PAD = __PAD__
local op = ARGV[1]
local key = KEYS[1]

-- gcd of two positive integers (exact: fmod of integers below 2^53).
local function gcd(a, b)
  while b ~= 0 do a, b = b, fmod(a, b) end
  return a
end
-- JavaScript Math.round: half-way rounds up (toward +inf). x - floor(x) is exact for doubles.
local function jsround(x)
  local f = floor(x)
  if x - f >= 0.5 then return f + 1 end
  return f
end

-- Redis truncates Lua numbers to integers in replies: fractions travel as exact strings.
local function out(x)
  if x % 1 == 0 then return x end
  return fmt('%.17g', x)
end

-- algorithms.ts evaluate(): limit c (code), l (limit), w (windowMs) with state s0, s1, s2 (s0 nil
-- when there is none), for cost units at now. Returns admits, the next state (s0, s1, s2), ttlMs,
-- remaining, resetMs, retryAfterMs.
local function evaluate(c, l, w, s0, s1, s2, cost)
  if c == 1 then
    local start = now - fmod(now, w)
    local count = 0
    if s0 == start then count = s1 end
    local resetMs = start + w - now
    local admits = count + cost <= l
    local after, retry = count, resetMs
    if admits then after = count + cost; retry = 0 end
    local remaining = 0
    if after < l then remaining = l - after end
    return admits, start, after, 0, resetMs, remaining, resetMs, retry
  elseif c == 2 then
    local start = now - fmod(now, w)
    local elapsed = now - start
    local cur, prev = 0, 0
    if s0 ~= nil then
      if s0 == start then cur = s1; prev = s2
      elseif s0 == start - w then prev = s1 end
    end
    local admits = prev * (w - elapsed) + (cur + cost) * w <= l * w
    local after = cur
    if admits then after = cur + cost end
    local used = prev * (w - elapsed) + after * w
    local remaining = max(0, floor((l * w - used) / w))
    local retry = 0
    if not admits then
      if cur + cost <= l and prev > 0 then
        retry = max(1, ceil(w - elapsed - ((l - cur - cost) * w) / prev))
      else
        local inNext = 0
        if after ~= 0 then inNext = max(0, ceil(w - ((l - cost) * w) / after)) end
        retry = w - elapsed + inNext
      end
    end
    local resetMs = 0
    if after > 0 then resetMs = 2 * w - elapsed elseif prev > 0 then resetMs = w - elapsed end
    return admits, start, after, prev, 2 * w - elapsed, remaining, resetMs, retry
  elseif c == 3 then
    -- token units: tokens x sc, an integer; refilled at rate units per ms
    local g = gcd(l, w)
    local sc, rate = w / g, l / g
    local capacity = l * sc
    local tokens = capacity
    if s0 ~= nil then
      local elapsed = now - s1
      local stored = jsround(s0 * sc)
      if elapsed > 0 then tokens = min(capacity, stored + elapsed * rate) else tokens = min(capacity, stored) end
    end
    local need = cost * sc
    local admits = tokens >= need
    local after, retry = tokens, 0
    if admits then after = tokens - need else retry = max(1, ceil((need - tokens) / rate)) end
    local toFull = ceil((capacity - after) / rate)
    return admits, after / sc, now, 0, toFull, floor(after / sc), toFull, retry
  end
  -- GCRA in units of 1/s ms: (tat - now) x s is an integer; one unit costs emission
  local g = gcd(l, w)
  local s, emission = l / g, w / g
  local tolerance = w * s
  local diff = 0
  if s0 ~= nil and s0 > now then diff = jsround((s0 - now) * s) end
  local newDiff = diff + cost * emission
  local admits = newDiff <= tolerance
  local eff, retry = diff, 0
  if admits then eff = newDiff else retry = max(1, ceil((newDiff - tolerance) / s)) end
  local resetMs = ceil(eff / s)
  local remaining = 0
  if eff < tolerance then remaining = floor((tolerance - eff) / emission) end
  return admits, now + eff / s, 0, 0, resetMs, remaining, resetMs, retry
end

-- ARGV for the rate-limit operations: op, a, n, then per limit: algorithm code, limit, windowMs,
-- hash field ('l' .. name), then b, c.
--   consume: a cost, b reservation id (absent for none), c reservation ttl
--   refund: a amount · settle: a reservation id, b 'c' (commit) or 'r' (release)
--   block: a durationMs (n = 0) · reset: the limits to forget
if op == 'c' or op == 'f' or op == 's' or op == 'x' or op == 'b' then
  local n = tonumber(ARGV[3])
  if n == nil or n > 8 then error('bulwark: bad limits') end
  -- P[3i-2..3i] = algorithm code, limit, windowMs of limit i; fields: x, b, e, the limits' fields.
  -- Tables are created at their final size where it is known: Lua 5.1 rehashes on every growth.
  local P, fields
  if n == 1 then
    P, fields = { 0, 0, 0 }, { 'x', 'b', 'e', 0, 0 }
  else
    P, fields = { ${nils(24)} }, { 'x', 'b', 'e', ${nils(9)} }
  end
  for i = 1, n do
    local c = tonumber(ARGV[4 * i])
    if c ~= 1 and c ~= 2 and c ~= 3 and c ~= 4 then error('bulwark: bad limits') end
    P[3 * i - 2] = c; P[3 * i - 1] = tonumber(ARGV[4 * i + 1]); P[3 * i] = tonumber(ARGV[4 * i + 2])
    fields[3 + i] = ARGV[4 * i + 3]
  end
  local b, c = ARGV[4 * n + 4], ARGV[4 * n + 5]

  if op == 'x' then
    local gone = { 'b', 'e' }
    for i = 1, n do gone[2 + i] = fields[3 + i] end
    local names = call('HKEYS', key)
    for i = 1, #names do
      if byte(names[i], 1) == 114 then gone[#gone + 1] = names[i] end
    end
    call('HDEL', key, tunpack(gone))
    return 1
  end

  local rfield = nil
  if op == 's' then rfield = 'r' .. ARGV[2] elseif op == 'c' and b ~= nil and b ~= '' then rfield = 'r' .. b end
  if rfield ~= nil then fields[4 + n] = rfield end
  local h = call('HMGET', key, tunpack(fields, 1, rfield == nil and 3 + n or 4 + n))
  local x, blocked, earliest = 0, 0, nil
  if h[1] then x = num(h[1]) end
  if h[2] then blocked = num(h[2]) end
  if h[3] then earliest = num(h[3]) end
  local writes, nw, dels, longest = { ${nils(8)} }, 0, nil, 0

  -- Live states: S[3i-2..3i] = s0, s1, s2 of limit i; S[3i-2] is nil when there is none.
  local S = { ${nils(3)} }
  for i = 1, n do
    local raw = h[3 + i]
    if raw then
      if #raw ~= 48 then error('bulwark: corrupt state') end
      local code, w, exp, s0, s1, s2 = sunpack('<dddddd', raw)
      -- NaN or infinite (x - x ~= 0): corrupt; NaN compares false everywhere and would admit
      if exp - exp ~= 0 or s0 - s0 ~= 0 or s1 - s1 ~= 0 or s2 - s2 ~= 0 then error('bulwark: corrupt state') end
      if code == P[3 * i - 2] and w == P[3 * i] and exp > now then
        S[3 * i - 2] = s0; S[3 * i - 1] = s1; S[3 * i] = s2
      end
    end
  end
  -- Expired reservations are refunded, each to the window it was taken in, by the first operation
  -- after they expire. A reservation is 3 doubles: expiresAt, amount, consumedAt (2 doubles, no
  -- consumedAt, when written by an earlier version: refunded current window first).
  local function reservation(raw)
    local exp, amount, at
    if #raw == 24 then exp, amount, at = sunpack('<ddd', raw)
    elseif #raw == 16 then exp, amount = sunpack('<dd', raw)
    else error('bulwark: corrupt reservation') end
    if exp - exp ~= 0 or amount - amount ~= 0 or (at ~= nil and at - at ~= 0) then
      error('bulwark: corrupt reservation')
    end
    return exp, amount, at
  end
  -- refunds: amount, consumedAt (false when unknown) pairs, applied in order
  local refunds, nr = nil, 0
  if op ~= 'b' and earliest ~= nil and earliest <= now then
    local all = call('HGETALL', key)
    earliest = nil
    dels = dels or {}
    refunds = {}
    for k = 1, #all, 2 do
      if byte(all[k], 1) == 114 then
        local exp, amount, at = reservation(all[k + 1])
        if exp <= now then
          refunds[nr + 1] = amount
          refunds[nr + 2] = at or false
          nr = nr + 2
          dels[#dels + 1] = all[k]
        elseif earliest == nil or exp < earliest then
          earliest = exp
        end
      end
    end
    if earliest == nil then
      dels[#dels + 1] = 'e'
    else
      writes[nw + 1] = 'e'
      writes[nw + 2] = earliest
      nw = nw + 2
    end
  end
  local held, heldAt = nil, nil
  if rfield ~= nil and h[4 + n] then
    local exp, amount, at = reservation(h[4 + n])
    if exp > now then held = amount; heldAt = at end
  end
  if op == 'f' or (op == 's' and held ~= nil and b == 'r') then
    refunds = refunds or {}
    if op == 'f' then refunds[nr + 1] = num(ARGV[2]); refunds[nr + 2] = false
    else refunds[nr + 1] = held; refunds[nr + 2] = heldAt or false end
    nr = nr + 2
  end
  if nr > 0 then
    -- T[i]: the ttl of limit i's refunded state (written once, after every refund)
    local T = {}
    local function put(i, s0, s1, s2, ttl)
      T[i] = ttl
      if ttl <= 0 then
        S[3 * i - 2] = nil
      else
        S[3 * i - 2] = s0; S[3 * i - 1] = s1; S[3 * i] = s2
      end
    end
    -- algorithms.ts refundInto(): the next state and its ttlMs, or nil when nothing changes. With
    -- ca (the consume's time) window algorithms refund only the window the units were taken in.
    local function refund(c, l, w, s0, s1, s2, amount, ca)
      if c == 1 then
        local start = now - fmod(now, w)
        if s0 ~= start then return nil end
        if ca and ca - fmod(ca, w) ~= start then return nil end
        return start, max(0, s1 - amount), 0, start + w - now
      elseif c == 2 then
        local start = now - fmod(now, w)
        local cur, prev
        if s0 == start then cur, prev = s1, s2
        elseif s0 == start - w then cur, prev = 0, s1
        else return nil end
        if ca then
          local cs = ca - fmod(ca, w)
          if cs == start then cur = max(0, cur - amount)
          elseif cs == start - w then prev = max(0, prev - amount)
          else return nil end
        else
          local fromCur = min(cur, amount)
          cur = cur - fromCur
          prev = max(0, prev - (amount - fromCur))
        end
        return start, cur, prev, 2 * w - (now - start)
      elseif c == 3 then
        local g = gcd(l, w)
        local sc, rate = w / g, l / g
        local capacity = l * sc
        local elapsed = now - s1
        local stored = jsround(s0 * sc)
        local units
        if elapsed > 0 then units = min(capacity, stored + elapsed * rate) else units = min(capacity, stored) end
        local tokens = min(capacity, units + amount * sc)
        return tokens / sc, now, 0, ceil((capacity - tokens) / rate)
      end
      local g = gcd(l, w)
      local s, emission = l / g, w / g
      local diff = 0
      if s0 > now then diff = jsround((s0 - now) * s) end
      diff = max(0, diff - amount * emission)
      return now + diff / s, 0, 0, ceil(diff / s)
    end
    for r = 1, nr, 2 do
      local amount, ca = refunds[r], refunds[r + 1]
      if amount > 0 then
        for i = 1, n do
          local s0 = S[3 * i - 2]
          if s0 ~= nil then
            local n0, n1, n2, ttl = refund(P[3 * i - 2], P[3 * i - 1], P[3 * i], s0, S[3 * i - 1], S[3 * i], amount, ca)
            if n0 ~= nil then put(i, n0, n1, n2, ttl) end
          end
        end
      end
    end
    for i = 1, n do
      local ttl = T[i]
      if ttl ~= nil then
        if ttl <= 0 then
          dels = dels or {}
          dels[#dels + 1] = fields[3 + i]
        else
          writes[nw + 1] = fields[3 + i]
          writes[nw + 2] = spack('<dddddd', P[3 * i - 2], P[3 * i], now + ttl, S[3 * i - 2], S[3 * i - 1], S[3 * i])
          nw = nw + 2
          if ttl > longest then longest = ttl end
        end
      end
    end
  end

  local reply = 1
  if op == 'c' then
    local cost = num(ARGV[2])
    -- All or nothing: first whether every limit admits, then write or report. (Evaluating twice
    -- is cheaper than keeping 8 results per limit in a table.)
    local allowed = blocked <= now
    if allowed and n > 1 then
      for i = 1, n do
        local admits = evaluate(P[3 * i - 2], P[3 * i - 1], P[3 * i], S[3 * i - 2], S[3 * i - 1], S[3 * i], cost)
        if not admits then
          allowed = false
          break
        end
      end
    end
    if n == 1 then reply = { 0, out(now), 0, 0, 0, 0 } else reply = { 0, out(now), ${zeros(25)} } end
    for i = 1, n do
      local code, l, w = P[3 * i - 2], P[3 * i - 1], P[3 * i]
      local s0, s1, s2 = S[3 * i - 2], S[3 * i - 1], S[3 * i]
      local admits, n0, n1, n2, ttl, remaining, resetMs, retry = evaluate(code, l, w, s0, s1, s2, cost)
      if n == 1 and not admits then allowed = false end
      if allowed then
        if cost > 0 then
          if ttl <= 0 then
            dels = dels or {}
            dels[#dels + 1] = fields[3 + i]
          else
            writes[nw + 1] = fields[3 + i]
            writes[nw + 2] = spack('<dddddd', code, w, now + ttl, n0, n1, n2)
            nw = nw + 2
            if ttl > longest then longest = ttl end
          end
        end
      elseif admits then
        -- this limit would admit but the check is denied: report it as it stands (nothing consumed)
        admits, n0, n1, n2, ttl, remaining, resetMs, retry = evaluate(code, l, w, s0, s1, s2, 0)
        retry = 0
      end
      reply[3 * i + 1] = out(remaining)
      reply[3 * i + 2] = out(resetMs)
      reply[3 * i + 3] = out(retry)
    end
    reply[3 * n + 4] = nil -- the reply ends at its first nil
    if allowed then reply[1] = 1 end
    if blocked > now then reply[3] = out(blocked) end
    if allowed and cost > 0 and rfield ~= nil then
      local expires = now + num(c)
      writes[nw + 1] = rfield
      writes[nw + 2] = spack('<ddd', expires, cost + (held or 0), heldAt or now)
      nw = nw + 2
      if earliest == nil or expires < earliest then
        earliest = expires
        writes[nw + 1] = 'e'
        writes[nw + 2] = expires
        nw = nw + 2
      end
    end
  elseif op == 's' then
    if held ~= nil then
      dels = dels or {}
      dels[#dels + 1] = rfield
      reply = 1
    else
      reply = 0
    end
  elseif op == 'b' then
    local untilMs = now + num(ARGV[2])
    if untilMs > blocked then
      blocked = untilMs
      writes[nw + 1] = 'b'
      writes[nw + 2] = untilMs
      nw = nw + 2
    end
  end

  if nw > 0 then
    if earliest ~= nil and earliest - now > longest then longest = earliest - now end
    if blocked - now > longest then longest = blocked - now end
  end
  -- The hash outlives every field it holds: its field x (and its PEXPIRE) stay ≥ every expiry in it.
  if dels ~= nil and #dels > 0 then call('HDEL', key, tunpack(dels)) end
  if nw > 0 then
    if now + longest > x then
      writes[nw + 1] = 'x'
      writes[nw + 2] = now + 2 * longest
      call('HSET', key, tunpack(writes, 1, nw + 2))
      call('PEXPIRE', key, ceil(2 * longest) + PAD)
    else
      call('HSET', key, tunpack(writes, 1, nw))
    end
  end
  return reply
end

-- Extends a key's expiry to at least ttl ms (+ PAD); never shortens it.
local function keep(k, ttl)
  local want = ceil(ttl) + PAD
  local cur = call('PTTL', k)
  if cur == -1 or (cur >= 0 and cur < want) then call('PEXPIRE', k, want) end
end

-- Concurrency leases: KEYS[1] is the sorted set, scores are expiry ms. ARGV: op, lease id, …
local id = ARGV[2]
if op == 'a' then
  -- acquire: lease id, limit, leaseMs
  local limit, leaseMs = num(ARGV[3]), num(ARGV[4])
  call('ZREMRANGEBYSCORE', key, '-inf', now)
  local held = call('ZSCORE', key, id)
  local count = call('ZCARD', key)
  if held or count < limit then
    call('ZADD', key, now + leaseMs, id)
    keep(key, leaseMs)
    if held then return { 1, count, 0 } end
    return { 1, count + 1, 0 }
  end
  local first = call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return { 0, count, max(1, ceil(num(first[2]) - now)) }
elseif op == 'r' then
  -- release: lease id
  local score = call('ZSCORE', key, id)
  if not score then return 0 end
  call('ZREM', key, id)
  if num(score) > now then return 1 end
  return 0
elseif op == 'e' then
  -- extend: lease id, leaseMs
  local leaseMs = num(ARGV[3])
  local score = call('ZSCORE', key, id)
  if not score then return 0 end
  if num(score) <= now then
    call('ZREM', key, id)
    return 0
  end
  call('ZADD', key, now + leaseMs, id)
  keep(key, leaseMs)
  return 1
end
error('bulwark: unknown operation')
`;

const REDIS_TIME = "tonumber(TIME[1]) * 1000 + floor(tonumber(TIME[2]) / 1000)";
const ARGV_TIME = "num(ARGV[#ARGV])";
const TEST_PAD_MS = 86_400_000;

export interface Script {
  readonly source: string;
  readonly sha: string;
}

function build(source: string): Script {
  return { source, sha: createHash("sha1").update(source).digest("hex") };
}

/** The production script: time from Redis `TIME`, no client time accepted. */
export const SCRIPT: Script = build(
  BODY.replace("__TIME__", "call('TIME')").replace("__NOW__", REDIS_TIME).replace("__PAD__", "0"),
);

/** The test variant: time from the last ARGV; used only by stores created with `dangerouslyTestClock`. */
export const TEST_SCRIPT: Script = build(
  BODY.replace("__TIME__", "nil").replace("__NOW__", ARGV_TIME).replace("__PAD__", String(TEST_PAD_MS)),
);
