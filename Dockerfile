# truto-state as a container: `truto-state serve` on 0.0.0.0:8080, state under /data.
#
#   docker build -t truto-state .
#   docker run -p 8080:8080 -v truto-state-data:/data \
#     -e TRUTO_WEBHOOK_SECRETS=… -e TRUTO_STATE_API_TOKEN=… truto-state
#
# The store is chosen with TRUTO_STATE_STORE (sqlite by default; postgres, kurrentdb): see
# docs/deployment.md and docker-compose.yml.

FROM node:20-slim AS build
WORKDIR /app
# better-sqlite3 is a native addon: the toolchain lets it compile when no prebuilt binary fits.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# Scripts off: the package's own `prepare` (the build) needs the sources, copied below. Then the
# one native module that needs its install script gets it.
RUN npm ci --ignore-scripts && npm rebuild better-sqlite3
COPY . .
# The image serves every store, so the PostgreSQL and KurrentDB drivers (optional peers for
# library users, dev dependencies of the repository) become dependencies of the image's copy of
# package.json before the dev dependencies are dropped; versions stay those of the lockfile.
RUN npm run build \
  && node -e "const fs = require('node:fs'); \
    const p = JSON.parse(fs.readFileSync('package.json', 'utf8')); \
    for (const [name, range] of Object.entries(p.peerDependencies)) { \
      p.dependencies[name] = range; delete p.devDependencies[name]; } \
    fs.writeFileSync('package.json', JSON.stringify(p, null, 2));" \
  && npm install --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:20-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    TRUTO_STATE_DB=/data/truto-state.db
WORKDIR /app
# Same base image as the build stage, so the compiled addon matches this Node and glibc.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080
# `serve` refuses a non-loopback HOST without TRUTO_STATE_API_TOKEN: pass one at run time.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=5 \
  CMD node -e "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["serve"]
