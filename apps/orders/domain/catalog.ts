// Seed catalogue for the demo and the tests: twelve products with generous stock.
import type { Pool, PoolClient } from 'pg';
import seedProductsData from './seed-products.json';

export type Product = { sku: string; name: string; priceCents: number };

/** The twelve products of the demo and the tests (data: seed-products.json). */
export const SEED_PRODUCTS: readonly Product[] = seedProductsData;

/** Inserts the catalogue with `stock` units each; existing products are left as they are. */
export async function seedProducts(db: Pool | PoolClient, stock: number, products: readonly Product[] = SEED_PRODUCTS): Promise<void> {
  for (const p of products) {
    await db.query(
      `INSERT INTO products (sku, name, price_cents, total_stock, on_hand) VALUES ($1, $2, $3, $4, $4)
       ON CONFLICT (sku) DO NOTHING`,
      [p.sku, p.name, p.priceCents, stock],
    );
  }
}

/** Sets one product's stock (tests and the demo use it to provoke OUT_OF_STOCK). */
export async function setStock(db: Pool | PoolClient, sku: string, stock: number): Promise<void> {
  await db.query(`UPDATE products SET total_stock = reserved + sold + $2, on_hand = $2 WHERE sku = $1`, [sku, stock]);
}

/** The total of `items` at today's prices; undefined when a SKU is unknown (the saga then refuses the order). */
export async function totalCents(db: Pool | PoolClient, items: ReadonlyArray<{ sku: string; quantity: number }>): Promise<number | undefined> {
  const { rows } = await db.query<{ sku: string; price_cents: number }>('SELECT sku, price_cents FROM products WHERE sku = ANY($1)', [items.map((i) => i.sku)]);
  const price = new Map(rows.map((r) => [r.sku, r.price_cents]));
  let total = 0;
  for (const item of items) {
    const each = price.get(item.sku);
    if (each === undefined) return undefined;
    total += each * item.quantity;
  }
  return total;
}
