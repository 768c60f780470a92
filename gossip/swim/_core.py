"""The SWIM + Lifeguard membership core (sans-I/O).

Theory of operation
-------------------
SWIM (Das, Gupta, Motivala, "SWIM: Scalable Weakly-consistent Infection-style Process Group
Membership Protocol", DSN 2002) splits membership into failure detection and dissemination.

*Failure detection.* Once per protocol period each member probes one other member: the targets
come round-robin from a shuffled list of the members (reshuffled after each pass, lazily: each
probe swaps a uniform pick from the rest of the pass into place; a new member joins the rest of
the pass, so it lands at a random position), which bounds the time to first detection of a
failure and gives the expected ``T' / (1 - 1/e)``. A probe is a ``Ping`` answered by an
``Ack``; if no ack arrives within the probe timeout, ``k`` other members are asked (``PingReq``)
to ping the target on our behalf and relay its ack. No ack by the end of the period (or as soon
as every one of the ``k`` has nacked: each tried and heard nothing) makes the target *suspect*.
Any datagram from a member shows it alive: a target heard from during our last period is not
pinged when its turn comes, while our local health is good (its turn is spent; a departure
from SWIM that saves a ping and an ack and delays no detection by more than a period, since a
crashed member sends nothing). A
suspected member that hears of it refutes by raising its *incarnation number* and gossiping
"alive"; an unrefuted suspicion becomes *dead* after the suspicion timeout.

*Dissemination.* Membership changes are piggybacked on the probe traffic (and sent by dedicated
gossip to ``gossip_nodes`` members every ``gossip_interval``, as memberlist does), each one
``retransmit_mult * ceil(log10(n + 1))`` times, least-sent first, within a datagram byte budget.
Precedence: alive(i) beats suspect(j) iff i > j; suspect(i) beats alive(j) iff i >= j; dead beats
both at equal or higher incarnation. A periodic push-pull of the full state over a stream
(anti-entropy) repairs whatever the lossy piggybacks missed (a host running SWIM alone may
close the link once the reply came: ``close_push_pull_links``); joining is a push-pull with a
seed, and seeds that are not alive are re-contacted periodically so the two sides of a healed
partition merge again; a member that knows no other live member (a seed was down when it
started, or it was left alone) retries its seeds sooner, with a jittered exponential backoff,
until one answers,
so start order does not matter. Dead and left members are kept as tombstones (so stale state
cannot bring them back) and reaped ``gossip_to_the_dead_time`` after they died.

Lifeguard (Dadgar, Phillips, Currey, "Lifeguard: Local Health Awareness for More Accurate Failure
Detection", 2018) makes a *slow* member less likely to declare healthy ones dead:

- *Local health multiplier* (awareness score 0 .. max-1): failed probes, missed nacks and having
  to refute a suspicion of ourselves raise it, successful probes lower it; the probe interval and
  timeout are scaled by ``score + 1``.
- *Dynamic suspicion*: the timeout starts at ``max`` and shrinks toward ``min`` with independent
  confirmations (see :mod:`._suspicion`).
- *Buddy system*: a ping to a suspected member carries the suspicion, so it refutes at once.
- *Nacks*: an indirect prober that hears nothing from the target sends a ``Nack``, timed to land
  inside the requester's period (``SwimConfig.nack_timeout``); missing nacks show that *we* are
  the slow one.

Identity is the address: a restarted member comes back at the same address and raises its
incarnation above whatever the cluster last heard (refuting "dead" as it learns of it).
"""

from __future__ import annotations

import math
import operator
import random
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain, repeat
from typing import Any

from gossip._errors import DecodeError, UsageError
from gossip._events import (
    Addr,
    CancelTimer,
    CloseStream,
    Effect,
    Emit,
    Event,
    PacketReceived,
    PeerUnreachable,
    SendPacket,
    SendStream,
    SetTimer,
    StreamReceived,
    TimerFired,
)
from gossip.swim._broadcasts import BroadcastQueue
from gossip.swim._config import SwimConfig
from gossip.swim._member_events import (
    LeaveCompleted,
    MemberDead,
    MemberJoined,
    MemberLeft,
    MemberReaped,
    MemberRecovered,
    MemberSuspected,
    MemberUpdated,
)
from gossip.swim._messages import (
    Ack,
    Gossip,
    Nack,
    Ping,
    PingReq,
    PushPull,
    Tag,
    UnknownTagError,
    Update,
    UpdateKind,
    decode_bare_seq,
    decode_datagram,
    decode_push_pull,
    encode_header,
    encode_push_pull_state,
    encode_seq_header,
    encode_update,
    raw_to_update,
)
from gossip.swim._state import Member, MemberState
from gossip.swim._suspicion import Suspicion

__all__ = ["SwimCore"]

_PROBE = ("probe",)
_GOSSIP = ("gossip",)
_PUSH_PULL = ("push_pull",)
_REJOIN = ("rejoin",)
_LEAVE = ("leave",)


# A member record is one int, ``incarnation << 2 | state`` (small ints are shared objects, so the
# record of a member at incarnation 0 costs nothing beyond its dict slot); metadata and the time
# of the last state change live in side dicts holding only the non-default values (b"", 0.0).
# At 10,000 members per node and 10,000 nodes in one simulator process, per-member bytes matter.
_ALIVE, _SUSPECT, _DEAD, _LEFT = 0, 1, 2, 3  # MemberState values
_T_PING, _T_ACK, _T_NACK = int(Tag.PING), int(Tag.ACK), int(Tag.NACK)


