import type DataLoader from 'dataloader';
import type { CrmAccount, CrmOpportunity, CrmOpportunityLine } from '../../core/canonical';
import { mapLoader } from '../../core/loader';
import type { CrmPort } from './port';

/** Per-request batch loaders: each turns one tick's loads into one SOQL `IN` query. */
export interface CrmLoaders {
  account: DataLoader<string, CrmAccount | null>;
  opportunity: DataLoader<string, CrmOpportunity | null>;
  opportunitiesByAccount: DataLoader<string, CrmOpportunity[]>;
  linesByOpportunity: DataLoader<string, CrmOpportunityLine[]>;
}

/** `batch: false` makes one vendor read per key: the per-entity baseline the benchmarks compare with. */
export function createCrmLoaders(port: CrmPort, batch = true): CrmLoaders {
  const options = { batch };
  return {
    account: mapLoader((ids) => port.getAccounts(ids), null, options),
    opportunity: mapLoader((ids) => port.getOpportunities(ids), null, options),
    opportunitiesByAccount: mapLoader((ids) => port.getOpportunitiesByAccount(ids), [] as CrmOpportunity[], options),
    linesByOpportunity: mapLoader((ids) => port.getOpportunityLines(ids), [] as CrmOpportunityLine[], options),
  };
}
