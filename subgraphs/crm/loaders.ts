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

export function createCrmLoaders(port: CrmPort): CrmLoaders {
  return {
    account: mapLoader((ids) => port.getAccounts(ids), null),
    opportunity: mapLoader((ids) => port.getOpportunities(ids), null),
    opportunitiesByAccount: mapLoader((ids) => port.getOpportunitiesByAccount(ids), [] as CrmOpportunity[]),
    linesByOpportunity: mapLoader((ids) => port.getOpportunityLines(ids), [] as CrmOpportunityLine[]),
  };
}
