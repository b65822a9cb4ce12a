/**
 * Noticing that a file may have changed, robustly enough for how supergraph files are really
 * replaced: written in place, written to a temporary file and renamed over (editors, `rover ... >
 * tmp && mv`), or swapped through a symlink (a Kubernetes ConfigMap volume replaces its `..data`
 * link). Watching the file itself loses track after a rename, so the directory is watched and any
 * event in it is a hint; a slow stat poll backs that up where inotify does not reach (network
 * filesystems, some container mounts). Hints are debounced, so a file written in several chunks is
 * read once it has settled, and `onChange` never runs twice at once.
 *
 * This only says "look again": the caller reads the file and compares content (a hash), so a hint
 * without a change costs one read.
 */
import { watch, watchFile, unwatchFile, type FSWatcher, type Stats } from 'node:fs';
import path from 'node:path';

export interface FileWatchOptions {
  /** Called after a change has settled; awaited before the next call. */
  onChange(): Promise<void> | void;
  /** Watch failures (the directory removed, too many watchers). Default: ignored. */
  onError?(error: Error): void;
  /** Quiet time after the last hint before `onChange`, in ms. Default 200. */
  debounceMs?: number;
  /** Stat poll interval in ms, as a fallback to directory events; 0 = no polling. Default 2000. */
  pollIntervalMs?: number;
  /**
   * Where the debounce timer comes from: `fn` runs once `ms` have passed; the returned function
   * cancels it. Tests pass a clock of their own, so "quiet for debounceMs" does not depend on how
   * fast the machine runs. Default: setTimeout / clearTimeout.
   */
  setTimer?: (fn: () => void, ms: number) => () => void;
}

const realTimer = (fn: () => void, ms: number) => {
  const timer = setTimeout(fn, ms);
  return () => clearTimeout(timer);
};

export interface FileWatch {
  close(): void;
}

export function watchFileForChanges(file: string, options: FileWatchOptions): FileWatch {
  const { onChange, onError = () => undefined, debounceMs = 200, pollIntervalMs = 2000, setTimer = realTimer } = options;
  const absolute = path.resolve(file);
  const dir = path.dirname(absolute);
  const base = path.basename(absolute);
  let cancel: (() => void) | null = null;
  let running = false;
  let again = false;
  let closed = false;

  const fire = async () => {
    cancel = null;
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      await onChange();
    } catch (error) {
      onError(error as Error);
    } finally {
      running = false;
      if (again && !closed) {
        again = false;
        hint();
      }
    }
  };
  const hint = () => {
    if (closed) return;
    cancel?.();
    cancel = setTimer(() => void fire(), debounceMs);
  };

  let watcher: FSWatcher | null = null;
  try {
    watcher = watch(dir, { persistent: false }, (_event, name) => {
      // No name (some platforms), the file, its temporary siblings, or `..data` of a ConfigMap.
      if (!name || name === base || name.startsWith(base) || name.startsWith('..')) hint();
    });
    watcher.on('error', (error) => onError(error));
  } catch (error) {
    onError(error as Error);
  }
  const onStat = (current: Stats, previous: Stats) => {
    if (current.mtimeMs !== previous.mtimeMs || current.size !== previous.size || current.ino !== previous.ino) hint();
  };
  if (pollIntervalMs > 0) watchFile(absolute, { interval: pollIntervalMs, persistent: false }, onStat);

  return {
    close() {
      closed = true;
      cancel?.();
      watcher?.close();
      if (pollIntervalMs > 0) unwatchFile(absolute, onStat);
    },
  };
}
