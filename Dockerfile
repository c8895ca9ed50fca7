# One image for the worker, the gateway and the API; the command picks the role. Built in two stages:
# the build compiles to dist/ (JavaScript, the workflow bundle prebuilt); the runtime holds dist/ and
# the production dependencies only, and runs node directly (no npm, no tsx, no dev tooling).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
ENV LOG_LEVEL=info \
    WORKFLOW_BUNDLE_PATH=/app/dist/workflow-bundle.js
CMD ["node", "dist/apps/worker/main.js"]
