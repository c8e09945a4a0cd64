"""Where a container's cgroups go and what is written into them, decided from the machine's cgroup mounts.

Each container gets one cgroup per hierarchy it needs (cgroup v1: cpu, cpuacct, memory, pids, wherever
each is mounted, co-mounted ones sharing a directory) or a single one (cgroup v2), at

    <mount>/<the agent's own cgroup>/<--cgroups_root>/<container id>

except the containers of a DEFAULT executor's tasks, which nest in their executor's (`<executor's container
id>/<container id>`): the executor's container holds the group's limits, its own resources plus its tasks'
(upstream's tasks of a task group share their executor's cgroups), and no process of its own.

Upstream puts `--cgroups_root` at the top of each hierarchy; Corral nests it under the cgroup the agent was
started in, which is the top when an operator starts it from a shell as root, and is the subtree systemd
delegates to a service (`Delegate=yes`), the only place a v2 service may create cgroups. It also keeps the
tasks inside whatever cgroup supervises the agent.

cgroup v2 needs the controllers enabled in `cgroup.subtree_control` on the way down (`delegate`), which the
kernel refuses while the agent's own cgroup holds processes, unless that cgroup is the root.

`ContainerSpec` is what the agent sends the task supervisor with a spawn: the cgroups to create, join and
destroy, and the argv prefix that puts the task in a PID namespace. Its JSON form is its wire format.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from corral.agent.isolation.isolators import needed_controllers
from corral.agent.isolation.limits import ContainerLimits, cpu_max, cpu_weight
from corral.protocol.json import JsonObject, JsonValue, Reader

UNSHARE_OPTIONS = ("--pid", "--fork", "--kill-child", "--mount-proc", "--")
_ESCAPE = re.compile(r"\\([0-7]{3})")  # mountinfo escapes space, tab, newline and backslash in octal


@dataclass(frozen=True, slots=True, kw_only=True)
class Hierarchy:
    version: int
    mount: str  # where it is mounted
    controllers: frozenset[str]
    own: str  # the agent's cgroup in it, relative to the mount ("/" at the top)

    @property
    def base(self) -> str:
        """The directory of the agent's own cgroup."""
        return posixpath.normpath(self.mount + "/" + self.own.lstrip("/"))


@dataclass(frozen=True, slots=True)
class CgroupLayout:
    hierarchies: tuple[Hierarchy, ...]

    def v2(self) -> Hierarchy | None:
        return next((h for h in self.hierarchies if h.version == 2), None)

    def with_v2_controllers(self, controllers: frozenset[str]) -> CgroupLayout:
        return CgroupLayout(
            tuple(replace(h, controllers=controllers) if h.version == 2 else h for h in self.hierarchies)
        )

    def choose(self, isolation: tuple[str, ...]) -> CgroupChoice | None:
        """cgroup v2 if it has every controller the isolators need, else v1 if it has them; else None."""
        v2 = self.v2()
        wanted = needed_controllers(isolation, 2)
        if v2 is not None and wanted and set(wanted) <= v2.controllers:
            return CgroupChoice(version=2, bases={c: v2.base for c in wanted})
        bases: dict[str, str] = {}
        for controller in needed_controllers(isolation, 1):
            hierarchy = next(
                (h for h in self.hierarchies if h.version == 1 and controller in h.controllers), None
            )
            if hierarchy is None:
                return None
            bases[controller] = hierarchy.base
        return CgroupChoice(version=1, bases=bases) if bases else None


@dataclass(frozen=True, slots=True, kw_only=True)
class CgroupChoice:
    """The cgroup version in use and, for each controller, the agent's own cgroup holding it."""

    version: int
    bases: Mapping[str, str]

    def describe(self) -> str:
        return f"cgroup v{self.version} under {posixpath.commonpath(list(self.bases.values()))}"


def _unescape(text: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), text)


