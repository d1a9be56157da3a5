/**
 * What tools may ask of the call they run in. The call lifecycle implements this interface; tools
 * only know the interface, so the flow of imports stays one-way (lifecycle → agents → tools).
 */
import type { voice } from '@livekit/agents';
import type { CallOutcome } from '../src/store/types.js';

export interface EndCallRequest {
  outcome: Extract<CallOutcome, { kind: 'completed' }> | Extract<CallOutcome, { kind: 'voicemail' }>;
  /** Spoken before the line is closed. */
  goodbye: string;
  /** The speech that carried the tool call: the goodbye waits for it to finish. */
  after?: voice.SpeechHandle;
}

export interface CallControl {
  /** Ends the call: the goodbye plays out, then the room is deleted (once). */
  endCall(request: EndCallRequest): void;
  /** Records a tool call for the call record (the lifecycle also sees framework events). */
  readonly callId: string;
}
