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

export function createBillingLoaders(port: BillingPort): BillingLoaders {
  const customer = mapLoader((ids: readonly string[]) => port.getCustomersByCustomerId(ids), null);
  const contract = mapLoader((ids: readonly string[]) => port.getContracts(ids), null);
  const invoice = mapLoader((ids: readonly string[]) => port.getInvoices(ids), null);

  const contractsByCustomer = mapLoader(async (ids: readonly string[]) => {
    const found = await port.getContractsByCustomerId(ids);
    // Contracts read in bulk also answer later loads by id within this request.
    for (const contracts of found.values()) for (const c of contracts) contract.prime(c.id, c);
    return found;
  }, [] as BillingContract[]);

  const invoicesByCustomer = new DataLoader<string, BillingInvoice[]>(async (ids) => {
    // Invoices are found through the billing customers, which the customer loader reads once.
    const customers = (await customer.loadMany(ids)).filter(
      (c): c is BillingCustomer => c !== null && !(c instanceof Error),
    );
    const found = customers.length > 0 ? await port.getInvoicesByBillingCustomer(customers) : new Map<string, BillingInvoice[]>();
    for (const invoices of found.values()) for (const i of invoices) invoice.prime(i.id, i);
    return ids.map((id) => found.get(id) ?? []);
  });

  return { customer, contractsByCustomer, invoicesByCustomer, contract, invoice };
}
