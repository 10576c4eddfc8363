import type { Logger } from './logger';

/**
 * Process-level safety for a long-running server: SIGTERM/SIGINT drain and exit cleanly (a
 * second signal, a second or more later, exits at once), and a stray rejection or exception is logged, never a crash
 * that would drop the requests of every other caller.
 */
export function runUntilSignal(logger: Logger, close: () => Promise<void>): void {
  let stoppingSince: number | undefined;
  const stop = (signal: NodeJS.Signals) => {
    // Ctrl-C in a terminal signals the supervisor and every child at once, and the supervisor
    // then sends its own SIGTERM: only a second signal well after the first means "now".
    if (stoppingSince !== undefined) {
      if (Date.now() - stoppingSince > 1_000) process.exit(1);
      return;
    }
    stoppingSince = Date.now();
    logger.info({ signal }, 'shutting down');
    close().then(
      () => process.exit(0),
      (error) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled rejection'));
  process.on('uncaughtException', (error) => logger.error({ err: error }, 'uncaught exception'));
}
