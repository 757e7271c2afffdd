// chat.v3.json in the web client: room names as §6 defines them, the v3
// messages, and how v1/v2 events are presented as the lobby's room events.
// Run with: node --test Tests/WebClient
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as v1 from '../../Sources/ChatNode/Public/js/protocol/v1.js';
import * as v2 from '../../Sources/ChatNode/Public/js/protocol/v2.js';
import * as v3 from '../../Sources/ChatNode/Public/js/protocol/v3.js';

test('v3 names its subprotocol, has rooms, and shares the nick and text rules of v1', () => {
  assert.equal(v3.SUBPROTOCOL, 'chat.v3.json');
  assert.equal(v3.ROOMS, true);
  assert.equal(v1.ROOMS, false);
  assert.equal(v2.ROOMS, false);
  for (const name of ['validateNick', 'validateText', 'nickKey', 'compareNicks', 'compareCodePoints', 'scalarCount']) {
    assert.equal(v3[name], v1[name], name);
  }
  assert.equal(v3.TEXT_MAX, 2000);
});

test('room names: 1-32 of a-z 0-9 - _ . starting with a letter or digit, never folded', () => {
  for (const name of ['lobby', 'rust', 'a', '9lives', 'swift-on-server', 'x_y.z', 'a'.repeat(32)]) {
    assert.deepEqual(v3.validateRoom(name), { ok: true, room: name }, name);
  }
  assert.deepEqual(v3.validateRoom('#rust'), { ok: true, room: 'rust' }, 'a leading # is how people write rooms');
  for (const name of ['', 'Rust', '-a', '.a', '_a', 'a b', 'a'.repeat(33), 'ümlaut', 'a/b', '<b>']) {
    const result = v3.validateRoom(name);
    assert.equal(result.ok, false, JSON.stringify(name));
    assert.ok(result.message.length > 0);
  }
});

test('v3 messages carry the room; join carries since only when resuming; hello never resumes', () => {
  assert.deepEqual(v3.messages.hello('Åsa', 'h1', 'm-1'), { type: 'hello', nick: 'Åsa', ref: 'h1' });
  assert.deepEqual(v3.messages.join('rust', null, 'j1'), { type: 'join', room: 'rust', ref: 'j1' });
  assert.deepEqual(v3.messages.join('rust', 'm-9', 'j1'), { type: 'join', room: 'rust', since: 'm-9', ref: 'j1' });
  assert.deepEqual(v3.messages.part('rust', 'p1'), { type: 'part', room: 'rust', ref: 'p1' });
  assert.deepEqual(v3.messages.say('rust', 'hi', 's1'), { type: 'say', room: 'rust', text: 'hi', ref: 's1' });
  assert.deepEqual(v3.messages.who('big', { prefix: 'al', after: 'alan', limit: 50 }, 'w1'),
    { type: 'who', room: 'big', prefix: 'al', after: 'alan', limit: 50, ref: 'w1' });
  assert.deepEqual(JSON.parse(v3.encode(v3.messages.who('big', { prefix: undefined, limit: 50 }, 'w2'))),
    { type: 'who', room: 'big', limit: 50, ref: 'w2' }, 'absent fields are not sent');
  assert.deepEqual(v3.messages.rooms('l1'), { type: 'rooms', ref: 'l1' });
});

test('a v3 frame is one event; garbage is none', () => {
  const frame = '{"type":"message","room":"rust","id":"m-2","from":"Åsa","text":"hello","ts":1}';
  assert.deepEqual(v3.events(frame), [JSON.parse(frame)]);
  assert.deepEqual(v3.events('not json'), []);
  assert.deepEqual(v3.events('[1]'), []);
});

test('v1/v2 welcome becomes welcome plus the lobby room with its users, history and resume flag', () => {
  const welcome = {
    type: 'welcome', nick: 'bob', node: 'n1', users: ['alice', 'bob'], resumed: true,
    history: [{ type: 'message', id: 'm-1', from: 'alice', text: 'hi', ts: 1 }],
  };
  const [greeting, room] = v2.events(JSON.stringify(welcome));
  assert.deepEqual(greeting, { type: 'welcome', nick: 'bob', node: 'n1' });
  assert.equal(room.type, 'room');
  assert.equal(room.room, 'lobby');
  assert.equal(room.count, 2);
  assert.deepEqual(room.users, ['alice', 'bob']);
  assert.equal(room.resumed, true);
  assert.equal(room.history[0].room, 'lobby');
});

test('v1 joined/left become presence batches of one in the lobby; lines and lists name the lobby', () => {
  assert.deepEqual(v1.events('{"type":"joined","nick":"carl","ts":5}'),
    [{ type: 'presence', room: 'lobby', joined: ['carl'], left: [], ts: 5 }]);
  assert.deepEqual(v1.events('{"type":"left","nick":"carl","reason":"timeout","ts":6}'),
    [{ type: 'presence', room: 'lobby', joined: [], left: [{ nick: 'carl', reason: 'timeout' }], ts: 6 }]);
  assert.equal(v2.events('{"type":"presence","joined":["a"],"left":[],"ts":7}')[0].room, 'lobby');
  assert.equal(v1.events('{"type":"message","id":"m","from":"a","text":"t","ts":8}')[0].room, 'lobby');
  assert.deepEqual(v1.events('{"type":"users","users":["a","b"]}')[0], { type: 'users', users: ['a', 'b'], room: 'lobby', count: 2 });
  assert.deepEqual(v1.events('{"type":"pong"}'), [{ type: 'pong' }]);
});
