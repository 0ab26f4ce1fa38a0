"""Running the gateway: ``protocol`` (uvicorn's httptools protocol sending a
response head with its body), ``limits`` (read deadlines and connections per
address) and ``workers`` (one SO_REUSEPORT socket per
worker process)."""
