#!/usr/bin/env node
// Writes docs/config.md from the variable table in libs/config (build first: `npm run build`).
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { renderConfigDoc } = createRequire(import.meta.url)(join(root, 'libs/config/dist/index.js'));
writeFileSync(join(root, 'docs/config.md'), renderConfigDoc());
console.log('[herald] wrote docs/config.md');
