/**
 * The business template (business.yaml, BUSINESS_FILE): the shipped clinic file is today's
 * behaviour, another file changes the greeting and the book's rules, the environment overrides the
 * file, and every mistake in a file names the file, the line and the field.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { agentPolicy } from '../agents/policy.js';
import { greeting } from '../agents/prompts.js';
import { SHIPPED_BUSINESS_FILE } from '../src/business.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { openStore } from '../src/store/index.js';
import { BookingInputError, bookRules, freeSlots, parseLocalStart } from '../tools/appointmentBook.js';
import { appointmentTools } from '../tools/appointments.js';
import { newUserdata } from '../tools/callContext.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CLINIC = readFileSync(join(ROOT, 'business.yaml'), 'utf8');

/** A business file in a fresh directory: the clinic template with `edit` applied to its text. */
function businessFile(edit: (text: string) => string = (t) => t): string {
  const file = join(mkdtempSync(join(tmpdir(), 'sb-business-')), 'business.yaml');
  writeFileSync(file, edit(CLINIC));
  return file;
}

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  assert.fail('the configuration loaded');
}

/** The 1-based line of the first line of `text` that contains `needle`. */
function lineWith(file: string, needle: string): number {
  return readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes(needle)) + 1;
}

/**
 * The package as the image lays it out, in a fresh directory: dist/ with `template` as the
 * business.yaml beside it, which is also BUSINESS_FILE's default in the working directory
 * (docker-compose mounts the deployment's there). Returns the directory.
 */
function packaged(template: string): string {
  const app = mkdtempSync(join(tmpdir(), 'sb-app-'));
  symlinkSync(join(ROOT, 'dist'), join(app, 'dist'));
  symlinkSync(join(ROOT, 'node_modules'), join(app, 'node_modules'));
  copyFileSync(join(ROOT, 'package.json'), join(app, 'package.json'));
  writeFileSync(join(app, 'business.yaml'), template);
  return app;
}

