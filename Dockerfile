# One image for every service and the gateway; SERVICE (build arg or environment) picks which
# one a container runs: users, catalog, inventory, orders, payments, shipping, notifications
# or gateway. docker-compose.yml runs each with its own command instead.
#
#   docker build -t shop-backend .
#   docker run --rm -e SERVICE=catalog -e POSTGRES_URL=... -e NATS_URL=... shop-backend

# Only the files `npm ci` reads, so the dependency layer is rebuilt only when they change.
FROM node:20-slim AS manifests
WORKDIR /src
COPY . .
RUN mkdir /manifests \
 && find . \( -name node_modules -o -name .git \) -prune -o \( -name package.json -o -name package-lock.json \) -print \
    | xargs -I{} cp --parents {} /manifests

FROM node:20-slim AS dependencies
WORKDIR /app
COPY --from=manifests /manifests ./
# Production dependencies only. No install scripts: nothing here needs them, and Prisma's would
# download native engines nothing uses (services apply their migrations themselves and query through pg).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=dependencies /app ./
COPY . .
USER node
ARG SERVICE=gateway
ENV SERVICE=${SERVICE}
EXPOSE 8080 50051-50057 9451-9457
CMD ["/bin/sh", "-c", "if [ \"$SERVICE\" = gateway ]; then entry=gateway/src/main.ts; else entry=services/$SERVICE/src/main.ts; fi; exec node --import tsx \"$entry\""]
