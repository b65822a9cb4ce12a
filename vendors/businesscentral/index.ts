/**
 * The Business Central module: everything Concord says to a Business Central environment goes
 * through here. One client per process (client.ts: the client-credentials token, the capacity gate,
 * timeouts, metrics), the ERP port adapter (adapter.ts, errors in errors.ts), the polling change
 * feed (changes.ts) and BC's per-user limit as metrics and the ops console read it.
 */
import { createMemoryCapacityGovernor, type CapacityDescriptor, type CapacityGovernor } from '../../core/capacity';
import type { VendorCallListener, VendorLimitPolicy } from '../../core/vendor-call';
import type { ErpPort } from '../../subgraphs/erp/port';
import type { ChangeFeed } from '../../subgraphs/events/poller';
import { createBusinessCentralAdapter } from './adapter';
import { createBusinessCentralChangeFeed } from './changes';
import { createBusinessCentralClient } from './client';

/** What a deployment configures for its Business Central environment (an Entra app registration with API.ReadWrite.All). */
export interface BusinessCentralSettings {
  /** API host: https://api.businesscentral.dynamics.com, or a simulator URL. */
  baseUrl: string;
  /** Token endpoint: https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token, or a simulator URL. */
  tokenUrl: string;
  tenant: string;
  environment: string;
  clientId: string;
  clientSecret: string;
  /** Company id (GUID); default: the environment's only company. */
  companyId?: string;
  /** G/L account numbers of invoice lines and of the tax line. Defaults '40100' and '22300'. */
  revenueAccount?: string;
  taxAccount?: string;
  /** Requests in flight at once. Default 5 (CONCORD_ERP_CONCURRENCY; BC processes 5 per user at once and queues up to 100). */
  concurrency?: number;
}

export interface BusinessCentralModule {
  port: ErpPort;
  changeFeed: ChangeFeed;
  limits: VendorLimitPolicy;
  capacity: CapacityDescriptor;
}

/** BC's documented per-user limit: 6,000 requests in any 5 minutes, i.e. 20 a second on average. */
export const businessCentralLimits: VendorLimitPolicy = { system: 'ERP', kind: 'REQUESTS_PER_SECOND', max: 20 };

/**
 * The environment's capacity: BC's operational limits are per user (the app registration), so
 * every Concord process of the tenant and environment shares them: requests at once
 * (CONCORD_ERP_CONCURRENCY) and 6,000 requests in any 5 minutes, kept as 20 a second.
 */
export const businessCentralCapacity = (settings: Pick<BusinessCentralSettings, 'tenant' | 'environment' | 'clientId' | 'concurrency'>): CapacityDescriptor => ({
  system: 'ERP',
  vendor: 'businesscentral',
  account: `${settings.tenant}/${settings.environment}/${settings.clientId}`,
  concurrency: settings.concurrency ?? 5,
  perSecond: 20,
});

export function createBusinessCentralModule(settings: BusinessCentralSettings, options: { onCall?: VendorCallListener; governor?: CapacityGovernor } = {}): BusinessCentralModule {
  const { concurrency = 5 } = settings;
  const governor = options.governor ?? createMemoryCapacityGovernor();
  const client = createBusinessCentralClient({ ...settings, concurrency, gate: governor.gate(businessCentralCapacity(settings)), onCall: options.onCall });
  let known: string | null = settings.companyId ? `companies(${settings.companyId})` : null;
  const companyPath = async () => {
    if (known) return known;
    const response = await client.request({ method: 'GET', path: 'companies', operation: 'companies.list' });
    const companies = ((response.body as { value?: { id: string }[] } | null)?.value ?? []);
    if (response.status !== 200 || companies.length !== 1) throw new Error('Business Central company not found (set BUSINESSCENTRAL_COMPANY_ID)');
    known = `companies(${companies[0].id})`;
    return known;
  };
  return {
    port: createBusinessCentralAdapter({ ...settings, client }),
    changeFeed: createBusinessCentralChangeFeed({ client, companyPath }),
    limits: businessCentralLimits,
    capacity: businessCentralCapacity(settings),
  };
}
