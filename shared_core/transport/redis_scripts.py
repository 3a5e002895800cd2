"""The Redis side of fleet mode: key names, the Lua scripts that update one deployment atomically, and the
decoding of what Redis holds into a :class:`~shared_core.transport.health.HealthEntry`.

Per deployment (``key`` is ``endpoint/deployment``; braces make every key of one deployment hash to one
Redis Cluster slot):

* ``{prefix}:{key}:h`` — a hash: circuit (``open_until``, ``trips``, ``streak``, ``streak_started``), broken
  mark, latency EWMA and samples, last failure, and the latest quota observation (``q_*``). Expires an hour
  after its last write.
* ``{prefix}:{key}:cool`` — the cooldown: its value the wall-clock end, its TTL the cooldown itself.
* ``{prefix}:{key}:trial`` — the half-open trial, taken with ``SET NX PX trial_timeout``: one per fleet.

Plus ``{prefix}:epoch`` (a random value: when it is gone, Redis was flushed or restarted empty) and the pub/sub
channel ``{prefix}:events`` (a deployment key, published on every failure written through). Values are
timestamps, counters, error summaries and deployment names: never a credential, never prompt text.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import cast

from shared_core.transport.health import BrokenReason, HealthEntry
from shared_core.transport.quota import QuotaState

__all__ = ["FAILURE_LUA", "RESTORE_LUA", "SUCCESS_LUA", "TRIAL_LUA", "apply_fleet_state", "decode_state", "keys_for"]

HASH_TTL = 3600

# Ends the scripts that change what the fleet must know at once: the deployment's whole state as JSON, returned
# to the writer and published (when ARGV[n] names a channel) so that no reader needs a round trip to learn it.
_STATE_LUA = """
local state = cjson.encode({k = KEYS[1], h = redis.call('HGETALL', KEYS[1]),
  c = redis.call('GET', KEYS[2 + OFFSET]) or '', t = redis.call('PTTL', KEYS[3 + OFFSET])})
if CHANNEL ~= '' then redis.call('PUBLISH', CHANNEL, state) end
return state
"""

# KEYS: hash, cooldown, trial. ARGV: the failure's time, kind, Retry-After ('' for none), message, the policy's
# failure_threshold, failure_window, open_for, backoff_factor, max_open_for and default_cooldown, ttl, the channel
# to publish the state on, and max_cooldown (any cooldown is capped at it, as the in-process store caps it).
FAILURE_LUA = """
local h, cool, trial = KEYS[1], KEYS[2], KEYS[3]
local now, kind, ra, msg = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4]
local threshold, window, open_for = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local factor, max_open, default_cd = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local max_cd = tonumber(ARGV[13])
redis.call('HSET', h, 'last_failure', kind, 'last_failure_at', ARGV[1])
if msg ~= '' then redis.call('HSET', h, 'last_error', msg) end
if kind == 'rate_limit' or ra ~= '' then
  local wait = default_cd
  if ra ~= '' then wait = tonumber(ra) end
  if wait < 0 then wait = 0 end
  if max_cd and wait > max_cd then wait = max_cd end
  local ms = math.ceil(wait * 1000)
  local cur = tonumber(redis.call('GET', cool) or '0') or 0
  if ms > 0 and now + wait > cur then redis.call('SET', cool, string.format('%.6f', now + wait), 'PX', ms) end
end
local function open(trips)
  local period = math.min(max_open, open_for * factor ^ math.min(trips - 1, 60))
  redis.call('HSET', h, 'open_until', string.format('%.6f', now + period), 'trips', trips, 'streak', 0)
  redis.call('DEL', trial)
end
if kind == 'server' or kind == 'timeout' or kind == 'connection' then
  local ou = tonumber(redis.call('HGET', h, 'open_until') or '')
  if ou then
    if now >= ou then open((tonumber(redis.call('HGET', h, 'trips') or '1') or 1) + 1) end
  else
    local streak = tonumber(redis.call('HGET', h, 'streak') or '0') or 0
    local started = tonumber(redis.call('HGET', h, 'streak_started') or '0') or 0
    if streak > 0 and now - started > window then streak = 0 end
    if streak == 0 then redis.call('HSET', h, 'streak_started', ARGV[1]) end
    streak = streak + 1
    redis.call('HSET', h, 'streak', streak)
    if streak >= threshold then open(1) end
  end
