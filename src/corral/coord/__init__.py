"""Coordination: the ports to the outside (`ports.py`: Store, LeaderElection and Lease, MasterDetector) and
their implementations, `local.py` (SQLite, one process, for `corral dev`) and `zookeeper.py`/`zk_store.py`
(kazoo, for production). `zk_url.py` parses Mesos' `zk://` and `file://` master URLs. Used only by runtimes
and the CLI; the deciding code never sees them.
"""
