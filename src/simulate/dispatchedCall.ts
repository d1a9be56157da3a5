/**
 * A dispatched outbound job, played in the sandbox as a simulated call: the same agent code, a
 * callee on an emulated G.711 line, and the SIP outcome the LiveKit API emulator plays for that
 * number. How the callee behaves follows from that outcome: a person answers and confirms, a
 * machine plays a greeting, a busy or unanswered line never gets a session.
 */
import type { OutboundJob } from '../call/jobMetadata.js';
import type { DialOutcome } from '../sandbox/livekitApi.js';
import { Scenario } from './scenario.js';

type Answer = Scenario['answer'];

function answerFor(outcome: DialOutcome): Answer {
  switch (outcome.kind) {
    case 'timeout':
      return 'no_answer';
    default:
      return outcome.kind;
  }
}

/** The scenario a dispatched job plays: a reminder call that the callee confirms. */
export function dispatchedScenario(job: OutboundJob, outcome: DialOutcome, now = new Date()): Scenario {
  const name = job.contact.name;
  const answer = answerFor(outcome);
  const aboutAppointment = job.contact.appointmentId !== undefined;
  const human = [
    { caller: 'Hello?' },
    {
      caller: `Yes, this is ${name}.`,
      model: aboutAppointment
        ? [
            { call: 'confirm_identity', args: {} },
            { call: 'find_appointments', args: {} },
            { say: `Thanks ${name}. I'm calling about your upcoming appointment. Will you be able to make it?` },
          ]
        : [{ call: 'confirm_identity', args: {} }, { say: `Thanks ${name}. This is a courtesy call from the clinic. Is there anything you need?` }],
    },
    {
      caller: aboutAppointment ? "Yes, I'll be there." : 'No, all good, thanks.',
      model: [
        ...(aboutAppointment ? [{ call: 'confirm_appointment', args: { appointmentId: job.contact.appointmentId } }] : []),
        { call: 'end_call', args: { goodbye: 'Great, thank you. Goodbye!', summary: aboutAppointment ? 'confirmed' : 'courtesy call' } },
      ],
    },
  ];
  const machine = [{ caller: `Hi, you've reached ${name}. Please leave a message after the tone.` }, { silence: true }];
  return Scenario.parse({
    name: `dispatched call to ${job.phoneNumber}`,
    direction: 'outbound',
    caller: job.phoneNumber,
    now: now.toISOString(),
    contact: { name },
    answer,
    steps: answer === 'answer' ? human : answer === 'voicemail' ? machine : [{ silence: true }],
    expect: { outcome: answer === 'answer' ? 'completed' : answer === 'voicemail' ? 'voicemail' : 'busy' },
  });
}
