"""Deterministic simulator of the door2door vehicle event feed.

The real source is a bucket of newline-delimited JSON objects, roughly one per
second of feed time, named in a local time zone (UTC-3) without zero padding on
hour/minute/second (``2019-06-01-15-17-4-events.json``). The pipeline has to
survive what such feeds really deliver, so besides clean vehicle and
operating-period events the simulator injects the usual faults (duplicates,
re-delivered objects, late lines, GPS jumps, null locations, malformed lines)
and records the ground truth a correct warehouse must reproduce, computed from
the clean points only.

Everything is driven by ``random.Random(seed)``: the same configuration always
yields byte-identical objects. Clean trajectories use their own random stream,
so switching faults on or off does not change the ground truth.

Generation streams second by second (see :class:`FeedStream`), so large feeds
can be written or uploaded without holding every object in memory.

Run as ``python -m data_lake.simulate --help``.
"""

from __future__ import annotations

import argparse
import bisect
import json
import math
import random
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

EARTH_RADIUS_KM = 6371.0088
#: (min_lat, min_lng, max_lat, max_lng) of Berlin; clean points never leave it.
BERLIN_BBOX = (52.338, 13.088, 52.675, 13.761)
#: Vehicles start somewhere in this inner box.
START_BBOX = (52.45, 13.25, 52.58, 13.55)
#: Outside this box vehicles steer back towards the centre.
_SOFT_BBOX = (52.40, 13.17, 52.62, 13.67)
_CENTER = (52.515, 13.40)

MIN_SPEED_KMH = 15.0
MAX_SPEED_KMH = 60.0
#: Largest delay between a point's location.at and its event's at (ms).
MAX_LAG_MS = 400
REDELIVERY_SUFFIX = " (1)"

# Fault rates, as a fraction of clean updates.
_P_DUPLICATE = 0.005
_P_OUT_OF_ORDER = 0.003
_P_NULL_LOCATION = 0.001
_P_GPS_JUMP = 0.0005

_EARTH_RADIUS_M = EARTH_RADIUS_KM * 1000.0
_DEG = 180.0 / math.pi
_UPDATE_HEAD = '{"event":"update","on":"vehicle","at":"'
_MALFORMED_WORDS = ("undefined", "garbage", "EOF", "<!DOCTYPE html>", "Internal Server Error")


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate; every field takes part in the deterministic output."""

    vehicles: int = 10
    hours: float = 1.0
    organizations: int = 3
    seed: int = 42
    start: datetime = datetime(2019, 6, 1, 18, 0, tzinfo=UTC)
    name_offset_hours: int = -3  # file names stamped in local time = UTC + offset
    faults: bool = True  # inject faults


@dataclass
class GeneratedFeed:
    """A whole feed in memory: the objects, what a warehouse should compute, counts."""

    objects: dict[str, bytes]
    ground_truth: dict
    stats: dict


def haversine_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance on the mean Earth radius: the definition the warehouse uses."""
    phi1 = math.radians(lat1)
    phi2 = math.radians(lat2)
    a = (
        math.sin((phi2 - phi1) / 2.0) ** 2
        + math.cos(phi1) * math.cos(phi2) * math.sin(math.radians(lng2 - lng1) / 2.0) ** 2
    )
    return 2.0 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


@lru_cache(maxsize=512)
def _second_text(epoch_s: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_s))


def format_ts(epoch_ms: int) -> str:
    """Feed timestamp: UTC ISO-8601 with milliseconds and ``Z``."""
    sec, ms = divmod(epoch_ms, 1000)
    return f"{_second_text(sec)}.{ms:03d}Z"


def object_name(epoch_s: int, name_offset_hours: int = -3) -> str:
    """Name of the object holding the events of one UTC second, stamped in local time."""
    t = time.gmtime(epoch_s + name_offset_hours * 3600)
    day = f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"
    return f"{day}-{t.tm_hour}-{t.tm_min}-{t.tm_sec}-events.json"


def redelivered_name(name: str) -> str:
    """Key under which a re-delivered copy lands, as a re-upload by hand would name it."""
    return name[: -len(".json")] + REDELIVERY_SUFFIX + ".json"


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


# --------------------------------------------------------------------------- plan


