"""Running the gateway: ``protocol`` (uvicorn's httptools protocol sending a
response head with its body), ``limits`` (read deadlines and connections per
address), ``workers`` (one SO_REUSEPORT socket per worker process) and
``logs`` (the log configuration: the gateway's own lines in uvicorn's format,
an access log without full client addresses)."""
