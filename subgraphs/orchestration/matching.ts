/**
 * Duplicate detection for the customer master: when two records are likely the same company.
 * Pure functions, no I/O: upsertCustomer runs them over the candidates the three systems return,
 * reconciliation over every customer it reads (linear: records are grouped by key first, and
 * only records sharing a key are compared).
 *
 * A likely duplicate is:
 * - the same tax registration (normalised: case and separators ignored), or
 * - the same normalised name: case, accents, punctuation and legal form ignored, so "Acme Corp",
 *   "ACME Corporation" and "Acme, Inc." are one name, or
 * - the same web domain (not a free-mail one) and a similar name ("Acme" and "Acme Holdings").
 *
 * Two companies that merely share a word ("Acme Corp" and "Acme Industries") are not: their names
 * differ once normalised, and without the same domain or tax registration nothing ties them.
 * Records linked by the account hierarchy (a parent and its child) are not duplicates by name or
 * domain either: a subsidiary is expected to look like its parent.
 */
import type { SystemName } from '../../core/canonical';

/** Legal forms, as whole words, after the name is lower-cased and stripped of punctuation. */
const LEGAL_FORMS = new Set([
  'inc', 'corp', 'co', 'ltd', 'llc', 'llp', 'lp', 'plc', 'gmbh', 'ag', 'kg', 'sa', 'sas', 'sarl', 'srl', 'spa', 'bv', 'nv',
  'oy', 'oyj', 'ab', 'as', 'aps', 'kk', 'pty', 'pte', 'pvt', 'ulc', 'lc', 'pc', 'se',
]);

/** Long spellings of legal forms, written one way so "Corporation" and "Corp" compare equal anywhere in a name. */
const SYNONYMS: Record<string, string> = {
  corporation: 'corp',
  incorporated: 'inc',
  company: 'co',
  limited: 'ltd',
};

/** Words too common to find a company by (they still count when comparing names). */
const GENERIC = new Set([
  'and', 'the', 'of', 'group', 'holdings', 'holding', 'industries', 'systems', 'labs', 'partners', 'global', 'international',
  'services', 'solutions', 'technologies', 'technology', 'tech', 'enterprises', 'consulting', 'software', 'capital',
]);

/** Email providers whose domain says nothing about the company. */
const FREE_MAIL = new Set([
  'gmail.com', 'googlemail.com', 'yahoo.com', 'hotmail.com', 'outlook.com', 'live.com', 'msn.com', 'aol.com', 'icloud.com',
  'me.com', 'proton.me', 'protonmail.com', 'gmx.com', 'gmx.de', 'web.de', 'mail.com', 'yandex.ru', 'qq.com', '163.com',
]);

/** Why two records are likely the same company. */
export type MatchReason = 'SAME_TAX_REGISTRATION' | 'SAME_NAME' | 'SAME_DOMAIN_SIMILAR_NAME';

/** A customer record of any system, as far as matching needs it. */
export interface Party {
  system: SystemName;
  /** The record's id in its system. */
  id: string;
  /** The canonical customer id it is linked to (the CRM id for CRM records), when known. */
  customerId: string | null;
  name: string | null;
  /** Website, host or email address: anything a domain can be read from. */
  domain: string | null;
  taxRegistration: string | null;
  /** The CRM parent account's canonical id, when known. */
  parentId?: string | null;
}

/** The words of a company name, normalised: lower case, no accents or punctuation, no trailing legal form. */
export function nameTokens(name: string | null | undefined): string[] {
  if (!name) return [];
  let text = name.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/&/g, ' and ');
  // Dotted abbreviations become words: "L.L.C." -> "llc", "S.A." -> "sa".
  text = text.replace(/\b(?:[a-z]\.){2,}/g, (m) => m.replace(/\./g, ''));
  const tokens = text.replace(/[^a-z0-9]+/g, ' ').trim().split(' ').filter(Boolean).map((t) => SYNONYMS[t] ?? t);
  // "Acme Co., Ltd." -> "acme": legal forms at the end go (but never the whole name).
  while (tokens.length > 1 && LEGAL_FORMS.has(tokens[tokens.length - 1])) tokens.pop();
  if (tokens.length > 1 && tokens[0] === 'the') tokens.shift();
  return tokens;
}

