/** What makes a supergraph servable (gateway/supergraph-source.ts), and noticing file changes (gateway/supergraph-watch.ts). */
import { appendFileSync, mkdirSync, renameSync, rmSync, symlinkSync, watch, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SupergraphError, loadSupergraphFile, validateSupergraph } from '../../gateway/supergraph-source';
import { watchFileForChanges } from '../../gateway/supergraph-watch';
import { sleep, tempDir } from './helpers';
import { ACCOUNTS_SDL, REVIEWS_SDL, composeSupergraph, productsSdl } from './subgraphs';

// The waits below poll with deadlines generous for a busy machine; the test timeout is above them.
jest.setTimeout(120_000);

const SUPERGRAPH = composeSupergraph([
  { name: 'accounts', sdl: ACCOUNTS_SDL, url: 'http://accounts.internal:4001/graphql' },
  { name: 'products', sdl: productsSdl(1), url: 'http://products.internal:4003/graphql' },
  { name: 'reviews', sdl: REVIEWS_SDL, url: 'http://reviews.internal:4002/graphql' },
]);

describe('validateSupergraph', () => {
  it('accepts a composed supergraph: its subgraph URLs, id and subscription fields', () => {
    const info = validateSupergraph(SUPERGRAPH);
    expect(info.subgraphs).toEqual({
      accounts: 'http://accounts.internal:4001/graphql',
      products: 'http://products.internal:4003/graphql',
      reviews: 'http://reviews.internal:4002/graphql',
    });
    expect(info.id).toMatch(/^[0-9a-f]{64}$/);
    expect(info.subscriptionFields).toEqual(['reviewAdded']);
  });

  it('applies URL overrides, and refuses one for a subgraph that does not exist', () => {
    expect(validateSupergraph(SUPERGRAPH, { subgraphUrls: { reviews: 'http://localhost:9000/graphql' } }).subgraphs.reviews).toBe('http://localhost:9000/graphql');
    expect(() => validateSupergraph(SUPERGRAPH, { subgraphUrls: { inventory: 'http://x/graphql' } })).toThrow(/"inventory", which the supergraph does not have \(it has accounts, products, reviews\)/);
  });

  const invalid: [string, string, RegExp][] = [
    ['an empty file', '  \n', /it is empty/],
    ['a syntax error', `${SUPERGRAPH}\ntype Broken {`, /GraphQL syntax error: Syntax Error: .* \(line \d+, column \d+\)/],
    ['a subgraph SDL', ACCOUNTS_SDL, /does not link the join spec/],
    ['a subgraph without a URL', SUPERGRAPH.replace('url: "http://accounts.internal:4001/graphql"', 'url: ""'), /subgraph "accounts" has no URL .* --subgraph accounts=<url>/],
    ['a subgraph URL that is not http', SUPERGRAPH.replace('http://accounts.internal:4001/graphql', 'ftp://accounts/graphql'), /subgraph "accounts" has URL "ftp:\/\/accounts\/graphql", not an http\(s\) URL/],
    ['a security feature the gateway does not enforce', SUPERGRAPH.replace('requiresScopes/v0.1", for: SECURITY', 'policy/v0.1", for: SECURITY'), /policy\/v0\.1 is for: SECURITY but is unsupported/],
    ['a field joined to a subgraph that does not exist', SUPERGRAPH.replace('@join__field(graph: ACCOUNTS)', '@join__field(graph: NOWHERE)'), /cannot be served: Invalid value for "@join__field\(graph:\)"/],
  ];
  it.each(invalid)('rejects %s with the reason', (_what, sdl, reason) => {
    let error: unknown;
    try {
      validateSupergraph(sdl, { source: 'supergraph file x.graphql' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SupergraphError);
    expect((error as Error).message).toMatch(/^supergraph file x\.graphql cannot be served: /);
    expect((error as Error).message).toMatch(reason);
    // One line, for a log or a terminal.
    expect((error as Error).message).not.toMatch(/\n/);
  });

  it('reads files, and says when one is missing', () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'supergraph.graphql'), SUPERGRAPH);
    expect(loadSupergraphFile(path.join(dir, 'supergraph.graphql')).subgraphs).toHaveProperty('reviews');
    expect(() => loadSupergraphFile(path.join(dir, 'nope.graphql'))).toThrow(/supergraph file .*nope\.graphql does not exist/);
  });
});

/**
 * A debounce clock of the test's own: timers fire only when the test moves it on, so "a burst
 * within the debounce time" means the same on a busy machine as on a quiet one. `set` counts the
 * watcher's hints (each one (re)starts the debounce timer).
 */
