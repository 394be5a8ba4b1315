#!/usr/bin/env -S node --max-semi-space-size=2
// Installed entry point of the backend CLI (built by `npm run build`).
require("../dist/backend/cli.js").main(process.argv);
