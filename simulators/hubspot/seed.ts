/**
 * The shared seed (simulators/common/seed.ts) with its CRM side as HubSpot holds it: record ids
 * are decimal numbers (companies 31xxxxxxxx, deals 41xxxxxxxx, line items 51xxxxxxxx, contracts
 * 61xxxxxxxx; ten digits each, so their string order is their numeric order). `hubspotSeed` is
 * idempotent, so a dev root maps the seed once and hands the same one to every simulator: Stripe's
 * `concord_customer_id` and the ERP's external ids then hold HubSpot company ids.
 */
import type { Seed } from '../common/seed';

export const HUBSPOT_ID_BASE = { companies: 3_100_000_000, deals: 4_100_000_000, line_items: 5_100_000_000, contracts: 6_100_000_000 } as const;

const numeric = (value: string) => /^[1-9]\d*$/.test(value);

export function hubspotId(kind: keyof typeof HUBSPOT_ID_BASE, n: number): string {
  return String(HUBSPOT_ID_BASE[kind] + n);
}

export function hubspotSeed(seed: Seed): Seed {
  if (seed.customers.every((c) => numeric(c.crmId))) return seed;
  let line = 0;
  return {
    ...seed,
    customers: seed.customers.map((c) => ({ ...c, crmId: hubspotId('companies', c.index + 1) })),
    opportunities: seed.opportunities.map((o) => ({
      ...o,
      crmId: hubspotId('deals', o.index + 1),
      lines: o.lines.map((l) => ({ ...l, id: hubspotId('line_items', ++line) })),
    })),
  };
}
