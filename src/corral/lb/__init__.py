"""The HAProxy bridge (`corral lb`): Marathon's apps and tasks in, a running HAProxy out (marathon.md e).

Flow: `runtime.py` reads `/v2/apps?embed=apps.tasks` at start, on every relevant `/v2/events` event and on a
periodic resync -> `model.decode_apps` -> `services.plan_services` (labels per service port, `labels.py`;
healthy tasks only) -> `render.render` (deterministic text) -> `haproxy.py` (`haproxy -c`, atomic write,
seamless reload) when the text changed. Pure modules decide; `runtime.py` and `haproxy.py` do the I/O.
"""
