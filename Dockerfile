# Same Node.js major (24) as the project's pinned `node` devDependency, so tests run what ships.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the image already has Node 24; the `node` devDependency is for machines without it.
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --ignore-scripts

# The runtime: distroless Node.js 24 (Debian 12), the same major as the build stage. No shell, no
# package manager, no npm: only node, its libraries and CA certificates.
FROM gcr.io/distroless/nodejs24-debian12:nonroot
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The base image's unprivileged `nonroot` user (uid and gid 65532); files stay root-owned and read-only.
USER 65532:65532
EXPOSE 8443 9090
ENTRYPOINT ["/nodejs/bin/node", "dist/main.js"]
CMD ["serve", "--config", "/etc/pullgate/config/config.yaml"]
