// `cli tenants create <name>`: one JSON line on stdout, the key stored only as its SHA-256, exit 2 on a bad name.
import { createHash } from 'node:crypto';
import { createEmptyDatabase } from '../helpers/database';
import { runScript } from '../helpers/processes';
import { Client } from 'pg';

test('tenants create prints {tenantId, apiKey} once and stores only the hash; a bad name exits 2 and writes nothing', async () => {
  const db = await createEmptyDatabase(); // the CLI migrates it, as it would a fresh DATABASE_URL
  try {
    const ok = await runScript('src/cli/cli.ts', ['tenants', 'create', 'Acme Ltd'], { DATABASE_URL: db.url });
    expect({ code: ok.code, stderr: ok.stderr }).toEqual({ code: 0, stderr: '' });
    const lines = ok.stdout.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(1);
    const created = JSON.parse(lines[0]!) as { tenantId: string; apiKey: string };
    expect(Object.keys(created).sort()).toEqual(['apiKey', 'tenantId']);
    expect(created.tenantId).toMatch(/^ten_[A-Za-z0-9_-]{16}$/);
    expect(created.apiKey).toMatch(/^sk_[A-Za-z0-9_-]{43}$/);

    const bad = await runScript('src/cli/cli.ts', ['tenants', 'create', '   '], { DATABASE_URL: db.url });
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/^error: tenant name: must not be empty\n$/);
    expect((await runScript('src/cli/cli.ts', ['tenants', 'nope'], { DATABASE_URL: db.url })).code).toBe(2);

    const client = new Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ id: string; name: string; api_key_hash: string }>('SELECT id, name, api_key_hash FROM tenants');
      expect(rows).toEqual([{ id: created.tenantId, name: 'Acme Ltd', api_key_hash: createHash('sha256').update(created.apiKey).digest('hex') }]);
    } finally {
      await client.end();
    }
  } finally {
    await db.drop();
  }
});
