/**
 * Reading the three systems for reconciliation: every record, through each vendor's bulk read (SOQL
 * keyset pages of 2000, Stripe list pages of 100, SuiteQL keyset pages of 1000), page after page
 * within a pace per vendor, so the cost grows linearly with the data (records / page size calls)
 * and never exceeds the share of a vendor's rate limit given to reconciliation. The three systems
 * are read at the same time; within one, lists run side by side under the shared pace.
 */
import type {
  BillingContract,
  BillingCustomer,
  BillingInvoice,
  CrmAccount,
  CrmContract,
  ErpCustomerRecord,
  ErpTransaction,
  Page,
  SystemName,
} from '../../../core/canonical';
import type { Ports } from '../steps';

export interface Snapshot {
  crmAccounts: CrmAccount[];
  crmContracts: CrmContract[];
  billingCustomers: BillingCustomer[];
  billingContracts: BillingContract[];
  billingInvoices: BillingInvoice[];
  erpCustomers: ErpCustomerRecord[];
  erpTransactions: ErpTransaction[];
  /** ERP periods closed to posting (YYYY-MM). */
  closedPeriods: string[];
  /** Vendor requests made for the snapshot, per system. */
  calls: Record<SystemName, number>;
}

/** Requests per second allowed to reconciliation, per system. */
export type Pace = Record<SystemName, number>;

/** At most `perSecond` starts per second (a leaky bucket without bursts). */
export function createPacer(perSecond: number): () => Promise<void> {
  const gap = perSecond > 0 ? 1000 / perSecond : 0;
  let next = 0;
  return async () => {
    if (gap === 0) return;
    const now = Date.now();
    const at = Math.max(now, next);
    next = at + gap;
    if (at > now) await new Promise((resolve) => setTimeout(resolve, at - now));
  };
}

/**
 * Page sizes: each vendor's largest. Salesforce's is 1999 because listing asks for one row more
 * than it returns (to know whether more follow): 2000 rows fit one query batch, 2001 would not.
 */
const PAGES = { crm: 1999, billing: 100, erp: 1000 } as const;

export async function readSnapshot(ports: Ports, pace: Pace): Promise<Snapshot> {
  const calls: Record<SystemName, number> = { CRM: 0, BILLING: 0, ERP: 0 };
  const pacers = { CRM: createPacer(pace.CRM), BILLING: createPacer(pace.BILLING), ERP: createPacer(pace.ERP) };

  async function all<T>(system: SystemName, first: number, read: (page: { first: number; after?: string | null }) => Promise<Page<T>>): Promise<T[]> {
    const items: T[] = [];
    let after: string | null = null;
    do {
      await pacers[system]();
      calls[system] += 1;
      const page: Page<T> = await read({ first, after });
      items.push(...page.items);
      after = page.hasNextPage && page.endCursor ? page.endCursor : null;
    } while (after);
    return items;
  }

  const [crmAccounts, crmContracts, billingCustomers, billingContracts, billingInvoices, erpCustomers, erpTransactions, closedPeriods] = await Promise.all([
    all('CRM', PAGES.crm, (p) => ports.crm.listAccounts(p)),
    all('CRM', PAGES.crm, (p) => ports.crm.listContracts(p)),
    all('BILLING', PAGES.billing, (p) => ports.billing.listCustomers(p)),
    all('BILLING', PAGES.billing, (p) => ports.billing.listContracts(p)),
    all('BILLING', PAGES.billing, (p) => ports.billing.listInvoices(p)),
    all('ERP', PAGES.erp, (p) => ports.erp.listCustomers(p)),
    all('ERP', PAGES.erp, (p) => ports.erp.listTransactions(p)),
    (async () => {
      await pacers.ERP();
      calls.ERP += 1;
      return ports.erp.closedPeriods();
    })(),
  ]);
  return { crmAccounts, crmContracts, billingCustomers, billingContracts, billingInvoices, erpCustomers, erpTransactions, closedPeriods, calls };
}
