// The web client's login token (PROTOCOL.md §7): how it is found in the
// page's address and what the page reads from it.
// Run with: node --test Tests/WebClient
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readClaims, splitFragment } from '../../Sources/ChatNode/Public/js/login-token.js';

function base64url(text) {
  return Buffer.from(text, 'utf8').toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

test('a fragment carries a token, optionally followed by &room; any other fragment is a room', () => {
  assert.deepEqual(splitFragment('token=abc.def.ghi'), { token: 'abc.def.ghi', rest: '' });
  assert.deepEqual(splitFragment('token=abc.def.ghi&swift'), { token: 'abc.def.ghi', rest: 'swift' });
  assert.deepEqual(splitFragment('swift'), { token: null, rest: 'swift' });
  assert.deepEqual(splitFragment(''), { token: null, rest: '' });
  assert.deepEqual(splitFragment('token='), { token: null, rest: '' });
});

test('the page reads the nick and expiry a token claims, without trusting them; garbage reads as nothing', () => {
  const payload = base64url(JSON.stringify({ sub: 'u1', nick: 'Åsa', exp: 1796524331 }));
  const claims = readClaims(`${base64url('{"alg":"HS256"}')}.${payload}.sig`);
  assert.deepEqual(claims, { nick: 'Åsa', exp: 1796524331 });
  assert.deepEqual(readClaims(`x.${base64url('{"sub":"u2"}')}.y`), { nick: null, exp: null });
  assert.equal(readClaims('not a token'), null);
  assert.equal(readClaims('a.%%%.c'), null);
});
