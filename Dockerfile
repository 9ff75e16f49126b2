# Same Node.js major (24) as the project's pinned `node` devDependency, so tests run what ships.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the image already has Node 24; the `node` devDependency is for machines without it.
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --ignore-scripts

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The unprivileged `node` user (uid 1000) of the base image; files stay root-owned and read-only.
USER 1000:1000
EXPOSE 8443 9090
ENTRYPOINT ["node", "dist/main.js"]
CMD ["serve", "--config", "/etc/pullgate/config/config.yaml"]
