"""The `corral` command: daemons (`dev`, `master`, `agent`) and client commands (`cluster`, `task`)."""
