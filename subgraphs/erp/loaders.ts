import type DataLoader from 'dataloader';
import type { ErpCustomerProfile, ErpPosting } from '../../core/canonical';
import { mapLoader } from '../../core/loader';
import type { ErpPort } from './port';

/** Per-request batch loaders: one SuiteQL `IN` query per batch. */
export interface ErpLoaders {
  profile: DataLoader<string, ErpCustomerProfile | null>;
  /** Posting by billing invoice id (NOT_POSTED when the ERP has none). */
  posting: DataLoader<string, ErpPosting | null>;
}

/** `batch: false` makes one vendor read per key: the per-entity baseline the benchmarks compare with. */
export function createErpLoaders(port: ErpPort, batch = true): ErpLoaders {
  const options = { batch };
  return {
    profile: mapLoader((ids) => port.getCustomerProfiles(ids), null, options),
    posting: mapLoader((ids) => port.getPostings(ids), null, options),
  };
}
