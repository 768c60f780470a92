"""How a node's three cores are wired together (sans-I/O): SWIM, HyParView and the SyncEngine.

Theory of operation
-------------------
Two membership layers, each doing what it is good at:

- **SWIM** (Das et al. 2002 + Lifeguard) keeps the *full* member list with failure detection
  (probes, suspicion, refutation) and the node names (member metadata). Its view is complete
  but it carries no data.
- **HyParView** (Leitão et al. 2007) keeps a small *active view* of symmetric links (log n + c)
  and a passive reserve. The active view is the sync engine's neighbour set: deltas travel on
  a connected, low-degree overlay, so the cost of a write grows with the degree, not the
  cluster size.

The bridge forwards HyParView's ``NeighborUp``/``NeighborDown`` to the engine
(:meth:`SyncEngine.on_overlay`) and SWIM's ``MemberDead``/``MemberLeft`` to HyParView
(:meth:`HyParView.peer_failed`: a neighbour SWIM declared dead is dropped and replaced at once,
rather than when its TCP link times out). And SWIM's member list is the overlay's **safety net**
(:meth:`check_overlay`): a node whose active view is empty, with no request or join out, while
SWIM knows live members, rejoins HyParView through those members. HyParView alone only rejoins
through its configured seeds, which may all be dead after a mass failure (the simulator showed a
survivor isolated for 72 rounds and counting). Likewise a node whose HyParView views (active
and passive together) stay short of full for ``island_patience`` checks, while SWIM knows more
live members than they hold, is in an island: nodes restarted together that joined through each
other answer each other's JOINs, link, and know no one else; their shuffles stay inside the
island, so HyParView never leaves it (the 1,000-node chaos simulation kept a pair, and in
another history ten nodes with full active views, apart for the 120 s it waited). It rejoins
through SWIM's members too: a JOIN is always accepted, so the island gets links out. In a
cluster large enough to fill the passive view, views short of full for that long are rare
otherwise; an island larger than the two views can hold goes undetected.

Every method returns ``(core, effects)`` pairs: the driver (the anyio :class:`~sync.Node`, or a
simulator test) carries out each core's effects as that core's.
"""

from __future__ import annotations

import random
from typing import Any

from gossip._events import Effect, ProtocolCore
from gossip.hyparview import HyParView, NeighborDown, NeighborUp
from gossip.swim import MemberDead, MemberLeft, SwimCore
from sync._engine import SyncEngine

__all__ = ["CoreEffects", "OverlayBridge"]

CoreEffects = list[tuple[ProtocolCore, list[Effect]]]


class OverlayBridge:
    """Routes one node's membership notifications between its cores (see the module doc)."""

    def __init__(
        self,
        swim: SwimCore,
        hyparview: HyParView,
        engine: SyncEngine,
        *,
        rng: random.Random,
    ) -> None:
        self.swim = swim
        self.hyparview = hyparview
        self.engine = engine
        self._rng = rng
        self.patience = 2  # checks an unanswered JOIN of HyParView's own is waited for
        # checks the views may stay short of full, while SWIM knows more live members, before
        # the node is taken for an island (shuffles refill them in a few rounds otherwise)
        self.island_patience = 5
        self._isolated_checks = 0
        self.overlay_rejoins = 0  # times the safety net rejoined HyParView through SWIM
        self.failures_forwarded = 0  # SWIM deaths and leaves handed to HyParView

    def on_event(self, event: Any, now: float) -> CoreEffects:
        """Feed one emitted event of any of the three cores; returns what must be carried out."""
        if isinstance(event, NeighborUp | NeighborDown):
            return [(self.engine, self.engine.on_overlay(event, now))]
        if isinstance(event, MemberDead | MemberLeft) and event.addr != self.swim.addr:
            self.failures_forwarded += 1
            return [(self.hyparview, self.hyparview.peer_failed(event.addr, now))]
        return []

    def check_overlay(self, now: float) -> CoreEffects:
        """The safety net, called periodically: with no active neighbour and no NEIGHBOR request
        out, while SWIM knows live members, rejoin HyParView through them (they replace the seeds
        HyParView falls back on, which may be dead). A JOIN already out is given
        ``patience`` checks to be answered first (its contact may be a dead seed, retried for
        ever). Linked, but with the views short of full while SWIM knows more live members
        (an island), for more than ``island_patience`` checks in a row: rejoin too."""
        hv = self.hyparview
        if self.swim.left or hv.pending:
            self._isolated_checks = 0
            return []  # leaving, or already asking for a link
        live = [a for a in self.swim.alive() if a != self.swim.addr]
        if hv.active_view:
            # linked: only an island is a reason to rejoin (see the module doc)
            known = len(hv.active_view | hv.passive_view)
            full = hv.config.active_size + hv.config.passive_size
            if known >= full or len(live) <= known:
                self._isolated_checks = 0
                return []
            self._isolated_checks += 1
            if self._isolated_checks <= self.island_patience:
                return []  # shuffles refill the views after a join or failures: give them time
        else:
            self._isolated_checks += 1
            if hv.is_joining and self._isolated_checks <= self.patience:
                return []
        if not live:
            return []  # alone, or nobody alive is known: HyParView's own seed retry goes on
        self._rng.shuffle(live)
        self._isolated_checks = 0
        self.overlay_rejoins += 1
        return [(hv, hv.join(live[:8], now))]

    def needs_seeds(self) -> bool:
        """True while SWIM knows no live member but itself (no seed answered yet)."""
        return not any(a != self.swim.addr for a in self.swim.alive())
