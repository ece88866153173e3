#!/usr/bin/env node
// The Azure Cosmos DB emulator for the tests: @vercel/cosmosdb-server (data in memory, HTTPS with
// its self-signed certificate, any base64 key) with HTTP keep-alive, which its own CLI leaves off
// (every request would then open a new TLS connection, ~50 ms each).
//
//   node scripts/cosmos-emulator.js [PORT] [HOST] [--exit-when-stdin-closes]
//
// PORT 0 (the default) takes any free port; HOST defaults to 127.0.0.1. Once listening it prints
// one line, "Ready to accept HTTPS connections at HOST:PORT", with the actual port. It exits on
// SIGTERM or SIGINT and, with --exit-when-stdin-closes, when its parent (the tests) goes away.
"use strict";

const { createHttpsServer } = require("@vercel/cosmosdb-server");

const USAGE = "usage: node scripts/cosmos-emulator.js [PORT] [HOST] [--exit-when-stdin-closes]";
// Long enough that an idle client connection is never closed under a test session's feet.
const KEEP_ALIVE_MS = 60 * 60 * 1000;

const flags = process.argv.slice(2).filter((arg) => arg.startsWith("--"));
const [portArg = "0", host = "127.0.0.1"] = process.argv.slice(2).filter((arg) => !arg.startsWith("--"));
const port = Number(portArg);
if (!Number.isInteger(port) || port < 0 || port > 65535 || flags.some((f) => f !== "--exit-when-stdin-closes")) {
  console.error(USAGE);
  process.exit(2);
}

const server = createHttpsServer({ keepAlive: true });
server.keepAliveTimeout = KEEP_ALIVE_MS;
// Node counts an idle keep-alive connection against headersTimeout too, so it must be longer.
server.headersTimeout = KEEP_ALIVE_MS + 1000;
server.requestTimeout = 0;

server.on("error", (error) => {
  console.error(`cosmos-emulator: ${error.message}`);
  process.exit(1);
});

server.listen(port, host, () => {
  const address = server.address();
  const shown = address.family === "IPv6" ? `[${address.address}]` : address.address;
  console.log(`Ready to accept HTTPS connections at ${shown}:${address.port}`);
});

// The data lives in memory only: there is nothing to flush, so stopping is immediate.
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => process.exit(0));
}
if (flags.includes("--exit-when-stdin-closes")) {
  process.stdin.on("end", () => process.exit(0));
  process.stdin.on("error", () => process.exit(0));
  process.stdin.resume();
}
