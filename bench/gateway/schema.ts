/**
 * The benchmark's federation: four subgraphs in the shape of the public federation gateway
 * benchmark (accounts, products, inventory, reviews), fixed data, the nested query every gateway
 * serves, and the answer it must give, computed here from the data and not from any gateway.
 *
 * Entity hops of the query: accounts (users) -> reviews (User.reviews) -> products (Product fields)
 * -> inventory (inStock, and shippingEstimate, which @requires price and weight from products) ->
 * reviews (Product.reviews) -> accounts (the author) -> reviews -> products -> inventory, with
 * lists at every level.
 *
 * No @authenticated / @requiresScopes here: @apollo/gateway refuses a supergraph that links a
 * `for: SECURITY` feature it does not enforce, and every gateway must serve the same supergraph.
 */
import { composeServices } from '@apollo/composition';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import { parse, type DocumentNode, type GraphQLSchema } from 'graphql';

export const SUBGRAPH_NAMES = ['accounts', 'products', 'inventory', 'reviews'] as const;
export type SubgraphName = (typeof SUBGRAPH_NAMES)[number];

const LINK = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@external", "@requires", "@shareable"])';

/** Each subgraph's SDL (also written to files for gateways that compose it themselves: Grafbase). */
export const TYPE_DEFS: Record<SubgraphName, string> = {
  accounts: `${LINK}
    type Query { users: [User!]! user(id: ID!): User }
    type User @key(fields: "id") { id: ID! name: String! username: String! birthday: Int! }`,
  products: `${LINK}
    type Query { topProducts(first: Int = 5): [Product!]! }
    type Product @key(fields: "upc") { upc: String! name: String! price: Int! weight: Int! }`,
  inventory: `${LINK}
    type Product @key(fields: "upc") {
      upc: String!
      price: Int! @external
      weight: Int! @external
      inStock: Boolean!
      shippingEstimate: Int! @requires(fields: "price weight")
    }`,
  reviews: `${LINK}
    type Review @key(fields: "id") { id: ID! body: String! author: User! product: Product! }
    type User @key(fields: "id") { id: ID! reviews: [Review!]! }
    type Product @key(fields: "upc") { upc: String! reviews: [Review!]! }`,
};

// Fixed data: 5 users with 2 reviews each, 5 products with 2 reviews each.
interface User { id: string; name: string; username: string; birthday: number }
interface Product { upc: string; name: string; price: number; weight: number }
interface Review { id: string; body: string; authorId: string; upc: string }

const USERS: User[] = Array.from({ length: 5 }, (_, i) => ({
  id: `u${i + 1}`,
  name: `User Number ${i + 1}`,
  username: `user_${i + 1}`,
  birthday: 1_000_000_000 + i * 86_400,
}));
const PRODUCTS: Product[] = Array.from({ length: 5 }, (_, i) => ({
  upc: `${1000 + i}`,
  name: `Product ${String.fromCharCode(65 + i)}`,
  price: 250 * (i + 1) + 99,
  weight: 10 + 7 * i,
}));
const IN_STOCK = new Map(PRODUCTS.map((p, i) => [p.upc, i % 3 !== 2]));
const REVIEWS: Review[] = Array.from({ length: 10 }, (_, i) => ({
  id: `r${i + 1}`,
  body: `Review ${i + 1}: ${['great', 'fine', 'too heavy', 'as described', 'would buy again'][i % 5]}`,
  authorId: USERS[i % 5].id,
  upc: PRODUCTS[(i * 3) % 5].upc,
}));

const userById = new Map(USERS.map((u) => [u.id, u]));
const productByUpc = new Map(PRODUCTS.map((p) => [p.upc, p]));
const reviewById = new Map(REVIEWS.map((r) => [r.id, r]));
const reviewsByAuthor = new Map(USERS.map((u) => [u.id, REVIEWS.filter((r) => r.authorId === u.id)]));
const reviewsByProduct = new Map(PRODUCTS.map((p) => [p.upc, REVIEWS.filter((r) => r.upc === p.upc)]));
const shippingEstimate = (price: number, weight: number) => (price > 1000 ? 0 : Math.round(weight / 2));

