// The SQLite handle kysely sees prepares each SQL text once and keeps a bounded number of statements.
import SQLite from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { statementCache } from '../../src/store/database.ts';

describe('SQLite statement cache', () => {
  it('prepares a statement once per SQL text, keeps at most `size`, drops the least recently used', () => {
    const handle = new SQLite(':memory:');
    let prepared = 0;
    const prepare = handle.prepare.bind(handle);
    handle.prepare = ((source: string) => {
      prepared++;
      return prepare(source);
    }) as typeof handle.prepare;
    const db = statementCache(handle, 3);
    try {
      const a = db.prepare('SELECT 1');
      expect(db.prepare('SELECT 1')).toBe(a);
      expect(prepared).toBe(1);
      db.prepare('SELECT 2');
      db.prepare('SELECT 3');
      db.prepare('SELECT 1'); // used again: now the most recent
      db.prepare('SELECT 4'); // drops SELECT 2, the least recently used
      expect(prepared).toBe(4);
      expect(db.prepare('SELECT 1')).toBe(a);
      expect(prepared).toBe(4);
      db.prepare('SELECT 2');
      expect(prepared).toBe(5);
      // Bounded: 1000 distinct texts leave no more than `size` behind (each new one is prepared, none reused).
      for (let i = 0; i < 1000; i++) db.prepare(`SELECT ${i + 10}`);
      expect(prepared).toBe(1005);
      db.prepare('SELECT 1');
      expect(prepared).toBe(1006);
    } finally {
      db.close();
    }
  });
});
