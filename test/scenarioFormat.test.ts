import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ScenarioError, loadScenario, parseScenario } from '../src/simulate/scenario.js';

describe('scenario files', () => {
  it('fills defaults for a minimal scenario', () => {
    const s = parseScenario('name: x\nsteps:\n  - silence: true\nexpect:\n  outcome: silence_timeout\n', 'x.yaml');
    assert.equal(s.direction, 'inbound');
    assert.equal(s.caller, '+15550001111');
    assert.equal(s.expect.roomDeleted, true);
  });

  it('names the file, the line and the field of a bad value', () => {
    const text = ['name: bad', 'caller: "555-1234"', 'steps:', '  - caller: hi', '    model:', '      - call: end_call', '        argz: {}', 'expect:', '  outcome: completed', ''].join('\n');
    assert.throws(() => parseScenario(text, 'scenarios/bad.yaml'), (e: Error) => {
      assert.ok(e instanceof ScenarioError);
      assert.match(e.message, /^scenarios\/bad\.yaml:2: caller: must be E\.164/m);
      assert.match(e.message, /scenarios\/bad\.yaml:6: steps\[0\]\.model\[0\]: Unrecognized key\(s\) in object: 'argz'/m);
      return true;
    });
  });

  it('an unknown fault is named with the kinds there are, at its line', () => {
    const text = ['name: f', 'steps:', '  - caller: hi', '  - fault: cartesia', 'expect:', '  outcome: error', ''].join('\n');
    assert.throws(
      () => parseScenario(text, 'scenarios/f.yaml'),
      /scenarios\/f\.yaml:4: steps\[1\]\.fault: Invalid enum value\. Expected 'store' \| 'stt-drop' \| 'stt-down' \| 'tts', received 'cartesia'$/,
    );
  });

  it('reports YAML syntax errors with line, column and the field whose value is broken', () => {
    assert.throws(() => parseScenario('name: x\nsteps: [\n', 'broken.yaml'), /broken\.yaml:3:1: steps: Flow sequence in block collection must be sufficiently indented and end with a \]$/);
    // An unclosed quote is found where the file ends; the field is the one it opened in.
    const text = ['name: q', 'steps:', '  - caller: hi', '  - caller: "and then', 'expect:', '  outcome: completed', ''].join('\n');
    assert.throws(() => parseScenario(text, 'q.yaml'), /q\.yaml:\d+:\d+: steps\[1\]\.caller: Missing closing "quote/);
  });

  it('an outbound scenario without a contact is refused', () => {
    assert.throws(
      () => parseScenario('name: o\ndirection: outbound\nsteps:\n  - silence: true\nexpect:\n  outcome: completed\n', 'o.yaml'),
      /o\.yaml:\d+: contact: an outbound scenario needs a contact/,
    );
  });

  it('a missing file is named', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-sc-'));
    writeFileSync(join(dir, 'empty.yaml'), '');
    assert.throws(() => loadScenario(join(dir, 'nope.yaml')), /nope\.yaml: cannot read the scenario \(ENOENT\)/);
    assert.throws(() => loadScenario(join(dir, 'empty.yaml')), /empty\.yaml:1: \(top level\)/);
  });
});
