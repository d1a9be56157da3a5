/**
 * What the call itself says, as opposed to what an agent says: the goodbye on each way out the
 * call controls, and the lines its policies speak. Kept together so they read as one voice and
 * are easy to find (they may move to agents/prompts.ts beside the agents' own lines).
 */

/** What the agent says on each way out it controls. */
export const GOODBYES = {
  max_duration: "I'm sorry, we've reached the time limit for this call. Please call back if you need anything else. Goodbye.",
  silence_timeout: "I haven't heard anything, so I'll end the call now. Please call back any time. Goodbye.",
  shutdown: "I'm sorry, I have to end the call now. Please call back in a moment. Goodbye.",
  error: "I'm sorry, our system is having trouble right now. Please call back a little later. Goodbye.",
} as const;
export const REPROMPT = 'Are you still there?';
export const LLM_RETRY_APOLOGY = "Sorry, I'm having a little trouble on my end. Could you say that again?";
