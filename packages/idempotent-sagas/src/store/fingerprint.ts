// Request fingerprints: SHA-256 over canonical JSON (RFC 8785 style: sorted keys, no whitespace).
import { createHash } from 'node:crypto';
import { InvalidInputError } from '../errors';

/** A JSON value, as stored and fingerprinted. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * Canonical JSON text of `value`. Strict where JSON.stringify is lenient: undefined, NaN,
 * Infinity, functions, symbols, BigInt, cycles and non-plain objects (Date, Map, class
 * instances) are refused, so what is stored is exactly what every duplicate gets back.
 */
export function canonicalJson(value: unknown, field = 'value'): string {
  const seen = new Set<object>();
  const encode = (v: unknown, at: string): string => {
    if (v === null) return 'null';
    switch (typeof v) {
      case 'string':
        return JSON.stringify(v);
      case 'boolean':
        return v ? 'true' : 'false';
      case 'number':
        if (!Number.isFinite(v)) throw new InvalidInputError(at, `${v} cannot be represented in JSON`);
        return JSON.stringify(v);
      case 'object': {
        if (seen.has(v)) throw new InvalidInputError(at, 'contains a cycle');
        seen.add(v);
        let out: string;
        if (Array.isArray(v)) {
          out = `[${v.map((item, i) => encode(item, `${at}[${i}]`)).join(',')}]`;
        } else {
          const proto = Object.getPrototypeOf(v) as unknown;
          if (proto !== Object.prototype && proto !== null) {
            throw new InvalidInputError(at, `a ${v.constructor?.name ?? 'non-plain object'} is not plain JSON data`);
          }
          const record = v as Record<string, unknown>;
          // RFC 8785 orders members by UTF-16 code units, which is what Array#sort compares.
          const keys = Object.keys(record).sort();
          out = `{${keys.map((k) => `${JSON.stringify(k)}:${encode(record[k], `${at}.${k}`)}`).join(',')}}`;
        }
        seen.delete(v);
        return out;
      }
      default:
        throw new InvalidInputError(at, `a ${typeof v} cannot be represented in JSON`);
    }
  };
  return encode(value, field);
}

/** Hex SHA-256 of the canonical JSON of `request`. */
export function fingerprint(request: unknown): string {
  return createHash('sha256').update(canonicalJson(request, 'request')).digest('hex');
}
