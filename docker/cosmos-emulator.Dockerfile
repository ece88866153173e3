# The Cosmos DB emulator of the tests (@vercel/cosmosdb-server, locked in package-lock.json and
# patched by patches/) for docker-compose.yml: HTTPS on port 8081 with its self-signed
# certificate, any base64 key, data kept in memory (gone when the container stops).
# Build from the repository root: docker build -f docker/cosmos-emulator.Dockerfile .
FROM node:20-slim

WORKDIR /opt/cosmos-emulator
COPY package.json package-lock.json ./
# `npm ci` runs patch-package (postinstall), which applies patches/.
COPY patches/ patches/
RUN npm ci --no-audit --no-fund \
    && npm cache clean --force
COPY scripts/cosmos-emulator.js scripts/

USER node
EXPOSE 8081

# Any HTTPS answer means the server listens (the certificate is self-signed and expired).
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["node", "-e", "require('https').get({host: '127.0.0.1', port: 8081, path: '/', rejectUnauthorized: false}, () => process.exit(0)).on('error', () => process.exit(1))"]

CMD ["node", "scripts/cosmos-emulator.js", "8081", "0.0.0.0"]
