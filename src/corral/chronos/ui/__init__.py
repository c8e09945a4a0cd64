"""The Chronos web UI: `index.html`, `chronos.js` and `chronos.css` (served as they are written, on top of
`corral.ui`'s shared assets), and `routes.py`, the server side they need beyond the REST API."""
