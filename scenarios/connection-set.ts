import { Client, type Dispatcher } from 'undici';

/** A request handler that also remembers which connection carries its request. */
export interface ConnectionUser extends Dispatcher.DispatchHandler {
  connection: Client | undefined;
  onError(err: Error): void;
}

/** Why a request waiting for a connection was never sent. */
export class ConnectionSetClosedError extends Error {}

/**
 * Keep-alive connections to one origin, one request at a time on each, at most
 * `maxConnections`; past that, requests wait in FIFO order for a connection to free. It does
 * what undici's Pool does, but picks a free connection in O(1) from a stack, where Pool scans
 * its connections in order for every request: O(connections) per request once a stall has
 * opened hundreds. The stack also reuses the most recently freed connection first, so surplus
 * ones sit idle and close after the keep-alive timeout.
 */
export class ConnectionSet {
  private readonly all: Client[] = [];
  private readonly free: Client[] = [];
  private readonly queue: Array<{ options: Dispatcher.DispatchOptions; user: ConnectionUser }> = [];
  private queueHead = 0;
  private destroyed = false;

  constructor(
    private readonly origin: string,
    private readonly options: { maxConnections: number; connectTimeoutMs: number },
  ) {}

  /** Connections opened so far. */
  get size(): number {
    return this.all.length;
  }

  /** Sends on a free connection, opens one, or (at the limit) queues the request until one frees. */
  dispatch(options: Dispatcher.DispatchOptions, user: ConnectionUser): void {
    if (this.destroyed) {
      user.onError(new ConnectionSetClosedError('the connections are closed'));
      return;
    }
    const connection = this.free.pop() ?? this.open();
    if (!connection) {
      this.queue.push({ options, user });
      return;
    }
    user.connection = connection;
    connection.dispatch(options, user);
  }

  /** Gives back the connection of a finished request (answered or failed). */
  release(user: ConnectionUser): void {
    const connection = user.connection;
    if (!connection) return;
    user.connection = undefined;
    if (this.destroyed) return;
    const waiting = this.queue[this.queueHead];
    if (waiting) {
      this.queue[this.queueHead++] = undefined as never;
      if (this.queueHead * 2 > this.queue.length) {
        this.queue.splice(0, this.queueHead);
        this.queueHead = 0;
      }
      waiting.user.connection = connection;
      connection.dispatch(waiting.options, waiting.user);
      return;
    }
    this.free.push(connection);
  }

  /** Closes every connection; requests in flight or waiting fail (their handlers' onError is called). */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    const waiting = this.queue.slice(this.queueHead);
    this.queue.length = 0;
    for (const { user } of waiting) user.onError(new ConnectionSetClosedError('the run stopped first'));
    await Promise.all(this.all.map((client) => client.destroy()));
  }

  private open(): Client | undefined {
    const { maxConnections, connectTimeoutMs } = this.options;
    if (this.all.length >= maxConnections) return undefined;
    const client = new Client(this.origin, {
      // One request per connection at a time: a pipelined request would wait behind the one
      // before it, which is the client's queueing, not the target's.
      pipelining: 1,
      connect: { timeout: connectTimeoutMs },
      keepAliveTimeout: 30_000,
    });
    this.all.push(client);
    return client;
  }
}