@dataclass(slots=True)
class _Probe:
    seq: int
    target: Addr
    acked: bool = False
    expected_nacks: int = 0
    nacks: int = 0
    # The members asked to ping-req the target: only they (and the target) may answer for it.
    helpers: tuple[Addr, ...] = ()


@dataclass(slots=True)
class _Relay:
    requester: Addr
    seq: int
    nack: bool
    expires: float  # forward a late ack until then (the nack may have gone out already)
    target: Addr = ""  # the member we ping for the requester: only its ack is relayed


class SwimCore:
    """One member's SWIM + Lifeguard state machine (see the module docstring).

    ``seeds`` are joined (push-pull) by :meth:`start`; they, and those added by :meth:`join`,
    are re-contacted every ``rejoin_interval`` while they are not alive in our view, and sooner
    (``join_retry_interval`` doubling to ``join_retry_max``) while we know no live member. ``known``
    pre-populates the member list with alive members at incarnation 0 (a static bootstrap, e.g.
    in benchmarks). ``incarnation`` lets a driver start a restarted member above its previous
    life (it would otherwise refute its way up as it learns of its death).
    """

    protocol = "swim"

    def __init__(
        self,
        addr: Addr,
        config: SwimConfig,
        rng: random.Random,
        *,
        meta: bytes = b"",
        seeds: Iterable[Addr] = (),
        known: Iterable[Addr] = (),
        incarnation: int = 0,
    ) -> None:
        if len(meta) > config.max_meta_bytes:
            raise ValueError(
                f"meta is {len(meta)} bytes, max_meta_bytes is {config.max_meta_bytes}"
            )
        self.addr = addr
        self.config = config
        self._rng = rng
        self._inc = incarnation
        self._meta = meta
        self._seeds: list[Addr] = [s for s in dict.fromkeys(seeds) if s != addr]
        self._members: dict[Addr, int] = {addr: incarnation << 2 | _ALIVE}
        self._metas: dict[Addr, bytes] = {addr: meta} if meta else {}
        self._since: dict[Addr, float] = {}  # state_change where it is not 0.0
        # Alive and suspect members other than us. SWIM's round-robin walks it from
        # _probe_index, shuffling lazily (each step swaps a uniform pick from the rest into
        # place: a uniformly random order per pass at O(1) per probe, no O(n) reshuffle), and
        # uniform random picks index it. One list serves both, so a member costs one list slot
        # (removal, on death or leave only, is a C-speed search).
        self._live: list[Addr] = []
        self._probe_index = 0
        self._awareness = 0
        self._seq = 0
        self._probe: _Probe | None = None
        # Members a datagram came from since our last probe tick: alive, so a probe of one of
        # them this tick would tell us nothing (see _probe_tick). Cleared at every tick.
        self._heard: set[Addr] = set()
        self._relays: dict[int, _Relay] = {}
        self._suspicions: dict[Addr, Suspicion] = {}
        self._dead_recent: dict[Addr, float] = {}  # dead member -> when, oldest first
        self._queue = BroadcastQueue(watch=addr)
        self._started = False
        self._leaving = False
        self._left = False
        self._out: list[Effect] = []
        self._now = 0.0  # the latest time we were given (for timers armed deep inside)
        self._gossip_armed = False
        self._join_attempts = 0  # seed retries since we last knew no live member
        # members whose join push-pull we answered -> when, oldest first (see leave())
        self._answered_joins: dict[Addr, float] = {}
        self._gossip_phase = 0.0  # the dedicated-gossip ticker's ticks: phase + k * interval
        self._limit_n = self._limit_v = 0  # retransmit limit cached per member count
        self.stats: dict[str, int] = {
            "packets_sent": 0,
            "packets_received": 0,
            "bytes_sent": 0,
            "streams_sent": 0,
            "streams_received": 0,
            "decode_errors": 0,
            "unknown_tags": 0,
            "unreachable": 0,
            "probes": 0,
            "probes_failed": 0,
            "probes_skipped": 0,  # targets heard from this period: alive, not pinged
            "ping_reqs_sent": 0,
            "refutations": 0,
            "stray_acks": 0,  # acks and nacks from members we did not ask (dropped)
            "members_refused": 0,  # new members not added: max_members reached
            "push_pull_truncated": 0,  # our push-pulls cut to max_push_pull_bytes
        }
        # A static bootstrap of thousands of members: one C-speed dict build. The list is built
        # by appending, which leaves it the usual spare capacity: an exact-size copy would be
        # reallocated by the first newcomer, on every node at once (measured: +0.7 GiB of
        # fragmented heap at 10,000 nodes).
        me = self._members[addr]
        self._members = dict.fromkeys(chain((addr,), known), _ALIVE)  # incarnation 0
        self._members[addr] = me  # keeps its first place
        self._live = [a for a in self._members if a != addr]

    # -- queries -------------------------------------------------------------------------------

    @property
    def incarnation(self) -> int:
        return self._inc

    @property
    def awareness(self) -> int:
        """Lifeguard's local health score, 0 (healthy) .. ``awareness_max_multiplier - 1``."""
        return self._awareness

    @property
    def left(self) -> bool:
        return self._leaving

    def member(self, addr: Addr) -> Member | None:
        v = self._members.get(addr)
        if v is None:
            return None
        return self._snapshot(addr, v)

    def _snapshot(self, a: Addr, v: int) -> Member:
        return Member(
            a, v >> 2, MemberState(v & 3), self._metas.get(a, b""), self._since.get(a, 0.0)
        )

    def members(self) -> list[Member]:
        """Every member this node knows, itself and tombstones (dead, left) included."""
        return [self._snapshot(a, v) for a, v in self._members.items()]

    def alive(self) -> list[Addr]:
        """Addresses of the members considered up (alive or suspect), this node included."""
        return [a for a, v in self._members.items() if v & 3 <= _SUSPECT]

    def num_members(self) -> int:
        """n for the timing formulas: members not known dead or left, this node included."""
        return len(self._live) + 1

    # -- commands --------------------------------------------------------------------------------

    def start(self, now: float) -> list[Effect]:
        if self._started:
            raise UsageError("start() was already called")
        self._started = True
        self._now = now
        cfg = self.config
        # Stagger the periodic work so that members started together do not probe in lockstep.
        self._out.append(SetTimer(_PROBE, now + self._rng.uniform(0, cfg.probe_interval)))
        if cfg.push_pull_interval > 0:
            at = now + self._rng.uniform(0, self._push_pull_period())
            self._out.append(SetTimer(_PUSH_PULL, at))
        self._arm_rejoin(now)
        # memberlist's gossip ticker runs from a random stagger; ours keeps its phase but is
        # armed only while there is news (see _next_gossip_tick).
        self._gossip_phase = now + self._rng.uniform(0, cfg.gossip_interval)
        for s in self._seeds:  # join at once: a restarted member rejoins by itself
            self._send_push_pull(s, join=True, reply=False)
        return self._flush()

    def join(self, seeds: Iterable[Addr], now: float) -> list[Effect]:
        """Push-pull with each seed; they stay seeds, re-contacted while not alive."""
        self._check_running(now)
        new = [s for s in seeds if s != self.addr and s not in self._seeds]
        self._seeds.extend(dict.fromkeys(new))
        for s in dict.fromkeys(seeds):
            if s != self.addr:
                self._send_push_pull(s, join=True, reply=False)
        self._join_attempts = 0
        self._arm_rejoin(now)
        return self._flush()

    def update_meta(self, meta: bytes, now: float) -> list[Effect]:
        """Publish new metadata: a new incarnation, gossiped as alive."""
        self._check_running(now)
        if len(meta) > self.config.max_meta_bytes:
            raise ValueError(
                f"meta is {len(meta)} bytes, max_meta_bytes is {self.config.max_meta_bytes}"
            )
        self._meta = meta
        self._inc += 1
        self._members[self.addr] = self._inc << 2 | (self._members[self.addr] & 3)
        self._set_meta(self.addr, meta)
        self._broadcast(Update(UpdateKind.ALIVE, self.addr, self._inc, meta=meta))
        return self._flush()

    def leave(self, now: float) -> list[Effect]:
        """Leave gracefully: stop probing, gossip "left" until it has been sent the retransmit
        limit of times (or ``leave_timeout`` passes), then emit :class:`LeaveCompleted`."""
        self._check_running(now)
        self._leaving = True
        self._members[self.addr] = self._inc << 2 | _LEFT
        self._set_since(self.addr, now)
        self._out.append(CancelTimer(_PROBE))
        self._out.append(CancelTimer(_REJOIN))
        if self._probe is not None:
            self._out.append(CancelTimer(("probe_timeout", self._probe.seq)))
            self._probe = None
        if not self._live:
            # No one to gossip to, yet a seed we sent our state to (a join whose reply has not
            # come yet) may have taken us in, and would otherwise need a suspicion timeout to
            # find us gone. Tell it on the stream that carried the join: frames to a peer keep
            # their order, so "left" lands after the "alive" it overrides.
            for s in self._seeds:
                self._send_leave_state(s)
            self._finish_leave(disseminated=True)
        else:
            self._broadcast(Update(UpdateKind.LEFT, self.addr, self._inc))
            # A member that joined through us may not have read our reply yet (a stream can
            # take longer than datagrams: a lost SYN costs a second). It drops our "left"
            # datagrams, news about a member it does not know, then takes us in from the reply
            # and needs a suspicion timeout to find us gone. Tell it on the reply's stream,
            # after the reply; to one that already knows, it is a small redundant frame.
            horizon = now - self._push_pull_period()
            for a, t in self._answered_joins.items():
                v = self._members.get(a)
                if t >= horizon and v is not None and v & 3 <= _SUSPECT:
                    self._send_leave_state(a)
            self._out.append(SetTimer(_LEAVE, now + self.config.leave_timeout))
            if self.config.gossip_interval <= 0:
                self._out.append(SetTimer(_GOSSIP, now))
        return self._flush()

    def _check_running(self, now: float) -> None:
        self._now = max(self._now, now)
        if not self._started:
            raise UsageError("call start() first")
        if self._leaving:
            raise UsageError("this member has left")

    # -- events ----------------------------------------------------------------------------------

    def handle(self, event: Event, now: float) -> list[Effect]:
        if self._left:
            return []
        self._now = now
        if isinstance(event, PacketReceived):
            self.stats["packets_received"] += 1
            data = event.data
            # The datagrams of a cluster at rest: a bare ping or ack (no updates to apply).
            tag = data[0] if data else -1
            if tag in (_T_PING, _T_ACK):
                seq = decode_bare_seq(data)
                if seq is not None:
                    self._heard.add(event.src)
                    if tag == _T_PING:
                        self._send_head(event.src, encode_seq_header(_T_ACK, seq))
                    else:
                        self._on_ack(event.src, seq)
                    return self._flush()
            self._on_payload(event.src, data, now, stream=False)
        elif isinstance(event, StreamReceived):
            self.stats["streams_received"] += 1
            self._on_payload(event.src, event.data, now, stream=True)
        elif isinstance(event, TimerFired):
            self._on_timer(event.key, now)
        elif isinstance(event, PeerUnreachable):
            # A failed push-pull costs nothing: the next period (or rejoin) tries again.
            self.stats["unreachable"] += 1
        return self._flush()

    def _on_payload(self, src: Addr, data: bytes, now: float, *, stream: bool) -> None:
        # Full state never travels as a datagram, and only full state travels as a stream.
        try:
            if stream:
                pp = decode_push_pull(data, self.config.max_meta_bytes, self.config.max_members)
            else:
                msg, raw = decode_datagram(data, self.config.max_meta_bytes)
        except UnknownTagError:
            self.stats["unknown_tags"] += 1
            return
        except DecodeError:
            self.stats["decode_errors"] += 1
            return
        if stream:
            self._on_push_pull(src, pp, now)
            return
        self._heard.add(src)  # a well-formed datagram: its sender is up
        members, me = self._members, self.addr
        for r in raw:
            kind, addr, inc, _ = r
            v = members.get(addr)
            # Most piggybacked updates are news we already have: skip those without building
            # anything (the same outcome as _apply's precedence checks, which return early).
            if v is None:
                if kind != _ALIVE:
                    continue
            elif addr != me and (
                inc <= v >> 2 if kind == _ALIVE else v & 3 >= _DEAD or inc < v >> 2
            ):
                continue
            self._apply(raw_to_update(r), now)
        if isinstance(msg, Ping):
            self._send_head(src, encode_seq_header(_T_ACK, msg.seq))
        elif isinstance(msg, Ack):
            self._on_ack(src, msg.seq)
        elif isinstance(msg, PingReq):
            self._on_ping_req(src, msg, now)
        elif isinstance(msg, Nack):
            p = self._probe
            if p is not None and p.seq == msg.seq and src in p.helpers:
                p.nacks += 1
                if p.nacks == p.expected_nacks and self.config.suspect_on_nacks:
                    # Every helper has tried the target and heard nothing: the probe has failed
                    # and waiting out the period adds nothing. Suspect now (the nacks land
                    # about 0.1 period before the period's end on the LAN preset).
                    self._finish_probe(now)
            else:
                self.stats["stray_acks"] += 1

    def _on_timer(self, key: object, now: float) -> None:
        if key == _PROBE:
            self._probe_tick(now)
        elif key == _GOSSIP:
            self._gossip_tick(now)
        elif key == _PUSH_PULL:
            self._push_pull_tick(now)
        elif key == _REJOIN:
            self._rejoin_tick(now)
        elif key == _LEAVE:
            if self._leaving and not self._left:
                self._finish_leave(disseminated=False)
        elif isinstance(key, tuple) and len(key) == 2:
            kind, arg = key
            if kind == "probe_timeout" and isinstance(arg, int):
                self._probe_timeout(arg)
            elif kind == "relay" and isinstance(arg, int):
                self._relay_timer(arg)
            elif kind == "suspect" and isinstance(arg, str):
                self._suspicion_expired(arg, now)

    # -- failure detection -------------------------------------------------------------------

    def _scale(self, t: float) -> float:
        return t * (self._awareness + 1)

    def _adjust_awareness(self, delta: int) -> None:
        top = self.config.awareness_max_multiplier - 1
        self._awareness = min(top, max(0, self._awareness + delta))

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFFFFFFFF
        return self._seq

    def _probe_tick(self, now: float) -> None:
        self._finish_probe(now)
        self._out.append(SetTimer(_PROBE, now + self._scale(self.config.probe_interval)))
        heard, self._heard = self._heard, set()
        target = self._next_target(now)
        if target is None:
            return
        v = self._members[target]
        if (
            heard
            and self.config.skip_heard_probes
            and target in heard
            and v & 3 == _ALIVE
            and not self._awareness
        ):
            # A datagram from the target arrived during our last period: it was alive then,
            # so a ping now adds nothing; its turn in the round-robin is spent without one
            # (saving a ping and an ack). A dead member sends nothing, so no member skips it
            # for more than one period. A suspect is still pinged: the ping carries the
            # suspicion for it to refute (buddy system). So is everyone while our local health
            # score is above 0: then the probe tells us about ourselves (Lifeguard lowers the
            # score only on answered probes; skipping them kept survivors of a mass failure
            # probing slowly for longer).
            self.stats["probes_skipped"] += 1
            return
        seq = self._next_seq()
        self._probe = _Probe(seq, target)
        self.stats["probes"] += 1
        first: list[bytes] = []
        if self.config.buddy_system and v & 3 == _SUSPECT:
            # Buddy system: tell the suspect directly, so it can refute at once.
            first.append(
                encode_update(Update(UpdateKind.SUSPECT, target, v >> 2, origin=self.addr))
            )
        head = encode_seq_header(_T_PING, seq)
        self._send_head(target, head, first=first, skip=target if first else None)
        self._out.append(
            SetTimer(("probe_timeout", seq), now + self._scale(self.config.probe_timeout))
        )

    def _next_target(self, now: float) -> Addr | None:
        for _ in range(2):  # at most one new pass per tick
            live, i = self._live, self._probe_index
            if i < len(live):
                j = self._rng.randrange(i, len(live))
                live[i], live[j] = live[j], live[i]
                self._probe_index = i + 1
                return live[i]
            self._reset_probe_list(now)
        return None

    def _reset_probe_list(self, now: float) -> None:
        """End of a pass: reap expired tombstones; the next pass shuffles as it goes."""
        self._reap(now)
        self._probe_index = 0

    def _reap(self, now: float) -> None:
        ttl = self.config.gossip_to_the_dead_time
        gone = [
            a
            for a, v in self._members.items()
            if v & 3 >= _DEAD and a != self.addr and now - self._since.get(a, 0.0) >= ttl
        ]
        for a in gone:
            del self._members[a]
            self._metas.pop(a, None)
            self._since.pop(a, None)
            self._dead_recent.pop(a, None)
            self._out.append(Emit(MemberReaped(a, at=now)))

    def _on_ack(self, src: Addr, seq: int) -> None:
        # Sequence numbers are small and guessable: an ack counts only from whom we asked (the
        # target of our probe or a helper relaying for it; the target of a relayed ping), so
        # a stray or misdirected ack cannot keep a dead member alive.
        p = self._probe
        if p is not None and p.seq == seq and (src == p.target or src in p.helpers):
            if not p.acked:
                p.acked = True
                self._adjust_awareness(-1)
                self._out.append(CancelTimer(("probe_timeout", seq)))
            return
        relay = self._relays.get(seq)
        if relay is not None and src == relay.target:
            del self._relays[seq]
            self._out.append(CancelTimer(("relay", seq)))
            self._send_head(relay.requester, encode_seq_header(_T_ACK, relay.seq))
            return
        self.stats["stray_acks"] += 1

    def _probe_timeout(self, seq: int) -> None:
        p = self._probe
        if p is None or p.seq != seq or p.acked:
            return
        helpers = self._pick_live(self.config.indirect_checks, exclude=p.target)
        for h in helpers:
            self._send(h, PingReq(seq, p.target, self.config.nacks))
        p.helpers = tuple(helpers)
        self.stats["ping_reqs_sent"] += len(helpers)
        p.expected_nacks = len(helpers) if self.config.nacks else 0

    def _finish_probe(self, now: float) -> None:
        p, self._probe = self._probe, None
        if p is None or p.acked:
            return
        self.stats["probes_failed"] += 1
        # Lifeguard: missing nacks point at us being slow; without nack peers, any failed probe.
        if p.expected_nacks > 0:
            self._adjust_awareness(p.expected_nacks - min(p.nacks, p.expected_nacks))
        else:
            self._adjust_awareness(1)
        v = self._members.get(p.target)
        if v is not None and v & 3 <= _SUSPECT:
            self._apply(Update(UpdateKind.SUSPECT, p.target, v >> 2, origin=self.addr), now)

    def _on_ping_req(self, src: Addr, msg: PingReq, now: float) -> None:
        if msg.target == self.addr:
            self._send(src, Ack(msg.seq))
            return
        seq = self._next_seq()
        expires = now + self.config.probe_timeout
        self._relays[seq] = _Relay(src, msg.seq, msg.nack, expires, msg.target)
        self._send(msg.target, Ping(seq))
        # The nack is due before the requester's indirect phase ends (Lifeguard: a nack that
        # arrives after it counts as missing and raises a healthy requester's local health).
        at = now + self.config.nack_timeout() if msg.nack else expires
        self._out.append(SetTimer(("relay", seq), at))

    def _relay_timer(self, seq: int) -> None:
        relay = self._relays.get(seq)
        if relay is None:
            return
        if relay.nack:
            relay.nack = False
            self._send(relay.requester, Nack(relay.seq))
            if relay.expires > self._now:  # still relay a late ack until the probe timeout
                self._out.append(SetTimer(("relay", seq), relay.expires))
                return
        del self._relays[seq]

    def _suspicion_expired(self, addr: Addr, now: float) -> None:
        s = self._suspicions.pop(addr, None)
        v = self._members.get(addr)
        if s is None or v is None or v & 3 != _SUSPECT:
            return
        self._apply(Update(UpdateKind.DEAD, addr, v >> 2, origin=self.addr), now)

    # -- applying updates (SWIM's precedence rules) -----------------------------------------------

    def _apply(self, u: Update, now: float) -> None:
        if u.addr == self.addr:
            self._about_me(u)
            return
        v = self._members.get(u.addr)
        if u.kind == UpdateKind.ALIVE:
            self._apply_alive(u, v, now)
            return
        if v is None or u.incarnation < v >> 2:
            return
        if v & 3 >= _DEAD:
            return
        if u.kind == UpdateKind.SUSPECT:
            self._apply_suspect(u, v, now)
            return
        # DEAD or LEFT
        self._cancel_suspicion(u.addr)
        left = u.kind == UpdateKind.LEFT
        self._members[u.addr] = u.incarnation << 2 | (_LEFT if left else _DEAD)
        self._set_since(u.addr, now)
        self._live_remove(u.addr)
        if not left:
            self._dead_recent[u.addr] = now
        self._broadcast(u)
        if left:
            self._out.append(Emit(MemberLeft(u.addr, u.incarnation, at=now)))
        else:
            self._out.append(Emit(MemberDead(u.addr, u.incarnation, u.origin, at=now)))

    def _apply_alive(self, u: Update, v: int | None, now: float) -> None:
        if v is None:
            if len(self._members) >= self.config.max_members:
                # Full (of real members, or of fakes a key holder listed: those are never
                # acked, so they die and are reaped, and room comes back).
                self.stats["members_refused"] += 1
                return
            a = sys.intern(u.addr)  # one string object per address, however many nodes hold it
            self._members[a] = u.incarnation << 2 | _ALIVE
            self._set_meta(a, u.meta)
            self._set_since(a, now)
            self._live_insert(a)
            self._broadcast(u)
            self._out.append(Emit(MemberJoined(u.addr, u.incarnation, u.meta, at=now)))
            return
        if u.incarnation <= v >> 2:
            return
        old_state, old_meta = v & 3, self._metas.get(u.addr, b"")
        self._cancel_suspicion(u.addr)
        self._members[u.addr] = u.incarnation << 2 | _ALIVE
        self._set_meta(u.addr, u.meta)
        if old_state != _ALIVE:
            self._set_since(u.addr, now)
        self._broadcast(u)
        if old_state >= _DEAD:
            self._dead_recent.pop(u.addr, None)
            self._live_insert(u.addr)
            self._out.append(Emit(MemberJoined(u.addr, u.incarnation, u.meta, at=now)))
            return
        if old_state == _SUSPECT:
            self._out.append(Emit(MemberRecovered(u.addr, u.incarnation, at=now)))
        if old_meta != u.meta:
            self._out.append(Emit(MemberUpdated(u.addr, u.incarnation, u.meta, at=now)))

    def _apply_suspect(self, u: Update, v: int, now: float) -> None:
        if v & 3 == _SUSPECT:
            s = self._suspicions.get(u.addr)
            if s is not None and s.confirm(u.origin):
                # An independent confirmation: shorten the timeout and pass the news on.
                self._out.append(SetTimer(("suspect", u.addr), s.deadline))
                self._broadcast(u)
            return
        n = self.num_members()
        cfg = self.config
        lo = cfg.suspicion_min(n)
        if cfg.dynamic_suspicion:
            hi, k = cfg.suspicion_max(n), cfg.expected_confirmations(n)
        else:
            hi, k = lo, 0
        s = Suspicion(u.origin, u.incarnation, k=k, min_s=lo, max_s=hi, start=now)
        self._suspicions[u.addr] = s
        self._members[u.addr] = u.incarnation << 2 | _SUSPECT
        self._set_since(u.addr, now)
        self._out.append(SetTimer(("suspect", u.addr), s.deadline))
        self._broadcast(u)
        self._out.append(Emit(MemberSuspected(u.addr, u.incarnation, u.origin, at=now)))

    def _set_meta(self, a: Addr, meta: bytes) -> None:
        if meta:
            self._metas[a] = meta
        else:
            self._metas.pop(a, None)

    def _set_since(self, a: Addr, t: float) -> None:
        if t:
            self._since[a] = t
        else:
            self._since.pop(a, None)

    def _about_me(self, u: Update) -> None:
        if self._leaving:
            return  # a leaving member lets "left"/"dead" stand
        if u.kind == UpdateKind.ALIVE:
            stale_claim = u.incarnation > self._inc or (
                u.incarnation == self._inc and u.meta != self._meta
            )
            if stale_claim:
                self._refute(u.incarnation)
            return
        if u.incarnation >= self._inc:
            self._refute(u.incarnation)

    def _refute(self, accused: int) -> None:
        self.stats["refutations"] += 1
        self._inc = max(self._inc, accused) + 1
        self._members[self.addr] = self._inc << 2 | (self._members[self.addr] & 3)
        # Lifeguard: being suspected is a sign that we may be the slow one.
        self._adjust_awareness(1)
        self._broadcast(Update(UpdateKind.ALIVE, self.addr, self._inc, meta=self._meta))

    def _cancel_suspicion(self, addr: Addr) -> None:
        if self._suspicions.pop(addr, None) is not None:
            self._out.append(CancelTimer(("suspect", addr)))

    # -- dissemination ---------------------------------------------------------------------------

    def _broadcast(self, u: Update) -> None:
        self._queue.queue(u.addr, encode_update(u))
        # Dedicated gossip runs only while there is something to say: an idle member's only
        # timers are its probes (fewer wake-ups for the driver).
        if not self._gossip_armed and self.config.gossip_interval > 0 and self._started:
            self._gossip_armed = True
            now = self._now
            at = now if self.config.eager_gossip else self._next_gossip_tick(now)
            self._out.append(SetTimer(_GOSSIP, at))

    def _next_gossip_tick(self, now: float) -> float:
        """The first tick after ``now`` of a free-running ticker (``phase + k * interval``), as
        memberlist's gossip ticker: news waits U(0, interval) for the next round, not a whole
        interval (which would add interval / 2 per hop of the epidemic)."""
        iv = self.config.gossip_interval
        at = self._gossip_phase + (math.floor((now - self._gossip_phase) / iv) + 1) * iv
        return at + iv if at - now < 1e-9 else at

    def _send(self, dst: Addr, msg: Ping | PingReq | Ack | Nack | Gossip) -> None:
        self._send_head(dst, encode_header(msg), updates=not isinstance(msg, Nack))

    def _send_head(
        self,
        dst: Addr,
        head: bytes,
        first: list[bytes] | None = None,
        skip: Addr | None = None,
        *,
        updates: bool = True,
    ) -> None:
        """Send the encoded header ``head``, then ``first``, then queued updates that fit (none
        when ``updates`` is false: a nack carries none)."""
        if first:
            parts = [head, *first]
            used = sum(map(len, parts))
        else:
            parts = [head]
            used = len(head)
        if updates and len(self._queue):  # an empty queue has nothing to add
            parts += self._queue.take(self.config.packet_budget - used, self._limit(), skip=skip)
            self._check_leave_done()
        data = b"".join(parts) if len(parts) > 1 else head
        stats = self.stats
        stats["packets_sent"] += 1
        stats["bytes_sent"] += len(data)
        self._out.append(SendPacket(dst, data))

    def _limit(self) -> int:
        n = len(self._live) + 1  # num_members(), inlined: this runs for every packet sent
        if n != self._limit_n:  # the formula (a log10) only when the member count changed
            self._limit_n, self._limit_v = n, self.config.retransmit_limit(n)
        return self._limit_v

    def _gossip_tick(self, now: float) -> None:
        self._gossip_armed = False
        if not len(self._queue):
            return  # nothing to say: idle members send only probes
        targets = self._gossip_targets(now)
        head = encode_header(Gossip())
        for t in targets:
            parts = self._queue.take(self.config.packet_budget - len(head), self._limit())
            if not parts:
                break
            self._send_raw(t, head + b"".join(parts))
        self._check_leave_done()
        if len(self._queue) and self.config.gossip_interval > 0 and not self._left:
            self._gossip_armed = True
            self._out.append(SetTimer(_GOSSIP, self._next_gossip_tick(now)))

    def _gossip_targets(self, now: float) -> list[Addr]:
        """``gossip_nodes`` members drawn uniformly from the live ones and those dead for less
        than ``gossip_to_the_dead_time``: a falsely declared member still hears of it, refutes."""
        ttl = self.config.gossip_to_the_dead_time
        while self._dead_recent:
            a, t = next(iter(self._dead_recent.items()))
            if now - t < ttl:
                break
            del self._dead_recent[a]
        k = self.config.gossip_nodes
        n_live, n_dead = len(self._live), len(self._dead_recent)
        if not n_dead:
            return self._pick_live(k)
        dead = list(self._dead_recent)
        picks = self._rng.sample(range(n_live + n_dead), min(k, n_live + n_dead))
        return [self._live[i] if i < n_live else dead[i - n_live] for i in picks]

    def _send_raw(self, dst: Addr, data: bytes) -> None:
        self.stats["packets_sent"] += 1
        self.stats["bytes_sent"] += len(data)
        self._out.append(SendPacket(dst, data))

    def _check_leave_done(self) -> None:
        if self._leaving and not self._left and self._queue.watch_finished:
            self._finish_leave(disseminated=True)

    def _finish_leave(self, *, disseminated: bool) -> None:
        self._left = True
        for key in (_PROBE, _GOSSIP, _PUSH_PULL, _REJOIN, _LEAVE):
            self._out.append(CancelTimer(key))
        self._out.append(Emit(LeaveCompleted(disseminated, at=self._now)))

    # -- anti-entropy: push-pull, join, rejoin ---------------------------------------------------

    def _push_pull_period(self) -> float:
        return self.config.push_pull_period(self.num_members())

    def _push_pull_tick(self, now: float) -> None:
        self._out.append(SetTimer(_PUSH_PULL, now + self._push_pull_period()))
        if self._leaving:
            return
        peers = self._pick_live(1)
        if peers:
            self._send_push_pull(peers[0], join=False, reply=False)

    def _arm_rejoin(self, now: float) -> None:
        """The next seed re-contact: soon while we know no live member, else the slow rejoin.

        memberlist leaves retrying to the application, and Serf/Consul's ``retry_join`` retries
        every 30 s until the first join succeeds, so a member started before its seed waits up
        to that long. Here a member alone retries after ``join_retry_interval``, doubling with
        jitter (members started together do not retry in step) up to ``join_retry_max``.
        """
        if not self._seeds:
            return
        cfg = self.config
        if not self._live and cfg.join_retry_interval > 0:
            n = self._join_attempts
            self._join_attempts = n + 1
            wait = min(cfg.join_retry_max, cfg.join_retry_interval * 2.0 ** min(n, 30))
            if n:  # the first retry is not drawn, so members that join at once draw nothing
                wait = min(cfg.join_retry_max, wait * self._rng.uniform(0.8, 1.2))
            self._out.append(SetTimer(_REJOIN, now + wait))
        elif cfg.rejoin_interval > 0:
            self._join_attempts = 0
            self._out.append(SetTimer(_REJOIN, now + cfg.rejoin_interval))

    def _rejoin_tick(self, now: float) -> None:
        self._arm_rejoin(now)
        for s in self._seeds:
            v = self._members.get(s)
            if v is None or v & 3 > _SUSPECT:
                self._send_push_pull(s, join=True, reply=False)

    def _send_push_pull(self, dst: Addr, *, join: bool, reply: bool) -> None:
        # Column-wise at C speed: a full state is thousands of entries.
        addrs = list(self._members)
        packed = self._members.values()
        incs = map(operator.rshift, packed, repeat(2))
        states = map(operator.and_, packed, repeat(3))
        metas = map(self._metas.get, addrs, repeat(b"")) if self._metas else repeat(b"")
        entries = list(zip(addrs, incs, states, metas, strict=False))
        data = encode_push_pull_state(join, reply, entries)
        if len(data) > self.config.max_push_pull_bytes:
            data = self._cut_push_pull(join, reply, entries)
        self.stats["streams_sent"] += 1
        self.stats["bytes_sent"] += len(data)
        self._out.append(SendStream(dst, data))

    def _send_leave_state(self, dst: Addr) -> None:
        """A push-pull listing only ourselves, left; marked a reply, so it gets no answer."""
        me = (self.addr, self._inc, _LEFT, self._meta)
        data = encode_push_pull_state(False, True, [me])
        self.stats["streams_sent"] += 1
        self.stats["bytes_sent"] += len(data)
        self._out.append(SendStream(dst, data))

    def _answered_join(self, src: Addr, now: float) -> None:
        """Remember that ``src`` joined through us (for a leave). Those answered more than a
        push-pull period ago are forgotten (their reply is taken as read), which bounds the
        list by the joins of one period."""
        joins = self._answered_joins
        horizon = now - self._push_pull_period()
        while joins:
            first = next(iter(joins))
            if joins[first] >= horizon:
                break
            del joins[first]
        joins.pop(src, None)
        joins[src] = now

    def _cut_push_pull(self, join: bool, reply: bool, entries: list[Any]) -> bytes:
        """A push-pull that fits ``max_push_pull_bytes`` (a frame over the transport's cap would
        never leave): ourselves first, then live members, then tombstones, as many as fit.
        The periodic exchanges with other members carry the rest."""
        self.stats["push_pull_truncated"] += 1
        me, rest = entries[0], entries[1:]
        rest.sort(key=operator.itemgetter(2))  # alive, suspect, dead, left
        budget = self.config.max_push_pull_bytes - 16  # tag, flags, array header
        kept = []
        for entry in (me, *rest):
            size = len(encode_push_pull_state(False, False, [entry])) - 4  # one entry's bytes
            if size > budget:
                break
            budget -= size
            kept.append(entry)
        return encode_push_pull_state(join, reply, kept)

    def _on_push_pull(self, src: Addr, msg: PushPull, now: float) -> None:
        if msg.join and not msg.reply and not self._leaving:
            self._answered_join(src, now)  # the reply goes out below
        members, me = self._members, self.addr
        for addr, inc, state, meta in msg.members:
            v = members.get(addr)
            # Skip what _apply would ignore (see _on_payload); remote dead counts as suspect.
            if v is None:
                if state != _ALIVE:
                    continue
            elif addr != me and (
                inc <= v >> 2 if state == _ALIVE else v & 3 >= _DEAD or inc < v >> 2
            ):
                continue
            st = MemberState(state)
            if st == MemberState.ALIVE:
                u = Update(UpdateKind.ALIVE, addr, inc, meta=meta)
            elif st == MemberState.LEFT:
                u = Update(UpdateKind.LEFT, addr, inc)
            else:
                # As memberlist does: a remote "dead" only makes us suspect, so one node's stale
                # view cannot kill members we hear from; they get the chance to refute.
                u = Update(UpdateKind.SUSPECT, addr, inc, origin=src)
            self._apply(u, now)
        if not msg.reply:
            if not self._leaving:
                self._send_push_pull(src, join=False, reply=True)
        elif self.config.close_push_pull_links:
            # The exchange is over (memberlist closes its push-pull connection too): a link left
            # open would carry keepalives both ways for good, one per member ever exchanged with.
            self._out.append(CloseStream(src))

    # -- random picks ------------------------------------------------------------------------------

    def _live_insert(self, a: Addr) -> None:
        """A newcomer (or a member back from the dead) joins the rest of this pass, which is
        drawn from at random: a random place in the probe order (SWIM section 4.3)."""
        self._live.append(a)

    def _live_remove(self, a: Addr) -> None:
        """Remove ``a`` (it is live: callers checked its state), keeping the probe order."""
        i = self._live.index(a)
        del self._live[i]
        if i < self._probe_index:
            self._probe_index -= 1
        if not self._live and self._started and not self._leaving:
            # Left alone (the others died or a partition cut us off): retry the seeds soon.
            self._join_attempts = 0
            self._arm_rejoin(self._now)

    def _pick_live(self, k: int, exclude: Addr | None = None) -> list[Addr]:
        if k <= 0 or not self._live:
            return []
        extra = 0
        if exclude is not None and exclude != self.addr:
            v = self._members.get(exclude)
            extra = 1 if v is not None and v & 3 <= _SUSPECT else 0
        picked = self._rng.sample(self._live, min(len(self._live), k + extra))
        return [a for a in picked if a != exclude][:k]

    def _flush(self) -> list[Effect]:
        out, self._out = self._out, []
        return out
