"""Mesos-DNS for Corral: `task.framework.mesos` A records and `_task._tcp.framework.mesos` SRV records.

`records.py` turns the master's `/master/state` into a record table, `answer.py` answers one query from
it (both pure); `runtime.py` follows the master and `server.py` serves DNS over UDP and TCP.
"""
