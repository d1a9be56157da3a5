/**
 * Joining the call's room, or ending the call when the agent cannot.
 *
 * Without the agent in the room the caller is not hung up: LiveKit SIP keeps an inbound call
 * ringing while it waits for the agent, and a dialled callee hears silence. So a join that fails
 * (LiveKit unreachable; on an overloaded host the join outlived its handle, seen in bench:rooms)
 * ends the call the way every failure does: an error record and the room deleted, which hangs the
 * phone up.
 */
import { log } from '@livekit/agents';
import { type CallDeps, abortCall } from './callLifecycle.js';
import type { CallSetup } from './callSetup.js';

type Setup = Pick<CallSetup, 'callId' | 'room' | 'direction' | 'callerNumber' | 'campaignId' | 'contactId'>;

/** Runs `join`; true once in the room, false when it failed and the call was ended. */
export async function joinOrEnd(join: () => Promise<unknown>, setup: Setup, deps: Pick<CallDeps, 'store' | 'roomApi' | 'now'>): Promise<boolean> {
  try {
    await join();
    return true;
  } catch (err) {
    const message = (err as Error).message ?? String(err);
    log().error({ callId: setup.callId, room: setup.room, error: message }, 'the agent could not join the room; ending the call');
    await abortCall(setup, deps, `the agent could not join the room: ${message}`);
    return false;
  }
}
