/**
 * Three fresh subgraphs for the standalone gateway's tests, unrelated to Concord's own schema:
 *
 *   accounts  User @key(id), username @shareable, email behind @requiresScopes, `me` behind @authenticated
 *   products  interface Product (Book, Furniture, both @key(upc)), union SearchResult
 *   reviews   Review @key(id) with author @provides(fields: "username"), Book.shippingEstimate
 *             @requires(fields: "price weight"), Mutation addReview, Subscription reviewAdded
 *
 * `products` always serves `Book.pages`, but the first supergraph is composed without it
 * (version 1): composing version 2 and writing it over the file is "a new field appears".
 */
import { EventEmitter, on } from 'node:events';
import { writeFileSync, renameSync } from 'node:fs';
import { composeServices } from '@apollo/composition';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import { parse } from 'graphql';
import { serveSubgraph, type TestSubgraph } from './subgraph-server';

const FEDERATION = (imports: string[]) =>
  `extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: [${imports.map((i) => `"${i}"`).join(', ')}])`;

export const ACCOUNTS_SDL = `
${FEDERATION(['@key', '@shareable', '@requiresScopes', '@authenticated'])}
type User @key(fields: "id") {
  id: ID!
  username: String! @shareable
  name: String!
  email: String! @requiresScopes(scopes: [["users:read"]])
}
type Query {
  me: User @authenticated
  user(id: ID!): User
  users: [User!]!
}
`;

export const productsSdl = (version: 1 | 2) => `
${FEDERATION(['@key'])}
interface Product {
  upc: ID!
  name: String!
  price: Int!
}
type Book implements Product @key(fields: "upc") {
  upc: ID!
  name: String!
  price: Int!
  weight: Int!
  writer: String!
  ${version === 2 ? 'pages: Int!' : ''}
}
type Furniture implements Product @key(fields: "upc") {
  upc: ID!
  name: String!
  price: Int!
  weight: Int!
  material: String!
}
union SearchResult = Book | Furniture
type Query {
  topProducts(first: Int = 5): [Product!]!
  product(upc: ID!): Product
  search(text: String!): [SearchResult!]!
}
`;

export const REVIEWS_SDL = `
${FEDERATION(['@key', '@external', '@requires', '@provides'])}
type Review @key(fields: "id") {
  id: ID!
  body: String!
  rating: Int!
  author: User! @provides(fields: "username")
  product: Book!
}
type User @key(fields: "id") {
  id: ID!
  username: String! @external
  reviews: [Review!]!
}
type Book @key(fields: "upc") {
  upc: ID!
  price: Int! @external
  weight: Int! @external
  shippingEstimate: Int! @requires(fields: "price weight")
  reviews: [Review!]!
}
type Query {
  latestReviews(first: Int = 10): [Review!]!
}
type Mutation {
  addReview(upc: ID!, body: String!, rating: Int!, authorId: ID! = "u1"): Review!
}
type Subscription {
  reviewAdded(upc: ID): Review!
}
`;

export const USERS = [
  { id: 'u1', username: 'ada', name: 'Ada Lovelace', email: 'ada@example.com' },
  { id: 'u2', username: 'alan', name: 'Alan Turing', email: 'alan@example.com' },
];

export const PRODUCTS = [
  { __typename: 'Book', upc: 'b1', name: 'Sketch of the Analytical Engine', price: 2500, weight: 800, writer: 'Menabrea', pages: 66 },
  { __typename: 'Book', upc: 'b2', name: 'Computing Machinery and Intelligence', price: 6000, weight: 300, writer: 'Turing', pages: 28 },
  { __typename: 'Furniture', upc: 'f1', name: 'Writing desk', price: 20000, weight: 30000, material: 'oak' },
];

/** What reviews computes from the price and weight it @requires. */
export const shippingEstimate = (book: { price: number; weight: number }) => (book.price >= 5000 ? 0 : Math.ceil(book.weight / 100) * 50);

interface Review {
  id: string;
  body: string;
  rating: number;
  authorId: string;
  upc: string;
}

export interface TestSubgraphs {
  accounts: TestSubgraph;
  products: TestSubgraph;
  reviews: TestSubgraph;
  all: TestSubgraph[];
  /** The supergraph of these subgraphs at their URLs (version 2 adds Book.pages). */
  compose(version?: 1 | 2): string;
  close(): Promise<void>;
}

export function composeSupergraph(subgraphs: { name: string; sdl: string; url: string }[]): string {
  const result = composeServices(subgraphs.map(({ name, sdl, url }) => ({ name, typeDefs: parse(sdl), url })));
  if (result.errors) throw new Error(`composition failed:\n${result.errors.map((e) => e.message).join('\n')}`);
  return result.supergraphSdl;
}

