# Images for docker-compose.yml. Not used by the tests or CI (they run the embedded stack without Docker).
# The default (last) stage, `worker`: the `pipeline` and `llm` Temporal workers (`npm run worker`), the
# product code only (src/). The `provision` stage adds the dev tooling (dev/) for `npm run cli -- stack up`.
FROM node:20-bookworm-slim AS base

WORKDIR /app

# Dependencies first, so a source change does not reinstall them.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

COPY tsconfig.json ./
COPY src ./src

# One-shot provisioning (search attributes, table, bucket) through the dev CLI's `stack up`.
FROM base AS provision
COPY dev ./dev
CMD ["npm", "run", "cli", "--", "stack", "up"]

# Configuration comes from the environment (src/config.ts); see docker-compose.yml.
FROM base AS worker
CMD ["npm", "run", "worker"]
