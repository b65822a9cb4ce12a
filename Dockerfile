# Concord: one image for the API replicas and the workers (docs/deploy.md).
#   API:    docker run ... concord                     (node dist/main.js, PORT 4000, subgraphs 4001-4004)
#   worker: docker run ... concord node dist/subgraphs/orchestration/worker-main.js   (CONCORD_WORKER_PORT)
# Configuration is the environment only (docs/configuration.md); NODE_ENV=production refuses to
# start while a vendor, CONCORD_SUBGRAPH_SECRET or the JWT secret/JWKS is missing.

# --- build: the full dependency tree, TypeScript compiled to dist/ ------------------------------
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY . .
RUN npm run build

# --- runtime: production dependencies and dist/ only, as the unprivileged `node` user ----------
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=4000
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
EXPOSE 4000
# /health: the process serves (liveness). Orchestrators should probe /ready for traffic (docs/deploy.md).
# A worker answers on CONCORD_WORKER_PORT, the API on PORT.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.CONCORD_WORKER_PORT || process.env.PORT || 4000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/main.js"]