@dataclass
class _Period:
    id: str
    org: int
    start: int  # epoch ms
    finish: int
    create_at: int
    delete_at: int | None = None


class _Vehicle:
    __slots__ = (
        "id",
        "org",
        "org_id",
        "reg_at",
        "dereg_at",
        "null_style",
        "state",
        "lat",
        "lng",
        "heading",
        "speed",
        "target",
        "stop_left",
        "turn_left",
        "turn_rate",
        "next_loc",
        "prev",
        "seg",
        "mid",
        "tail",
        "index",
        "tick",
    )

    def __init__(self, index: int, vid: str, org: int, org_id: str) -> None:
        self.index = index
        self.id = vid
        self.org = org
        self.org_id = org_id
        self.state = 0  # 0 waiting, 1 active, 2 deregistered
        self.prev: tuple[float, float, int] | None = (
            None  # lat, lng, location.at of last clean point
        )
        self.seg = 0
        self.stop_left = 0.0
        self.turn_left = 0.0
        self.turn_rate = 0.0
        self.mid = f'","data":{{"id":"{vid}","location":{{"lat":'
        self.tail = f'"}}}},"organization_id":"{org_id}"}}'


def _validate(config: SimulationConfig) -> None:
    if config.vehicles < 1 or config.organizations < 1:
        raise ValueError("need at least one vehicle and one organization")
    if config.organizations > config.vehicles:
        raise ValueError("every organization needs a vehicle: organizations must be <= vehicles")
    if not config.hours * 3600 >= 60:
        raise ValueError("hours must cover at least one minute")
    if config.start.tzinfo is None or config.start.utcoffset() is None:
        raise ValueError("start must be timezone-aware")


