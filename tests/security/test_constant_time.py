"""Secrets are compared in constant time (CVE-2018-8023: Mesos compared JWT signatures with `==`).

A lint over the source: no `==`/`!=` has an operand whose name says it holds a secret, a password, a
signature or a token; such comparisons go through `hmac.compare_digest`. (Membership tests are left alone:
Marathon's `secrets` are names of secret references, looked up, not compared.)"""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "corral"
SECRET_NAME = re.compile(r"(secret|password|passwd|signature|token)s?$", re.IGNORECASE)


def _names(node: ast.expr) -> list[str]:
    match node:
        case ast.Name(id=name):
            return [name]
        case ast.Attribute(attr=attr):
            return [attr]
        case ast.Subscript(value=value):
            return _names(value)
        case _:
            return []


def secret_comparisons(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        if not any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops):
            continue
        if any(isinstance(c, ast.Constant) and c.value is None for c in node.comparators):
            continue  # `token == None`-style presence checks compare nothing secret
        for operand in (node.left, *node.comparators):
            if any(SECRET_NAME.search(name) for name in _names(operand)):
                found.append((node.lineno, ast.unparse(node)))
                break
    return found


def test_the_lint_catches_a_plain_comparison_of_secrets() -> None:
    tree = ast.parse("ok = given_secret == known.secret\nfine = hmac.compare_digest(a, b)\n")
    assert secret_comparisons(tree) == [(1, "given_secret == known.secret")]


def test_no_secret_is_compared_with_equality_anywhere_in_corral() -> None:
    offenders = [
        f"{path.relative_to(SRC)}:{line}: {text}"
        for path in sorted(SRC.rglob("*.py"))
        for line, text in secret_comparisons(ast.parse(path.read_text(), str(path)))
    ]
    assert not offenders, "\n".join(offenders)