function manualClock() {
  let now = 0;
  let set = 0;
  const timers = new Set<{ due: number; fn: () => void }>();
  return {
    get set() {
      return set;
    },
    setTimer(fn: () => void, ms: number) {
      set += 1;
      const timer = { due: now + ms, fn };
      timers.add(timer);
      return () => void timers.delete(timer);
    },
    /** Move on by `ms`, firing every timer that falls due, in order. */
    advance(ms: number) {
      now += ms;
      for (const timer of [...timers].sort((a, b) => a.due - b.due)) {
        if (timer.due > now) break;
        timers.delete(timer);
        timer.fn();
      }
    },
  };
}

describe('watchFileForChanges', () => {
  const watchers: { close(): void }[] = [];
  afterAll(() => watchers.forEach((w) => w.close()));
  const DEBOUNCE = 50;

  function watchCounting(file: string) {
    const calls: number[] = [];
    const clock = manualClock();
    watchers.push(watchFileForChanges(file, { debounceMs: DEBOUNCE, pollIntervalMs: 0, setTimer: clock.setTimer, onChange: () => void calls.push(Date.now()) }));
    return { calls, clock };
  }

  /** Move the debounce clock on until `predicate` holds (file events arrive in real time). */
  async function settleUntil(clock: ReturnType<typeof manualClock>, predicate: () => boolean): Promise<void> {
    await waitFor(() => {
      clock.advance(DEBOUNCE);
      return predicate();
    });
  }

  it('notices a file replaced by rename, and settles a burst of writes into one call', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'supergraph.graphql');
    writeFileSync(file, 'a');
    const { calls, clock } = watchCounting(file);
    writeFileSync(`${file}.tmp`, 'b');
    renameSync(`${file}.tmp`, file);
    await settleUntil(clock, () => calls.length === 1);
    // Still watching after the rename replaced the inode. Five writes, each hint seen before the
    // next write, 5 ms of debounce time apart (less than the debounce): one call for the burst.
    const before = calls.length;
    for (let i = 0; i < 5; i++) {
      const hints = clock.set;
      appendFileSync(file, `chunk ${i}\n`);
      await waitFor(() => clock.set > hints);
      clock.advance(5);
    }
    expect(calls.length).toBe(before);
    clock.advance(DEBOUNCE);
    expect(calls.length).toBe(before + 1);
    // Nothing left over from the burst: once the call has finished, more debounce time brings no second one.
    await new Promise((resolve) => setImmediate(resolve));
    clock.advance(DEBOUNCE * 10);
    expect(calls.length).toBe(before + 1);
  });

  it('notices a Kubernetes-style symlink swap (..data), and ignores unrelated files', async () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, 'v1'));
    mkdirSync(path.join(dir, 'v2'));
    writeFileSync(path.join(dir, 'v1', 'supergraph.graphql'), 'one');
    writeFileSync(path.join(dir, 'v2', 'supergraph.graphql'), 'two');
    symlinkSync('v1', path.join(dir, '..data'));
    symlinkSync(path.join('..data', 'supergraph.graphql'), path.join(dir, 'supergraph.graphql'));
    const { calls, clock } = watchCounting(path.join(dir, 'supergraph.graphql'));
    // A plain watcher on the same directory, registered after the one under test: once it has seen
    // the unrelated file's event, so has the watcher under test (same events, same order).
    const seen: string[] = [];
    const observer = watch(dir, { persistent: false }, (_event, name) => void seen.push(String(name)));
    watchers.push(observer);
    writeFileSync(path.join(dir, 'unrelated.txt'), 'x');
    await waitFor(() => seen.includes('unrelated.txt'));
    expect(clock.set).toBe(0); // no hint for it
    clock.advance(DEBOUNCE * 10);
    expect(calls.length).toBe(0);
    symlinkSync('v2', path.join(dir, '..data_tmp'));
    renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
    await settleUntil(clock, () => calls.length === 1);
  });

  it('falls back to polling when directory events do not come', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'supergraph.graphql');
    writeFileSync(file, 'a');
    const calls: number[] = [];
    // A directory that disappears and comes back loses its inotify watch; the stat poll still sees the file.
    watchers.push(watchFileForChanges(file, { debounceMs: 20, pollIntervalMs: 100, onChange: () => void calls.push(1), onError: () => undefined }));
    rmSync(dir, { recursive: true });
    mkdirSync(dir);
    writeFileSync(file, 'changed');
    // Noticed one way or another (the deletion's directory event, or the poll seeing a new inode)...
    await waitFor(() => calls.length >= 1);
    // ...and from now on the directory watch is gone with the old directory: only the poll can see
    // this write. No sleep for the poll's first stat: it keeps polling, so a later write is seen.
    const before = calls.length;
    appendFileSync(file, ' and changed again');
    await waitFor(() => calls.length > before);
  });
});

/** Poll `predicate` with a generous deadline (a busy machine is slow, not wrong). */
async function waitFor(predicate: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}
