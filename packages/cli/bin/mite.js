#!/usr/bin/env -S node --max-semi-space-size=8
// Runs the TypeScript sources directly: registers tsx, then loads the command's entry point.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