/** `worker.js start` from that package, in its directory, with only `env`. */
function startWorker(app: string, env: Record<string, string> = {}) {
  return spawnSync(process.execPath, ['--preserve-symlinks', '--preserve-symlinks-main', join(app, 'dist', 'src', 'worker.js'), 'start'], {
    cwd: app,
    env: { PATH: process.env.PATH, HOME: app, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

const BAKERY = (t: string) =>
  t
    .replace('name: Riverside Clinic', 'name: Crumb & Co')
    .replace('timezone: America/New_York', 'timezone: Europe/London')
    .replace('days: [mon, tue, wed, thu, fri]', 'days: [tue, wed, thu, fri, sat]')
    .replace('open: "09:00"', 'open: "10:00"')
    .replace('close: "17:00"', 'close: "12:00"')
    .replace('slotMinutes: 30', 'slotMinutes: 60')
    .replace('horizonDays: 90', 'horizonDays: 14')
    .replace('inbound: Thanks for calling {business}.', 'inbound: Hello from {business}.');

describe('business file', () => {
  it('the shipped template is the clinic, and is the default', () => {
    assert.equal(SHIPPED_BUSINESS_FILE, join(ROOT, 'business.yaml'));
    const c = loadConfig({});
    assert.equal(c.BUSINESS_NAME, 'Riverside Clinic');
    assert.equal(c.BUSINESS_TIMEZONE, 'America/New_York');
    assert.equal(c.RECORDING_DISCLOSURE, "This call is recorded; just say so if you'd rather it wasn't.");
    assert.equal(c.HOLD_FILLER_TEXT, 'One moment, please.');
    const rules = bookRules(c);
    assert.deepEqual(
      { ...rules, openDays: [...rules.openDays] },
      { timezone: 'America/New_York', openDays: [1, 2, 3, 4, 5], opensAt: 540, closesAt: 1020, slotMinutes: 30, horizonDays: 90, maxPerCaller: 3, maxPerCall: 2 },
    );
  });

  it('another file drives the greeting, the hours, the slots and how the tools describe them', async () => {
    const c = loadConfig({ BUSINESS_FILE: businessFile(BAKERY) });
    assert.equal(c.BUSINESS_NAME, 'Crumb & Co');
    const u = newUserdata({ callId: 'c1', direction: 'inbound', callerNumber: null, businessName: c.BUSINESS_NAME, timezone: c.BUSINESS_TIMEZONE });
    assert.equal(greeting(u, agentPolicy(c).lines), 'Hello from Crumb & Co. Who am I speaking with, and how can I help today?');

    const rules = bookRules(c);
    const store = await openStore(':memory:');
    const now = new Date('2026-11-23T08:00:00Z'); // a Monday
    const saturday = await freeSlots(store.appointments, '2026-11-28', rules, now);
    assert.deepEqual(saturday.map((s) => s.toFormat('HH:mm')), ['10:00', '11:00']);
    assert.deepEqual(await freeSlots(store.appointments, '2026-11-23', rules, now), [], 'closed on Mondays');
    assert.throws(() => parseLocalStart('2026-11-29T10:00', rules, now), (e: Error) => e instanceof BookingInputError && /closed on Mondays and Sundays/.test(e.message));
    assert.throws(() => parseLocalStart('2026-11-24T12:00', rules, now), /We book from 10:00 to 12:00/);
    assert.throws(() => parseLocalStart('2026-12-12T10:00', rules, now), /up to 14 days ahead/);
    const tools = appointmentTools({ store: store.appointments, rules, now: () => now, readBack: agentPolicy(c).lines.readBack, readBackWithBirthDate: agentPolicy(c).lines.readBackWithBirthDate });
    assert.match(tools.check_availability.description, /business hours, Tuesday to Saturday/);
    await store.close();
  });

  it('a variable set in the environment overrides the file', () => {
    const c = loadConfig({
      BUSINESS_FILE: businessFile(BAKERY),
      BUSINESS_NAME: 'Crumb Central',
      BOOKING_HORIZON_DAYS: '7',
      RECORDING_DISCLOSURE: 'We record calls.',
    });
    assert.equal(c.BUSINESS_NAME, 'Crumb Central');
    assert.equal(bookRules(c).horizonDays, 7);
    assert.equal(bookRules(c).slotMinutes, 60, 'what no variable names still comes from the file');
    assert.equal(c.RECORDING_DISCLOSURE, 'We record calls.');
  });

  it('a bad value names the file, the line and the field', () => {
    const file = businessFile((t) => t.replace('open: "09:00"', 'open: "9am"'));
    assert.deepEqual(problemsOf({ BUSINESS_FILE: file }), [`${file}:${lineWith(file, 'open: "9am"')}: hours.open: expected HH:mm`]);
  });

  it('an unknown key is an error at its line', () => {
    const file = businessFile((t) => t.replace('  slotMinutes: 30', '  slotMinutes: 30\n  slotMinute: 15'));
    assert.deepEqual(problemsOf({ BUSINESS_FILE: file }), [
      `${file}:${lineWith(file, 'slotMinute: 15')}: appointments.slotMinute: unknown key (not a setting of the business template)`,
    ]);
  });

  it('every problem at once: a missing line, a placeholder a line does not have, one it must keep', () => {
    const file = businessFile((t) =>
      t
        .replace(/ {2}recordingStopped: .*\n/, '')
        .replace('Am I speaking with {contact}?', 'Is this {caller}?')
        .replace("that's {name}, on {when}.", "that's {name}.")
        .replace("that's {name}, born {born}, on {when}.", "that's {name}, on {when}."),
    );
    const problems = problemsOf({ BUSINESS_FILE: file });
    assert.deepEqual(problems.sort(), [
      `${file}:${lineWith(file, 'lines:')}: lines.recordingStopped: missing`,
      `${file}:${lineWith(file, 'outbound: Hello')}: lines.greeting.outbound: must say {contact}`,
      `${file}:${lineWith(file, 'outbound: Hello')}: lines.greeting.outbound: {caller} is not a placeholder this line has (it may use {business}, {contact})`,
      `${file}:${lineWith(file, 'readBack:')}: lines.readBack: must say {when}`,
      `${file}:${lineWith(file, 'readBackWithBirthDate:')}: lines.readBackWithBirthDate: must say {born}`,
    ].sort());
  });

  it('a brace that is not a placeholder is refused in a line with placeholders, as in one without', () => {
    const file = businessFile((t) =>
      t
        .replace('Thanks for calling {business}.', 'Thanks for calling {business.')
        .replace('Am I speaking with {contact}?', 'Am I speaking with {contact}}?')
        .replace('with a message. Please', 'with a message.} Please')
        .replace('One moment, please.', 'One {moment}, please.'),
    );
    assert.deepEqual(problemsOf({ BUSINESS_FILE: file }).sort(), [
      `${file}:${lineWith(file, 'inbound: Thanks')}: lines.greeting.inbound: a { or } that is not part of a {placeholder} would be read out as written`,
      `${file}:${lineWith(file, 'outbound: Hello')}: lines.greeting.outbound: a { or } that is not part of a {placeholder} would be read out as written`,
      `${file}:${lineWith(file, 'anyone: Hello')}: lines.voicemail.anyone: a { or } that is not part of a {placeholder} would be read out as written`,
      `${file}:${lineWith(file, 'holdFiller:')}: lines.holdFiller: this line takes no {placeholders}`,
    ].sort());
  });

  it('the name is taken without the whitespace around it, and a blank one is refused at its line', () => {
    assert.equal(loadConfig({ BUSINESS_FILE: businessFile((t) => t.replace('name: Riverside Clinic', 'name: "  Crumb & Co "')) }).BUSINESS_NAME, 'Crumb & Co');
    assert.equal(loadConfig({ BUSINESS_FILE: businessFile((t) => t.replace('name: Riverside Clinic', 'name: |\n  Crumb & Co')) }).BUSINESS_NAME, 'Crumb & Co');
    const blank = businessFile((t) => t.replace('name: Riverside Clinic', 'name: "   "'));
    assert.deepEqual(problemsOf({ BUSINESS_FILE: blank }), [`${blank}:${lineWith(blank, 'name: "   "')}: name: String must contain at least 1 character(s)`]);
  });

  it('a YAML syntax error names its line and the field whose value is broken', () => {
    // The parser gives up on the line after an unclosed list; the field is the one the list opened in.
    const file = businessFile((t) => t.replace('  days: [mon, tue, wed, thu, fri]', '  days: [mon, tue'));
    const [problem, ...rest] = problemsOf({ BUSINESS_FILE: file });
    assert.equal(rest.length, 0);
    assert.match(problem!, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${lineWith(file, 'days: [mon, tue') + 1}: hours\\.days: `));
  });

  it('a BUSINESS_FILE that does not exist is named; an absent default falls back to the shipped template', () => {
    const missing = join(tmpdir(), 'no-such-dir', 'business.yaml');
    assert.match(problemsOf({ BUSINESS_FILE: missing }).join('\n'), /^BUSINESS_FILE: .*no-such-dir\/business\.yaml does not exist/);
    const here = process.cwd();
    process.chdir(mkdtempSync(join(tmpdir(), 'sb-nobusiness-')));
    try {
      assert.equal(loadConfig({}).BUSINESS_NAME, 'Riverside Clinic');
    } finally {
      process.chdir(here);
    }
  });

  it('a mistake in the template where the package ships it (the image\'s, mounted over) is a configuration problem, not a crash on import', () => {
    const app = packaged(CLINIC.replace('open: "09:00"', 'open: "9am"'));
    const file = join(app, 'business.yaml');
    const r = startWorker(app);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /^Invalid configuration/m);
    // Named as BUSINESS_FILE names it (its default: business.yaml in the working directory).
    assert.ok(r.stderr.includes(`  - business.yaml:${lineWith(file, 'open: "9am"')}: hours.open: expected HH:mm`), r.stderr);
    assert.doesNotMatch(r.stderr, /BusinessFileError|at parseBusiness/);
  });

  it("the package's own template is checked at start-up too when BUSINESS_FILE is another: its lines are the agents' defaults", () => {
    const app = packaged(CLINIC.replace('open: "09:00"', 'open: "9am"'));
    const shipped = join(app, 'business.yaml');
    const r = startWorker(app, { BUSINESS_FILE: businessFile() });
    assert.equal(r.status, 2, r.stderr);
    assert.ok(r.stderr.includes(`  - ${shipped}:${lineWith(shipped, 'open: "9am"')}: hours.open: expected HH:mm`), r.stderr);
  });

  it('the image ships the template beside dist/, where the worker finds it', () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('FROM '));
    assert.match(runtime, /^COPY business\.yaml \.\/$/m);
    assert.match(runtime, /^WORKDIR \/app$/m);
  });
});
