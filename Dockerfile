# The managed plugin's root filesystem (npm run plugin:build turns it into the plugin; see
# README-plugin.md). config.json's entrypoint runs /usr/local/bin/node from the base image in
# /opt/logrelay; keep the two in step.
ARG BASE_IMAGE=node:20-bookworm-slim

FROM ${BASE_IMAGE} AS build
WORKDIR /opt/logrelay
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY proto ./proto
COPY src ./src
COPY sinks ./sinks
# Only the runtime is copied in and compiled (tsc skips tsconfig's missing test, bench and
# scripts), then the dev dependencies go.
RUN npx tsc -p . && npm prune --omit=dev --no-audit --no-fund

FROM ${BASE_IMAGE}
WORKDIR /opt/logrelay
COPY --from=build /opt/logrelay/package.json ./
COPY --from=build /opt/logrelay/node_modules ./node_modules
COPY --from=build /opt/logrelay/proto ./proto
COPY --from=build /opt/logrelay/dist/src ./dist/src
COPY --from=build /opt/logrelay/dist/sinks ./dist/sinks
# The propagatedMount and the socket directory; the daemon mounts over both.
RUN mkdir -p /var/lib/logrelay /run/docker/plugins
CMD ["/usr/local/bin/node", "dist/src/main.js"]
