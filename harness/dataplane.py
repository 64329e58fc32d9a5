"""The Linux data plane: one network namespace per router, a veth pair per link, kernel SRv6.

    plane = LinuxDataPlane(topology, run)      # run: linuxnet.new_run_id()
    plane.build()                              # namespaces, veths (tbf), addresses, IGP, SIDs
    plane.apply_config("DC1", device_config)   # SR policies -> seg6 encap routes (or KernelError)
    plane.poll_links()                         # a veth set down (a cut) -> IGP reconverges
    plane.teardown()                           # every namespace (and so every veth) removed

What the tables hold is computed in harness/dataplane_routes.py; here it is written with
pyroute2, diffing against what was written before. All netlink work is under one lock (the run
loop reconverges while routers' NETCONF commits apply policies from other threads).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

from pyroute2 import NetNS, netns
from pyroute2.netlink.exceptions import NetlinkError

from controller.desired import DeviceConfig
from controller.topology import Topology
from harness.dataplane_routes import (
    MAX_SEGMENTS,
    NsState,
    Plan,
    Port,
    Route,
    Rule,
    desired,
    loopback4,
)
from harness.linuxnet import (
    ROUTER_SYSCTLS,
    in_namespace,
    ns_socket,
    remove_namespaces,
    set_sysctls,
    state_path,
    write_state,
)

IFA_F_NODAD = 0x02
NUD_PERMANENT = 0x80
IFF_UP = 0x1
NETLINK_ROUTE = 0
RTMGRP_LINK = 0x1
DEFAULT_RATE_SCALE = 1e-3
"""tbf shapes each veth at the link's capacity times this (10 Gbit/s -> 10 Mbit/s): the real
capacities are beyond what veths on a small machine forward."""
MIN_SHAPED_BPS = 1_000_000
"""Branch lines (4-200 Mbit/s) would shrink to a few kbit/s, which a stream of probes fills."""


class KernelError(Exception):
    """The kernel (or the SRH format) refused a router's config; the message says what."""


@dataclass
class LinkCounters:
    link_id: str
    oper_up: bool
    rx_bytes: int = 0
    tx_bytes: int = 0
    rx_packets: int = 0
    tx_packets: int = 0
    rx_errors: int = 0
    tx_errors: int = 0
    rx_dropped: int = 0
    tx_dropped: int = 0


def route_line(route: Route) -> str:
    """`ip route replace` arguments for `route` (iproute2 takes segments in travel order)."""
    head = f"route replace {route.dst} table {route.table}"
    if route.hops:
        if len(route.hops) == 1:
            return f"{head} via {route.hops[0][0]} dev {route.hops[0][1]}"
        return head + "".join(f" nexthop via {g} dev {i}" for g, i in route.hops)
    if route.seg6local:
        attrs = " ".join(f"{k} {v}" for k, v in route.seg6local)
        return f"{head} encap seg6local {attrs} dev {route.ifname}"
    return f"{head} encap seg6 mode encap segs {','.join(route.segs)} dev {route.ifname}"


def ip_batch(namespace: str, lines: list[str], *, force: bool = False) -> str | None:
    """Run `ip -n NAMESPACE -batch -`; None when every line worked, else the kernel's words."""
    cmd = ["ip", "-n", namespace, *(["-force"] if force else []), "-batch", "-"]
    done = subprocess.run(cmd, input="\n".join(lines) + "\n", capture_output=True, text=True,
                          check=False)  # fmt: skip
    if done.returncode == 0:
        return None
    words = [ln.strip() for ln in done.stderr.splitlines() if ln.strip()]
    failed = next((ln for ln in words if ln.startswith("Command failed")), "")
    try:
        bad = lines[int(failed.rsplit(":", 1)[1]) - 1]
    except (IndexError, ValueError):
        bad = "?"
    reason = next((ln for ln in words if ln.startswith("Error")), words[0] if words else "failed")
    return f"{reason} (ip {bad})"


P = ParamSpec("P")
R = TypeVar("R")


def on_worker(
    method: Callable[Concatenate[LinuxDataPlane, P], R],
) -> Callable[Concatenate[LinuxDataPlane, P], R]:
    """Run the method on the data plane's own thread: pyroute2's synchronous calls run an
    asyncio loop of their own and fail inside a running one (the routers' loop calls us)."""

    def run(self: LinuxDataPlane, /, *args: P.args, **kwargs: P.kwargs) -> R:
        if threading.get_ident() == self.worker_ident:
            return method(self, *args, **kwargs)
        return self.worker.submit(method, self, *args, **kwargs).result()

    run.__doc__ = method.__doc__
    return run


