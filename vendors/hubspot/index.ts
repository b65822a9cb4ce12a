/**
 * The HubSpot module: everything Concord says to a HubSpot account goes through here. One client
 * per process (client.ts: @hubspot/api-client, every attempt gated, traced and reported), the CRM
 * port adapter (adapter.ts, errors mapped in errors.ts), the change feed the poller runs
 * (changes.ts) and the account's limits as the governor, metrics and the ops console read them.
 */
import { createHash } from 'node:crypto';
import { createMemoryCapacityGovernor, type CapacityDescriptor, type CapacityGovernor } from '../../core/capacity';
import type { VendorCallListener, VendorLimitPolicy } from '../../core/vendor-call';
import type { CrmPort } from '../../subgraphs/crm/port';
import type { ChangeFeed } from '../../subgraphs/events/poller';
import { createHubSpotAdapter } from './adapter';
import { createHubSpotChangeFeed } from './changes';
import { createHubSpotClient, type HubSpotSettings } from './client';

export type { HubSpotSettings } from './client';

/**
 * HubSpot's documented burst limit for private apps is per rolling ten seconds (developers.hubspot.com
 * "API usage guidelines and limits": 100 on Free/Starter, 190 on Professional/Enterprise, 250 with
 * the API limit increase); as requests a second for metrics and the ops console, rounded down.
 */
export const hubspotLimits = (requestsPerTenSeconds = 190): VendorLimitPolicy => ({ system: 'CRM', kind: 'REQUESTS_PER_SECOND', max: Math.max(1, Math.floor(requestsPerTenSeconds / 10)) });

/** The account as a budget key: a hash of the token (a secret, never a Redis key) and the base URL. */
const accountOf = (settings: Pick<HubSpotSettings, 'accessToken' | 'baseUrl'>) =>
  createHash('sha256').update(`${settings.baseUrl ?? ''}:${settings.accessToken}`).digest('hex').slice(0, 16);

/**
 * The account's capacity: the ten-second rolling window (plus a second's guard for transit, so
 * HubSpot, counting on arrival, never sees more than the limit in any ten seconds of its own), and
 * the daily allocation HubSpot reports on its answers (X-HubSpot-RateLimit-Daily and -Remaining):
 * bulk work stops at 90% of it, interactive reads at 97%, as for Salesforce.
 */
export const hubspotCapacity = (settings: Pick<HubSpotSettings, 'accessToken' | 'baseUrl' | 'requestsPerTenSeconds'>): CapacityDescriptor => ({
  system: 'CRM',
  vendor: 'hubspot',
  account: accountOf(settings),
  perSecond: settings.requestsPerTenSeconds ?? 190,
  rateWindowMs: 11_000,
  daily: { bulk: 0.9, interactive: 0.97 },
});

/** CRM search's own limit: 5 requests a second per account (HubSpot CRM search guide, "Limitations"). */
export const hubspotSearchCapacity = (settings: Pick<HubSpotSettings, 'accessToken' | 'baseUrl' | 'searchPerSecond'>): CapacityDescriptor => ({
  system: 'CRM',
  vendor: 'hubspot',
  account: `${accountOf(settings)}:search`,
  perSecond: settings.searchPerSecond ?? 5,
});

export interface HubSpotModule {
  port: CrmPort;
  changeFeed: ChangeFeed;
  limits: VendorLimitPolicy;
  capacity: CapacityDescriptor;
}

export function createHubSpotModule(settings: HubSpotSettings, options: { onCall?: VendorCallListener; governor?: CapacityGovernor } = {}): HubSpotModule {
  const governor = options.governor ?? createMemoryCapacityGovernor();
  const client = createHubSpotClient({
    ...settings,
    gate: governor.gate(hubspotCapacity(settings)),
    searchGate: governor.gate(hubspotSearchCapacity(settings)),
    onCall: options.onCall,
  });
  return {
    port: createHubSpotAdapter({ client }),
    changeFeed: createHubSpotChangeFeed({ client }),
    limits: hubspotLimits(settings.requestsPerTenSeconds),
    capacity: hubspotCapacity(settings),
  };
}
