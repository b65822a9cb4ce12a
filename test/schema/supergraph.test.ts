import { readFileSync } from 'node:fs';
import { buildSchema, type GraphQLObjectType } from 'graphql';
import { composeSupergraph } from '../../schema/compose';
import { SUPERGRAPH_PATH } from '../../schema/subgraphs';

describe('supergraph composition', () => {
  it('composes the subgraph schemas without errors', () => {
    expect(() => composeSupergraph()).not.toThrow();
  });

  it('matches the committed schema/supergraph.graphql (run `npm run compose` when this fails)', () => {
    expect(readFileSync(SUPERGRAPH_PATH, 'utf8')).toBe(composeSupergraph());
  });

  it('exposes the public names of docs/api.md on the federated types', () => {
    const schema = buildSchema(readFileSync(SUPERGRAPH_PATH, 'utf8'));
    const fieldsOf = (name: string) => Object.keys((schema.getType(name) as GraphQLObjectType).getFields());
    const fields = fieldsOf('Customer');
    expect(fields).toEqual(
      expect.arrayContaining(['id', 'name', 'domain', 'parent', 'externalRefs', 'contracts', 'invoices', 'balance', 'erp', 'opportunities']),
    );
    const invoiceFields = fieldsOf('Invoice');
    expect(invoiceFields).toEqual(expect.arrayContaining(['total', 'amountDue', 'amountPaid', 'erpPosting', 'lines', 'contract']));
  });
});