const RESOLVERS: Record<SubgraphName, GraphQLResolverMap<unknown>> = {
  accounts: {
    Query: { users: () => USERS, user: (_: unknown, { id }: { id: string }) => userById.get(id) ?? null },
    User: { __resolveReference: (ref: { id: string }) => userById.get(ref.id) ?? null },
  },
  products: {
    Query: { topProducts: (_: unknown, { first }: { first: number }) => PRODUCTS.slice(0, first) },
    Product: { __resolveReference: (ref: { upc: string }) => productByUpc.get(ref.upc) ?? null },
  },
  inventory: {
    Product: {
      __resolveReference: (ref: { upc: string; price?: number; weight?: number }) => ref,
      inStock: (ref: { upc: string }) => IN_STOCK.get(ref.upc) ?? false,
      shippingEstimate: (ref: { price: number; weight: number }) => shippingEstimate(ref.price, ref.weight),
    },
  },
  reviews: {
    Review: {
      __resolveReference: (ref: { id: string }) => reviewById.get(ref.id) ?? null,
      author: (review: Review) => ({ id: review.authorId }),
      product: (review: Review) => ({ upc: review.upc }),
    },
    User: { reviews: (user: { id: string }) => reviewsByAuthor.get(user.id) ?? [] },
    Product: { reviews: (product: { upc: string }) => reviewsByProduct.get(product.upc) ?? [] },
  },
};

export function subgraphSchema(name: SubgraphName): GraphQLSchema {
  return buildSubgraphSchema({ typeDefs: parse(TYPE_DEFS[name]), resolvers: RESOLVERS[name] });
}

/** Compose the supergraph; each subgraph's URL is `urlOf(name)`. */
export function composeBenchSupergraph(urlOf: (name: SubgraphName) => string): string {
  const result = composeServices(SUBGRAPH_NAMES.map((name) => ({ name, typeDefs: parse(TYPE_DEFS[name]) as DocumentNode, url: urlOf(name) })));
  if (result.errors) throw new Error(`bench composition failed:\n${result.errors.map((e) => `- ${e.message}`).join('\n')}`);
  return result.supergraphSdl;
}

/** The query every gateway serves (the public benchmark's TestQuery shape). */
export const BENCH_QUERY = `query Bench {
  users {
    ...UserFields
    reviews {
      ...ReviewFields
      product {
        ...ProductFields
        reviews {
          ...ReviewFields
          author {
            ...UserFields
            reviews {
              ...ReviewFields
              product { ...ProductFields }
            }
          }
        }
      }
    }
  }
  topProducts {
    ...ProductFields
    reviews {
      ...ReviewFields
      author {
        ...UserFields
        reviews {
          ...ReviewFields
          product { ...ProductFields }
        }
      }
    }
  }
}
fragment UserFields on User { id username name }
fragment ReviewFields on Review { id body }
fragment ProductFields on Product { inStock name price shippingEstimate upc weight }
`;

/** The answer to BENCH_QUERY, walked from the data with the fields in query order. */
export function expectedResult(): { data: unknown } {
  const user = (u: User) => ({ id: u.id, username: u.username, name: u.name });
  const review = (r: Review) => ({ id: r.id, body: r.body });
  const product = (p: Product) => ({
    inStock: IN_STOCK.get(p.upc)!,
    name: p.name,
    price: p.price,
    shippingEstimate: shippingEstimate(p.price, p.weight),
    upc: p.upc,
    weight: p.weight,
  });
  const authorReviews = (u: User) => reviewsByAuthor.get(u.id)!.map((r) => ({ ...review(r), product: product(productByUpc.get(r.upc)!) }));
  const author = (r: Review) => {
    const u = userById.get(r.authorId)!;
    return { ...user(u), reviews: authorReviews(u) };
  };
  return {
    data: {
      users: USERS.map((u) => ({
        ...user(u),
        reviews: reviewsByAuthor.get(u.id)!.map((r) => {
          const p = productByUpc.get(r.upc)!;
          return { ...review(r), product: { ...product(p), reviews: reviewsByProduct.get(p.upc)!.map((pr) => ({ ...review(pr), author: author(pr) })) } };
        }),
      })),
      topProducts: PRODUCTS.slice(0, 5).map((p) => ({
        ...product(p),
        reviews: reviewsByProduct.get(p.upc)!.map((r) => ({ ...review(r), author: author(r) })),
      })),
    },
  };
}