elseif kind == 'auth' or kind == 'not_found' then
  if redis.call('HEXISTS', h, 'broken_kind') == 0 then
    redis.call('HSET', h, 'broken_kind', kind, 'broken_msg', msg, 'broken_since', ARGV[1])
  end
elseif redis.call('HEXISTS', h, 'open_until') == 1 then
  redis.call('DEL', trial)
end
redis.call('EXPIRE', h, tonumber(ARGV[11]))
""" + _STATE_LUA.replace("OFFSET", "0").replace("CHANNEL", "ARGV[12]")

# KEYS: hash, cooldown, trial. ARGV: the success's time, clear ('1' after a success that ends a streak or
# closes the circuit), latency mean ('' for none), samples, alpha, ttl, the quota observation (observed_at ''
# for none, and its six fields), and the channel to publish the state on ('' for none).
SUCCESS_LUA = """
local h, trial = KEYS[1], KEYS[3]
local now = tonumber(ARGV[1])
if ARGV[2] == '1' then
  local lf = tonumber(redis.call('HGET', h, 'last_failure_at') or '0') or 0
  if lf <= now then
    redis.call('HDEL', h, 'open_until', 'trips')
    redis.call('HSET', h, 'streak', 0)
    redis.call('DEL', trial)
  end
end
if ARGV[3] ~= '' then
  local mean, n, alpha = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
  local old = tonumber(redis.call('HGET', h, 'ewma') or '')
  local new = mean
  if old then
    local keep = (1 - alpha) ^ n
    new = keep * old + (1 - keep) * mean
  end
  redis.call('HSET', h, 'ewma', string.format('%.6f', new))
  redis.call('HINCRBY', h, 'samples', n)
end
if ARGV[7] ~= '' then
  local held = tonumber(redis.call('HGET', h, 'q_at') or '0') or 0
  if tonumber(ARGV[7]) >= held then
    redis.call('HSET', h, 'q_at', ARGV[7], 'q_rt', ARGV[8], 'q_rr', ARGV[9], 'q_lt', ARGV[10], 'q_lr', ARGV[11],
      'q_tf', ARGV[12], 'q_rf', ARGV[13])
  end
end
redis.call('EXPIRE', h, tonumber(ARGV[6]))
""" + _STATE_LUA.replace("OFFSET", "0").replace("CHANNEL", "ARGV[14]")

# After Redis came back (or was flushed): what this process learned meanwhile goes back, never shortening
# what Redis already holds. ARGV: cooldown end, open_until, trips, broken kind, message, since, ttl.
RESTORE_LUA = """
local h, cool = KEYS[1], KEYS[2]
local now = tonumber(ARGV[8])
local untl = tonumber(ARGV[1])
if untl and untl > now then
  local cur = tonumber(redis.call('GET', cool) or '0') or 0
  if untl > cur then redis.call('SET', cool, ARGV[1], 'PX', math.ceil((untl - now) * 1000)) end
end
if ARGV[2] ~= '' and redis.call('HEXISTS', h, 'open_until') == 0 then
  redis.call('HSET', h, 'open_until', ARGV[2], 'trips', ARGV[3], 'streak', 0)
end
if ARGV[4] ~= '' and redis.call('HEXISTS', h, 'broken_kind') == 0 then
  redis.call('HSET', h, 'broken_kind', ARGV[4], 'broken_msg', ARGV[5], 'broken_since', ARGV[6])
