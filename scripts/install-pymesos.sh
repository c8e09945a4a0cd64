#!/usr/bin/env bash
# pymesos 0.3.15 (the last release) depends on http-parser 0.9.0, whose C extension does not build on
# CPython 3.11. pymesos falls back to http-parser's pure-Python parser, so install pymesos without
# dependencies and copy only the pure-Python modules of the http-parser sdist into site-packages.
set -euo pipefail
python="$1"
if "$python" -c 'import http_parser.http, pymesos' 2>/dev/null; then exit 0; fi
"$python" -m pip install -q --no-deps pymesos==0.3.15
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$python" -m pip download -q --no-deps --no-binary :all: http-parser==0.9.0 -d "$tmp"
tar -xzf "$tmp"/http-parser-0.9.0.tar.gz -C "$tmp"
site="$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
mkdir -p "$site/http_parser"
for m in __init__ _socketio http pyparser reader util; do
  cp "$tmp/http-parser-0.9.0/http_parser/$m.py" "$site/http_parser/"
done
"$python" -c 'import http_parser.http, pymesos'
