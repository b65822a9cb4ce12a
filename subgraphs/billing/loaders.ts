import DataLoader from 'dataloader';
import type { BillingContract, BillingCustomer, BillingInvoice } from '../../core/canonical';
import { mapLoader } from '../../core/loader';
import type { BillingPort } from './port';

/** Per-request batch loaders over Stripe's bulk reads (search with OR clauses, ten ids a query). */
export interface BillingLoaders {
  /** Billing customer by canonical customer id. */
  customer: DataLoader<string, BillingCustomer | null>;
  contractsByCustomer: DataLoader<string, BillingContract[]>;
  /** Every invoice of a canonical customer, newest first. */
  invoicesByCustomer: DataLoader<string, BillingInvoice[]>;
  contract: DataLoader<string, BillingContract | null>;
  invoice: DataLoader<string, BillingInvoice | null>;
}

/** `batch: false` makes one vendor read per key: the per-entity baseline the benchmarks compare with. */
export function createBillingLoaders(port: BillingPort, batch = true): BillingLoaders {
  const options = { batch };
  const customer = mapLoader((ids: readonly string[]) => port.getCustomersByCustomerId(ids), null, options);
  const contract = mapLoader((ids: readonly string[]) => port.getContracts(ids), null, options);
  const invoice = mapLoader((ids: readonly string[]) => port.getInvoices(ids), null, options);

  const contractsByCustomer = mapLoader(async (ids: readonly string[]) => {
    const found = await port.getContractsByCustomerId(ids);
    // Contracts read in bulk also answer later loads by id within this request.
    for (const contracts of found.values()) for (const c of contracts) contract.prime(c.id, c);
    return found;
  }, [] as BillingContract[], options);

  const invoicesByCustomer = new DataLoader<string, BillingInvoice[]>(async (ids) => {
    // Invoices are found through the billing customers, which the customer loader reads once.
    const customers = (await customer.loadMany(ids)).filter(
      (c): c is BillingCustomer => c !== null && !(c instanceof Error),
    );
    const found = customers.length > 0 ? await port.getInvoicesByBillingCustomer(customers) : new Map<string, BillingInvoice[]>();
    for (const invoices of found.values()) for (const i of invoices) invoice.prime(i.id, i);
    return ids.map((id) => found.get(id) ?? []);
  }, options);

  return { customer, contractsByCustomer, invoicesByCustomer, contract, invoice };
}
