/**
 * The demo's sample shop schema and a light, endless workload on it: new customers and orders,
 * order updates (status, jsonb, arrays), the odd delete, all in small transactions.
 */
import type pg from 'pg';

export const DEMO_SCHEMA = `
  create type order_status as enum ('new', 'paid', 'shipped', 'cancelled');
  create table customers (
    id bigserial primary key,
    name text not null,
    email text not null unique,
    created_at timestamptz not null default now()
  );
  create table orders (
    id bigserial primary key,
    customer_id bigint not null references customers (id),
    status order_status not null default 'new',
    total numeric(12, 2) not null,
    items jsonb not null,
    tags text[] not null default '{}',
    placed_at timestamptz not null default now()
  );`;

const NAMES = ['Ada', 'Grace', 'Linus', 'Barbara', 'Edsger', 'Margaret', 'Ken', 'Radia', 'Donald', 'Frances'];
const PRODUCTS = ['keyboard', 'monitor', 'mouse', 'cable', 'laptop stand', 'headset'];

/** Runs one random small transaction. */
export async function runDemoTransaction(client: pg.Client, step: number): Promise<void> {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;
  const kind = step < 3 ? 0 : Math.floor(Math.random() * 10);
  await client.query('begin');
  try {
    if (kind <= 2) {
      const name = pick(NAMES);
      await client.query('insert into customers (name, email) values ($1, $2)', [name, `${name.toLowerCase()}.${step}@example.com`]);
    } else if (kind <= 6) {
      const items = [{ product: pick(PRODUCTS), quantity: 1 + Math.floor(Math.random() * 3) }];
      await client.query(
        `insert into orders (customer_id, total, items, tags)
         select id, $1, $2, $3 from customers order by random() limit 1`,
        [(Math.random() * 500).toFixed(2), JSON.stringify(items), Math.random() < 0.5 ? ['gift'] : []],
      );
    } else if (kind <= 8) {
      await client.query(
        `update orders set status = case status when 'new' then 'paid'::order_status when 'paid' then 'shipped'::order_status else status end
          where id = (select id from orders where status in ('new', 'paid') order by random() limit 1)`,
      );
    } else {
      await client.query(`delete from orders where id = (select id from orders where status = 'shipped' order by random() limit 1)`);
    }
    await client.query('commit');
  } catch (error) {
    await client.query('rollback');
    throw error;
  }
}
