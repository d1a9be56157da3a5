/** The framework's logger is global and must be initialised before agent code runs. */
import { initializeLogger } from '@livekit/agents';

initializeLogger({ pretty: false, level: process.env.LOG_LEVEL ?? 'error' });
