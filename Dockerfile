# syntax=docker/dockerfile:1
# The mtc-batch image: one image for every step; the Kubernetes manifests in cron/k8s pick
# the subcommand with `command: ["mtc-batch", "<step>", ...]`.

# Build: compile the TypeScript with the dev dependencies, then install the production ones
# alone. better-sqlite3 is a native module built by its install script (package.json's
# allowScripts lets npm 11 run it), from a prebuilt binary or with python3, make and g++.
FROM node:20-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# The lock file alone first, so the dependency layer is reused while only the code changes.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# Fail the build here, not at the first run, if the native SQLite driver did not build.
RUN npm run build \
 && npm ci --omit=dev --no-audit --no-fund \
 && node -e "new (require('better-sqlite3'))(':memory:').prepare('select 1').get()"

# Runtime: only what `npm pack` would ship (package.json "files": bin, dist/src, dist/bundle,
# the snapshot's entry point, sql) and the
# production node_modules. Same Debian release as the build stage, so the native module links.
FROM node:20-bookworm-slim AS runtime
# Containers have no terminal: say so rather than rely on auto-detection.
ENV MTC_BATCH_LOG_FORMAT=json
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/bundle ./dist/bundle
COPY --from=build /app/dist/snapshot/entry.cjs ./dist/snapshot/entry.cjs
COPY --from=build /app/bin ./bin
COPY --from=build /app/sql ./sql
COPY --from=build /app/build/snapshot.mjs /tmp/snapshot.mjs
# On the PATH as `mtc-batch`, as after `npm install -g`; the launcher resolves the link,
# so it still finds /app/dist. The start-up snapshot is made here, with this stage's own
# node binary (the launcher uses it only with the node it was made by), and checked.
RUN chmod 0755 /app/bin/mtc-batch \
 && ln -s /app/bin/mtc-batch /usr/local/bin/mtc-batch \
 && node /tmp/snapshot.mjs /app \
 && rm /tmp/snapshot.mjs
# The image's `node` user, by number: Kubernetes can only enforce runAsNonRoot on a numeric
# user. The app writes nothing in the image (give SQLite a mounted volume if you use it).
USER 1000:1000
ENTRYPOINT ["mtc-batch"]
CMD ["--help"]
