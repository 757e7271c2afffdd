// chat.v2.json in the web client: v1's rules plus `since` on hello.
// Run with: node --test Tests/WebClient
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as v1 from '../../Sources/ChatNode/Public/js/protocol/v1.js';
import * as v2 from '../../Sources/ChatNode/Public/js/protocol/v2.js';

test('v2 names its subprotocol and shares every rule of v1', () => {
  assert.equal(v2.SUBPROTOCOL, 'chat.v2.json');
  assert.equal(v1.SUBPROTOCOL, 'chat.v1.json');
  for (const name of ['validateNick', 'validateText', 'nickKey', 'compareNicks', 'compareCodePoints', 'encode', 'decode']) {
    assert.equal(v2[name], v1[name], name);
  }
});

test('hello carries since only when the page resumes', () => {
  assert.deepEqual(v2.messages.hello('Åsa', 'h1', 'm-3f9a-1041'), { type: 'hello', nick: 'Åsa', ref: 'h1', since: 'm-3f9a-1041' });
  assert.deepEqual(v2.messages.hello('Åsa', 'h1', null), { type: 'hello', nick: 'Åsa', ref: 'h1' });
  assert.deepEqual(v2.messages.say('hi', 'r'), v1.messages.say('hi', 'r'));
});