def shaped_bps(port: Port, rate_scale: float = DEFAULT_RATE_SCALE) -> int:
    """The tbf rate of `port`: its link's capacity times rate_scale, MIN_SHAPED_BPS at least."""
    capacity = port.out.capacity_bps if port.out is not None else 1e9
    return max(int(capacity * rate_scale), MIN_SHAPED_BPS)


def parse_proc_net_dev(text: str) -> dict[str, tuple[int, ...]]:
    """ifname -> (rx_bytes, tx_bytes, rx_packets, tx_packets, rx_errors, tx_errors,
    rx_dropped, tx_dropped) from /proc/net/dev."""
    out: dict[str, tuple[int, ...]] = {}
    for line in text.splitlines()[2:]:
        name, _, rest = line.partition(":")
        f = [int(x) for x in rest.split()]
        if len(f) >= 12:
            out[name.strip()] = (f[0], f[8], f[1], f[9], f[2], f[10], f[3], f[11])
    return out


def _family(f: int) -> int:
    return socket.AF_INET if f == 4 else socket.AF_INET6


class LinuxDataPlane:
    def __init__(
        self, topology: Topology, run: str, *, rate_scale: float = DEFAULT_RATE_SCALE
    ) -> None:
        self.topology = topology
        self.run = run
        self.plan = Plan(topology, run)
        self.rate_scale = rate_scale
        self.lock = threading.RLock()
        self.handles: dict[str, NetNS] = {}
        self.ifindex: dict[tuple[str, str], int] = {}
        self.applied: dict[str, NsState] = {}
        self.configs: dict[str, DeviceConfig] = {}
        self.up: set[str] = set()
        self.errors: list[str] = []
        self._proc_dev: dict[str, int] = {}
        """What the kernel refused while reconverging (the run logs and clears them)."""
        self.built = False
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dataplane")
        self.worker_ident = self.worker.submit(threading.get_ident).result()

    # -- build and teardown ----------------------------------------------------------------------
    @on_worker
    def build(self) -> float:
        """Create everything; seconds it took. On failure what was made is removed."""
        started = time.monotonic()
        self._write_state()
        try:
            for router in self.topology.nodes:
                self._router(router)
            for link_id in sorted(self.topology.physical_links()):
                self._link(link_id)
            self.built = True
            self.up = {lk.id for lk in self.topology.links if lk.is_up}
            for link_id in sorted(set(self.topology.physical_links()) - self.up):
                self.set_link(link_id, up=False)
            problems = self.reconcile()
            if problems:
                raise KernelError("; ".join(problems[:3]))
        except BaseException:
            self.teardown()
            raise
        return time.monotonic() - started

    def _write_state(self) -> None:
        links = {
            link_id: [[self.plan.ns[r], ifname] for r, ifname in self._ends(link_id)]
            for link_id in self.topology.physical_links()
        }
        write_state(self.run, {
            "run": self.run, "pid": os.getpid(), "topology": self.topology.name,
            "namespaces": self.plan.ns, "links": links,
            "ports": {r: {p.ifname: p.link_id for p in ps} for r, ps in self.plan.ports.items()},
        })  # fmt: skip

    def _router(self, router: str) -> None:
        name = self.plan.ns[router]
        netns.create(name)
        set_sysctls(name, ROUTER_SYSCTLS)
        ns = self.handles[router] = NetNS(name)
        lo = ns.link_lookup(ifname="lo")[0]
        self.ifindex[(router, "lo")] = lo
        ns.link("set", index=lo, state="up")
        node = self.topology.node(router)
        ns.addr("add", index=lo, address=node.loopback.split("/")[0], prefixlen=128,
                flags=IFA_F_NODAD)  # fmt: skip
        v4 = loopback4(self.topology, router)
        if v4 is not None:
            ns.addr("add", index=lo, address=v4, prefixlen=32)

    def _link(self, link_id: str) -> None:
        plan = self.plan
        first = next(p for ports in plan.ports.values() for p in ports if p.link_id == link_id)
        a, b = first, plan.port_of_link[(first.peer, link_id)]
        ns_a = self.handles[a.router]
        ns_a.link("add", ifname=a.ifname, kind="veth",
                  peer={"ifname": b.ifname, "net_ns_fd": plan.ns[b.router]})  # fmt: skip
        macs = {}
        for port in (a, b):
            ns = self.handles[port.router]
            index = ns.link_lookup(ifname=port.ifname)[0]
            self.ifindex[(port.router, port.ifname)] = index
            macs[port.router] = ns.get_links(index)[0].get_attr("IFLA_ADDRESS")
            ns.addr("add", index=index, address=port.addr, prefixlen=64, flags=IFA_F_NODAD)
            self._shape(port, "add", self.shaped_bps(port))
            ns.link("set", index=index, state="up")
        for port in (a, b):
            self.handles[port.router].neigh(
                "add", dst=port.peer_addr, lladdr=macs[port.peer],
                ifindex=self.ifindex[(port.router, port.ifname)], state=NUD_PERMANENT,
            )  # fmt: skip

    def shaped_bps(self, port: Port) -> int:
        return shaped_bps(port, self.rate_scale)

    def _shape(self, port: Port, how: str, rate: int) -> None:
        index = self.ifindex[(port.router, port.ifname)]
        self.handles[port.router].tc(how, "tbf", index, rate=f"{rate}bit",
                                     burst=max(rate // 80, 16_000), latency="100ms")  # fmt: skip

    @on_worker
    def set_capacity(self, router: str, link_id: str, factor: float) -> None:
        """Shape `router`'s end of `link_id` to `factor` of its rate (a brownout; 1 restores)."""
        with self.lock:
            port = self.plan.port_of_link[(router, link_id)]
            self._shape(port, "change", max(int(self.shaped_bps(port) * factor), 8_000))

    @on_worker
    def teardown(self) -> int:
        """Remove every namespace of this run (their veths go with them) and the state file."""
        with self.lock:
            for ns in self.handles.values():
                with contextlib.suppress(Exception):
                    ns.close()
            self.handles.clear()
            for fd in self._proc_dev.values():
                os.close(fd)
            self._proc_dev.clear()
            removed = remove_namespaces(list(self.plan.ns.values()))
            state_path(self.run).unlink(missing_ok=True)
            self.built = False
            return removed

    # -- links -----------------------------------------------------------------------------------
    @on_worker
    def set_link(self, link_id: str, *, up: bool, reconverge: bool = True) -> None:
        """Set both ends of physical link `link_id` up or down (a cut), then reconverge (or
        leave that to the next `poll_links`)."""
        with self.lock:
            for router, port in self._ends(link_id):
                index = self.ifindex[(router, port)]
                self.handles[router].link("set", index=index, state="up" if up else "down")
        if reconverge:
            self.poll_links()

    def _ends(self, link_id: str) -> list[tuple[str, str]]:
        first = next(p for ports in self.plan.ports.values() for p in ports if p.link_id == link_id)
        return [(first.router, first.ifname), (first.peer, first.peer_ifname)]

    @on_worker
    def link_states(self) -> dict[str, bool]:
        """Physical link id -> up (both ends administratively up)."""
        admin: dict[str, bool] = {}
        with self.lock:
            for router, ports in self.plan.ports.items():
                ns = self.handles[router]
                flags = {msg["index"]: msg["flags"] for msg in ns.get_links()}
                for port in ports:
                    ok = bool(flags.get(self.ifindex[(router, port.ifname)], 0) & IFF_UP)
                    admin[port.link_id] = admin.get(port.link_id, True) and ok
        return admin

    @on_worker
    def poll_links(self) -> list[str]:
        """Reconverge if a link changed state since last time; the links that changed."""
        with self.lock:
            now = {k for k, v in self.link_states().items() if v}
            changed = sorted(now ^ self.up)
            if changed:
                self.up = now
                self.errors += self.reconcile(touched=set(changed))
            return changed

    # -- routes ----------------------------------------------------------------------------------
    @on_worker
    def reconcile(self, *, touched: set[str] | None = None) -> list[str]:
        """Write every namespace's desired routes; `touched` links' routes are rewritten even
        if unchanged (the kernel flushed them when the veth went down). What the kernel
        refused, one line per router (the rest is written; retried at the next change)."""
        errors = []
        with self.lock:
            want = desired(self.plan, self.up, self.configs)
            for router, state in want.items():
                dirty = self._ifnames(router, touched or set())
                error = self._write(router, state, dirty, strict=False)
                if error is not None:
                    errors.append(f"{router}: {error}")
        return errors

    def _ifnames(self, router: str, links: set[str]) -> set[str]:
        return {p.ifname for p in self.plan.ports[router] if p.link_id in links}

    @on_worker
    def apply_config(self, router: str, config: DeviceConfig) -> None:
        """Install `config`'s SR policies in `router`'s namespace; KernelError if refused (what
        was written of it is undone first)."""
        with self.lock:
            previous = self.configs.get(router)
            state = desired(self.plan, self.up, {router: config}, [router])[router]
            for route in state.routes.values():
                if len(route.segs) > MAX_SEGMENTS:
                    raise KernelError(
                        f"{len(route.segs)} segments for {route.dst}: an SRH holds at most "
                        f"{MAX_SEGMENTS}"
                    )
            try:
                self._write(router, state, set())
            except (KernelError, NetlinkError) as error:
                back = {router: previous} if previous is not None else {}
                old = desired(self.plan, self.up, back, [router])[router]
                with contextlib.suppress(KernelError, NetlinkError):
                    self._write(router, old, set(), strict=False)
                raise KernelError(str(error)) from None
            if config.sr_policies or config.steering:
                self.configs[router] = config
            else:
                self.configs.pop(router, None)

    def _write(
        self, router: str, state: NsState, dirty: set[str], strict: bool = True
    ) -> str | None:
        """Routes with one `ip -batch` per namespace (pyroute2 takes milliseconds per route,
        minutes for a big network); rules, few, with pyroute2."""
        ns = self.handles[router]
        old = self.applied.setdefault(router, NsState())
        for rule in old.rules - state.rules:
            with contextlib.suppress(NetlinkError):
                ns.rule("del", **self._rule_args(rule))
            old.rules.discard(rule)
        for rule in state.rules - old.rules:
            ns.rule("add", **self._rule_args(rule))
            old.rules.add(rule)
        gone = [
            f"route del {old.routes[k].dst} table {k[0]}"
            for k in set(old.routes) - set(state.routes)
        ]
        if gone:
            ip_batch(self.plan.ns[router], gone, force=True)  # already flushed: fine
        changed = [
            r for k, r in state.routes.items() if old.routes.get(k) != r or (r.ifnames & dirty)
        ]
        lines = [route_line(r) for r in changed]
        if not lines:
            return None
        error = ip_batch(self.plan.ns[router], lines, force=not strict)
        for key in set(old.routes) - set(state.routes):
            del old.routes[key]
        if error is not None:
            old.routes.clear()  # unknown what stuck: rewrite everything next time
            if strict:
                raise KernelError(error)
            return error
        for route in changed:
            old.routes[route.key] = route
        return None

    def _rule_args(self, rule: Rule) -> dict[str, Any]:
        args: dict[str, Any] = {"family": _family(rule.family), "table": rule.table,
                                "priority": rule.priority}  # fmt: skip
        if rule.dscp is not None:
            args["tos"] = rule.dscp << 2
        return args

    # -- telemetry -------------------------------------------------------------------------------
    def counters(self, router: str) -> list[LinkCounters]:
        """The router's veths' kernel counters, one per link it transmits on: a read of the
        namespace's /proc/net/dev (a file opened inside it, read from any thread: no netlink,
        no worker; the routers' event loop calls this on every <get>)."""
        fd = self._proc_dev.get(router)
        if fd is None:
            fd = self._proc_dev[router] = in_namespace(
                self.plan.ns[router], lambda: os.open("/proc/thread-self/net/dev", os.O_RDONLY)
            )
        rows = parse_proc_net_dev(os.pread(fd, 1 << 20, 0).decode())
        out = []
        for port in self.plan.ports[router]:
            row = rows.get(port.ifname)
            if row is None or port.out is None:
                continue
            out.append(LinkCounters(port.link_id, port.link_id in self.up, *row))
        return out

    def watch(self) -> list[socket.socket]:
        """One netlink socket per namespace subscribed to link changes: readable when a veth
        goes down or up (then call `poll_links`)."""
        socks = []
        for name in self.plan.ns.values():
            sock = ns_socket(name, socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
            sock.bind((0, RTMGRP_LINK))
            sock.setblocking(False)
            socks.append(sock)
        return socks

    def close(self) -> int:
        """Tear down (namespaces removed) and stop the worker thread."""
        removed = self.teardown()
        self.worker.shutdown(wait=True)
        return removed
