"""streamproc: a Redis Streams pipeline engine."""
