"""Network edges shared by the daemons: serving ASGI apps, HTTP clients, the master<->agent link."""
