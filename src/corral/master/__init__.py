"""The Mesos-compatible master: pure state machine and allocator, HTTP edge, runtime shell."""
