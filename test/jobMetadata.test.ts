import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MetadataError, parseJobMetadata } from '../src/call/jobMetadata.js';

describe('job metadata', () => {
  it('no metadata is an inbound call', () => {
    assert.deepEqual(parseJobMetadata(''), { kind: 'inbound' });
    assert.deepEqual(parseJobMetadata(undefined), { kind: 'inbound' });
  });

  it('parses an outbound job with defaults', () => {
    const m = parseJobMetadata(JSON.stringify({ kind: 'outbound', phoneNumber: '+15550001111', contact: { name: 'Ana' } }));
    assert.deepEqual(m, { kind: 'outbound', phoneNumber: '+15550001111', contact: { name: 'Ana', fields: {} }, attempt: 1 });
  });

  it('names the bad field', () => {
    assert.throws(() => parseJobMetadata('{not json'), (e: Error) => e instanceof MetadataError && /not valid JSON/.test(e.message));
    assert.throws(
      () => parseJobMetadata(JSON.stringify({ kind: 'outbound', phoneNumber: '555-1234', contact: {} })),
      /phoneNumber: must be E\.164.*contact\.name/,
    );
  });
});