export function normaliseName(name: string | null | undefined): string {
  return nameTokens(name).join(' ');
}

/** 'https://www.Acme.com/about', 'billing@acme.com' or 'acme.com' -> 'acme.com'; null if no domain. */
export function normaliseDomain(value: string | null | undefined): string | null {
  if (!value) return null;
  let host = value.trim().toLowerCase();
  const at = host.lastIndexOf('@');
  if (at >= 0) host = host.slice(at + 1);
  host = host.replace(/^[a-z][a-z0-9+.-]*:\/\//, '').split(/[/?#:]/)[0].replace(/^www\./, '').replace(/\.$/, '');
  return /^[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$/.test(host) ? host : null;
}

/** A domain that identifies a company (not a free-mail provider's). */
export function companyDomain(value: string | null | undefined): string | null {
  const domain = normaliseDomain(value);
  return domain && !FREE_MAIL.has(domain) ? domain : null;
}

/** 'us-ein 12-345' -> 'USEIN12345'; null when too short to identify anyone. */
export function normaliseTaxId(value: string | null | undefined): string | null {
  const text = (value ?? '').toUpperCase().replace(/[^A-Z0-9]/g, '');
  return text.length >= 4 ? text : null;
}

function levenshtein(a: string, b: string): number {
  if (a === b) return 0;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

/**
 * Whether two normalised names are close enough that a shared domain makes them one company: one's
 * words all within the other's ("acme" in "acme holdings"), most words shared, or a near spelling.
 */
export function similarNames(a: string[], b: string[]): boolean {
  if (a.length === 0 || b.length === 0) return false;
  const x = new Set(a);
  const y = new Set(b);
  const [small, large] = x.size <= y.size ? [x, y] : [y, x];
  const shared = [...small].filter((t) => large.has(t));
  if (shared.length === small.size && [...small].some((t) => t.length >= 3)) return true;
  if (shared.length / (x.size + y.size - shared.length) >= 0.6) return true;
  const left = a.join(' ');
  const right = b.join(' ');
  return 1 - levenshtein(left, right) / Math.max(left.length, right.length) >= 0.8;
}

/** A party with its matching keys worked out once. */
interface Keyed {
  party: Party;
  tokens: string[];
  name: string;
  domain: string | null;
  tax: string | null;
}

function keyed(party: Party): Keyed {
  const tokens = nameTokens(party.name);
  return { party, tokens, name: tokens.join(' '), domain: companyDomain(party.domain), tax: normaliseTaxId(party.taxRegistration) };
}

/** Parent and child (either way) are expected to look alike. */
function related(a: Party, b: Party): boolean {
  const ida = a.customerId ?? a.id;
  const idb = b.customerId ?? b.id;
  return (!!a.parentId && a.parentId === idb) || (!!b.parentId && b.parentId === ida);
}

/** How a parent and its child are compared. */
export interface MatchOptions {
  /**
   * When true, a parent and its child with the same (normalised) name are still duplicates; only
   * a shared domain with a similar name is expected of them. For changes a customer portal makes:
   * keeping its parent must not let it take its parent's (or its child's) very name. Default false.
   */
  relativesKeepTheirNames?: boolean;
}

function reasonsOf(a: Keyed, b: Keyed, options: MatchOptions = {}): MatchReason[] {
  const reasons: MatchReason[] = [];
  if (a.tax && a.tax === b.tax) reasons.push('SAME_TAX_REGISTRATION');
  if (related(a.party, b.party)) {
    if (options.relativesKeepTheirNames && a.name && a.name === b.name) reasons.push('SAME_NAME');
    return reasons;
  }
  if (a.name && a.name === b.name) reasons.push('SAME_NAME');
  else if (a.domain && a.domain === b.domain && similarNames(a.tokens, b.tokens)) reasons.push('SAME_DOMAIN_SIMILAR_NAME');
  return reasons;
}

/** Why `a` and `b` are likely the same company ([] when they are not). */
export function matchReasons(a: Party, b: Party): MatchReason[] {
  return reasonsOf(keyed(a), keyed(b));
}

export interface DuplicateCandidate {
  party: Party;
  reasons: MatchReason[];
}

/** The candidates that are likely `subject` itself, with why. */
export function likelyDuplicates(subject: Party, candidates: readonly Party[], options: MatchOptions = {}): DuplicateCandidate[] {
  const me = keyed(subject);
  const found: DuplicateCandidate[] = [];
  for (const candidate of candidates) {
    const reasons = reasonsOf(me, keyed(candidate), options);
    if (reasons.length > 0) found.push({ party: candidate, reasons });
  }
  return found;
}

/** The words worth searching the vendors with: distinctive first, at most `max`. */
export function searchTokens(name: string, max = 3): string[] {
  const tokens = [...new Set(nameTokens(name))];
  const distinctive = tokens.filter((t) => !GENERIC.has(t) && t.length >= 2).sort((a, b) => b.length - a.length);
  if (distinctive.length > 0) return distinctive.slice(0, max);
  return tokens.sort((a, b) => b.length - a.length).slice(0, 1);
}

export interface DuplicateGroup {
  members: Party[];
  reasons: MatchReason[];
}

export interface GroupOptions {
  /**
   * Records sharing one domain beyond this many are not compared pairwise (a domain that common,
   * a hosting provider's for instance, says nothing): keeps the work linear. Default 50.
   */
  maxDomainBlock?: number;
  /** Ignore pairs for which this says true (for example two records of one customer). */
  ignore?: (a: Party, b: Party) => boolean;
}

/**
 * Groups of records that are likely one company, in time linear in the number of records: records
 * are bucketed by tax registration, name and domain, and only records in one bucket are compared.
 */
export function findDuplicateGroups(parties: readonly Party[], options: GroupOptions = {}): DuplicateGroup[] {
  const { maxDomainBlock = 50, ignore } = options;
  const items = parties.map(keyed);
  const parent = items.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]];
      i = parent[i];
    }
    return i;
  };
  const edges: { a: number; b: number; reasons: MatchReason[] }[] = [];
  const seen = new Set<string>();
  const compare = (i: number, j: number) => {
    const pair = i < j ? `${i}:${j}` : `${j}:${i}`;
    if (seen.has(pair)) return;
    seen.add(pair);
    if (ignore?.(items[i].party, items[j].party)) return;
    const reasons = reasonsOf(items[i], items[j]);
    if (reasons.length === 0) return;
    edges.push({ a: i, b: j, reasons });
    parent[find(i)] = find(j);
  };
  const buckets = (key: (k: Keyed) => string | null) => {
    const map = new Map<string, number[]>();
    items.forEach((item, i) => {
      const k = key(item);
      if (!k) return;
      // Appended in place: copying the bucket on every member made a large bucket quadratic.
      const bucket = map.get(k);
      if (bucket) bucket.push(i);
      else map.set(k, [i]);
    });
    return map.values();
  };
  for (const bucket of [...buckets((k) => (k.tax ? `t:${k.tax}` : null)), ...buckets((k) => (k.name ? `n:${k.name}` : null))]) {
    // Every member of a tax or name bucket matches every other (unless ignored or related): comparing
    // each with the first few is enough to join them, and keeps a large bucket linear.
    for (let i = 1; i < bucket.length; i++) for (let j = 0; j < Math.min(i, 3); j++) compare(bucket[j], bucket[i]);
  }
  for (const bucket of buckets((k) => (k.domain ? `d:${k.domain}` : null))) {
    if (bucket.length > maxDomainBlock) continue;
    for (let i = 1; i < bucket.length; i++) for (let j = 0; j < i; j++) compare(bucket[j], bucket[i]);
  }
  const groups = new Map<number, { members: Set<number>; reasons: Set<MatchReason> }>();
  for (const edge of edges) {
    const root = find(edge.a);
    const group = groups.get(root) ?? { members: new Set<number>(), reasons: new Set<MatchReason>() };
    group.members.add(edge.a).add(edge.b);
    for (const r of edge.reasons) group.reasons.add(r);
    groups.set(root, group);
  }
  // In input order: groups by their first member, members as given.
  return [...groups.values()]
    .map((g) => ({ indexes: [...g.members].sort((a, b) => a - b), reasons: [...g.reasons].sort() }))
    .sort((a, b) => a.indexes[0] - b.indexes[0])
    .map((g) => ({ members: g.indexes.map((i) => items[i].party), reasons: g.reasons }));
}
