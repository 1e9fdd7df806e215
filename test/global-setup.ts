// PostgreSQL test runs put every test database in its own schema. Dropping a schema while another test
// file is migrating makes kysely's introspection (which reads every schema) fail, so schemas are not
// dropped one by one: each run names its schemas with a run id (GK_TEST_RUN, inherited by the test
// workers) and drops all of them once the whole run is over. Concurrent runs leave each other alone.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

async function dropRunSchemas(run: string): Promise<void> {
  const url = process.env.TEST_POSTGRES_URL;
  if (!url) return;
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ nspname: string }>('SELECT nspname FROM pg_namespace');
    for (const { nspname } of rows) if (nspname.includes(`_${run}_`)) await c.query(`DROP SCHEMA IF EXISTS "${nspname}" CASCADE`);
  } finally {
    await c.end();
  }
}

export async function setup(): Promise<() => Promise<void>> {
  const run = process.env.GK_TEST_RUN ?? randomBytes(3).toString('hex');
  process.env.GK_TEST_RUN = run;
  return () => dropRunSchemas(run);
}