class FeedStream:
    """Generates the feed one object at a time, in feed-time order.

    Iterate it once to get ``(name, bytes)`` pairs; ``ground_truth`` and ``stats``
    are available once the iteration has finished. Memory stays bounded by a few
    seconds of events plus the per-(period, vehicle) accumulators.
    """

    def __init__(self, config: SimulationConfig) -> None:
        _validate(config)
        self.config = config
        self._ground_truth: dict | None = None
        self._stats: dict | None = None
        self._started = False
        base = random.Random(config.seed)  # nosec B311  # a simulation
        self._world = random.Random(base.getrandbits(64))  # nosec B311  # a simulation
        self._move = random.Random(base.getrandbits(64))  # nosec B311  # a simulation
        self._fault = random.Random(base.getrandbits(64))  # nosec B311  # a simulation
        self.ws = int(round(config.start.timestamp() * 1000))
        self.w_ms = int(round(config.hours * 3_600_000))
        self.w_s = -(-self.w_ms // 1000)
        self._plan()

    # ----------------------------------------------------------------- results
    @property
    def ground_truth(self) -> dict:
        if self._ground_truth is None:
            raise RuntimeError("iterate the FeedStream to the end first")
        return self._ground_truth

    @property
    def stats(self) -> dict:
        if self._stats is None:
            raise RuntimeError("iterate the FeedStream to the end first")
        return self._stats

    # -------------------------------------------------------------------- plan
    def _plan(self) -> None:
        cfg, rng, ws, w = self.config, self._world, self.ws, self.w_ms
        org_ids: list[str] = []
        while len(org_ids) < cfg.organizations:
            oid = f"org-{rng.getrandbits(32):08x}"
            if oid not in org_ids:
                org_ids.append(oid)
        self.org_ids = org_ids

        owners = list(range(cfg.organizations))
        owners += [rng.randrange(cfg.organizations) for _ in range(cfg.vehicles - len(owners))]
        rng.shuffle(owners)
        self.vehicles = [_Vehicle(i, _uuid(rng), o, org_ids[o]) for i, o in enumerate(owners)]

        early = min(60_000, w // 10)
        n_late = round(cfg.vehicles * 0.1)
        late = set(rng.sample(range(cfg.vehicles), n_late))
        leave_early = set(rng.sample(range(cfg.vehicles), n_late))
        for v in self.vehicles:
            if v.index in late:
                v.reg_at = ws + rng.randint(early, w * 3 // 10)
            else:
                v.reg_at = ws + rng.randint(0, early)
            if v.index in leave_early:
                v.dereg_at = ws + rng.randint(w * 6 // 10, w * 85 // 100)
            else:
                v.dereg_at = ws + w - rng.randint(1000, max(1000, early))
            v.null_style = rng.random() < 0.5

        # Operating periods: whole minutes, 15 min .. 1.5 h, always overlapping the window.
        per_org = max(1, round(cfg.hours / 2))
        periods: list[_Period] = []
        for o in range(cfg.organizations):
            for _ in range(rng.randint(2, 4) * per_org):
                length = rng.randint(15, 90) * 60_000
                lo, hi = ws - length // 2, ws + w - length // 4
                start = rng.randint(lo, hi) // 60_000 * 60_000
                lead = rng.randint(60, 900) * 1000
                if start - lead <= ws:
                    create_at = ws + rng.randint(0, 2000)
                else:
                    create_at = start - lead
                periods.append(_Period(_uuid(rng), o, start, start + length, create_at))
        order = list(range(len(periods)))
        rng.shuffle(order)
        n_delete = max(1, round(len(periods) / 4)) if len(periods) >= 2 else 0
        alive = [0] * cfg.organizations
        for p in periods:
            alive[p.org] += 1
        for i in order:
            if n_delete == 0:
                break
            p = periods[i]
            if alive[p.org] > 1:
                alive[p.org] -= 1
                n_delete -= 1
                p.delete_at = rng.randint(
                    p.create_at + 1000, max(p.create_at + 1000, ws + w - 1000)
                )
        self.periods = periods

        # Per organization: every boundary (for GPS-jump placement) and the segments of
        # time with their active, counted periods (for the ground truth).
        self._boundaries: list[list[int]] = [[] for _ in org_ids]
        self._seg_bounds: list[list[int]] = []
        self._seg_active: list[list[tuple[int, ...]]] = []
        for o in range(cfg.organizations):
            mine = [i for i, p in enumerate(periods) if p.org == o]
            self._boundaries[o] = sorted(
                {b for i in mine for b in (periods[i].start, periods[i].finish)}
            )
            counted = [i for i in mine if periods[i].delete_at is None]
            bounds = sorted({b for i in counted for b in (periods[i].start, periods[i].finish)})
            seg_bounds = [-(2**62)] + bounds
            seg_active = [
                tuple(i for i in counted if periods[i].start <= b < periods[i].finish)
                for b in seg_bounds
            ]
            self._seg_bounds.append(seg_bounds)
            self._seg_active.append(seg_active)

        # Period events in time order.
        pev: list[tuple[int, str, _Period]] = [(p.create_at, "create", p) for p in periods]
        pev += [(p.delete_at, "delete", p) for p in periods if p.delete_at is not None]
        pev.sort(key=lambda e: (e[0], e[2].id))
        self._period_events = pev

    # ---------------------------------------------------------------- iterate
    def __iter__(self) -> Iterator[tuple[str, bytes]]:
        if self._started:
            raise RuntimeError("a FeedStream can be iterated only once")
        self._started = True
        return self._run()

    def _run(self) -> Iterator[tuple[str, bytes]]:  # noqa: C901 - one hot loop, kept flat for speed
        cfg = self.config
        ws, w_ms, w_s = self.ws, self.w_ms, self.w_s
        faults = cfg.faults
        mv = self._move
        fr = self._fault
        mrand = mv.random
        frand = fr.random
        gauss = mv.gauss
        sin, cos, atan2, pi = math.sin, math.cos, math.atan2, math.pi
        hav = haversine_km
        fmt = format_ts
        min_lat, min_lng, max_lat, max_lng = BERLIN_BBOX
        s_min_lat, s_min_lng, s_max_lat, s_max_lng = _SOFT_BBOX
        c_lat, c_lng = _CENTER
        min_speed, max_speed = MIN_SPEED_KMH / 3.6, MAX_SPEED_KMH / 3.6

        buckets: dict[int, list[tuple[int, str]]] = {}
        kinds = {
            "vehicle.register": 0,
            "vehicle.update": 0,
            "vehicle.deregister": 0,
            "operating_period.create": 0,
            "operating_period.delete": 0,
        }
        fc = {
            "duplicate_lines": 0,
            "redelivered_objects": 0,
            "redelivered_lines": 0,
            "out_of_order_lines": 0,
            "gps_jumps": 0,
            "null_locations": 0,
            "malformed_lines": 0,
        }
        acc: dict[tuple[int, int], list] = {}  # (period idx, vehicle idx) -> [km, points]
        n_objects = 0
        n_lines = 0

        def put(at_ms: int, line: str, key: int | None = None, bucket: int | None = None) -> None:
            b = (at_ms - ws) // 1000 if bucket is None else bucket
            lst = buckets.get(b)
            if lst is None:
                lst = buckets[b] = []
            lst.append((at_ms if key is None else key, line))

        # Fault schedule (object-level faults are decided up front).
        mid_lo, mid_hi = w_s * 2 // 10, max(w_s * 2 // 10 + 1, w_s * 8 // 10)
        malformed_secs: dict[int, int] = {}
        redeliver_secs: set[int] = set()
        force_after = ws + w_ms * 3 // 10
        if faults:
            n_mal = max(3, round(5 * cfg.hours))
            n_red = max(1, round(cfg.hours))
            secs = fr.sample(range(mid_lo, mid_hi), min(mid_hi - mid_lo, n_mal + n_red))
            for i, sec in enumerate(secs):
                if i < n_red:
                    redeliver_secs.add(sec)
                else:
                    malformed_secs[sec] = malformed_secs.get(sec, 0) + 1
        p_dup = _P_DUPLICATE
        p_ooo = p_dup + _P_OUT_OF_ORDER
        p_null = p_ooo + _P_NULL_LOCATION

        def vehicle_line(event: str, at_ms: int, v: _Vehicle) -> str:
            loc = ',"location":{"lat":null,"lng":null,"at":null}' if v.null_style else ""
            return (
                f'{{"event":"{event}","on":"vehicle","at":"{fmt(at_ms)}",'
                f'"data":{{"id":"{v.id}"{loc}}},"organization_id":"{v.org_id}"}}'
            )

        def period_line(event: str, at_ms: int, p: _Period) -> str:
            return (
                f'{{"event":"{event}","on":"operating_period","at":"{fmt(at_ms)}",'
                f'"data":{{"id":"{p.id}","start":"{fmt(p.start)}","finish":"{fmt(p.finish)}"}},'
                f'"organization_id":"{self.org_ids[p.org]}"}}'
            )

        def malformed(lines: list[tuple[int, str]], n: int) -> str:
            kind = n % 3
            clean = [ln for _, ln in lines if ln.startswith("{")]
            if kind == 0 and clean:
                src = fr.choice(clean)
                return src[: 10 + int(frand() * (len(src) - 12))]
            if kind == 1 and clean:
                return fr.choice(clean).replace('"', "'")
            return fr.choice(_MALFORMED_WORDS)

        def emit(b: int) -> Iterator[tuple[str, bytes]]:
            nonlocal n_objects, n_lines
            lines = buckets.pop(b, None)
            n_mal = malformed_secs.get(b, 0)
            if n_mal:
                lines = lines or []
                for _ in range(n_mal):
                    bad = malformed(lines, fc["malformed_lines"])
                    lines.append((ws + b * 1000 + int(frand() * 1000), bad))
                    fc["malformed_lines"] += 1
            if not lines:
                return
            lines.sort(key=lambda e: e[0])
            data = ("\n".join(ln for _, ln in lines) + "\n").encode()
            name = object_name((ws // 1000) + b, cfg.name_offset_hours)
            n_objects += 1
            n_lines += len(lines)
            yield name, data
            if b in redeliver_secs:
                fc["redelivered_objects"] += 1
                fc["redelivered_lines"] += len(lines)
                n_objects += 1
                n_lines += len(lines)
                yield redelivered_name(name), data

        pev = self._period_events
        pev_i = 0
        vehicles = self.vehicles
        next_emit = 0
        seg_bounds_all, seg_active_all = self._seg_bounds, self._seg_active
        boundaries = self._boundaries

        for s in range(w_s):
            limit = ws + (s + 1) * 1000
            while pev_i < len(pev) and pev[pev_i][0] < limit:
                at_ms, event, p = pev[pev_i]
                put(at_ms, period_line(event, at_ms, p))
                kinds[f"operating_period.{event}"] += 1
                pev_i += 1

            for v in vehicles:
                if v.state == 2:
                    continue
                if v.state == 0:
                    if v.reg_at >= limit:
                        continue
                    put(v.reg_at, vehicle_line("register", v.reg_at, v))
                    kinds["vehicle.register"] += 1
                    v.state = 1
                    v.lat = mv.uniform(START_BBOX[0], START_BBOX[2])
                    v.lng = mv.uniform(START_BBOX[1], START_BBOX[3])
                    v.heading = mv.uniform(0.0, 2 * pi)
                    v.target = mv.uniform(min_speed, max_speed)
                    v.speed = v.target * mv.uniform(0.5, 1.0)
                    v.tick = v.reg_at + 1000
                    v.next_loc = v.tick + int(mrand() * 200)
                    v.prev = None
                    seg_bounds = seg_bounds_all[v.org]
                    v.seg = bisect.bisect_right(seg_bounds, v.next_loc) - 1
                seg_bounds = seg_bounds_all[v.org]
                seg_active = seg_active_all[v.org]
                while v.next_loc < limit:
                    loc_at = v.next_loc
                    if loc_at + MAX_LAG_MS >= v.dereg_at:
                        put(v.dereg_at, vehicle_line("deregister", v.dereg_at, v))
                        kinds["vehicle.deregister"] += 1
                        v.state = 2
                        break
                    prev = v.prev
                    dt = 1.0 if prev is None else (loc_at - prev[2]) / 1000.0

                    # --- motion: smooth speed and heading changes, stay in Berlin
                    r = mrand()
                    if v.stop_left > 0.0:
                        v.stop_left -= dt
                        if v.stop_left <= 0.0:
                            v.target = mv.uniform(min_speed, max_speed)
                    elif r < 0.004:
                        v.stop_left = mv.uniform(8.0, 45.0)
                        v.target = 0.0
                    elif r < 0.03:
                        v.target = mv.uniform(min_speed, max_speed)
                    diff = v.target - v.speed
                    if diff > 2.0 * dt:
                        diff = 2.0 * dt
                    elif diff < -3.0 * dt:
                        diff = -3.0 * dt
                    v.speed += diff
                    if v.turn_left > 0.0:
                        v.heading += v.turn_rate * dt
                        v.turn_left -= dt
                    elif r > 0.99:
                        v.turn_left = mv.uniform(3.0, 6.0)
                        v.turn_rate = (pi / 2 if mrand() < 0.5 else -pi / 2) / v.turn_left
                    else:
                        v.heading += gauss(0.0, 0.05)
                    lat, lng = v.lat, v.lng
                    if not (s_min_lat < lat < s_max_lat and s_min_lng < lng < s_max_lng):
                        want = atan2((c_lng - lng) * cos(lat / _DEG), c_lat - lat)
                        turn = (want - v.heading + pi) % (2 * pi) - pi
                        v.heading += max(-0.3, min(0.3, turn))
                        v.turn_left = 0.0
                    step = v.speed * dt
                    n_lat = lat + step * cos(v.heading) / _EARTH_RADIUS_M * _DEG
                    n_lng = lng + step * sin(v.heading) / (_EARTH_RADIUS_M * cos(lat / _DEG)) * _DEG
                    if not (min_lat < n_lat < max_lat and min_lng < n_lng < max_lng):
                        v.heading = atan2((c_lng - lng) * cos(lat / _DEG), c_lat - lat)
                        n_lat = lat + step * cos(v.heading) / _EARTH_RADIUS_M * _DEG
                        n_lng = (
                            lng + step * sin(v.heading) / (_EARTH_RADIUS_M * cos(lat / _DEG)) * _DEG
                        )
                    v.lat, v.lng = n_lat, n_lng
                    p_lat = round(n_lat, 6)
                    p_lng = round(n_lng, 6)

                    # --- the clean event
                    lag = 5 + int(mrand() * mrand() * (MAX_LAG_MS - 5))
                    at_ms = loc_at + lag
                    line = (
                        f'{_UPDATE_HEAD}{fmt(at_ms)}{v.mid}{p_lat},"lng":{p_lng},'
                        f'"at":"{fmt(loc_at)}{v.tail}'
                    )
                    kinds["vehicle.update"] += 1

                    # --- ground truth
                    sb = seg_bounds
                    seg = v.seg
                    while seg + 1 < len(sb) and loc_at >= sb[seg + 1]:
                        seg += 1
                    v.seg = seg
                    active = seg_active[seg]
                    if active:
                        d = hav(prev[0], prev[1], p_lat, p_lng) if prev is not None else 0.0
                        vi = v.index
                        for pi_ in active:
                            a = acc.get((pi_, vi))
                            if a is None:
                                acc[(pi_, vi)] = [0.0, 1]
                            else:
                                a[0] += d
                                a[1] += 1

                    # --- faults around this point
                    placed = False
                    if faults:
                        u = frand()
                        late = loc_at > force_after
                        b = (at_ms - ws) // 1000
                        if u < p_dup or (late and fc["duplicate_lines"] == 0):
                            put(at_ms, line)
                            d_b = b + fr.choice((0, 0, 0, 1, 2, 3))
                            put(at_ms, line, key=ws + d_b * 1000 + int(frand() * 1000), bucket=d_b)
                            fc["duplicate_lines"] += 1
                            placed = True
                        elif u < p_ooo or (late and fc["out_of_order_lines"] == 0):
                            d_b = b + 2 + int(frand() * 4)
                            put(at_ms, line, key=ws + d_b * 1000 + int(frand() * 1000), bucket=d_b)
                            fc["out_of_order_lines"] += 1
                            placed = True
                        elif u < p_null or (late and fc["null_locations"] == 0):
                            room = max(0, min(300, v.dereg_at - at_ms - 2))
                            n_at = at_ms + 1 + int(frand() * room)
                            loc = "null" if frand() < 0.5 else '{"lat":null,"lng":null,"at":null}'
                            put(
                                n_at,
                                f'{_UPDATE_HEAD}{fmt(n_at)}","data":{{"id":"{v.id}",'
                                f'"location":{loc}}},"organization_id":"{v.org_id}"}}',
                            )
                            fc["null_locations"] += 1
                        if prev is not None and (
                            frand() < _P_GPS_JUMP or (late and fc["gps_jumps"] == 0)
                        ):
                            bnds = boundaries[v.org]
                            k = bisect.bisect_right(bnds, prev[2])
                            if k >= len(bnds) or bnds[k] > loc_at:
                                j_loc = prev[2] + 500
                                j_at = j_loc + 5 + int(frand() * (MAX_LAG_MS - 5))
                                dist = fr.uniform(20_000.0, 60_000.0)
                                brg = fr.uniform(0.0, 2 * pi)
                                j_lat = round(prev[0] + dist * cos(brg) / _EARTH_RADIUS_M * _DEG, 6)
                                j_lng = round(
                                    prev[1]
                                    + dist
                                    * sin(brg)
                                    / (_EARTH_RADIUS_M * cos(prev[0] / _DEG))
                                    * _DEG,
                                    6,
                                )
                                put(
                                    j_at,
                                    f'{_UPDATE_HEAD}{fmt(j_at)}{v.mid}{j_lat},"lng":{j_lng},'
                                    f'"at":"{fmt(j_loc)}{v.tail}',
                                )
                                fc["gps_jumps"] += 1
                    if not placed:
                        put(at_ms, line)

                    v.prev = (p_lat, p_lng, loc_at)
                    v.tick += 1000  # about one point per second, jittered but never drifting
                    v.next_loc = v.tick + int(mrand() * 200)
            # Everything with at < limit is generated and nothing new lands before s - 1.
            while next_emit <= s - 2:
                yield from emit(next_emit)
                next_emit += 1

        for v in vehicles:  # safety net: every vehicle that registered also leaves
            if v.state == 1:
                put(v.dereg_at, vehicle_line("deregister", v.dereg_at, v))
                kinds["vehicle.deregister"] += 1
                v.state = 2
        last = max([*buckets, *malformed_secs, next_emit])
        for b in range(next_emit, last + 1):
            yield from emit(b)

        self._finish(acc, kinds, fc, n_objects, n_lines)

    # ------------------------------------------------------------- ground truth
    def _finish(
        self,
        acc: dict[tuple[int, int], list],
        kinds: dict[str, int],
        fc: dict[str, int],
        n_objects: int,
        n_lines: int,
    ) -> None:
        cfg = self.config
        periods, vehicles, org_ids = self.periods, self.vehicles, self.org_ids
        pairs = []
        per_period: dict[int, list[float]] = {}
        for (pi_, vi), (km, points) in acc.items():
            p = periods[pi_]
            pairs.append(
                {
                    "organization_id": org_ids[p.org],
                    "operating_period_id": p.id,
                    "vehicle_id": vehicles[vi].id,
                    "distance_km": round(km, 6),
                    "points": points,
                }
            )
            per_period.setdefault(pi_, []).append(km)
        pairs.sort(key=lambda r: (r["organization_id"], r["operating_period_id"], r["vehicle_id"]))
        period_rows = []
        for pi_, kms in per_period.items():
            p = periods[pi_]
            total = math.fsum(kms)
            period_rows.append(
                {
                    "organization_id": org_ids[p.org],
                    "operating_period_id": p.id,
                    "start": format_ts(p.start),
                    "finish": format_ts(p.finish),
                    "vehicles": len(kms),
                    "total_km": round(total, 6),
                    "avg_km": round(total / len(kms), 6),
                    "is_deleted": False,
                }
            )
        period_rows.sort(key=lambda r: (r["organization_id"], r["operating_period_id"]))
        all_km = [km for kms in per_period.values() for km in kms]
        config = asdict(cfg)
        config["start"] = cfg.start.isoformat()
        deleted = sorted(p.id for p in periods if p.delete_at is not None)
        self._ground_truth = {
            "config": config,
            "earth_radius_km": EARTH_RADIUS_KM,
            "pairs": pairs,
            "periods": period_rows,
            "deleted_periods": deleted,
            "avg_km_per_vehicle_period": (
                round(math.fsum(all_km) / len(all_km), 6) if all_km else None
            ),
        }
        self._stats = {
            "objects": n_objects,
            "lines": n_lines,
            "events_by_kind": kinds,
            "clean_updates": kinds["vehicle.update"],
            "faults": fc,
            "vehicles": len(vehicles),
            "organizations": len(org_ids),
            "periods": len(periods),
            "deleted_periods": len(deleted),
        }


# --------------------------------------------------------------------- public API


def iter_feed(config: SimulationConfig) -> FeedStream:
    """Stream the feed object by object, for feeds too large to hold in memory."""
    return FeedStream(config)


def generate_feed(config: SimulationConfig) -> GeneratedFeed:
    """Build the whole feed in memory (fine up to a few million lines)."""
    stream = FeedStream(config)
    objects = dict(stream)
    return GeneratedFeed(objects=objects, ground_truth=stream.ground_truth, stats=stream.stats)


def _write_objects(items: Iterable[tuple[str, bytes]], directory: Path) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    n = 0
    for name, data in items:
        (directory / name).write_bytes(data)
        n += 1
    return n


def write_feed_to_dir(feed: GeneratedFeed, directory: Path) -> None:
    """Write the event objects as files (a local stand-in for the source bucket)."""
    _write_objects(feed.objects.items(), Path(directory))


def _dump_ground_truth(ground_truth: dict, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(ground_truth, indent=2) + "\n", encoding="utf-8")


def write_ground_truth(feed: GeneratedFeed, path: Path) -> None:
    """Write the expected warehouse results, kept apart from the feed so ingestion never sees it."""
    _dump_ground_truth(feed.ground_truth, path)


def upload_objects(
    items: Iterable[tuple[str, bytes]],
    s3_client: Any,
    bucket: str,
    prefix: str,
    max_workers: int,
) -> int:
    """Put objects concurrently with a bounded queue, so a streamed feed stays streamed."""
    uploaded = 0
    pending: set[Future] = set()
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        for name, data in items:
            if len(pending) >= max_workers * 4:  # bounded, so streamed feeds stay streamed
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    fut.result()
                    uploaded += 1
            pending.add(
                pool.submit(
                    s3_client.put_object,
                    Bucket=bucket,
                    Key=f"{prefix}{name}",
                    Body=data,
                    ContentType="application/x-ndjson",
                )
            )
        for fut in pending:
            fut.result()
            uploaded += 1
    return uploaded


def upload_feed(
    feed: GeneratedFeed,
    s3_client: Any,
    bucket: str,
    prefix: str = "data/",
    max_workers: int = 16,
) -> int:
    """Put every object concurrently: one request per object is the slow part. Returns the count."""
    return upload_objects(feed.objects.items(), s3_client, bucket, prefix, max_workers)


# --------------------------------------------------------------------------- CLI


def _ensure_bucket(client: Any, bucket: str) -> None:
    from botocore.exceptions import ClientError

    try:
        client.head_bucket(Bucket=bucket)
    except ClientError:
        region = client.meta.region_name
        if region and region != "us-east-1":
            client.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region}
            )
        else:
            client.create_bucket(Bucket=bucket)


def _tee(items: Iterable[tuple[str, bytes]], directory: Path | None) -> Iterator[tuple[str, bytes]]:
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
    for name, data in items:
        if directory is not None:
            (directory / name).write_bytes(data)
        yield name, data


def summary(stats: dict) -> str:
    """One human line about a generated feed."""
    f = stats["faults"]
    return (
        f"{stats['objects']} objects, {stats['lines']} lines "
        f"({stats['clean_updates']} clean updates); {stats['vehicles']} vehicles in "
        f"{stats['organizations']} organizations; {stats['periods']} periods "
        f"({stats['deleted_periods']} deleted); faults: {f['duplicate_lines']} duplicate, "
        f"{f['redelivered_objects']} redelivered objects ({f['redelivered_lines']} lines), "
        f"{f['out_of_order_lines']} out-of-order, {f['gps_jumps']} GPS jumps, "
        f"{f['null_locations']} null locations, {f['malformed_lines']} malformed"
    )


def main(argv: list[str] | None = None) -> int:
    """Generate a feed and write it to a directory and/or upload it to S3."""
    ap = argparse.ArgumentParser(
        prog="python -m data_lake.simulate",
        description="Generate a deterministic door2door-style event feed with injected faults.",
    )
    ap.add_argument("--vehicles", type=int, default=SimulationConfig.vehicles)
    ap.add_argument("--hours", type=float, default=SimulationConfig.hours)
    ap.add_argument("--organizations", type=int, default=SimulationConfig.organizations)
    ap.add_argument("--seed", type=int, default=SimulationConfig.seed)
    ap.add_argument("--no-faults", action="store_true", help="emit a clean feed")
    ap.add_argument("--out-dir", type=Path, help="write the objects into this directory")
    ap.add_argument("--bucket", help="upload the objects to this S3 bucket")
    ap.add_argument("--prefix", default="data/", help="key prefix in the bucket (default data/)")
    ap.add_argument("--max-workers", type=int, default=16, help="concurrent uploads")
    ap.add_argument(
        "--ground-truth",
        type=Path,
        help="where to write the ground truth (default <out-dir>/../ground_truth.json, "
        "else <reports dir>/ground_truth.json)",
    )
    args = ap.parse_args(argv)
    if args.out_dir is None and args.bucket is None:
        ap.error("nothing to do: give --out-dir and/or --bucket")

    config = SimulationConfig(
        vehicles=args.vehicles,
        hours=args.hours,
        organizations=args.organizations,
        seed=args.seed,
        faults=not args.no_faults,
    )
    try:
        stream = FeedStream(config)
    except ValueError as exc:
        ap.error(str(exc))

    if args.ground_truth is not None:
        gt_path = args.ground_truth
    elif args.out_dir is not None:
        gt_path = args.out_dir.resolve().parent / "ground_truth.json"
    else:
        from pipeline_core.settings import load_settings

        gt_path = load_settings().reports_dir / "ground_truth.json"

    began = time.perf_counter()
    items = _tee(stream, args.out_dir)
    if args.bucket:
        from pipeline_core.settings import load_settings
        from pipeline_core.storage import s3_client

        client = s3_client(load_settings(), max_pool_connections=max(10, args.max_workers))
        _ensure_bucket(client, args.bucket)
        upload_objects(items, client, args.bucket, args.prefix, args.max_workers)
    else:
        for _ in items:
            pass
    _dump_ground_truth(stream.ground_truth, gt_path)

    where = [str(args.out_dir)] if args.out_dir is not None else []
    if args.bucket:
        where.append(f"s3://{args.bucket}/{args.prefix}")
    print(
        f"{summary(stream.stats)} -> {', '.join(where)}; ground truth {gt_path} "
        f"[{time.perf_counter() - began:.1f}s]"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
