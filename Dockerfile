# Worker image for docker-compose.yml: the `pipeline` and `llm` Temporal workers (`npm run worker`).
# Not used by the tests or CI (they run the embedded stack without Docker).
FROM node:20-bookworm-slim

WORKDIR /app

# Dependencies first, so a source change does not reinstall them.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

COPY tsconfig.json ./
COPY src ./src

# Configuration comes from the environment (src/config.ts); see docker-compose.yml.
CMD ["npm", "run", "worker"]
