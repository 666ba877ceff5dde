#!/usr/bin/env node
// The `ardesia` command: the compiled CLI (npm run build makes dist/).
import '../dist/src/cli/main.js';
