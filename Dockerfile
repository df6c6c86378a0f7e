# syntax=docker/dockerfile:1
# Patient Access API. The service runs its TypeScript through tsx (a runtime dependency), so
# there is no compile step; the build stage typechecks instead, and the runtime stage copies
# its sources from there, so an image is only ever built from code that typechecks.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run typecheck

FROM node:20-bookworm-slim AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/app/.data \
    MIGRATE_ON_START=true \
    LOG_LEVEL=info
WORKDIR /app
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/package.json /app/package-lock.json /app/tsconfig.json ./
COPY --from=build /app/src ./src
COPY --from=build /app/migrations ./migrations
# DATA_DIR holds trial mode's generated keys (token signing, PHI encryption, audit signing) and
# the embedded database when DATABASE_URL is unset: the one place the service writes. Mount a
# volume here (keys lost with the container make encrypted SSNs unreadable); the code stays
# root-owned and read-only to the service.
RUN mkdir -p /app/.data && chown node:node /app/.data
USER node
EXPOSE 3000
# slim has no curl: node's fetch. 503 while the database is down or migrations are pending.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node directly, not npm or the tsx CLI in between, so SIGTERM reaches the server's graceful
# shutdown (stop accepting, finish in-flight requests, close the pool). A young generation of
# 64 MB a semi-space (V8's default: 16): at 50 concurrent slot searches the collector ran every
# ~30 ms, copying what in-flight requests held each time, 0.2 ms of CPU per search; a quarter as
# often at the cost of up to ~100 MB more memory (bench/lib/app-server.ts runs the bench's
# servers with the same flags).
CMD ["node", "--max-semi-space-size=64", "--import", "tsx", "src/server.ts"]
