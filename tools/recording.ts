/** `stop_recording`: a caller who objects to the recording goes on unrecorded, and the record says so. */
import { llm } from '@livekit/agents';
import { RECORDING_STOPPED_LINE } from '../agents/prompts.js';
import type { CallControl, CallToolOptions } from './callContext.js';

export function stopRecordingTool(recording: NonNullable<CallControl['recording']>) {
  return llm.tool({
    description: 'Stop recording this call, when the caller objects to being recorded or asks not to be. The call goes on.',
    execute: async (_args, { ctx }: CallToolOptions) => {
      recording.stop();
      const u = ctx.userData;
      if (u.recording) Object.assign(u.recording, { state: 'stopped', stoppedAt: new Date().toISOString() });
      return `Recording stopped. Tell the caller, e.g. "${RECORDING_STOPPED_LINE}", then carry on helping them.`;
    },
  });
}
