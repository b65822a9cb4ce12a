/**
 * Duplicate detection (subgraphs/orchestration/matching.ts): the cases the issue names, the
 * normalisation rules, and properties that must hold for any name.
 */
import fc from 'fast-check';
import { buildSeed } from '../../simulators/common/seed';
import {
  companyDomain,
  findDuplicateGroups,
  likelyDuplicates,
  matchReasons,
  normaliseDomain,
  normaliseName,
  normaliseTaxId,
  searchTokens,
  type Party,
} from '../../subgraphs/orchestration/matching';

const party = (id: string, name: string, domain: string | null = null, taxRegistration: string | null = null, extra: Partial<Party> = {}): Party => ({
  system: 'CRM',
  id,
  customerId: id,
  name,
  domain,
  taxRegistration,
  ...extra,
});

describe('duplicate detection', () => {
  test('"Acme Corp" and "ACME Corporation" with the same domain are one company', () => {
    expect(matchReasons(party('a', 'Acme Corp', 'acme.com'), party('b', 'ACME Corporation', 'https://www.acme.com/'))).toEqual(['SAME_NAME']);
  });

  test('two distinct companies that merely share a word are not flagged', () => {
    expect(matchReasons(party('a', 'Acme Corp', 'acme-corp.example.com'), party('b', 'Acme Industries', 'acme-industries.example.com'))).toEqual([]);
    expect(matchReasons(party('a', 'Acme Rockets', 'acme.com'), party('b', 'Acme Anvils', 'acme.com'))).toEqual([]);
    expect(matchReasons(party('a', 'Globex Corporation'), party('b', 'Initech Corporation'))).toEqual([]);
    expect(matchReasons(party('a', 'First National Bank'), party('b', 'First National Insurance'))).toEqual([]);
  });

  test('a shared company domain with a similar name, or a shared tax registration, is a duplicate', () => {
    expect(matchReasons(party('a', 'Acme', 'acme.com'), party('b', 'Acme Holdings', 'billing@acme.com'))).toEqual(['SAME_DOMAIN_SIMILAR_NAME']);
    expect(matchReasons(party('a', 'Globex', 'globex.io'), party('b', 'Glebex', 'globex.io'))).toEqual(['SAME_DOMAIN_SIMILAR_NAME']);
    expect(matchReasons(party('a', 'Umbrella', null, 'US-EIN 12-3456789'), party('b', 'Umbrella Pharma', null, 'us-ein-123456789'))).toEqual(['SAME_TAX_REGISTRATION']);
    // A free-mail domain ties nobody together.
    expect(matchReasons(party('a', 'Acme', 'jo@gmail.com'), party('b', 'Acme Holdings', 'al@gmail.com'))).toEqual([]);
  });

  test('a parent and its subsidiary are not duplicates by name or domain', () => {
    const parent = party('p', 'Acme Corp', 'acme.com');
    const child = party('c', 'Acme Corp EMEA', 'acme.com', null, { parentId: 'p' });
    expect(matchReasons(parent, child)).toEqual([]);
    expect(matchReasons(party('p', 'Acme', null, 'DE123456789'), party('c', 'Acme GmbH', null, 'DE123456789', { parentId: 'p' }))).toEqual(['SAME_TAX_REGISTRATION']);
  });

  test('for a portal, a parent and its child with the very same name are duplicates (the domain alone is still expected)', () => {
    const parent = party('p', 'Acme Corp', 'acme.com');
    const strict = { relativesKeepTheirNames: true };
    expect(likelyDuplicates(party('c', 'ACME Corporation', 'acme.com', null, { parentId: 'p' }), [parent], strict).map((d) => d.reasons)).toEqual([['SAME_NAME']]);
    expect(likelyDuplicates(party('c', 'Acme Corp EMEA', 'acme.com', null, { parentId: 'p' }), [parent], strict)).toEqual([]);
    expect(likelyDuplicates(party('c', 'ACME Corporation', 'acme.com', null, { parentId: 'p' }), [parent])).toEqual([]);
  });

  test('normalisation: case, accents, punctuation, dotted and long legal forms, "&", a leading "The"', () => {
    expect(normaliseName('ACME, Inc.')).toBe('acme');
    expect(normaliseName('Acme Co., Ltd.')).toBe('acme');
    expect(normaliseName('Acme L.L.C.')).toBe('acme');
    expect(normaliseName('The Acme Company')).toBe('acme');
    expect(normaliseName('Société Générale S.A.')).toBe('societe generale');
    expect(normaliseName('Johnson & Johnson')).toBe('johnson and johnson');
    // A legal form in the middle is kept (spelled one way), and a name is never emptied.
    expect(normaliseName('Acme Corporation 2')).toBe('acme corp 2');
    expect(normaliseName('Corp')).toBe('corp');
    expect(normaliseDomain('https://WWW.Acme.com:8443/about?x')).toBe('acme.com');
    expect(normaliseDomain('billing@acme.co.uk')).toBe('acme.co.uk');
    expect(normaliseDomain('not a domain')).toBeNull();
    expect(companyDomain('someone@gmail.com')).toBeNull();
    expect(normaliseTaxId(' us-ein 100-000 ')).toBe('USEIN100000');
    expect(normaliseTaxId('12')).toBeNull();
    expect(searchTokens('Acme Industries International')).toEqual(['acme']);
    expect(searchTokens('Global Holdings')).toEqual(['holdings']);
  });

  test('likelyDuplicates keeps only the candidates that match, with why', () => {
    const found = likelyDuplicates(party('new', 'ACME Corporation', 'acme.com'), [
      party('a', 'Acme Corp', 'acme.com'),
      party('b', 'Acme Industries', 'acme-industries.com'),
      party('c', 'Initech', null, 'X-1234'),
    ]);
    expect(found.map((f) => [f.party.id, f.reasons])).toEqual([['a', ['SAME_NAME']]]);
  });

  test('the consistent seed, at 50 and 2,000 customers, has no duplicate group', () => {
    for (const customers of [50, 2000]) {
      const seed = buildSeed({ customers });
      const parties = seed.customers.map((c) =>
        party(c.crmId, c.name, c.domain, c.taxRegistration, { parentId: c.parentIndex === null ? null : seed.customers[c.parentIndex].crmId }),
      );
      expect(findDuplicateGroups(parties)).toEqual([]);
    }
  });

  test('groups join every spelling of one company, and only them', () => {
    const groups = findDuplicateGroups([
      party('1', 'Acme Corp', 'acme.com'),
      party('2', 'ACME Corporation', 'acme.com'),
      party('3', 'Acme, Inc.', null),
      party('4', 'Acme Industries', 'acme-industries.com'),
      party('5', 'Initech', null, 'US-1234'),
      party('6', 'Initrode', null, 'us 1234'),
      party('7', 'Hooli', 'hooli.com'),
    ]);
    expect(groups.map((g) => [g.members.map((m) => m.id), g.reasons])).toEqual([
      [['1', '2', '3'], ['SAME_NAME']],
      [['5', '6'], ['SAME_TAX_REGISTRATION']],
    ]);
  });

  test('grouping stays linear: 20,000 records sharing a name are joined without comparing every pair', () => {
    const parties = Array.from({ length: 20_000 }, (_, i) => party(`x${i}`, i % 2 === 0 ? 'Same Name Corp' : `Other ${i}`, `d${i}.example.com`));
    // Work counted, not timed (a busy machine is slow, not quadratic): `ignore` is asked once per
    // pair compared. Every pair of the 10,000 would be 50 million; linear is a few per record.
    let compared = 0;
    const groups = findDuplicateGroups(parties, {
      ignore: () => {
        compared += 1;
        return false;
      },
    });
    expect(compared).toBeLessThan(5 * parties.length);
    expect(compared).toBeGreaterThan(0);
    expect(groups).toHaveLength(1);
    expect(groups[0].members).toHaveLength(10_000);
  });

  describe('properties', () => {
    const word = fc.stringMatching(/^[A-Za-z][A-Za-z0-9]{1,9}$/);
    const suffix = fc.constantFrom('', ' Corp', ' Corporation', ', Inc.', ' LLC', ' Ltd', ' Limited', ' GmbH', ' S.A.');

    test('case, legal form and punctuation never change a normalised name', () => {
      fc.assert(
        fc.property(fc.array(word, { minLength: 1, maxLength: 4 }), suffix, (words, legal) => {
          const base = words.join(' ');
          fc.pre(!/^(corp|corporation|inc|llc|ltd|limited|gmbh|sa|the|co|company)$/i.test(words.at(-1)!));
          expect(normaliseName(`${base.toUpperCase()}${legal}`)).toBe(normaliseName(base));
        }),
      );
    });

    test('matching is symmetric and a record always matches itself by name', () => {
      fc.assert(
        fc.property(word, word, fc.option(word), (a, b, domain) => {
          const x = party('x', a, domain ? `${domain}.com` : null);
          const y = party('y', b, domain ? `${domain}.com` : null);
          expect(matchReasons(x, y)).toEqual(matchReasons(y, x));
          expect(matchReasons(x, party('z', a))).toContain('SAME_NAME');
        }),
      );
    });
  });
});