def parse_layout(mountinfo: str, proc_cgroup: str) -> CgroupLayout:
    """The cgroup hierarchies of `/proc/self/mountinfo` and where `/proc/self/cgroup` puts this process in
    them. A v2 hierarchy's controllers are not in its mount options: see `with_v2_controllers`."""
    own_v1: dict[str, str] = {}
    own_v2: str | None = None
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        number, names, path = parts
        if number == "0" and not names:
            own_v2 = path
        for name in names.split(","):
            if name:
                own_v1[name] = path
    hierarchies: list[Hierarchy] = []
    for line in mountinfo.splitlines():
        # id parent major:minor root mount-point options [optional fields...] - fstype source super-options
        fields = line.split()
        try:
            dash = fields.index("-", 5)
            fstype, options = fields[dash + 1], fields[dash + 3]
        except (ValueError, IndexError):
            continue
        root, mount = _unescape(fields[3]), _unescape(fields[4])
        if fstype == "cgroup2" and own_v2 is not None:
            hierarchies.append(
                Hierarchy(version=2, mount=mount, controllers=frozenset(), own=_below(own_v2, root))
            )
        elif fstype == "cgroup":
            controllers = frozenset(o for o in options.split(",") if o in own_v1 and "=" not in o)
            if controllers:
                own = own_v1[next(iter(sorted(controllers)))]
                hierarchies.append(
                    Hierarchy(version=1, mount=mount, controllers=controllers, own=_below(own, root))
                )
    return CgroupLayout(tuple(hierarchies))


def _below(path: str, root: str) -> str:
    """`path` (as /proc/self/cgroup names it) relative to the mount's root (not "/" inside a cgroup
    namespace or a bind mount of a subtree)."""
    if root != "/" and (path == root or path.startswith(root.rstrip("/") + "/")):
        return path[len(root.rstrip("/")) :] or "/"
    return path


# ---------------------------------------------------------------- what the supervisor does per container


