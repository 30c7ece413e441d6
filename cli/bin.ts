#!/usr/bin/env node
import { ExitCode } from '../exit-code.js';
import { processIo } from './cli-io.js';
import { main } from './main.js';

const io = processIo();
main(process.argv.slice(2), io).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    io.stderr(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = ExitCode.Internal;
  },
);
