# consent-gateway as a reverse proxy: docker run -e GATEWAY_SECRET_KEY=... -e GATEWAY_UPSTREAM=http://site:80 -p 8080:8080
FROM python:3.11-slim AS build
WORKDIR /src
# gcc compiles the rewriter's scanner (hatch_build.py); the final image needs no compiler.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
COPY hatch_build.py ./
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY banner ./banner
COPY static ./static
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[postgres]"

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 gateway \
    && mkdir -p /data && chown gateway /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels "consent-gateway[postgres]" && rm -rf /wheels
USER gateway
ENV GATEWAY_DATABASE_URL=sqlite:////data/consent.db
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
    CMD python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/_consent/healthz', timeout=2).status != 200)"
ENTRYPOINT ["consent-gateway"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
