/**
 * The shared seed (simulators/common/seed.ts) with its ERP side as Business Central holds it:
 * records are keyed by GUIDs (SystemId), derived here deterministically from the seed's own keys,
 * and the customer's `number` (BC's "No.", a Code[20] field that BC stores upper-case) is the
 * canonical customer id. Posted invoices keep the seed's document numbers; the billing invoice id
 * is the invoice's externalDocumentNumber. `businessCentralSeed` is idempotent, so a dev root can
 * map the seed once and hand the same one to every simulator (the CRM then holds the BC ids).
 */
import { createHash } from 'node:crypto';
import type { Seed } from '../common/seed';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A stable GUID for `kind` + `key` (version-4 shaped, so it looks like one BC would hand out). */
export function stableGuid(kind: string, key: string): string {
  const hex = createHash('sha256').update(`businesscentral:${kind}:${key}`).digest('hex');
  const variant = ((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export function isGuid(value: string): boolean {
  return GUID.test(value);
}

/**
 * How Concord writes a case-sensitive id into a BC Code field (vendors/businesscentral/mapping.ts
 * toCode): upper-case, plus `~` and one character per 5 telling which letters were lower-case.
 * The seed's documents are ones Concord posted earlier, so they carry the same form.
 */
export function concordCode(id: string): string {
  if (id === id.toUpperCase()) return id;
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';
  let suffix = '';
  for (let chunk = 0; chunk < Math.ceil(id.length / 5); chunk++) {
    let bits = 0;
    for (let i = 0; i < 5; i++) {
      const c = id[chunk * 5 + i];
      if (c !== undefined && c >= 'a' && c <= 'z') bits |= 1 << i;
    }
    suffix += alphabet[bits];
  }
  return `${id.toUpperCase()}~${suffix}`;
}

export function businessCentralSeed(seed: Seed): Seed {
  return {
    ...seed,
    customers: seed.customers.map((c) => ({
      ...c,
      erpId: isGuid(c.erpId) ? c.erpId : stableGuid('customer', c.crmId),
      customerNumber: c.crmId.toUpperCase(),
    })),
    invoices: seed.invoices.map((inv) =>
      inv.posting
        ? {
            ...inv,
            posting: {
              ...inv.posting,
              erpId: isGuid(inv.posting.erpId) ? inv.posting.erpId : stableGuid('salesInvoice', inv.id),
              paymentErpId: inv.posting.paymentErpId && !isGuid(inv.posting.paymentErpId) ? stableGuid('customerPayment', inv.id) : inv.posting.paymentErpId,
            },
          }
        : inv,
    ),
  };
}
