/**
 * The schema and PL/pgSQL functions of the Postgres store. Every store call is one statement: a call
 * of one of these functions, which locks the key's row in `rl_key` (INSERT … ON CONFLICT DO NOTHING,
 * then SELECT … FOR UPDATE), so concurrent calls on one key run one after another and calls on
 * different keys never wait for each other.
 *
 * The arithmetic is `src/ratelimit/algorithms.ts` (what the memory store runs) line by line, with the
 * store semantics of `src/stores/reference-store.ts`: token bucket and GCRA on integers scaled by
 * gcd(limit, windowMs), each reservation refunded to the window it was taken in (`consumed_at`), a
 * denied check's admitting limits reported as a peek with retryAfterMs 0. Every number is a
 * `double precision` (IEEE doubles, like JavaScript numbers) computed with the same operations in the
 * same order, so answers and stored states are bit-identical to the reference:
 * - `now % W` is computed on bigint (exact for integer milliseconds);
 * - JavaScript `Math.round` (half toward +∞) is `rl_round`: `floor(x)` plus one when the fraction
 *   `x − floor(x)` (exact in doubles) is ≥ 0.5. Postgres `round()` on float8 rounds half away from
 *   zero (wrong at −2.5), and `floor(x + 0.5)` is wrong at 0.49999999999999994 and at odd x ≥ 2^52;
 * - the scale `W/g` or `limit/g` is a float8 division of two integers that `g` divides (exact).
 * Time is `clock_timestamp()` in float8 milliseconds; the optional last argument `p_now` exists for
 * tests (the store passes it only when created with `dangerouslyTestClock`).
 *
 * Tables:
 *   rl_key          one row per key: the lock, the block end, and `expires_at` ≥ the expiry of
 *                   everything below for that key (so `rl_sweep` may delete the key's rows at once)
 *   rl_state        one row per (key, limit name): algorithm, window, expiry, s0..s2
 *   rl_reservation  unsettled reservations: amount, expiry and `consumed_at`, the store time the
 *                   units were taken (NULL for a row written by schema version 1, which did not record
 *                   it: such a row is refunded without it, current window first, as version 1 did)
 *   rl_lease        concurrency leases: expiry
 *
 * Upgrading: `migrate()` is idempotent and brings any earlier version to this one in one
 * transaction (adds `consumed_at` when missing, drops helper functions whose signature changed).
 */

/** Bumped when the functions change; `migrate()` is idempotent either way. */
export const SCHEMA_VERSION = 2;

