# kubeadm2ha's worker (and CLI) as an image, for docker-compose.yml: `docker compose up -d` builds it.
# The workflows are bundled at build time (npm run build), so a worker starts without webpack.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY bin bin
COPY src src
COPY scripts/bundle-workflows.ts scripts/
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
# openssh-client: ssh config parsing and known_hosts tools the operator may mount; the SSH itself is ssh2 (Node).
RUN apt-get update -q && apt-get install -y -q --no-install-recommends openssh-client ca-certificates \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/bin bin
COPY --from=build /app/dist dist
ENV NODE_ENV=production
USER node
ENTRYPOINT ["node", "/app/bin/kubeadm2ha.js"]
CMD ["worker"]
