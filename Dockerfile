# One image for every Construct process; the command picks which one runs:
#   gateway:     node --import tsx gateway/src/main.ts
#   a subgraph:  node --import tsx scripts/start-subgraph.ts <name>
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
# git: the deployments subgraph's local runtime clones the repositories it builds.
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/construct/runtime && chown -R node:node /var/lib/construct
ENV NODE_ENV=production \
    APOLLO_TELEMETRY_DISABLED=true \
    HOST=0.0.0.0
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json supergraph.yaml ./
COPY db ./db
COPY subgraphs ./subgraphs
COPY gateway ./gateway
COPY scripts ./scripts
COPY schema ./schema
USER node
EXPOSE 4000 4080
CMD ["node", "--import", "tsx", "gateway/src/main.ts"]
