/**
 * A scripted callee for outbound calls: sipp (Debian's sip-tester) as a UAS on the outbound
 * trunk's address, answering one INVITE the way a real line does when it is busy (486), declines
 * (603), does not exist (404) or rings until the caller gives up (180, then CANCEL → 487).
 *
 * Answered calls and voicemail use a baresip phone instead, which can play and record audio.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManagedProcess } from './processes.js';

export type SippOutcome = 'busy' | 'rejected' | 'invalid' | 'no_answer';

const FINAL: Record<Exclude<SippOutcome, 'no_answer'>, string> = {
  busy: '486 Busy Here',
  rejected: '603 Decline',
  invalid: '404 Not Found',
};

const REPLY_HEADERS = `
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0`;

function reply(status: string): string {
  return `  <send>\n    <![CDATA[\n      SIP/2.0 ${status}${REPLY_HEADERS}\n    ]]>\n  </send>`;
}

/** The sipp scenario XML for one outcome. */
export function calleeScenario(outcome: SippOutcome): string {
  const steps =
    outcome === 'no_answer'
      ? [
          '  <recv request="INVITE" />',
          reply('100 Trying'),
          reply('180 Ringing'),
          // Ringing until the caller's ringing timeout: LiveKit SIP cancels the INVITE.
          '  <recv request="CANCEL" timeout="120000">\n    <action><ereg regexp="([0-9]+)" search_in="hdr" header="CSeq:" assign_to="cseqAll,cseqNumber" /></action>\n  </recv>',
          '  <Reference variables="cseqAll" />',
          reply('200 OK'),
          // The INVITE itself is answered 487 after a CANCEL (RFC 3261 §9.2).
          `  <send>\n    <![CDATA[\n      SIP/2.0 487 Request Terminated\n      [last_Via:]\n      [last_From:]\n      [last_To:];tag=[pid]SIPpTag01[call_number]\n      [last_Call-ID:]\n      CSeq: [$cseqNumber] INVITE\n      Content-Length: 0\n    ]]>\n  </send>`,
          // The 487 ends this callee's part: LiveKit SIP 1.0 was not seen to ACK it within 5 s.
        ]
      : ['  <recv request="INVITE" />', reply('100 Trying'), reply(FINAL[outcome]), '  <recv request="ACK" timeout="5000" />'];
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>\n<!DOCTYPE scenario SYSTEM "sipp.dtd">\n<scenario name="switchboard callee: ${outcome}">\n${steps.join('\n')}\n</scenario>\n`;
}

export class SippCallee {
  private constructor(readonly process: ManagedProcess) {}

  /** Listens on 127.0.0.1:`port` for `calls` calls (one by default) and answers each with `outcome`. */
  static async start(dir: string, port: number, outcome: SippOutcome, calls = 1): Promise<SippCallee> {
    const xml = join(dir, `callee-${outcome}.xml`);
    writeFileSync(xml, calleeScenario(outcome));
    const proc = new ManagedProcess({
      name: `sipp callee (${outcome})`,
      command: 'sipp',
      args: ['-sf', xml, '-i', '127.0.0.1', '-p', String(port), '-m', String(calls), '-nostdin', '-trace_err', '-error_file', join(dir, `callee-${outcome}-errors.log`)],
      logPath: join(dir, `callee-${outcome}.log`),
    });
    // sipp prints its screen only on a TTY; give it a moment to bind before the dial.
    await new Promise((r) => setTimeout(r, 300));
    if (!proc.running) throw new Error(`sipp exited at once: ${proc.tail()}`);
    return new SippCallee(proc);
  }

  /** Resolves with sipp's exit code once its calls are over (0: the scenario ran as written). */
  async done(timeoutMs: number): Promise<number | null> {
    const timer = setTimeout(() => this.process.signal('SIGKILL'), timeoutMs);
    const { code } = await this.process.exited;
    clearTimeout(timer);
    return code;
  }

  async close(): Promise<void> {
    await this.process.stop(2000);
  }
}