export function migrationSql(schema: string): string {
  const s = `"${schema}"`;
  const now = "coalesce(p_now, floor(extract(epoch FROM clock_timestamp()) * 1000)::float8)";
  return `
SELECT pg_advisory_xact_lock(hashtext('bulwark:migrate:${schema}'));
CREATE SCHEMA IF NOT EXISTS ${s};

CREATE TABLE IF NOT EXISTS ${s}.rl_key (
  key text PRIMARY KEY,
  blocked_until float8 NOT NULL DEFAULT 0,
  expires_at float8 NOT NULL
);
CREATE INDEX IF NOT EXISTS rl_key_expires_at ON ${s}.rl_key (expires_at);
CREATE TABLE IF NOT EXISTS ${s}.rl_state (
  key text NOT NULL,
  name text NOT NULL,
  algorithm text NOT NULL,
  window_ms float8 NOT NULL,
  expires_at float8 NOT NULL,
  s0 float8 NOT NULL,
  s1 float8,
  s2 float8,
  PRIMARY KEY (key, name)
);
CREATE TABLE IF NOT EXISTS ${s}.rl_reservation (
  key text NOT NULL,
  id text NOT NULL,
  amount float8 NOT NULL,
  expires_at float8 NOT NULL,
  consumed_at float8,
  PRIMARY KEY (key, id)
);
-- Version 1 → 2: the consume time of a reservation. Checked first, because ALTER TABLE takes an
-- ACCESS EXCLUSIVE lock even when the column exists, which would stall checks on every start-up.
DO $do$
BEGIN
  IF NOT EXISTS (
    SELECT 1 FROM pg_attribute
    WHERE attrelid = '${s}.rl_reservation'::regclass AND attname = 'consumed_at' AND NOT attisdropped
  ) THEN
    ALTER TABLE ${s}.rl_reservation ADD COLUMN consumed_at float8;
  END IF;
END
$do$;
-- Version 1 helpers whose signature changed.
DROP FUNCTION IF EXISTS ${s}.rl_give(text, float8, float8, float8, float8, float8, float8, float8);
DROP FUNCTION IF EXISTS ${s}.rl_load(text, text[], text[], float8[], float8[], float8, float8);
DROP FUNCTION IF EXISTS ${s}.rl_expired(text, float8);
CREATE TABLE IF NOT EXISTS ${s}.rl_lease (
  key text NOT NULL,
  id text NOT NULL,
  expires_at float8 NOT NULL,
  PRIMARY KEY (key, id)
);

-- Locks the key's row (creating it when missing); returns the block end and the row's expiry.
CREATE OR REPLACE FUNCTION ${s}.rl_lock(p_key text, p_timeout_ms integer, OUT o_blocked float8, OUT o_expires float8)
LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM set_config('lock_timeout', p_timeout_ms::text, true);
  LOOP
    SELECT blocked_until, expires_at INTO o_blocked, o_expires FROM ${s}.rl_key WHERE key = p_key FOR UPDATE;
    EXIT WHEN FOUND;
    INSERT INTO ${s}.rl_key (key, blocked_until, expires_at) VALUES (p_key, 0, 0) ON CONFLICT (key) DO NOTHING;
  END LOOP;
END
$fn$;

-- Keeps rl_key.expires_at at or after p_until (with slack, to update it rarely).
CREATE OR REPLACE FUNCTION ${s}.rl_keep(p_key text, p_expires float8, p_now float8, p_until float8)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  IF p_until > p_expires THEN
    UPDATE ${s}.rl_key SET expires_at = p_until + (p_until - p_now) WHERE key = p_key;
  END IF;
END
$fn$;

-- JavaScript Math.round: half toward +∞ (x − floor(x) is exact for every double).
CREATE OR REPLACE FUNCTION ${s}.rl_round(x float8) RETURNS float8
LANGUAGE sql IMMUTABLE AS $fn$
  SELECT floor(x) + CASE WHEN x - floor(x) >= 0.5 THEN 1::float8 ELSE 0::float8 END
$fn$;

-- algorithms.ts evaluateInto(): one limit at p_now for p_cost units. has = false is a fresh state.
CREATE OR REPLACE FUNCTION ${s}.rl_eval(
  alg text, l float8, w float8, has boolean, s0 float8, s1 float8, s2 float8, p_now float8, cost float8,
  OUT o_admits boolean, OUT o_n0 float8, OUT o_n1 float8, OUT o_n2 float8, OUT o_ttl float8,
  OUT o_remaining float8, OUT o_reset float8, OUT o_retry float8)
LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
  v_start float8; v_elapsed float8; v_cur float8; v_prev float8; v_after float8; v_used float8;
  v_in_next float8; v_g float8; v_sc float8; v_step float8; v_cap float8; v_units float8;
  v_need float8; v_new float8;
BEGIN
  IF alg = 'f' THEN
    v_start := p_now - (p_now::bigint % w::bigint)::float8;
    v_cur := CASE WHEN has AND s0 = v_start THEN s1 ELSE 0 END;
    o_reset := v_start + w - p_now;
    o_admits := v_cur + cost <= l;
    v_after := CASE WHEN o_admits THEN v_cur + cost ELSE v_cur END;
    o_n0 := v_start; o_n1 := v_after; o_ttl := o_reset;
    o_remaining := CASE WHEN v_after < l THEN l - v_after ELSE 0 END;
    o_retry := CASE WHEN o_admits THEN 0 ELSE o_reset END;
  ELSIF alg = 's' THEN
    v_start := p_now - (p_now::bigint % w::bigint)::float8;
    v_elapsed := p_now - v_start;
    v_cur := 0; v_prev := 0;
    IF has THEN
      IF s0 = v_start THEN v_cur := s1; v_prev := s2;
      ELSIF s0 = v_start - w THEN v_prev := s1;
      END IF;
    END IF;
    o_admits := v_prev * (w - v_elapsed) + (v_cur + cost) * w <= l * w;
    v_after := CASE WHEN o_admits THEN v_cur + cost ELSE v_cur END;
    v_used := v_prev * (w - v_elapsed) + v_after * w;
    o_retry := 0;
    IF NOT o_admits THEN
      IF v_cur + cost <= l AND v_prev > 0 THEN
        o_retry := greatest(1, ceil(w - v_elapsed - ((l - v_cur - cost) * w) / v_prev));
      ELSE
        v_in_next := CASE WHEN v_after = 0 THEN 0 ELSE greatest(0, ceil(w - ((l - cost) * w) / v_after)) END;
        o_retry := w - v_elapsed + v_in_next;
      END IF;
    END IF;
    o_n0 := v_start; o_n1 := v_after; o_n2 := v_prev;
    o_remaining := CASE WHEN v_used < l * w THEN floor((l * w - v_used) / w) ELSE 0 END;
    o_reset := CASE WHEN v_after > 0 THEN 2 * w - v_elapsed WHEN v_prev > 0 THEN w - v_elapsed ELSE 0 END;
    o_ttl := 2 * w - v_elapsed;
  ELSIF alg = 't' THEN
    -- tokens in integer units of 1/sc token, refilled by v_step units per ms
    v_g := gcd(l::bigint, w::bigint)::float8;
    v_sc := w / v_g; v_step := l / v_g; v_cap := l * v_sc;
    IF has THEN
      v_units := ${s}.rl_round(s0 * v_sc);
      v_elapsed := p_now - s1;
      v_units := CASE WHEN v_elapsed > 0 THEN least(v_cap, v_units + v_elapsed * v_step) ELSE least(v_cap, v_units) END;
    ELSE
      v_units := v_cap;
    END IF;
    v_need := cost * v_sc;
    o_admits := v_units >= v_need;
    v_after := CASE WHEN o_admits THEN v_units - v_need ELSE v_units END;
    o_ttl := ceil((v_cap - v_after) / v_step);
    o_n0 := v_after / v_sc; o_n1 := p_now;
    o_remaining := floor(v_after / v_sc);
    o_reset := o_ttl;
    o_retry := CASE WHEN o_admits THEN 0 ELSE greatest(1, ceil((v_need - v_units) / v_step)) END;
  ELSIF alg = 'g' THEN
    -- max(0, tat − now) in integer units of 1/sc ms; one emission is v_step units
    v_g := gcd(l::bigint, w::bigint)::float8;
    v_sc := l / v_g; v_step := w / v_g; v_cap := w * v_sc;
    v_units := CASE WHEN has AND s0 > p_now THEN ${s}.rl_round((s0 - p_now) * v_sc) ELSE 0 END;
    v_new := v_units + cost * v_step;
    o_admits := v_new <= v_cap;
    v_after := CASE WHEN o_admits THEN v_new ELSE v_units END;
    o_ttl := ceil(v_after / v_sc);
    o_n0 := p_now + v_after / v_sc;
    o_remaining := CASE WHEN v_after < v_cap THEN floor((v_cap - v_after) / v_step) ELSE 0 END;
    o_reset := o_ttl;
    o_retry := CASE WHEN o_admits THEN 0 ELSE greatest(1, ceil((v_new - v_cap) / v_sc)) END;
  ELSE
    RAISE EXCEPTION 'bulwark: unknown algorithm';
  END IF;
END
$fn$;

-- algorithms.ts refundInto() on a live state: p_consumed is the store time the units were taken
-- (window algorithms refund only that window), NULL when unknown (current window first).
-- o_changed is false when nothing is to be written.
CREATE OR REPLACE FUNCTION ${s}.rl_give(
  alg text, l float8, w float8, s0 float8, s1 float8, s2 float8, p_now float8, amount float8, p_consumed float8,
  OUT o_changed boolean, OUT o_n0 float8, OUT o_n1 float8, OUT o_n2 float8, OUT o_ttl float8)
LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
  v_start float8; v_consumed_start float8; v_cur float8; v_prev float8; v_from_cur float8;
  v_g float8; v_sc float8; v_step float8; v_cap float8; v_units float8; v_elapsed float8;
BEGIN
  o_changed := true;
  IF alg = 'f' THEN
    v_start := p_now - (p_now::bigint % w::bigint)::float8;
    IF s0 <> v_start THEN o_changed := false; RETURN; END IF;
    IF p_consumed IS NOT NULL AND p_consumed - (p_consumed::bigint % w::bigint)::float8 <> v_start THEN
      o_changed := false; RETURN;
    END IF;
    o_n0 := v_start; o_n1 := greatest(0, s1 - amount); o_ttl := v_start + w - p_now;
  ELSIF alg = 's' THEN
    v_start := p_now - (p_now::bigint % w::bigint)::float8;
    IF s0 = v_start THEN v_cur := s1; v_prev := s2;
    ELSIF s0 = v_start - w THEN v_cur := 0; v_prev := s1;
    ELSE o_changed := false; RETURN;
    END IF;
    IF p_consumed IS NULL THEN
      v_from_cur := least(v_cur, amount);
      v_cur := v_cur - v_from_cur;
      v_prev := greatest(0, v_prev - (amount - v_from_cur));
    ELSE
      v_consumed_start := p_consumed - (p_consumed::bigint % w::bigint)::float8;
      IF v_consumed_start = v_start THEN v_cur := greatest(0, v_cur - amount);
      ELSIF v_consumed_start = v_start - w THEN v_prev := greatest(0, v_prev - amount);
      ELSE o_changed := false; RETURN;
      END IF;
    END IF;
    o_n0 := v_start; o_n1 := v_cur; o_n2 := v_prev; o_ttl := 2 * w - (p_now - v_start);
  ELSIF alg = 't' THEN
    v_g := gcd(l::bigint, w::bigint)::float8;
    v_sc := w / v_g; v_step := l / v_g; v_cap := l * v_sc;
    v_units := ${s}.rl_round(s0 * v_sc);
    v_elapsed := p_now - s1;
    v_units := CASE WHEN v_elapsed > 0 THEN least(v_cap, v_units + v_elapsed * v_step) ELSE least(v_cap, v_units) END;
    v_units := least(v_cap, v_units + amount * v_sc);
    o_n0 := v_units / v_sc; o_n1 := p_now; o_ttl := ceil((v_cap - v_units) / v_step);
  ELSIF alg = 'g' THEN
    v_g := gcd(l::bigint, w::bigint)::float8;
    v_sc := l / v_g; v_step := w / v_g;
    v_units := CASE WHEN s0 > p_now THEN ${s}.rl_round((s0 - p_now) * v_sc) ELSE 0 END;
    v_units := greatest(0, v_units - amount * v_step);
    o_n0 := p_now + v_units / v_sc; o_ttl := ceil(v_units / v_sc);
  ELSE
    RAISE EXCEPTION 'bulwark: unknown algorithm';
  END IF;
END
$fn$;

-- Writes one limit's state (deletes it when its ttl is not positive).
CREATE OR REPLACE FUNCTION ${s}.rl_put(
  p_key text, p_name text, alg text, w float8, n0 float8, n1 float8, n2 float8, ttl float8, p_now float8)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  IF ttl <= 0 THEN
    DELETE FROM ${s}.rl_state WHERE key = p_key AND name = p_name;
  ELSE
    INSERT INTO ${s}.rl_state AS t (key, name, algorithm, window_ms, expires_at, s0, s1, s2)
    VALUES (p_key, p_name, alg, w, p_now + ttl, n0, n1, n2)
    ON CONFLICT (key, name) DO UPDATE SET algorithm = EXCLUDED.algorithm, window_ms = EXCLUDED.window_ms,
      expires_at = EXCLUDED.expires_at, s0 = EXCLUDED.s0, s1 = EXCLUDED.s1, s2 = EXCLUDED.s2;
  END IF;
END
$fn$;

-- Takes the key's expired reservations and refunds each, with its consume time, to the listed
-- limits; then p_amount (taken at p_consumed; NULL: unknown). Writes the states that changed and
-- returns the live states after (o_has false: fresh) and the longest ttl written. With nothing to
-- refund and p_read false, reads no state.
CREATE OR REPLACE FUNCTION ${s}.rl_load(
  p_key text, p_algs text[], p_names text[], p_limits float8[], p_windows float8[], p_now float8,
  p_amount float8, p_consumed float8, p_read boolean,
  OUT o_has boolean[], OUT o_s0 float8[], OUT o_s1 float8[], OUT o_s2 float8[], OUT o_longest float8)
LANGUAGE plpgsql AS $fn$
DECLARE
  v_row record; g record;
  v_amounts float8[]; v_at float8[]; v_gives integer; v_ttl float8; v_changed boolean;
BEGIN
  o_has := '{}'; o_s0 := '{}'; o_s1 := '{}'; o_s2 := '{}'; o_longest := 0;
  WITH d AS (
    DELETE FROM ${s}.rl_reservation WHERE key = p_key AND expires_at <= p_now RETURNING amount, consumed_at
  )
  SELECT array_agg(amount), array_agg(consumed_at) INTO v_amounts, v_at FROM d;
  v_amounts := coalesce(v_amounts, '{}'); v_at := coalesce(v_at, '{}');
  IF p_amount > 0 THEN
    -- after the expired reservations: a refund without consume time is not order-independent
    v_amounts := array_append(v_amounts, p_amount); v_at := array_append(v_at, p_consumed);
  END IF;
  v_gives := coalesce(array_length(v_amounts, 1), 0);
  FOR j IN 1 .. v_gives LOOP
    IF NOT coalesce(v_amounts[j] - v_amounts[j] = 0 AND (v_at[j] IS NULL OR v_at[j] - v_at[j] = 0), false) THEN
      RAISE EXCEPTION 'bulwark: corrupt reservation';
    END IF;
  END LOOP;
  IF v_gives = 0 AND NOT p_read THEN RETURN; END IF;
  FOR i IN 1 .. coalesce(array_length(p_names, 1), 0) LOOP
    SELECT t.s0, t.s1, t.s2, t.expires_at INTO v_row FROM ${s}.rl_state t
      WHERE t.key = p_key AND t.name = p_names[i] AND t.algorithm = p_algs[i] AND t.window_ms = p_windows[i]
        AND t.expires_at > p_now;
    o_has[i] := FOUND;
    IF o_has[i] THEN
      -- x − x = 0 only for finite x: NaN (which Postgres orders above every number), ±Infinity or a
      -- missing slot would otherwise read as a full bucket or an empty window
      IF NOT coalesce(v_row.s0 - v_row.s0 = 0 AND v_row.expires_at - v_row.expires_at = 0
          AND (p_algs[i] = 'g' OR v_row.s1 - v_row.s1 = 0) AND (p_algs[i] <> 's' OR v_row.s2 - v_row.s2 = 0), false) THEN
        RAISE EXCEPTION 'bulwark: corrupt state';
      END IF;
      o_s0[i] := v_row.s0; o_s1[i] := v_row.s1; o_s2[i] := v_row.s2;
      v_changed := false;
      FOR j IN 1 .. v_gives LOOP
        -- a state written with a ttl ≤ 0 is deleted: later refunds find nothing
        EXIT WHEN NOT o_has[i];
        CONTINUE WHEN NOT v_amounts[j] > 0;
        SELECT * INTO g FROM ${s}.rl_give(p_algs[i], p_limits[i], p_windows[i], o_s0[i], o_s1[i], o_s2[i], p_now, v_amounts[j], v_at[j]);
        IF g.o_changed THEN
          v_changed := true; v_ttl := g.o_ttl;
          o_has[i] := g.o_ttl > 0; o_s0[i] := g.o_n0; o_s1[i] := g.o_n1; o_s2[i] := g.o_n2;
        END IF;
      END LOOP;
      IF v_changed THEN
        PERFORM ${s}.rl_put(p_key, p_names[i], p_algs[i], p_windows[i], o_s0[i], o_s1[i], o_s2[i], v_ttl, p_now);
        o_longest := greatest(o_longest, v_ttl);
      END IF;
    END IF;
  END LOOP;
END
$fn$;

-- consume: [allowed, now, blockedUntil (0 when not blocked), then remaining, resetMs, retryAfterMs per limit]
CREATE OR REPLACE FUNCTION ${s}.rl_consume(
  p_key text, p_algs text[], p_names text[], p_limits float8[], p_windows float8[],
  p_cost float8, p_res_id text, p_res_ttl float8, p_timeout_ms integer, p_now float8 DEFAULT NULL)
RETURNS float8[] LANGUAGE plpgsql AS $fn$
DECLARE
  v_now float8 := ${now};
  k record; st record; e record;
  v_n integer := coalesce(array_length(p_names, 1), 0);
  v_has boolean[]; v_s0 float8[]; v_s1 float8[]; v_s2 float8[];
  v_admits boolean[] := '{}'; v_n0 float8[] := '{}'; v_n1 float8[] := '{}'; v_n2 float8[] := '{}';
  v_ttl float8[] := '{}'; v_rem float8[] := '{}'; v_reset float8[] := '{}'; v_retry float8[] := '{}';
  v_allowed boolean;
  v_out float8[];
  v_longest float8;
BEGIN
  SELECT * INTO k FROM ${s}.rl_lock(p_key, p_timeout_ms);
  SELECT * INTO st FROM ${s}.rl_load(p_key, p_algs, p_names, p_limits, p_windows, v_now, 0, NULL, true);
  v_has := st.o_has; v_s0 := st.o_s0; v_s1 := st.o_s1; v_s2 := st.o_s2;
  v_longest := st.o_longest;
  v_allowed := k.o_blocked <= v_now;
  FOR i IN 1 .. v_n LOOP
    SELECT * INTO e FROM ${s}.rl_eval(p_algs[i], p_limits[i], p_windows[i], v_has[i], v_s0[i], v_s1[i], v_s2[i], v_now, p_cost);
    v_admits[i] := e.o_admits; v_n0[i] := e.o_n0; v_n1[i] := e.o_n1; v_n2[i] := e.o_n2; v_ttl[i] := e.o_ttl;
    v_rem[i] := e.o_remaining; v_reset[i] := e.o_reset; v_retry[i] := e.o_retry;
    IF NOT e.o_admits THEN v_allowed := false; END IF;
  END LOOP;
  v_out := ARRAY[CASE WHEN v_allowed THEN 1 ELSE 0 END, v_now, CASE WHEN k.o_blocked > v_now THEN k.o_blocked ELSE 0 END]::float8[];
  FOR i IN 1 .. v_n LOOP
    IF v_allowed THEN
      IF p_cost > 0 THEN
        PERFORM ${s}.rl_put(p_key, p_names[i], p_algs[i], p_windows[i], v_n0[i], v_n1[i], v_n2[i], v_ttl[i], v_now);
        v_longest := greatest(v_longest, v_ttl[i]);
      END IF;
    ELSIF v_admits[i] AND p_cost > 0 THEN
      -- this limit would admit but the check is denied: report it as it stands (nothing consumed)
      SELECT * INTO e FROM ${s}.rl_eval(p_algs[i], p_limits[i], p_windows[i], v_has[i], v_s0[i], v_s1[i], v_s2[i], v_now, 0);
      v_rem[i] := e.o_remaining; v_reset[i] := e.o_reset; v_retry[i] := 0;
    END IF;
    v_out := v_out || ARRAY[v_rem[i], v_reset[i], v_retry[i]];
  END LOOP;
  IF v_allowed AND p_cost > 0 AND p_res_id <> '' THEN
    -- a held id reserved again adds its amount and keeps its first consume time
    INSERT INTO ${s}.rl_reservation AS r (key, id, amount, expires_at, consumed_at)
    VALUES (p_key, p_res_id, p_cost, v_now + p_res_ttl, v_now)
    ON CONFLICT (key, id) DO UPDATE SET amount = EXCLUDED.amount + r.amount, expires_at = EXCLUDED.expires_at;
    v_longest := greatest(v_longest, p_res_ttl);
  END IF;
  PERFORM ${s}.rl_keep(p_key, k.o_expires, v_now, v_now + v_longest);
  RETURN v_out;
END
$fn$;

CREATE OR REPLACE FUNCTION ${s}.rl_refund(
  p_key text, p_algs text[], p_names text[], p_limits float8[], p_windows float8[],
  p_amount float8, p_timeout_ms integer, p_now float8 DEFAULT NULL)
RETURNS integer LANGUAGE plpgsql AS $fn$
DECLARE
  v_now float8 := ${now};
  k record; st record;
BEGIN
  SELECT * INTO k FROM ${s}.rl_lock(p_key, p_timeout_ms);
  SELECT * INTO st FROM ${s}.rl_load(p_key, p_algs, p_names, p_limits, p_windows, v_now, p_amount, NULL, false);
  PERFORM ${s}.rl_keep(p_key, k.o_expires, v_now, v_now + st.o_longest);
  RETURN 1;
END
$fn$;

CREATE OR REPLACE FUNCTION ${s}.rl_settle(
  p_key text, p_algs text[], p_names text[], p_limits float8[], p_windows float8[],
  p_id text, p_release boolean, p_timeout_ms integer, p_now float8 DEFAULT NULL)
RETURNS boolean LANGUAGE plpgsql AS $fn$
DECLARE
  v_now float8 := ${now};
  k record; st record; v_amount float8; v_expires float8; v_consumed float8; v_found boolean := false;
BEGIN
  SELECT * INTO k FROM ${s}.rl_lock(p_key, p_timeout_ms);
  SELECT amount, expires_at, consumed_at INTO v_amount, v_expires, v_consumed
    FROM ${s}.rl_reservation WHERE key = p_key AND id = p_id;
  IF FOUND AND v_expires > v_now THEN
    v_found := true;
    DELETE FROM ${s}.rl_reservation WHERE key = p_key AND id = p_id;
  END IF;
  SELECT * INTO st FROM ${s}.rl_load(p_key, p_algs, p_names, p_limits, p_windows, v_now,
    CASE WHEN v_found AND p_release THEN v_amount ELSE 0 END, v_consumed, false);
  PERFORM ${s}.rl_keep(p_key, k.o_expires, v_now, v_now + st.o_longest);
  RETURN v_found;
END
$fn$;

CREATE OR REPLACE FUNCTION ${s}.rl_reset(p_key text, p_names text[], p_timeout_ms integer)
RETURNS integer LANGUAGE plpgsql AS $fn$
DECLARE
  k record;
BEGIN
  SELECT * INTO k FROM ${s}.rl_lock(p_key, p_timeout_ms);
  DELETE FROM ${s}.rl_state WHERE key = p_key AND name = ANY (p_names);
  DELETE FROM ${s}.rl_reservation WHERE key = p_key;
  UPDATE ${s}.rl_key SET blocked_until = 0 WHERE key = p_key;
  RETURN 1;
END
$fn$;

CREATE OR REPLACE FUNCTION ${s}.rl_block(p_key text, p_duration_ms float8, p_timeout_ms integer, p_now float8 DEFAULT NULL)
RETURNS integer LANGUAGE plpgsql AS $fn$
DECLARE
  v_now float8 := ${now};
  k record;
BEGIN
  SELECT * INTO k FROM ${s}.rl_lock(p_key, p_timeout_ms);
  UPDATE ${s}.rl_key SET blocked_until = greatest(blocked_until, v_now + p_duration_ms),
    expires_at = greatest(expires_at, v_now + p_duration_ms) WHERE key = p_key;
  RETURN 1;
END
$fn$;

-- acquire: [acquired, held, retryAfterMs]
CREATE OR REPLACE FUNCTION ${s}.rl_acquire(
  p_key text, p_id text, p_limit integer, p_lease_ms float8, p_timeout_ms integer, p_now float8 DEFAULT NULL)
RETURNS float8[] LANGUAGE plpgsql AS $fn$
DECLARE
  v_now float8 := ${now};
  k record; v_held boolean; v_count integer; v_first float8;
BEGIN
  SELECT * INTO k FROM ${s}.rl_lock(p_key, p_timeout_ms);
  DELETE FROM ${s}.rl_lease WHERE key = p_key AND expires_at <= v_now;
  SELECT count(*), bool_or(id = p_id), min(expires_at) INTO v_count, v_held, v_first
    FROM ${s}.rl_lease WHERE key = p_key;
  v_held := coalesce(v_held, false);
  IF v_held OR v_count < p_limit THEN
    INSERT INTO ${s}.rl_lease (key, id, expires_at) VALUES (p_key, p_id, v_now + p_lease_ms)
      ON CONFLICT (key, id) DO UPDATE SET expires_at = EXCLUDED.expires_at;
    PERFORM ${s}.rl_keep(p_key, k.o_expires, v_now, v_now + p_lease_ms);
    RETURN ARRAY[1, CASE WHEN v_held THEN v_count ELSE v_count + 1 END, 0]::float8[];
  END IF;
  RETURN ARRAY[0, v_count, greatest(1, ceil(v_first - v_now))]::float8[];
END
$fn$;

CREATE OR REPLACE FUNCTION ${s}.rl_release(p_key text, p_id text, p_timeout_ms integer, p_now float8 DEFAULT NULL)
RETURNS boolean LANGUAGE plpgsql AS $fn$
DECLARE
  v_now float8 := ${now};
  k record; v_at float8;
BEGIN
  SELECT * INTO k FROM ${s}.rl_lock(p_key, p_timeout_ms);
  DELETE FROM ${s}.rl_lease WHERE key = p_key AND id = p_id RETURNING expires_at INTO v_at;
  RETURN coalesce(v_at > v_now, false);
END
$fn$;

CREATE OR REPLACE FUNCTION ${s}.rl_extend(
  p_key text, p_id text, p_lease_ms float8, p_timeout_ms integer, p_now float8 DEFAULT NULL)
RETURNS boolean LANGUAGE plpgsql AS $fn$
DECLARE
  v_now float8 := ${now};
  k record; v_at float8;
BEGIN
  SELECT * INTO k FROM ${s}.rl_lock(p_key, p_timeout_ms);
  SELECT expires_at INTO v_at FROM ${s}.rl_lease WHERE key = p_key AND id = p_id;
  IF v_at IS NULL THEN RETURN false; END IF;
  IF v_at <= v_now THEN
    DELETE FROM ${s}.rl_lease WHERE key = p_key AND id = p_id;
    RETURN false;
  END IF;
  UPDATE ${s}.rl_lease SET expires_at = v_now + p_lease_ms WHERE key = p_key AND id = p_id;
  PERFORM ${s}.rl_keep(p_key, k.o_expires, v_now, v_now + p_lease_ms);
  RETURN true;
END
$fn$;

-- Deletes up to p_batch keys whose every row has expired; returns how many.
CREATE OR REPLACE FUNCTION ${s}.rl_sweep(p_batch integer, p_now float8 DEFAULT NULL)
RETURNS integer LANGUAGE plpgsql AS $fn$
DECLARE
  v_now float8 := ${now};
  v_keys text[];
BEGIN
  SELECT array_agg(key) INTO v_keys FROM (
    SELECT key FROM ${s}.rl_key WHERE expires_at <= v_now ORDER BY expires_at LIMIT p_batch FOR UPDATE SKIP LOCKED
  ) x;
  IF v_keys IS NULL THEN RETURN 0; END IF;
  DELETE FROM ${s}.rl_state WHERE key = ANY (v_keys);
  DELETE FROM ${s}.rl_reservation WHERE key = ANY (v_keys);
  DELETE FROM ${s}.rl_lease WHERE key = ANY (v_keys);
  DELETE FROM ${s}.rl_key WHERE key = ANY (v_keys);
  RETURN array_length(v_keys, 1);
END
$fn$;
`;
}
