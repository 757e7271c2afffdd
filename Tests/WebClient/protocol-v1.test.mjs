// The web client's copy of the protocol rules must agree with the server's
// (Tests/ChatProtocolTests). Run with: node --test Tests/WebClient
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as v1 from '../../Sources/ChatNode/Public/js/protocol/v1.js';

test('valid nicks pass, canonicalised to NFC', () => {
  for (const nick of ['alice', 'Åsa', 'Ölträd', 'नमस्ते', 'ผู้ใช้', 'bob_2', 'a-b.c', '9lives', '李小龙']) {
    assert.equal(v1.validateNick(nick).ok, true, nick);
  }
  assert.equal(v1.validateNick('A\u030Asa').nick, '\u00C5sa');
});

test('invalid nicks are refused with a reason', () => {
  for (const nick of ['', ' ', 'al ice', 'alice!', '😀', 'a\u200Bb', '\u0301a', '_alice', '-a', '.a', '<b>']) {
    const result = v1.validateNick(nick);
    assert.equal(result.ok, false, JSON.stringify(nick));
    assert.ok(result.message.length > 0);
  }
});

test('24 scalars are allowed, 25 are not; length counts after NFC', () => {
  assert.equal(v1.validateNick('a'.repeat(24)).ok, true);
  assert.equal(v1.validateNick('a'.repeat(25)).ok, false);
  assert.equal(v1.validateNick('e\u0301'.repeat(24)).ok, true);
});

test('text: 1–2000 scalars, not blank, no control characters but newline and tab', () => {
  assert.equal(v1.validateText('hi').ok, true);
  assert.equal(v1.validateText('line\nline\ttab').ok, true);
  assert.equal(v1.validateText('😀'.repeat(2000)).ok, true);
  assert.equal(v1.validateText('😀'.repeat(2001)).ok, false);
  for (const text of ['', '   ', '\n\t', '\u3000', 'a\rb', 'a\u0000b', 'a\u0085b']) {
    assert.equal(v1.validateText(text).ok, false, JSON.stringify(text));
  }
});

test('nick keys are case-insensitive without final-sigma context, and lists sort like the server', () => {
  assert.equal(v1.nickKey('Åsa'), v1.nickKey('åsa'));
  assert.equal(v1.nickKey('ΟΔΥΣΣΕΥΣ'), 'οδυσσευσ');
  const sorted = ['bob', 'Åsa', 'alice', 'Bob', 'Zed', 'ärla'].sort(v1.compareNicks);
  assert.deepEqual(sorted, ['alice', 'Bob', 'bob', 'Zed', 'ärla', 'Åsa']);
});

test('messages encode as one JSON object with the subprotocol name fixed', () => {
  assert.equal(v1.SUBPROTOCOL, 'chat.v1.json');
  assert.deepEqual(JSON.parse(v1.encode(v1.messages.whisper('bob', 'hi', 'r1'))), { type: 'whisper', to: 'bob', text: 'hi', ref: 'r1' });
  assert.equal(v1.decode('not json'), null);
  assert.equal(v1.decode('[1]'), null);
  assert.deepEqual(v1.decode('{"type":"pong"}'), { type: 'pong' });
});
