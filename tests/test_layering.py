"""Pure modules stay pure (STYLE.md 1-2): deciding code performs no I/O and reads no clock, randomness or
process state, because time, randomness and ids are arguments. Checked on the source's AST, so a module that
is never imported by any test is still checked, and a future module is checked the day it appears.

Layers: `corral.core` imports no other corral package; `corral.protocol` imports only `corral.core` and
itself.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"

# Packages under src/corral whose modules are all pure but the named edges (I/O shells, HTTP APIs, stores,
# files). A new module is pure until it is listed here as an edge.
PURE_PACKAGES: dict[str, frozenset[str]] = {
    "core/": frozenset(),
    "protocol/": frozenset(),
    "frameworks/": frozenset({"driver.py", "leadership.py", "bursts.py"}),
    "coord/": frozenset({"local.py", "zookeeper.py", "zk_store.py"}),
    "master/": frozenset({"http_api.py", "runtime.py", "agent_files.py", "operator_api.py", "election.py"}),
    "agent/": frozenset(
        {
            "http_api.py",
            "runtime.py",
            "master_link.py",
            "executor/",
            "checkpoint.py",
            "fetcher.py",
            "files.py",
            "health_probes.py",
            "isolation/cgroups.py",
            "isolation/disk.py",
            "isolation/isolator.py",
            "isolation/posix.py",
            "resources.py",
            "sandbox.py",
        }
    ),
    "marathon/": frozenset(
        {
            "http_api.py",
            "runtime.py",
            "store.py",
            "events.py",
            "service.py",
            "service_ports.py",
            "probes.py",
            "ui/",
        }
    ),
    "chronos/": frozenset({"http_api.py", "runtime.py", "store.py", "ui/"}),
    "lb/": frozenset({"haproxy.py", "runtime.py"}),
    "dns/": frozenset({"server.py", "runtime.py"}),
    "security/": frozenset({"http_auth.py"}),
}
FORBIDDEN = frozenset(
    {
        "asyncio",
        "socket",
        "subprocess",
        "threading",
        "os",
        "time",
        "random",
        "uuid",
        "httpx",
        "starlette",
        "uvicorn",
        "kazoo",
    }
)
# package -> the corral packages it may import
LAYERS = {
    "corral.core": ("corral.core",),
    "corral.protocol": ("corral.core", "corral.protocol"),
}


def is_edge(relative: Path, edges: frozenset[str]) -> bool:
    return relative.as_posix() in edges or any(
        edge.endswith("/") and relative.as_posix().startswith(edge) for edge in edges
    )


def pure_modules() -> list[Path]:
    found: list[Path] = []
    for package, edges in PURE_PACKAGES.items():
        root = SRC / "corral" / package
        if root.is_dir():
            found += [p for p in sorted(root.rglob("*.py")) if not is_edge(p.relative_to(root), edges)]
    return found


def module_name(path: Path, src: Path = SRC) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_type_checking_block(node: ast.AST) -> bool:
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(path: Path, src: Path = SRC) -> list[tuple[int, str]]:
    """(line, absolute module name) for every import executed at run time, relative ones resolved.

    Imports under `if TYPE_CHECKING:` are skipped: naming `random.Random` as the type of an injected rng
    does no I/O.
    """
    name = module_name(path, src)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    tree = ast.parse(path.read_text(), str(path))
    typing_only = {
        id(n) for block in ast.walk(tree) if is_type_checking_block(block) for n in ast.walk(block)
    }
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
            if node.module:
                found.append((node.lineno, f"{base}.{node.module}" if base else node.module))
            else:  # `from . import json`: the names are modules
                found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def where(path: Path, line: int) -> str:
    return f"{path.relative_to(SRC)}:{line}"


MODULES = pure_modules()


def test_the_pure_modules_are_found() -> None:
    names = {module_name(p) for p in MODULES}
    assert {"corral.core.resources", "corral.protocol.scheduler"} <= names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_pure_modules_do_no_io(path: Path) -> None:
    bad = [f"{where(path, line)} imports {m}" for line, m in imports(path) if m.split(".")[0] in FORBIDDEN]
    why = "pure code takes time, randomness and ids as arguments (type-only imports go under TYPE_CHECKING)"
    assert not bad, why + ":\n" + "\n".join(bad)


@pytest.mark.parametrize(
    "path",
    [p for p in MODULES if module_name(p).startswith(tuple(LAYERS))],
    ids=lambda p: str(p.relative_to(SRC)),
)
def test_layers_import_only_downwards(path: Path) -> None:
    layer = next(layer for layer in LAYERS if module_name(path).startswith(layer))
    allowed = LAYERS[layer]
    bad = [
        f"{where(path, line)} imports {m}"
        for line, m in imports(path)
        if (m + ".").startswith("corral.") and not (m + ".").startswith(tuple(a + "." for a in allowed))
    ]
    assert not bad, f"{layer} may import only {', '.join(allowed)}:\n" + "\n".join(bad)


def test_the_checker_resolves_relative_imports(tmp_path: Path) -> None:
    # A relative import of a foreign package must not slip through the layer check.
    module = tmp_path / "corral" / "protocol" / "x.py"
    module.parent.mkdir(parents=True)
    module.write_text(
        "import os.path\n"
        "from . import json\n"
        "from ..master import core\n"
        "from .. import agent, core\n"
        "if TYPE_CHECKING:\n"
        "    import random\n"
    )
    assert imports(module, tmp_path) == [
        (1, "os.path"),
        (2, "corral.protocol.json"),
        (3, "corral.master"),
        (4, "corral.agent"),
        (4, "corral.core"),
    ]
