#!/usr/bin/env node
// Installed entry point of the backend CLI (built by `npm run build`).
require("../dist/backend/cli.js").main(process.argv);
