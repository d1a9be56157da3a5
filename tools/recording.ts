/** `stop_recording`: a caller who objects to the recording goes on unrecorded, and the record says so. */
import { llm } from '@livekit/agents';
import type { SpokenLines } from '../src/business.js';
import type { CallControl, CallToolOptions } from './callContext.js';

export function stopRecordingTool(recording: NonNullable<CallControl['recording']>, stoppedLine: SpokenLines['recordingStopped']) {
  return llm.tool({
    description: 'Stop recording this call, when the caller objects to being recorded or asks not to be. The call goes on.',
    execute: async (_args, { ctx }: CallToolOptions) => {
      recording.stop();
      const u = ctx.userData;
      if (u.recording) Object.assign(u.recording, { state: 'stopped', stoppedAt: new Date().toISOString() });
      return `Recording stopped. Tell the caller, e.g. "${stoppedLine}", then carry on helping them.`;
    },
  });
}
