/** The JSON scanner's object reading with a member-name hint, checked against JSON.parse. */
import { describe, expect, it } from 'vitest';
import { MemberNameHint, objectMembers } from '../../src/kafka-source/json-scanner.js';
import { testRandom as random } from '../support/seeded-random.js';

describe('objectMembers with a hint', () => {
  it('gives every object its own names and value spans, while objects keep, lose, gain or rename members', () => {
    const pool = ['id', 'a', 'b', 'name', 'ñame', 'x"y', 'longer_column_name', 'c'];
    const values = ['1', '-2.5e3', '"text"', 'null', 'true', '{"k":[1,2]}', '[]', '"a\\"b"'];
    const hint = new MemberNameHint();
    let names = ['id', 'a', 'b'];
    let seenStable: readonly string[] | undefined;
    let reusedStable = 0;
    for (let n = 0; n < 3000; n++) {
      const roll = random();
      if (roll < 0.05) names = names.slice(0, -1);
      else if (roll < 0.1) names = [...names, pool[Math.floor(random() * pool.length)]!];
      else if (roll < 0.15 && names.length > 0) names = names.map((name, i) => (i === Math.floor(random() * names.length) ? `${name}2` : name));
      // Member names are unique (an added or renamed one may be there already).
      names = names.filter((name, i, all) => all.indexOf(name) === i);
      const space = random() < 0.2 ? ' ' : '';
      const text = `{${space}${names.map((name) => `${JSON.stringify(name)}${space}:${space}${values[Math.floor(random() * values.length)]}`).join(`,${space}`)}${space}}`;
      const buf = Buffer.from(`xx${text}yy`);
      const members = objectMembers(buf, 2, hint);
      const parsed = JSON.parse(text) as Record<string, unknown>;
      expect(members.end).toBe(2 + Buffer.byteLength(text));
      expect([...members.names]).toEqual(Object.keys(parsed));
      expect(members.starts).toHaveLength(members.names.length);
      expect(members.ends).toHaveLength(members.names.length);
      members.names.forEach((name, i) => expect(JSON.parse(buf.toString('utf8', members.starts[i], members.ends[i]))).toEqual(parsed[name]));
      if (members.names === seenStable) reusedStable++;
      seenStable = members.names;
      expect(Object.isFrozen(members.names)).toBe(true);
    }
    // Most objects have their predecessor's names: they share its array.
    expect(reusedStable).toBeGreaterThan(2000);
  });

  it('reads an object without a hint the same way', () => {
    const buf = Buffer.from('{"a":1,"b":{"c":"}"},"d":[null]}');
    const members = objectMembers(buf, 0);
    expect(members.names).toEqual(['a', 'b', 'd']);
    expect(members.starts.map((s, i) => buf.toString('utf8', s, members.ends[i]))).toEqual(['1', '{"c":"}"}', '[null]']);
    expect(members.end).toBe(buf.length);
  });
});