@dataclass(frozen=True, slots=True, kw_only=True)
class CgroupSpec:
    version: int
    controllers: Mapping[str, str]  # controller -> the container's cgroup holding it
    # (file, value) written once, as the cgroups are made: v2's "+cpu ..." in the cgroup.subtree_control of
    # each ancestor (and of a container that others nest in), v1's memory.use_hierarchy in such a container.
    delegate: tuple[tuple[str, str], ...] = ()
    writes: tuple[tuple[str, str], ...] = ()  # (file, value), in order, once the cgroups exist
    # The memory hard limit: written once the cgroups exist, and by a resize only when it raises the limit
    # (lowering it under the container's usage would have the OOM killer take the container).
    hard_limits: tuple[tuple[str, str], ...] = ()
    parent: Mapping[str, str] = field(default_factory=dict)  # the cgroups it nests in, which hold its limits

    @property
    def directories(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.controllers.values())))

    def directory(self, controller: str) -> str | None:
        return self.controllers.get(controller)

    def to_json(self) -> JsonObject:
        controllers: JsonObject = dict(self.controllers)
        out: JsonObject = {
            "version": self.version,
            "controllers": controllers,
            "delegate": [{"file": f, "value": v} for f, v in self.delegate],
            "writes": [{"file": f, "value": v} for f, v in self.writes],
            "hard_limits": [{"file": f, "value": v} for f, v in self.hard_limits],
        }
        if self.parent:
            out["parent"] = dict(self.parent)
        return out

    @staticmethod
    def from_json(reader: Reader) -> CgroupSpec:
        controllers = reader.child("controllers")
        parent = reader.opt_child("parent")
        return CgroupSpec(
            version=reader.integer("version"),
            controllers={name: controllers.text(name) for name in controllers.obj},
            delegate=tuple((w.text("file"), w.text("value")) for w in reader.objs("delegate")),
            writes=tuple((w.text("file"), w.text("value")) for w in reader.objs("writes")),
            hard_limits=tuple((w.text("file"), w.text("value")) for w in reader.objs("hard_limits")),
            parent={name: parent.text(name) for name in parent.obj} if parent is not None else {},
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerSpec:
    """How the supervisor isolates one container; the empty spec isolates nothing."""

    cgroups: CgroupSpec | None = None
    wrapper: tuple[str, ...] = field(default=())  # argv prefix: `unshare ... --` for namespaces/pid

    def to_json(self) -> JsonObject:
        out: JsonObject = {}
        if self.cgroups is not None:
            out["cgroups"] = self.cgroups.to_json()
        if self.wrapper:
            out["wrapper"] = list(self.wrapper)
        return out

    @staticmethod
    def from_json(value: JsonValue) -> ContainerSpec:
        if value is None:
            return ContainerSpec()
        reader = Reader(value, "isolation")
        cgroups = reader.opt_child("cgroups")
        return ContainerSpec(
            cgroups=CgroupSpec.from_json(cgroups) if cgroups is not None else None,
            wrapper=tuple(reader.strs("wrapper")),
        )


def plan_cgroups(
    choice: CgroupChoice,
    *,
    root: str,
    container_id: str,
    limits: ContainerLimits,
    parent: str | None = None,
    nests: bool = False,
) -> CgroupSpec:
    """The container's cgroups and their limit files (`limits.py` has the arithmetic). `parent`: the
    DEFAULT executor's container it nests in; `nests`: it is such a container, the others nest in it."""
    roots = {c: posixpath.join(base, root) for c, base in choice.bases.items()}
    holders = {c: posixpath.join(d, parent) for c, d in roots.items()} if parent else {}
    controllers = {c: posixpath.join(holders.get(c, d), container_id) for c, d in roots.items()}
    writes: list[tuple[str, str]] = []
    hard: list[tuple[str, str]] = []
    delegate: list[tuple[str, str]] = []
    cpu, memory = controllers.get("cpu"), controllers.get("memory")
    if choice.version == 1:
        if cpu is not None and limits.cpu_shares is not None:
            writes.append((f"{cpu}/cpu.shares", str(limits.cpu_shares)))
        if cpu is not None and limits.cfs_quota_us is not None:
            writes.append((f"{cpu}/cpu.cfs_period_us", "100000"))
            writes.append((f"{cpu}/cpu.cfs_quota_us", str(limits.cfs_quota_us)))
        if memory is not None and limits.mem_limit_bytes is not None:
            writes.append((f"{memory}/memory.soft_limit_in_bytes", str(limits.mem_limit_bytes)))
            hard.append((f"{memory}/memory.limit_in_bytes", str(limits.mem_limit_bytes)))
        if memory is not None and nests:
            # Children count against its limit (always so since Linux 5.11; settable only while it has none).
            delegate.append((f"{memory}/memory.use_hierarchy", "1"))
    else:
        enable = " ".join(f"+{c}" for c in sorted(controllers))
        base = next(iter(choice.bases.values()))
        delegate = [
            (f"{base}/cgroup.subtree_control", enable),
            (posixpath.join(base, root, "cgroup.subtree_control"), enable),
        ]
        if nests:
            delegate.append((posixpath.join(base, root, container_id, "cgroup.subtree_control"), enable))
        if cpu is not None and limits.cpu_shares is not None:
            writes.append((f"{cpu}/cpu.weight", str(cpu_weight(limits.cpu_shares))))
        if cpu is not None and limits.cfs_quota_us is not None:
            writes.append((f"{cpu}/cpu.max", cpu_max(limits.cfs_quota_us)))
        if memory is not None and limits.mem_limit_bytes is not None:
            hard.append((f"{memory}/memory.max", str(limits.mem_limit_bytes)))
        if memory is not None and not nests:
            # The OOM killer takes the whole container, as upstream destroys a container that hit its limit.
            # (Not a whole DEFAULT executor's: the task whose process it picked, which takes its group down.)
            writes.append((f"{memory}/memory.oom.group", "1"))
    return CgroupSpec(
        version=choice.version,
        controllers=controllers,
        delegate=tuple(delegate),
        writes=tuple(writes),
        hard_limits=tuple(hard),
        parent=holders,
    )
