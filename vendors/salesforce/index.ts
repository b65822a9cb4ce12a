/**
 * The Salesforce module: everything Concord says to a Salesforce org goes through here. One client
 * per process (client.ts: jsforce, observed transport, API usage), the CRM port adapter
 * (adapter.ts, errors mapped in errors.ts), the change feed the poller runs (changes.ts), and the
 * org's limit as metrics and the ops console read it.
 */
import type { VendorCallListener, VendorLimitPolicy } from '../../core/vendor-call';
import type { CrmPort } from '../../subgraphs/crm/port';
import type { ChangeFeed } from '../../subgraphs/events/poller';
import { createSalesforceAdapter } from './adapter';
import { createSalesforceChangeFeed } from './changes';
import { createSalesforceClient, type SalesforceSettings } from './client';

export type { SalesforceSettings } from './client';

/** The org's 24-hour API request allocation, which Salesforce reports on every answer (Sforce-Limit-Info). */
export const salesforceLimits: VendorLimitPolicy = { system: 'CRM', kind: 'DAILY_REQUESTS', reported: true };

export interface SalesforceModule {
  port: CrmPort;
  changeFeed: ChangeFeed;
  limits: VendorLimitPolicy;
}

export function createSalesforceModule(settings: SalesforceSettings, options: { onCall?: VendorCallListener } = {}): SalesforceModule {
  const client = createSalesforceClient({ ...settings, onCall: options.onCall });
  return {
    port: createSalesforceAdapter({ ...settings, client }),
    changeFeed: createSalesforceChangeFeed({ client }),
    limits: salesforceLimits,
  };
}
