/**
 * The entity cache around the ports' reads of canonical entities (core/entity-cache.ts): the reads
 * the subgraph loaders make (subgraphs/{crm,billing,erp}/loaders.ts) go through here, so the cache
 * works for every vendor adapter behind the ports, whichever vendor serves a system.
 *
 * Cached (per entity, under its unit, core/entity-cache.ts cacheUnits):
 *   crm/customer:<id>      the CRM account
 *   billing/customer:<id>  the billing customer, its contracts, its invoices
 *   billing/contract:<id>  a billing contract by id
 *   billing/invoice:<id>   a billing invoice by id
 *   erp/customer:<id>      the ERP profile (credit, AR balance)
 *   erp/invoice:<id>       the ERP posting of a billing invoice
 * Kinds carry the vendor's name (`billing.stripe.contracts`), so switching vendors on one Redis
 * never serves the other vendor's records. Not cached: lists and searches (listAccounts, candidates,
 * reconciliation pages), opportunities, and every read the sagas make (they are given the ports
 * themselves, never these).
 *
 * Records the vendor does not have are cached too (as absent), so a customer without an ERP record
 * does not cost an ERP call on every view; the same invalidations drop them.
 *
 * Two modes per request: `cached` (hits answer, misses read the vendor and fill) and `refresh`
 * (a `cache-control: no-cache` request: every read goes to the vendor, and what it reads replaces
 * what was cached).
 */
import type { BillingContract, BillingCustomer, BillingInvoice, CrmAccount, ErpCustomerProfile, ErpPosting } from '../../core/canonical';
import { cacheUnits, type CacheKey, type EntityCacheStore } from '../../core/entity-cache';
import type { BillingPort } from '../billing/port';
import type { CrmPort } from '../crm/port';
import type { ErpPort } from '../erp/port';
import type { Ports } from '../orchestration/steps';

/** Told of each batch the cache answered: how many keys were hits and how many went to the vendor. */
export type CacheOutcomeListener = (kind: string, hits: number, misses: number) => void;

/** Stored per key: the record, or null when the vendor has none. */
type Stored<V> = { v: V } | null;

/**
 * A batch read through the cache: ids answered from it, the rest read with `load` (one vendor
 * call for all misses) and filled. Returns what `load` would have: a map of the found records.
 */
async function throughCache<V>(
  store: EntityCacheStore,
  refresh: boolean,
  kind: string,
  unitOf: (id: string) => string,
  ids: readonly string[],
  load: (ids: string[]) => Promise<Map<string, V>>,
  onOutcome?: CacheOutcomeListener,
): Promise<Map<string, V>> {
  const unique = [...new Set(ids)];
  const keys: CacheKey[] = unique.map((id) => ({ unit: unitOf(id), kind }));
  const { values, ticket } = await store.read(keys, refresh);
  const found = new Map<string, V>();
  const missing: string[] = [];
  unique.forEach((id, i) => {
    const json = values[i];
    if (json === undefined) return missing.push(id);
    let stored: Stored<V>;
    try {
      stored = JSON.parse(json) as Stored<V>;
    } catch {
      return missing.push(id); // an entry that does not parse is read again (and replaced)
    }
    if (stored !== null) found.set(id, stored.v);
  });
  onOutcome?.(kind, unique.length - missing.length, missing.length);
  if (missing.length === 0) return found;
  const loaded = await load(missing);
  for (const [id, value] of loaded) found.set(id, value);
  // Awaited (one round trip on a miss only), so the next request finds what this one read.
  await store
    .fill(
      ticket,
      missing.map((id, i) => ({ key: { unit: keys[unique.indexOf(id)].unit, kind }, json: JSON.stringify(loaded.has(id) ? { v: loaded.get(id) } : null) })),
    )
    .catch(() => undefined);
  return found;
}

export interface CachedReadPorts {
  crm: CrmPort;
  billing: BillingPort;
  erp: ErpPort;
}

export interface CachedReadsOptions {
  onOutcome?: CacheOutcomeListener;
}

/** The ports with their entity reads through the cache, in one mode (see above). Writes pass through. */
export function cachedReads(ports: Pick<Ports, 'crm' | 'billing' | 'erp'>, store: EntityCacheStore, refresh: boolean, options: CachedReadsOptions = {}): CachedReadPorts {
  const { onOutcome } = options;
  const { crm: crmPort, billing: billingPort, erp: erpPort } = ports;
  const through = <V>(kind: string, unitOf: (id: string) => string, ids: readonly string[], load: (ids: string[]) => Promise<Map<string, V>>) =>
    throughCache(store, refresh, kind, unitOf, ids, load, onOutcome);

  const crm = Object.create(crmPort) as CrmPort;
  crm.getAccounts = (ids) => through<CrmAccount>(`crm.${crmPort.vendor}.account`, (id) => cacheUnits.customer('crm', id), ids, (missing) => crmPort.getAccounts(missing));

  const b = `billing.${billingPort.vendor}`;
  const billingCustomer = (id: string) => cacheUnits.customer('billing', id);
  const billing = Object.create(billingPort) as BillingPort;
  billing.getCustomersByCustomerId = (ids) => through<BillingCustomer>(`${b}.customer`, billingCustomer, ids, (missing) => billingPort.getCustomersByCustomerId(missing));
  billing.getContractsByCustomerId = (ids) => through<BillingContract[]>(`${b}.contracts`, billingCustomer, ids, (missing) => billingPort.getContractsByCustomerId(missing));
  billing.getInvoicesByBillingCustomer = (customers, filter) => {
    // A filtered read is not what the unfiltered entry holds: straight to the vendor.
    if (filter?.status) return billingPort.getInvoicesByBillingCustomer(customers, filter);
    const byCanonical = new Map(customers.map((c) => [c.customerId, c]));
    return through<BillingInvoice[]>(`${b}.invoices`, billingCustomer, [...byCanonical.keys()], (missing) =>
      billingPort.getInvoicesByBillingCustomer(missing.map((id) => byCanonical.get(id)!)),
    );
  };
  billing.getContracts = (ids) => through<BillingContract>(`${b}.contract`, (id) => cacheUnits.contract('billing', id), ids, (missing) => billingPort.getContracts(missing));
  billing.getInvoices = (ids) => through<BillingInvoice>(`${b}.invoice`, (id) => cacheUnits.invoice('billing', id), ids, (missing) => billingPort.getInvoices(missing));

  const e = `erp.${erpPort.vendor}`;
  const erp = Object.create(erpPort) as ErpPort;
  erp.getCustomerProfiles = (ids) => through<ErpCustomerProfile>(`${e}.profile`, (id) => cacheUnits.customer('erp', id), ids, (missing) => erpPort.getCustomerProfiles(missing));
  erp.getPostings = (ids) => through<ErpPosting>(`${e}.posting`, (id) => cacheUnits.invoice('erp', id), ids, (missing) => erpPort.getPostings(missing));

  return { crm, billing, erp };
}

/** The read ports of each subgraph in both modes: `cached` for ordinary requests, `refresh` for no-cache ones. */
export interface ReadPortModes<P> {
  cached: P;
  refresh: P;
}
