#!/usr/bin/env node
// Entry point of the `spor` command: registers the TypeScript loader, then runs the CLI.
import { register } from 'tsx/esm/api'

register()
await import('../cli/spor.ts')