export async function startTestSubgraphs(): Promise<TestSubgraphs> {
  const reviews: Review[] = [
    { id: 'r1', body: 'Prophetic.', rating: 5, authorId: 'u2', upc: 'b1' },
    { id: 'r2', body: 'Asks the right question.', rating: 5, authorId: 'u1', upc: 'b2' },
    { id: 'r3', body: 'Dense but worth it.', rating: 4, authorId: 'u1', upc: 'b1' },
  ];
  const bus = new EventEmitter();
  bus.setMaxListeners(0);
  const user = (id: string) => USERS.find((u) => u.id === id) ?? null;
  const product = (upc: string) => PRODUCTS.find((p) => p.upc === upc) ?? null;
  // reviews keeps the author's username itself: that is what lets it @provide it.
  const reviewOut = (r: Review) => ({ ...r, author: { id: r.authorId, username: user(r.authorId)?.username }, product: { upc: r.upc } });

  const accountsResolvers: GraphQLResolverMap<unknown> = {
    Query: { me: () => USERS[0], user: (_: unknown, { id }: { id: string }) => user(id), users: () => USERS },
    User: { __resolveReference: (ref: { id: string }) => user(ref.id) },
  };
  const productsResolvers: GraphQLResolverMap<unknown> = {
    Query: {
      topProducts: (_: unknown, { first }: { first: number }) => PRODUCTS.slice(0, first),
      product: (_: unknown, { upc }: { upc: string }) => product(upc),
      search: (_: unknown, { text }: { text: string }) => PRODUCTS.filter((p) => p.name.toLowerCase().includes(text.toLowerCase())),
    },
    Product: { __resolveType: (p: { __typename: string }) => p.__typename },
    SearchResult: { __resolveType: (p: { __typename: string }) => p.__typename },
    Book: { __resolveReference: (ref: { upc: string }) => product(ref.upc) },
    Furniture: { __resolveReference: (ref: { upc: string }) => product(ref.upc) },
  };
  const reviewsResolvers: GraphQLResolverMap<unknown> = {
    Query: { latestReviews: (_: unknown, { first }: { first: number }) => reviews.slice(-first).reverse().map(reviewOut) },
    Mutation: {
      addReview: (_: unknown, args: { upc: string; body: string; rating: number; authorId: string }) => {
        const review: Review = { id: `r${reviews.length + 1}`, body: args.body, rating: args.rating, authorId: args.authorId, upc: args.upc };
        reviews.push(review);
        bus.emit('review', review);
        return reviewOut(review);
      },
    },
    Subscription: {
      reviewAdded: {
        // Not an async generator: its return() would wait for the next event, and an unsubscribed
        // stream must end at once (the tests count open upstream subscriptions).
        subscribe: (_: unknown, { upc }: { upc?: string | null }) => {
          const source = on(bus, 'review') as AsyncIterableIterator<[Review]>;
          const stream: AsyncIterableIterator<{ reviewAdded: unknown }> = {
            async next() {
              for (;;) {
                const step = await source.next();
                if (step.done) return { done: true, value: undefined };
                const [review] = step.value;
                if (!upc || review.upc === upc) return { done: false, value: { reviewAdded: reviewOut(review) } };
              }
            },
            return: async () => {
              await source.return?.();
              return { done: true, value: undefined };
            },
            [Symbol.asyncIterator]: () => stream,
          };
          return stream;
        },
      },
    },
    Review: { __resolveReference: (ref: { id: string }) => { const r = reviews.find((x) => x.id === ref.id); return r ? reviewOut(r) : null; } },
    User: { reviews: (u: { id: string }) => reviews.filter((r) => r.authorId === u.id).map(reviewOut) },
    Book: {
      __resolveReference: (ref: { upc: string; price?: number; weight?: number }) => ref,
      shippingEstimate: (book: { price: number; weight: number }) => shippingEstimate(book),
      reviews: (b: { upc: string }) => reviews.filter((r) => r.upc === b.upc).map(reviewOut),
    },
  };

  // The products subgraph serves version 2 from the start; the gateway learns of `pages` only
  // when the supergraph file says so.
  const accounts = await serveSubgraph('accounts', parse(ACCOUNTS_SDL), accountsResolvers);
  const products = await serveSubgraph('products', parse(productsSdl(2)), productsResolvers);
  const reviewsServer = await serveSubgraph('reviews', parse(REVIEWS_SDL), reviewsResolvers);
  const all = [accounts, products, reviewsServer];
  return {
    accounts,
    products,
    reviews: reviewsServer,
    all,
    compose: (version = 1) =>
      composeSupergraph([
        { name: 'accounts', sdl: ACCOUNTS_SDL, url: accounts.url },
        { name: 'products', sdl: productsSdl(version), url: products.url },
        { name: 'reviews', sdl: REVIEWS_SDL, url: reviewsServer.url },
      ]),
    close: async () => {
      for (const s of all) await s.close();
    },
  };
}

/** Replace a file the way editors and deploy tools do: write a temporary file, then rename it. */
export function writeAtomically(file: string, text: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, text);
  renameSync(temporary, file);
}