end
redis.call('EXPIRE', h, tonumber(ARGV[7]))
return 1
"""


# The half-open trial, for the whole fleet: only while the circuit Redis holds is past its open period and the
# deployment is not cooling down, and only for one caller (SET NX). KEYS: hash, cooldown, trial. ARGV: now,
# holder, trial timeout in ms. Returns 1 (the trial is yours), 0 (not now) or 2 (the circuit is closed).
TRIAL_LUA = """
local ou = tonumber(redis.call('HGET', KEYS[1], 'open_until') or '')
if not ou then return 2 end
if tonumber(ARGV[1]) < ou or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if redis.call('SET', KEYS[3], ARGV[2], 'NX', 'PX', tonumber(ARGV[3])) then return 1 end
return 0
"""


def keys_for(prefix: str, key: str) -> tuple[str, str, str]:
    """The hash, cooldown and trial keys of one deployment."""
    base = f"{prefix}:{{{key}}}"
    return f"{base}:h", f"{base}:cool", f"{base}:trial"


def decode_state(raw: object) -> tuple[str, dict[object, object], object, int] | None:
    """A published or returned state: (deployment hash key, its fields, the cooldown, the trial's TTL in ms)."""
    text = _text(raw)
    if not text or not text.startswith("{"):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    state = cast(dict[str, object], data)
    flat = state.get("h")
    items: list[object] = cast(list[object], flat) if isinstance(flat, list) else []
    fields: dict[object, object] = dict(zip(items[::2], items[1::2], strict=False))
    trial = state.get("t")
    return str(state.get("k", "")), fields, state.get("c") or None, trial if isinstance(trial, int) else 0


def _text(value: object) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _float(fields: Mapping[str, str], name: str) -> float | None:
    raw = fields.get(name)
    if raw is None or raw == "":
        return None
    try:
        return float(raw)
    except ValueError:
        return None


def _int(fields: Mapping[str, str], name: str) -> int | None:
    value = _float(fields, name)
    return None if value is None else int(value)


def _quota(fields: Mapping[str, str]) -> QuotaState | None:
    at = _float(fields, "q_at")
    if at is None:
        return None
    return QuotaState(
        observed_at=at,
        remaining_tokens=_int(fields, "q_rt"),
        remaining_requests=_int(fields, "q_rr"),
        limit_tokens=_int(fields, "q_lt"),
        limit_requests=_int(fields, "q_lr"),
        tokens_full_at=_float(fields, "q_tf"),
        requests_full_at=_float(fields, "q_rf"),
    )


def _broken(fields: Mapping[str, str]) -> BrokenReason | None:
    kind = fields.get("broken_kind")
    if kind not in ("auth", "not_found"):
        return None
    return BrokenReason("auth" if kind == "auth" else "not_found", fields.get("broken_msg", ""), 0.0)


def apply_fleet_state(
    entry: HealthEntry,
    raw_hash: Mapping[object, object],
    raw_cool: object,
    trial_ms: int,
    *,
    trial_timeout: float,
    now: float,
) -> None:
    """Make ``entry`` what the fleet says (the store's clock is the wall clock).

    Redis is authoritative for the circuit, the trial, the broken mark and the latency; a cooldown or a quota
    observation only ever moves forward (what this process saw last may be newer than the last refresh).
    """
    fields = {t: _text(v) or "" for k, v in raw_hash.items() if (t := _text(k)) is not None}
    cool = _text(raw_cool)
    if cool:
        with contextlib.suppress(ValueError):
            entry.cooldown_until = max(entry.cooldown_until, float(cool))
    entry.circuit_open_until = _float(fields, "open_until")
    entry.trips = _int(fields, "trips") or 0
    entry.streak = _int(fields, "streak") or 0
    entry.streak_started = _float(fields, "streak_started") or 0.0
    # The trial's key expires trial_timeout after it was taken, so its TTL says when that was.
    entry.trial_started = now - (trial_timeout - trial_ms / 1000.0) if trial_ms > 0 else None
    broken = _broken(fields)
    if broken is not None and entry.broken is None:
        entry.broken = BrokenReason(broken.kind, broken.message, _float(fields, "broken_since") or now)
    elif broken is None:
        entry.broken = None
    entry.ewma = _float(fields, "ewma")
    entry.samples = _int(fields, "samples") or 0
    last = fields.get("last_failure")
    if last in ("rate_limit", "server", "timeout", "connection", "auth", "not_found", "other"):
        entry.last_failure = last  # pyright: ignore[reportAttributeAccessIssue]
        entry.last_error = fields.get("last_error") or entry.last_error
    quota = _quota(fields)
    if quota is not None and (entry.quota is None or quota.observed_at > entry.quota.observed_at):
        entry.quota = quota
