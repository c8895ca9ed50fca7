// Object ids in the card processors' style: a type prefix and 24 random hex digits.
import { randomBytes } from 'node:crypto';

export type IdPrefix = 'ch' | 're' | 'evt';

export function newId(prefix: IdPrefix): string {
  return `${prefix}_${randomBytes(12).toString('hex')}`;
}
