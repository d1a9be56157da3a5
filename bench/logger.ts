// Imported first by the call benchmark's processes, so the framework logger exists before any
// module that logs is evaluated (ESM evaluates imports in order). Errors only: a benchmark's
// stdout is its report.
import { initializeLogger } from '@livekit/agents';

initializeLogger({ pretty: false, level: 'error' });
