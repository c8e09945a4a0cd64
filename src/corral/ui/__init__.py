"""What every daemon's web UI shares: `static.ui_routes` serves a UI's files, and `assets/` holds the
stylesheet (`base.css`) and the vanilla-JS module (`core.js`) each UI builds on. No build step: the files
are served as they are written.
"""
