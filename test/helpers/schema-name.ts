import { randomBytes } from 'node:crypto';

/** A fresh PostgreSQL schema name tagged with this test run, so the run's teardown can drop it. */
export function testSchemaName(prefix: string): string {
  return `${prefix}_${process.env.GK_TEST_RUN ?? 'adhoc'}_${randomBytes(4).toString('hex')}`;
}
