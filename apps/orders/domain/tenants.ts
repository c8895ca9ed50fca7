// Tenants and their API keys. A key is `sk_` + 32 random bytes (base64url); only its SHA-256 hex is stored.
import { createHash, randomBytes } from 'node:crypto';
import type { Pool } from 'pg';
import { z } from 'zod';

export const TenantNameSchema = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(100, 'must be at most 100 characters')
  .regex(/^[^\p{Cc}]*$/u, 'must not contain control characters');

export type Tenant = { id: string; name: string };

export function hashApiKey(apiKey: string): string {
  return createHash('sha256').update(apiKey, 'utf8').digest('hex');
}

export function newApiKey(): string {
  return `sk_${randomBytes(32).toString('base64url')}`;
}

export function newTenantId(): string {
  return `ten_${randomBytes(12).toString('base64url')}`;
}

/** Creates a tenant; the API key is returned once and never stored. */
export async function createTenant(pool: Pool, name: string): Promise<{ tenantId: string; apiKey: string }> {
  const tenantId = newTenantId();
  const apiKey = newApiKey();
  await pool.query('INSERT INTO tenants (id, name, api_key_hash) VALUES ($1, $2, $3)', [tenantId, TenantNameSchema.parse(name), hashApiKey(apiKey)]);
  return { tenantId, apiKey };
}

/** The tenant a presented API key belongs to, or undefined. */
export async function findTenantByApiKey(pool: Pool, apiKey: string): Promise<Tenant | undefined> {
  const { rows } = await pool.query<Tenant>('SELECT id, name FROM tenants WHERE api_key_hash = $1', [hashApiKey(apiKey)]);
  return rows[0];
}
